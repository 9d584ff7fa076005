import Foundation

/// The private protocol between a host agent and the service (`CodeDeployCommandService_v20141006`, and the
/// `CodeDeployCommandService` of the secure endpoint). No public model of it exists, so its shapes are written
/// here by hand from the API description the stock agent ships (`CodeDeployCommand.api.json` in its vendored
/// `codedeploy-commands` gem); member names are the wire names.
public enum CodeDeployCommand {
    /// The `X-Amz-Target` prefix of the classic endpoint (SigV4 signing name `codedeploy-commands`).
    public static let targetPrefix = "CodeDeployCommandService_v20141006"
    /// The `X-Amz-Target` prefix of the secure endpoint (signing name `codedeploy-commands-secure`).
    public static let secureTargetPrefix = "CodeDeployCommandService"
    public static let signingName = "codedeploy-commands"
    public static let secureSigningName = "codedeploy-commands-secure"
    /// The request header that carries the agent's version string, e.g. `OFFICIAL_1.6.0-49_deb`.
    public static let agentVersionHeader = "x-amz-codedeploy-agent-version"

    /// The operations of the protocol.
    public enum Operation: String, CaseIterable, Sendable {
        case pollHostCommand = "PollHostCommand"
        case getDeploymentSpecification = "GetDeploymentSpecification"
        case putHostCommandAcknowledgement = "PutHostCommandAcknowledgement"
        case putHostCommandComplete = "PutHostCommandComplete"
        case postHostCommandUpdate = "PostHostCommandUpdate"
        /// Slipway's addition: the full log of a command's lifecycle event, which the API's diagnostics cut to 4 KB.
        /// The stock agent never calls it.
        case putHostCommandLog = "PutHostCommandLog"

        /// The model name of the operation's input shape in `CodeDeployCommand.schema`.
        public var inputShape: String { rawValue + "Input" }
    }

    /// The error types of the protocol.
    public enum ErrorCode: String, CaseIterable, Sendable {
        case clientException = "ClientException"
        case serverException = "ServerException"
    }

    /// The status of a host command, as the agent reports it and the service answers it.
    public enum CommandStatus: String, Codable, CaseIterable, Sendable {
        case pending = "Pending"
        case inProgress = "InProgress"
        case succeeded = "Succeeded"
        case failed = "Failed"
    }

    /// A formatted payload: a deployment specification (`PKCS7/JSON`, `TEXT/JSON`) or diagnostics (`JSON`).
    public struct Envelope: AWSShape {
        public var Format: String?
        public var Payload: String?

        public init(format: String?, payload: String?) {
            self.Format = format
            self.Payload = payload
        }
    }

    /// A command for one host: one lifecycle event of one deployment.
    public struct HostCommandInstance: AWSShape {
        public var HostCommandIdentifier: String?
        public var HostIdentifier: String?
        public var DeploymentExecutionId: String?
        public var CommandName: String?
        public var Nonce: Int64?

        public init(
            hostCommandIdentifier: String?,
            hostIdentifier: String?,
            deploymentExecutionId: String?,
            commandName: String?,
            nonce: Int64?
        ) {
            self.HostCommandIdentifier = hostCommandIdentifier
            self.HostIdentifier = hostIdentifier
            self.DeploymentExecutionId = deploymentExecutionId
            self.CommandName = commandName
            self.Nonce = nonce
        }
    }

    public struct PollHostCommandInput: AWSShape {
        public var HostIdentifier: String?

        public init(hostIdentifier: String?) {
            self.HostIdentifier = hostIdentifier
        }
    }

    /// The answer to a poll: `HostCommand` is absent when the host has nothing to do.
    public struct PollHostCommandOutput: AWSShape {
        public var HostCommand: HostCommandInstance?

        public init(hostCommand: HostCommandInstance?) {
            self.HostCommand = hostCommand
        }
    }

    public struct GetDeploymentSpecificationInput: AWSShape {
        public var DeploymentExecutionId: String?
        public var HostIdentifier: String?

        public init(deploymentExecutionId: String?, hostIdentifier: String?) {
            self.DeploymentExecutionId = deploymentExecutionId
            self.HostIdentifier = hostIdentifier
        }
    }

    public struct DeploymentSpecification: AWSShape {
        public var GenericEnvelope: Envelope?
        public var VariantId: String?
        public var VariantEnvelope: Envelope?

        public init(genericEnvelope: Envelope?, variantId: String? = nil, variantEnvelope: Envelope? = nil) {
            self.GenericEnvelope = genericEnvelope
            self.VariantId = variantId
            self.VariantEnvelope = variantEnvelope
        }
    }

    public struct GetDeploymentSpecificationOutput: AWSShape {
        /// Always `CodeDeploy`.
        public var DeploymentSystem: String?
        public var DeploymentSpecification: DeploymentSpecification?

        public init(deploymentSystem: String? = "CodeDeploy", deploymentSpecification: DeploymentSpecification?) {
            self.DeploymentSystem = deploymentSystem
            self.DeploymentSpecification = deploymentSpecification
        }
    }

    public struct PutHostCommandAcknowledgementInput: AWSShape {
        public var HostCommandIdentifier: String?
        public var Diagnostics: Envelope?

        public init(hostCommandIdentifier: String?, diagnostics: Envelope? = nil) {
            self.HostCommandIdentifier = hostCommandIdentifier
            self.Diagnostics = diagnostics
        }
    }

    public struct PutHostCommandAcknowledgementOutput: AWSShape {
        public var CommandStatus: CommandStatus?

        public init(commandStatus: CommandStatus?) {
            self.CommandStatus = commandStatus
        }
    }

    public struct PutHostCommandCompleteInput: AWSShape {
        public var HostCommandIdentifier: String?
        public var CommandStatus: CommandStatus?
        public var Diagnostics: Envelope?

        public init(hostCommandIdentifier: String?, commandStatus: CommandStatus?, diagnostics: Envelope? = nil) {
            self.HostCommandIdentifier = hostCommandIdentifier
            self.CommandStatus = commandStatus
            self.Diagnostics = diagnostics
        }
    }

    /// Defined by the protocol; neither the stock agent nor `slipway agent` calls it.
    public struct PostHostCommandUpdateInput: AWSShape {
        public var HostCommandIdentifier: String?
        public var EstimatedCompletionTime: Date?
        public var Diagnostics: Envelope?

        public init(hostCommandIdentifier: String?, estimatedCompletionTime: Date? = nil, diagnostics: Envelope? = nil)
        {
            self.HostCommandIdentifier = hostCommandIdentifier
            self.EstimatedCompletionTime = estimatedCompletionTime
            self.Diagnostics = diagnostics
        }
    }

    public struct PostHostCommandUpdateOutput: AWSShape {
        public var CommandStatus: CommandStatus?

        public init(commandStatus: CommandStatus?) {
            self.CommandStatus = commandStatus
        }
    }

    /// Input of `PutHostCommandLog` (Slipway's addition): the event's log as the agent wrote it to `scripts.log`.
    public struct PutHostCommandLogInput: AWSShape {
        public var HostCommandIdentifier: String?
        public var Log: String?

        public init(hostCommandIdentifier: String?, log: String?) {
            self.HostCommandIdentifier = hostCommandIdentifier
            self.Log = log
        }
    }

    /// The largest log `PutHostCommandLog` accepts, in characters; agents keep the end of a longer one.
    public static let maximumLogLength = 1 << 20

    /// The string shapes that are free text (a script log, a diagnostics payload), where control characters are
    /// allowed; identifiers may hold none.
    public static let freeTextShapes: Set<String> = ["Log", "Payload"]

    /// The protocol's shapes and constraints, in the same form as the generated CodeDeploy schema, so one
    /// validator checks both APIs.
    public static let schema = ShapeSchema.Table(shapes: [
        "PollHostCommandInput": ShapeSchema(
            kind: .structure(members: [
                .init(name: "HostIdentifier", shape: "HostIdentifier", required: true)
            ])),
        "GetDeploymentSpecificationInput": ShapeSchema(
            kind: .structure(members: [
                .init(name: "DeploymentExecutionId", shape: "DeploymentExecutionId", required: true),
                .init(name: "HostIdentifier", shape: "HostIdentifier", required: true),
            ])),
        "PutHostCommandAcknowledgementInput": ShapeSchema(
            kind: .structure(members: [
                .init(name: "HostCommandIdentifier", shape: "HostCommandIdentifier", required: true),
                .init(name: "Diagnostics", shape: "Envelope", required: false),
            ])),
        "PutHostCommandCompleteInput": ShapeSchema(
            kind: .structure(members: [
                .init(name: "HostCommandIdentifier", shape: "HostCommandIdentifier", required: true),
                .init(name: "CommandStatus", shape: "CommandStatus", required: true),
                .init(name: "Diagnostics", shape: "Envelope", required: false),
            ])),
        "PostHostCommandUpdateInput": ShapeSchema(
            kind: .structure(members: [
                .init(name: "HostCommandIdentifier", shape: "HostCommandIdentifier", required: true),
                .init(name: "EstimatedCompletionTime", shape: "Timestamp", required: false),
                .init(name: "Diagnostics", shape: "Envelope", required: false),
            ])),
        "PutHostCommandLogInput": ShapeSchema(
            kind: .structure(members: [
                .init(name: "HostCommandIdentifier", shape: "HostCommandIdentifier", required: true),
                .init(name: "Log", shape: "Log", required: true),
            ])),
        "Log": ShapeSchema(kind: .string(enumValues: nil), max: Int64(maximumLogLength)),
        "Envelope": ShapeSchema(
            kind: .structure(members: [
                .init(name: "Format", shape: "Format", required: false),
                .init(name: "Payload", shape: "Payload", required: false),
            ])),
        "HostIdentifier": ShapeSchema(kind: .string(enumValues: nil)),
        "HostCommandIdentifier": ShapeSchema(kind: .string(enumValues: nil)),
        "DeploymentExecutionId": ShapeSchema(
            kind: .string(enumValues: nil), min: 1, max: 129, pattern: "^[^/]+/[^/]+/[^/]+/.+$"),
        "CommandStatus": ShapeSchema(kind: .string(enumValues: CommandStatus.allCases.map(\.rawValue))),
        "Format": ShapeSchema(kind: .string(enumValues: nil), min: 1, max: 64),
        "Payload": ShapeSchema(kind: .string(enumValues: nil), max: 8192),
        "Timestamp": ShapeSchema(kind: .timestamp),
    ])
}
