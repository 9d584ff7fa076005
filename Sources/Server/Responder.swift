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
/// | `/ui/…`, and a browser's `GET /` | the web console (`Console/`), signed in with a session cookie |
/// | `POST /` + `X-Amz-Target: CodeDeploy_20141006.<Op>` | the CodeDeploy API |
/// | `POST /` + `X-Amz-Target: CodeDeployCommandService…` | the agent command API (`Commands/`) |
/// | `POST /` + `X-Amz-Target: Slipway_20261127.GetLifecycleEventLog` | a lifecycle event's full log (`Commands/`) |
/// | `POST /` + `X-Amz-Target: GraniteServiceVersion20100801.<Op>` | CloudWatch alarms (`CloudWatch/`) |
/// | `POST /` form-encoded, signed for `sns` | the SNS subset (`SNS/`) |
/// | `GET /?Action=ConfirmSubscription…`, `GET /?Action=Unsubscribe…`, `GET /sns/signing-certificate.pem` | SNS's unsigned links |
/// | `POST /` form-encoded `Action=…&Version=2010-05-08` | the IAM subset (`IAM/`) |
/// | anything else | the S3 API of the built-in artifact store (`S3/`) |
///
/// A JSON request passes ``JSONAuthentication`` (its operation classified once, signature verified, policies
/// checked) before it reaches its API; the S3 API classifies its requests into an ``S3Operation`` that its
/// authorization and routing share; the IAM API authorises on the user each action names.
struct SlipwayResponder: HTTPResponder {
    typealias Context = SlipwayRequestContext

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
    /// The SNS API: topics, subscriptions, Publish.
    let sns: SNSAPI
    /// `GET /metrics`, when the server exports metrics.
    let metrics: MetricsExport?
    /// The web console under `/ui/`.
    let console: Console
    let clock: @Sendable () -> Date

    var arns: ARNs { ARNs(region: region, accountID: accountID) }
    /// The IAM API: users, access keys and inline policies.
    var iam: IAMAPI { IAMAPI(store: store, authenticator: authenticator, accountID: accountID, clock: clock) }
    var authentication: JSONAuthentication {
        JSONAuthentication(authenticator: authenticator, arns: arns, clock: clock)
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        if request.method == .get && request.uri.path == "/healthz" {
            return Response(
                status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        if request.method == .get && request.uri.path == "/metrics" { return await exportMetrics(request) }
        let started = ContinuousClock.now
        if Console.accepts(request) {
            let response = await console.respond(to: request, logger: context.logger)
            ServerMetrics.request(
                protocol: "console", operation: request.method.rawValue, status: response.status.code, started: started)
            return response
        }
        let (response, name, operation) = try await route(request, context: context)
        ServerMetrics.request(
            protocol: name, operation: operation, status: response.status.code, started: started)
        return response
    }

    /// The series in Prometheus' text format, to a scraper that may read them.
    private func exportMetrics(_ request: Request) async -> Response {
        guard let metrics else {
            return Response(
                status: .notFound, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "This server exports no metrics.\n")))
        }
        guard metrics.authorises(request.headers[.authorization]) else {
            return Response(
                status: .forbidden, headers: [.contentType: "text/plain"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: "Scrape with Authorization: Bearer and the token of --metrics-token-file.\n")))
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: await metrics.text(store: store))))
    }

    /// Hands `request` to its API; returns the answer with the protocol and operation the metrics name.
    private func route(_ request: Request, context: Context) async throws -> (Response, String, String) {
        let requestID = UniqueIDs.make()
        // Log metadata is attached only when a line is written: setting it re-renders the handler's metadata each
        // time, and most requests write no line.
        var log = RequestLog(base: context.logger, requestID: requestID)
        guard let target = request.headers[.amzTarget] else {
            let logger = log.logger
            let method = request.method.rawValue
            if SNSAPI.accepts(request) || SNSAPI.acceptsUnsigned(request) {
                return (await sns.respond(to: request, requestID: requestID, logger: logger), "sns", method)
            }
            if IAMAPI.accepts(request) {
                return (await iam.respond(to: request, requestID: requestID, logger: logger), "iam", method)
            }
            return (await s3.respond(to: request, requestID: requestID, logger: logger), "s3", method)
        }
        // Known operations only: a made-up target must not make a series of its own.
        let (name, operation) =
            (try? JSONOperation(target: target)).map { ($0.protocolName, $0.name) } ?? ("json", "unknown")
        return (await respondJSON(request, context: context, requestID: requestID, log: log), name, operation)
    }

    private func respondJSON(_ request: Request, context: Context, requestID: String, log: RequestLog) async
        -> Response
    {
        var log = log
        do {
            return try await authentication.handle(request, context: context) { request, context in
                guard let json = context.json else {
                    throw AWSJSONError(
                        type: "InternalFailure", message: "The request reached its API unauthenticated.", status: 500)
                }
                log.operation = json.operation.name
                let output = try await serve(json, agentVersion: request.headers[.agentVersion], log: log)
                if log.base.logLevel <= .debug { log.logger.debug("handled") }
                return Response.awsJSON(output, requestID: requestID)
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

    /// Hands an authenticated JSON request to its API.
    private func serve(_ json: AuthenticatedJSONRequest, agentVersion: String?, log: RequestLog) async throws -> Data {
        switch json.operation {
        case .codeDeploy(let operation):
            let context = HandlerContext(
                store: store, region: region, accountID: accountID, principal: json.principal, operation: operation,
                now: clock(), log: log, deployments: commands.deployments, revisions: revisions)
            return try await codeDeploy.handle(operation, input: json.input, context: context)
        case .command(let operation, _):
            return try await commands.handle(
                operation, input: json.input, principal: json.principal, agentVersion: agentVersion, now: clock)
        case .lifecycleEventLog:
            return try await EventLogs.handle(json.input, store: store, principal: json.principal, arns: arns)
        case .cloudWatch(let operation):
            return try await CloudWatchAPI(store: store, arns: arns).handle(
                operation, input: json.input, principal: json.principal, now: clock())
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
