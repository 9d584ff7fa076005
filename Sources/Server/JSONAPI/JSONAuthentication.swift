import Foundation
import Hummingbird
import SlipwayModel

/// The context of every request to Slipway's port: Hummingbird's, and what ``JSONAuthentication`` established.
struct SlipwayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// A JSON protocol request that was authenticated and authorised: its operation, principal and body.
    var json: AuthenticatedJSONRequest?

    init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// A JSON protocol request that ``JSONAuthentication`` let through.
struct AuthenticatedJSONRequest: Sendable {
    let operation: JSONOperation
    /// Who signed it, as authorised for `operation` (for the command API: whether it may act for every host).
    let principal: Principal
    let input: JSONInput
}

/// Lets a request to a JSON protocol (`POST /` with `X-Amz-Target`) through to its handler only once it is known,
/// signed and allowed, and puts what it established into the context (``SlipwayRequestContext/json``).
///
/// In order: the key must be active (before the body is read: a stranger cannot make the server read 4 MiB), the
/// target must name an operation Slipway serves, the body must be at most 4 MiB and carry a valid signature for the
/// operation's service, and the principal's policies must allow the operation on the resources the body names. A
/// body that is not JSON is refused after that, so that a malformed request from a stranger learns nothing.
struct JSONAuthentication: MiddlewareProtocol {
    typealias Input = Request
    typealias Output = Response
    typealias Context = SlipwayRequestContext

    /// JSON API bodies are small; a larger one is refused before it is read whole.
    static let maximumBody = 4 << 20

    let authenticator: Authenticator
    let arns: ARNs
    let clock: @Sendable () -> Date

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let admission = try await authenticator.admit(request)
        let operation = try JSONOperation(target: request.headers[.amzTarget] ?? "")
        let body = try await Self.readBody(request)
        var principal = try authenticator.authenticate(
            admission, body: body, service: operation.signingName, now: clock())
        let input = JSONInput.parse(body)
        switch operation {
        case .codeDeploy(let operation):
            try principal.authorizeCodeDeploy(operation, document: try? input.get().document, arns: arns)
        case .command(let operation, _):
            principal = try principal.authorizedForCommands(operation)
        case .lifecycleEventLog:
            // Shows what GetDeploymentTarget shows; the handler finishes the decision on the deployment it reads.
            try principal.authorizeCodeDeploy(.getDeploymentTarget, document: nil, arns: arns)
        case .cloudWatch(let operation):
            // The handler decides on the alarms it reads from the request and acts on.
            try principal.authorizeBeforeResource("cloudwatch:\(operation.rawValue)")
        }
        var context = context
        context.json = AuthenticatedJSONRequest(operation: operation, principal: principal, input: try input.get())
        return try await next(request, context)
    }

    private static func readBody(_ request: Request) async throws -> Data {
        do {
            return Data(try await request.body.collect(upTo: maximumBody).readableBytesView)
        } catch {
            throw AWSJSONError(
                type: "SerializationException",
                message: "The request body is larger than \(maximumBody) bytes, the most a JSON API request may have.",
                status: 413)
        }
    }
}
