import ArtifactStore
import Deployments
import Foundation
import Logging
import SlipwayModel
import Store
import Synchronization

/// What a CodeDeploy handler gets besides its input.
struct HandlerContext: Sendable {
    let store: any Store
    let region: String
    let accountID: String
    let principal: Principal
    /// The operation being handled.
    let operation: CodeDeploy.Operation
    let now: Date
    let log: RequestLog
    let deployments: DeploymentDriver
    /// Where CreateDeployment checks that an S3 revision exists: the built-in store or an external endpoint.
    let revisions: any RevisionLocator

    /// Whether the handler authorised the request on the deployments it acts on (operations by deployment id).
    var deploymentsAuthorized = DeploymentAuthorization()

    var arns: ARNs { ARNs(region: region, accountID: accountID) }
    /// The request's logger, with its request id and operation.
    var logger: Logger { log.logger }

    /// Authorises the operation on the deployment groups of `deployments`: the records the handler loaded and is
    /// about to show or change (CodeDeploy's IAM resource for operations by deployment id is the deployment's
    /// group). Every handler of an operation in ``CodeDeployResources/byDeployment`` calls it, also with no records
    /// when none of the ids exists.
    func authorize(_ deployments: [DeploymentRecord]) throws {
        for record in deployments {
            try principal.authorizeCodeDeploy(
                operation, deploymentGroup: record.info.deploymentGroupName ?? "",
                application: record.info.applicationName ?? "", arns: arns)
        }
        deploymentsAuthorized.done.withLock { $0 = true }
    }
}

/// Set once a handler has authorised its request on the deployments it loaded.
final class DeploymentAuthorization: Sendable {
    let done = Mutex(false)
}

/// The CodeDeploy JSON API: decodes and validates a request against the generated model, then calls the typed
/// handler registered for its operation. Handlers throw `AWSJSONError`s; anything else is a fault (500).
struct CodeDeployAPI: Sendable {
    typealias RawHandler = @Sendable (JSONInput, HandlerContext) async throws -> Data

    private var handlers: [CodeDeploy.Operation: RawHandler] = [:]
    private let validator = ShapeValidator(schema: CodeDeploy.schema, freeTextShapes: CodeDeploy.freeTextShapes)

    /// Registers the handler of an operation that returns a result.
    mutating func on<Input: AWSShape & JSONReadable, Output: JSONWritable>(
        _ operation: CodeDeploy.Operation,
        _ handler: @escaping @Sendable (Input, HandlerContext) async throws -> Output
    ) {
        precondition(operation.descriptor.inputType == Input.self, "\(operation) takes another input type")
        handlers[operation] = { input, context in
            JSONOutput.encode(try await handler(try input.decode(Input.self), context))
        }
    }

    /// Registers the handler of an operation whose result is empty.
    mutating func on<Input: AWSShape & JSONReadable>(
        _ operation: CodeDeploy.Operation,
        _ handler: @escaping @Sendable (Input, HandlerContext) async throws -> Void
    ) {
        let output = operation.descriptor.outputShape.flatMap { CodeDeploy.schema[$0] }
        if case .structure(let members)? = output?.kind {
            precondition(members.isEmpty, "\(operation) returns a result")
        }
        handlers[operation] = { input, context in
            try await handler(try input.decode(Input.self), context)
            return Data("{}".utf8)
        }
    }

    /// Whether an operation has a handler (the others answer `NotImplementedException`).
    func implements(_ operation: CodeDeploy.Operation) -> Bool { handlers[operation] != nil }

    /// Handles one authenticated request: checks its body against the operation's input shape and calls the
    /// operation's handler.
    func handle(_ operation: CodeDeploy.Operation, input: JSONInput, context: HandlerContext) async throws -> Data {
        let descriptor = operation.descriptor
        if let shape = descriptor.inputShape {
            try input.validate(against: shape, with: validator) { Self.error(for: $0, of: descriptor) }
        }
        guard let handler = handlers[operation] else {
            throw AWSJSONError(
                type: "NotImplementedException",
                message: "\(operation.rawValue) is not implemented in this version of Slipway yet; "
                    + "see the status table in Slipway's README.",
                status: 501
            )
        }
        var context = context
        context.deploymentsAuthorized = DeploymentAuthorization()
        let output: Data
        do {
            output = try await handler(input, context)
        } catch let error as DeploymentError {
            throw error.awsError
        }
        // An answer about deployments the handler never authorised on would bypass the policies' resources.
        if CodeDeployResources.byDeployment.contains(operation) && !context.deploymentsAuthorized.done.withLock({ $0 })
        {
            throw AWSJSONError(
                type: "InternalFailure",
                message:
                    "\(operation.rawValue) answered without authorising on its deployment; the request was refused.",
                status: 500)
        }
        return output
    }

    /// The error AWS gives for a model violation: the operation's own `<Member>RequiredException` or
    /// `Invalid<Member>Exception` where the model lists one, `SerializationException` for JSON type errors, and
    /// `ValidationException` otherwise.
    static func error(for violation: ShapeViolation, of descriptor: OperationDescriptor) -> AWSJSONError {
        if violation.isSerializationError {
            return .serialization(violation.description)
        }
        if let member = violation.member {
            let base = member.prefix(1).uppercased() + member.dropFirst()
            let names = base.hasSuffix("s") ? [base, String(base.dropLast())] : [base]
            let candidates: [String] =
                if case .missingRequired = violation.kind {
                    names.map { "\($0)RequiredException" }
                } else {
                    names.map { "Invalid\($0)Exception" }
                }
            for candidate in candidates {
                if let code = CodeDeploy.ExceptionType(rawValue: candidate), descriptor.errors.contains(code) {
                    return AWSJSONError(code, violation.description)
                }
            }
        }
        return AWSJSONError(type: "ValidationException", message: violation.description)
    }
}

/// ARNs of CodeDeploy resources in this server's region and account.
struct ARNs: Sendable {
    let region: String
    let accountID: String

    func application(_ name: String) -> String { "arn:aws:codedeploy:\(region):\(accountID):application:\(name)" }
    func deploymentGroup(application: String, group: String) -> String {
        "arn:aws:codedeploy:\(region):\(accountID):deploymentgroup:\(application)/\(group)"
    }
    func deploymentConfig(_ name: String) -> String {
        "arn:aws:codedeploy:\(region):\(accountID):deploymentconfig:\(name)"
    }
    func instance(_ name: String) -> String { "arn:aws:codedeploy:\(region):\(accountID):instance/\(name)" }

    /// The (application, group) of an application or deployment-group ARN of this region and account.
    enum Resource: Equatable {
        case application(String)
        case deploymentGroup(application: String, group: String)
    }

    func parse(_ arn: String) -> Resource? {
        let prefix = "arn:aws:codedeploy:\(region):\(accountID):"
        guard arn.hasPrefix(prefix) else { return nil }
        let rest = arn.dropFirst(prefix.count)
        if rest.hasPrefix("application:") {
            let name = String(rest.dropFirst("application:".count))
            return name.isEmpty ? nil : .application(name)
        }
        if rest.hasPrefix("deploymentgroup:") {
            let path = rest.dropFirst("deploymentgroup:".count)
            guard let slash = path.firstIndex(of: "/") else { return nil }
            let application = String(path[..<slash])
            let group = String(path[path.index(after: slash)...])
            return application.isEmpty || group.isEmpty ? nil : .deploymentGroup(application: application, group: group)
        }
        return nil
    }
}

/// Opaque pagination tokens: the base64 of the last name of the previous page.
enum PageToken {
    static func make(after name: String) -> String { Data(name.utf8).base64EncodedString() }

    static func parse(_ token: String?) throws -> String? {
        guard let token else { return nil }
        guard let data = Data(base64Encoded: token), let name = String(data: data, encoding: .utf8) else {
            throw AWSJSONError(.invalidNextTokenException, "The next token is not one this server gave out.")
        }
        return name
    }

    /// Splits `items` (already sorted by name) after the token into one page and the next token.
    static func page<Item>(
        _ items: [Item], name: (Item) -> String, token: String?, size: Int
    ) throws -> (page: [Item], nextToken: String?) {
        let after = try parse(token)
        let rest = after.map { last in items.filter { name($0) > last } } ?? items
        let page = Array(rest.prefix(size))
        let next = rest.count > size ? page.last.map { make(after: name($0)) } : nil
        return (page, next)
    }

    /// Pages by position, for lists sorted by something other than name.
    static func pageByOffset<Item>(_ items: [Item], token: String?, size: Int) throws -> (
        page: [Item], nextToken: String?
    ) {
        var start = 0
        if let token {
            guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
                text.hasPrefix("offset:"), let offset = Int(text.dropFirst("offset:".count)), offset >= 0
            else {
                throw AWSJSONError(.invalidNextTokenException, "The next token is not one this server gave out.")
            }
            start = min(offset, items.count)
        }
        let end = min(start + size, items.count)
        let next = end < items.count ? Data("offset:\(end)".utf8).base64EncodedString() : nil
        return (Array(items[start..<end]), next)
    }
}
