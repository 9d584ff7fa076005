import ArtifactStore
import Deployments
import Foundation
import Hummingbird
import Logging
import SlipwayModel
import Store

/// The one responder of the server's port: it tells the protocols apart and hands each request to its API.
///
/// | request | served by |
/// |---|---|
/// | `GET /healthz` | health, no authentication |
/// | `POST /` + `X-Amz-Target: CodeDeploy_20141006.<Op>` | the CodeDeploy API |
/// | `POST /` + `X-Amz-Target: CodeDeployCommandService…` | the agent command API (`Commands/`) |
/// | `POST /` form-encoded `Action=…&Version=2010-05-08` | the IAM subset (`IAM/`) |
/// | anything else | the S3 API of the built-in artifact store (`S3/`) |
///
/// Every API request is authorised by its principal's policies (`Authorization/`): here by operation name for the
/// CodeDeploy and command APIs, in the S3 API by the request's S3 action, in the IAM API on the user it names.
struct SlipwayResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    /// JSON API bodies are small; a larger one is refused before it is read whole.
    static let maximumJSONBody = 4 << 20

    let store: any Store
    let region: String
    let accountID: String
    let authenticator: Authenticator
    let codeDeploy: CodeDeployAPI
    /// The agent command API and the deployment driver it shares with the CodeDeploy API.
    let commands: CommandAPI
    /// Where CreateDeployment looks up S3 revisions.
    let revisions: any RevisionLocator
    /// The S3 API: every request without `X-Amz-Target`.
    let s3: S3API
    let clock: @Sendable () -> Date

    /// The IAM API: users, access keys and inline policies.
    var iam: IAMAPI { IAMAPI(store: store, authenticator: authenticator, accountID: accountID, clock: clock) }

    func respond(to request: Request, context: Context) async throws -> Response {
        if request.method == .get && request.uri.path == "/healthz" {
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        let requestID = UniqueIDs.make()
        // Log metadata is attached only when a line is written: setting it re-renders the handler's metadata
        // each time, which cost more than the rest of a cached read's bookkeeping.
        var log = RequestLog(base: context.logger, requestID: requestID)
        guard let target = request.headers[.amzTarget] else {
            let logger = log.logger
            if IAMAPI.accepts(request) { return await iam.respond(to: request, requestID: requestID, logger: logger) }
            return await s3.respond(to: request, requestID: requestID, logger: logger)
        }
        do {
            let admission = try await authenticator.admit(request)
            let body = try await readBody(request)
            let (prefix, operation) = Self.split(target)
            switch prefix {
            case CodeDeploy.targetPrefix:
                let principal = try authenticator.authenticate(
                    admission, body: body, service: CodeDeploy.signingName, now: clock())
                try principal.authorizeCodeDeploy(
                    operation: operation, body: body, arns: ARNs(region: region, accountID: accountID))
                log.operation = operation
                let context = HandlerContext(
                    store: store, region: region, accountID: accountID, principal: principal, now: clock(),
                    log: log, deployments: commands.deployments, revisions: revisions)
                let output = try await codeDeploy.handle(operationName: operation, body: body, context: context)
                if log.base.logLevel <= .debug { log.logger.debug("handled") }
                return Response.awsJSON(output, requestID: requestID)
            case CodeDeployCommand.targetPrefix, CodeDeployCommand.secureTargetPrefix:
                let signingName =
                    prefix == CodeDeployCommand.targetPrefix
                    ? CodeDeployCommand.signingName : CodeDeployCommand.secureSigningName
                let principal = try authenticator.authenticate(
                    admission, body: body, service: signingName, now: clock()
                ).authorizedForCommands(operation: operation)
                log.operation = operation
                let output = try await commands.handle(
                    operationName: operation, body: body, principal: principal,
                    agentVersion: request.headers[.agentVersion], now: clock)
                return Response.awsJSON(output, requestID: requestID)
            case EventLogs.targetPrefix:
                let principal = try authenticator.authenticate(
                    admission, body: body, service: CodeDeploy.signingName, now: clock())
                try principal.authorizeCodeDeploy(
                    operation: "GetDeploymentTarget", body: body, arns: ARNs(region: region, accountID: accountID))
                log.operation = operation
                let output = try await EventLogs.handle(
                    operation: operation, body: body, store: store, principal: principal,
                    arns: ARNs(region: region, accountID: accountID))
                return Response.awsJSON(output, requestID: requestID)
            default:
                throw AWSJSONError.unknownOperation(target)
            }
        } catch let error as AWSJSONError {
            let logger = log.logger
            if error.status >= 500 && error.status != 501 {
                logger.error("request failed", metadata: ["error": .string(error.description)])
            } else {
                logger.info("request refused", metadata: ["error": .string(error.type)])
            }
            return Response.awsJSON(error, requestID: requestID)
        } catch {
            log.logger.error("internal error", metadata: ["error": .string(String(describing: error))])
            return Response.awsJSON(
                AWSJSONError(
                    type: "InternalFailure",
                    message:
                        "The server failed to handle the request; its log has the details under request id \(requestID).",
                    status: 500),
                requestID: requestID)
        }
    }

    /// Splits `Prefix.Operation` at the last dot.
    static func split(_ target: String) -> (prefix: String, operation: String) {
        guard let dot = target.lastIndex(of: ".") else { return (target, "") }
        return (String(target[..<dot]), String(target[target.index(after: dot)...]))
    }

    private func readBody(_ request: Request) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: Self.maximumJSONBody)
            return Data(buffer.readableBytesView)
        } catch {
            throw AWSJSONError(
                type: "SerializationException",
                message:
                    "The request body is larger than \(Self.maximumJSONBody) bytes, the most a JSON API request may have.",
                status: 413)
        }
    }
}

/// A request's logger and the metadata its lines carry, put together only when a line is written.
struct RequestLog: Sendable {
    let base: Logger
    let requestID: String
    var operation: String?

    /// The logger with `request_id` (and `operation`, once known) as metadata.
    var logger: Logger {
        var logger = base
        logger[metadataKey: "request_id"] = .string(requestID)
        if let operation { logger[metadataKey: "operation"] = .string(operation) }
        return logger
    }
}
