import SlipwayModel

/// A request to one of the JSON protocols served on `POST /`, classified once from its `X-Amz-Target`: the signing
/// name it is verified with, the policy action it is authorised as and the handler that serves it all come from
/// this one value.
enum JSONOperation: Sendable, Hashable {
    /// `CodeDeploy_20141006.<Operation>`.
    case codeDeploy(CodeDeploy.Operation)
    /// The agent command API, `CodeDeployCommandService_v20141006.<Operation>` (`secure` false) or
    /// `CodeDeployCommandService.<Operation>` (`secure` true), each signed with its own service name.
    case command(CodeDeployCommand.Operation, secure: Bool)
    /// Slipway's `Slipway_20261127.GetLifecycleEventLog`.
    case lifecycleEventLog
    /// CloudWatch's alarm operations, `GraniteServiceVersion20100801.<Operation>` (see ``CloudWatchAPI``).
    case cloudWatch(CloudWatchAPI.Operation)

    /// The operation `target` names; ``AWSJSONError/unknownOperation(_:)`` when it names none Slipway serves.
    init(target: String) throws(AWSJSONError) {
        let dot = target.lastIndex(of: ".") ?? target.endIndex
        let prefix = target[..<dot]
        let name = dot == target.endIndex ? "" : String(target[target.index(after: dot)...])
        switch prefix {
        case CodeDeploy.targetPrefix:
            if let operation = CodeDeploy.Operation(rawValue: name) {
                self = .codeDeploy(operation)
                return
            }
        case CodeDeployCommand.targetPrefix, CodeDeployCommand.secureTargetPrefix:
            if let operation = CodeDeployCommand.Operation(rawValue: name) {
                self = .command(operation, secure: prefix == CodeDeployCommand.secureTargetPrefix)
                return
            }
        case CloudWatchAPI.targetPrefix:
            if let operation = CloudWatchAPI.Operation(rawValue: name) {
                self = .cloudWatch(operation)
                return
            }
        case EventLogs.targetPrefix:
            if name == EventLogs.operation {
                self = .lifecycleEventLog
                return
            }
        default:
            break
        }
        throw AWSJSONError.unknownOperation(target)
    }

    /// The service name its SigV4 signature must use.
    var signingName: String {
        switch self {
        case .codeDeploy, .lifecycleEventLog: CodeDeploy.signingName
        case .command(_, let secure): secure ? CodeDeployCommand.secureSigningName : CodeDeployCommand.signingName
        case .cloudWatch: CloudWatchAPI.signingName
        }
    }

    /// The protocol, for the metrics.
    var protocolName: String {
        switch self {
        case .codeDeploy: "codedeploy"
        case .command: "commands"
        case .lifecycleEventLog: "events"
        case .cloudWatch: "cloudwatch"
        }
    }

    /// The operation's name, for logs.
    var name: String {
        switch self {
        case .codeDeploy(let operation): operation.rawValue
        case .command(let operation, _): operation.rawValue
        case .lifecycleEventLog: EventLogs.operation
        case .cloudWatch(let operation): operation.rawValue
        }
    }
}
