import ArtifactStore
import Deployments
import Foundation
import Hummingbird
import Logging
import SlipwayModel
import Store

/// The web console under `/ui/`: server-rendered pages, a small script of our own (`/ui/static/console.js`) for live
/// updates, and forms for the actions.
///
/// A browser signs in with an access key id and secret (``ConsoleSessions``); every page and action is then
/// authorised by that key's policies with the same checks as the API: reads with the `codedeploy:` action of the
/// API call that shows the same thing, actions by calling the CodeDeploy API's own handler as that principal.
/// Every form carries the session's CSRF token; every page is sent with a Content-Security-Policy that allows
/// scripts and styles from the console's own files only.
struct Console: Sendable {
    let store: any Store
    let sessions: ConsoleSessions
    let codeDeploy: CodeDeployAPI
    let deployments: DeploymentDriver
    let revisions: any RevisionLocator
    /// The built-in store, where revisions are compared.
    let artifacts: LocalArtifactStore
    let region: String
    let accountID: String
    let clock: @Sendable () -> Date
    /// How often a live page's stream looks for changes; changes in between are sent together.
    var updateInterval: Duration = .milliseconds(500)

    var arns: ARNs { ARNs(region: region, accountID: accountID) }

    /// The most a form's body may hold.
    static let formLimit = 64 * 1024

    /// Whether the request is the console's: anything under `/ui`, and a browser's plain `GET /` (sent on to `/ui/`).
    static func accepts(_ request: Request) -> Bool {
        let path = request.uri.path
        if path == "/ui" || path.hasPrefix("/ui/") { return true }
        return request.method == .get && path == "/" && request.uri.query == nil
            && request.headers[.authorization] == nil
            && (request.headers[.accept] ?? "").contains("text/html")
    }

    func respond(to request: Request, logger: Logger) async -> Response {
        let path = request.uri.path
        if path == "/" || path == "/ui" { return Self.redirect(to: ConsolePath.root) }
        let segments = path.dropFirst("/ui/".count).split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).removingPercentEncoding ?? ""
        }
        do {
            if segments.first == "static" { return ConsoleAssets.response(for: Array(segments.dropFirst())) }
            if segments == ["sign-in"] { return try await signInPage(request) }
            guard let (session, principal) = try await sessions.session(cookie: cookie(request), now: clock()) else {
                if request.method == .get && !path.hasSuffix("/events") {
                    let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                    return Self.redirect(to: "/ui/sign-in?next=" + ConsolePath.segment(next))
                }
                return errorPage(
                    .unauthorized, "Signed out", "Your session has ended. Sign in again to go on.", context: nil)
            }
            var context = ConsoleContext(
                console: self, session: session, principal: principal, request: request, logger: logger)
            if request.method == .post {
                let form = try await Self.form(of: request)
                guard let token = form["csrf"], ConsoleSessions.constantTimeEqual(token, session.csrfToken) else {
                    return errorPage(
                        .forbidden, "Refused",
                        "The form did not carry this session's token: it is out of date, or was sent from another "
                            + "site. Reload the page and try again.", context: context)
                }
                context.form = form
            } else if request.method != .get && request.method != .head {
                return errorPage(
                    .methodNotAllowed, "Not allowed", "The console answers GET and POST only.", context: context)
            }
            return try await route(segments, context: context)
        } catch let error as AWSJSONError {
            return errorPage(Self.status(of: error), error.type, error.message, context: nil)
        } catch let error as DeploymentError {
            let aws = error.awsError
            return errorPage(Self.status(of: aws), aws.type, aws.message, context: nil)
        } catch let error as ConsoleError {
            return errorPage(error.status, error.title, error.message, context: nil)
        } catch {
            logger.error("console request failed", metadata: ["error": .string(String(describing: error))])
            return errorPage(
                .internalServerError, "Server error", "The server failed to answer; its log says why.", context: nil)
        }
    }

    private func route(_ segments: [String], context: ConsoleContext) async throws -> Response {
        let method = context.request.method == .post ? "POST" : "GET"
        /// The segments that `pattern`'s `*`s stand for, when the request is `verb` and matches it.
        func match(_ verb: String, _ pattern: String...) -> [String]? {
            guard verb == method, pattern.count == segments.count else { return nil }
            var captured: [String] = []
            for (expected, actual) in zip(pattern, segments) {
                if expected == "*" {
                    guard !actual.isEmpty else { return nil }
                    captured.append(actual)
                } else if expected != actual {
                    return nil
                }
            }
            return captured
        }
        if match("GET", "") != nil { return try await overview(context) }
        if match("GET", "events") != nil { return try await overviewEvents(context) }
        if match("POST", "sign-out") != nil {
            if let token = cookie(context.request) { try await sessions.signOut(cookie: token) }
            var response = Self.redirect(to: "/ui/sign-in")
            response.headers[values: .setCookie].append(Self.sessionCookie(value: "", maxAge: 0))
            return response
        }
        if match("GET", "applications") != nil { return try await applications(context) }
        if let c = match("GET", "applications", "*") { return try await application(c[0], context) }
        if let c = match("GET", "applications", "*", "revisions") { return try await revisionsPage(c[0], context) }
        if let c = match("POST", "applications", "*", "deploy") { return try await deployRevision(c[0], context) }
        if let c = match("GET", "applications", "*", "groups", "*") { return try await groupPage(c[0], c[1], context) }
        if match("GET", "instances") != nil { return try await instances(context) }
        if let c = match("GET", "deployments", "*") { return try await deploymentPage(c[0], context) }
        if let c = match("GET", "deployments", "*", "events") { return try await deploymentEvents(c[0], context) }
        if let c = match("POST", "deployments", "*", "*") { return try await deploymentAction(c[1], c[0], context) }
        if let c = match("GET", "deployments", "*", "hosts", "*") {
            return try await hostPage(c[0], instance: c[1], context)
        }
        if let c = match("GET", "deployments", "*", "logs", "*", "*") {
            return try await logPage(c[0], instance: c[1], event: c[2], context)
        }
        return errorPage(.notFound, "Not found", "There is no such page in the console.", context: context)
    }

    // MARK: Sign-in

    private func signInPage(_ request: Request) async throws -> Response {
        let next = Self.safeNext(request.uri.queryParameters["next"].map(String.init))
        if request.method == .post {
            let form = try await Self.form(of: request)
            guard let token = form["csrf"], let expected = request.cookies[ConsoleSessions.signInCookieName]?.value,
                expected.count == 64, ConsoleSessions.constantTimeEqual(token, expected)
            else {
                return signInForm(
                    next: form["next"].map(Self.safeNext) ?? next,
                    message: "The sign-in form was out of date or sent from another site; try again.",
                    status: .forbidden)
            }
            do {
                let (value, session) = try await sessions.signIn(
                    accessKeyId: form["accessKeyId"] ?? "", secret: form["secretAccessKey"] ?? "", now: clock())
                var response = Self.redirect(to: form["next"].map(Self.safeNext) ?? next)
                response.headers[values: .setCookie].append(
                    Self.sessionCookie(value: value, maxAge: Int(session.expires.timeIntervalSince(session.created))))
                response.headers[values: .setCookie].append(Self.signInCookie(value: "", maxAge: 0))
                return response
            } catch let failure as ConsoleSessions.SignInFailure {
                let message =
                    failure == .missing
                    ? "Enter an access key id and its secret."
                    : "That access key id and secret do not match an active key."
                return signInForm(
                    next: form["next"].map(Self.safeNext) ?? next, message: message, status: .unauthorized)
            }
        }
        return signInForm(next: next, message: nil, status: .ok)
    }

    private func signInForm(next: String, message: String?, status: HTTPResponse.Status) -> Response {
        let token = ConsoleSessions.randomToken()
        let alert: HTML = message.map { "<p class=\"alert\" role=\"alert\">\($0)</p>" } ?? .empty
        let body: HTML = """
            <section class="sign-in">
            <h1>Sign in to Slipway</h1>
            \(alert)
            <form method="post" action="/ui/sign-in">
            <input type="hidden" name="csrf" value="\(token)">
            <input type="hidden" name="next" value="\(next)">
            <label for="accessKeyId">Access key id</label>
            <input id="accessKeyId" name="accessKeyId" autocomplete="username" required spellcheck="false">
            <label for="secretAccessKey">Secret access key</label>
            <input id="secretAccessKey" name="secretAccessKey" type="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button>
            </form>
            <p class="hint">Use a key of your own, or make one for the console: <code>slipway keys create --role deployer</code>.</p>
            </section>
            """
        var response = Self.html(ConsoleLayout.page(title: "Sign in", context: nil, body: body), status: status)
        response.headers[values: .setCookie].append(Self.signInCookie(value: token, maxAge: 3600))
        return response
    }

    /// A `next` that stays within the console; anything else goes to the overview.
    static func safeNext(_ value: String?) -> String {
        guard let value, value.hasPrefix("/ui/"), !value.hasPrefix("/ui//"), !value.contains("\\"),
            value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return ConsolePath.root }
        return value
    }

    // MARK: Responses

    /// The API's answer as a page's status: what does not exist is a 404 to a browser.
    static func status(of error: AWSJSONError) -> HTTPResponse.Status {
        error.type.hasSuffix("DoesNotExistException") ? .notFound : HTTPResponse.Status(code: error.status)
    }

    private func cookie(_ request: Request) -> String? { request.cookies[ConsoleSessions.cookieName]?.value }

    static func sessionCookie(value: String, maxAge: Int) -> String {
        "\(ConsoleSessions.cookieName)=\(value); Path=/ui; Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Strict"
    }

    static func signInCookie(value: String, maxAge: Int) -> String {
        "\(ConsoleSessions.signInCookieName)=\(value); Path=/ui/sign-in; Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Strict"
    }

    /// The headers every console page is sent with.
    static func securityHeaders(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "same-origin"
        headers[.xFrameOptions] = "DENY"
    }

    static func html(_ page: HTML, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        securityHeaders(&headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.text)))
    }

    static func redirect(to location: String) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        securityHeaders(&headers)
        return Response(status: .seeOther, headers: headers)
    }

    func errorPage(_ status: HTTPResponse.Status, _ title: String, _ message: String, context: ConsoleContext?)
        -> Response
    {
        let body: HTML = """
            <h1>\(title)</h1>
            <p class="alert" role="alert">\(message)</p>
            <p><a href="/ui/">Back to the overview</a></p>
            """
        return Self.html(ConsoleLayout.page(title: title, context: context, body: body), status: status)
    }

    /// The fields of a form (`application/x-www-form-urlencoded`), the first value of each name.
    static func form(of request: Request) async throws -> [String: String] {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
            throw ConsoleError(.unsupportedMediaType, "Refused", "The console takes forms only.")
        }
        var body = request.body
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: formLimit)
        } catch {
            throw ConsoleError(.contentTooLarge, "Refused", "The form is larger than the console takes (64 KiB).")
        }
        return parseForm(String(buffer: buffer))
    }

    /// `a=1&b=two+words` → fields; `+` is a space, percent escapes are decoded, malformed escapes leave the field
    /// out.
    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String? {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { continue }
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }
}

/// A refusal of the console's own, shown as a page.
struct ConsoleError: Error {
    let status: HTTPResponse.Status
    let title: String
    let message: String

    init(_ status: HTTPResponse.Status, _ title: String, _ message: String) {
        self.status = status
        self.title = title
        self.message = message
    }
}

/// One signed-in request.
struct ConsoleContext: Sendable {
    let console: Console
    let session: ConsoleSession
    let principal: Principal
    let request: Request
    let logger: Logger
    /// The fields of a POST, once its CSRF token is checked.
    var form: [String: String] = [:]

    var now: Date { console.clock() }

    /// Whether the principal may perform `operation` on a deployment group (the IAM resource of operations on a
    /// deployment), as the API would decide it.
    func may(_ operation: CodeDeploy.Operation, application: String, group: String) -> Bool {
        (try? principal.authorizeCodeDeploy(
            operation, deploymentGroup: group, application: application, arns: console.arns)) != nil
    }

    /// Throws the API's `AccessDeniedException` unless the principal may perform `operation` on the resources that
    /// `input` names (on `*` when it names none), exactly as the API's authentication would.
    func authorize(_ operation: CodeDeploy.Operation, input: [String: JSONValue] = [:]) throws {
        try principal.authorizeCodeDeploy(operation, document: .object(input), arns: console.arns)
    }

    /// Calls the CodeDeploy API's handler of `operation` as the signed-in principal: the same validation and
    /// authorization as a signed request with this body.
    @discardableResult
    func call(_ operation: CodeDeploy.Operation, _ input: [String: JSONValue]) async throws -> JSONValue {
        try authorize(operation, input: input)
        let handlerContext = HandlerContext(
            store: console.store, region: console.region, accountID: console.accountID, principal: principal,
            operation: operation, now: now,
            log: RequestLog(base: logger, requestID: UniqueIDs.make(), operation: operation.rawValue),
            deployments: console.deployments, revisions: console.revisions)
        let output = try await console.codeDeploy.handle(
            operation, input: JSONInput(document: .object(input)), context: handlerContext)
        return (try? JSONReader.value(from: output)) ?? .object([:])
    }
}
