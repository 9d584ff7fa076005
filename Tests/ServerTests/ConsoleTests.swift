import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SigV4
import Store
import Testing

@testable import Server

/// A browser's side of the console, in-process: it keeps the cookies the server sets and sends them back, and reads
/// the forms' CSRF tokens out of the pages, as a browser submitting them would.
struct ConsoleBrowser {
    let client: TestServer.Client
    var cookies: [String: String] = [:]

    struct Page {
        let status: Int
        let headers: HTTPFields
        let text: String

        var location: String? { headers[.location] }
        /// The value of the first hidden `csrf` field.
        var csrf: String? {
            guard let range = text.range(of: #"name="csrf" value=""#) else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    init(client: TestServer.Client) { self.client = client }

    mutating func get(_ path: String, headers extra: HTTPFields = [:]) async throws -> Page {
        try await send(.get, path, headers: extra, body: nil)
    }

    mutating func post(_ path: String, _ form: [(String, String)]) async throws -> Page {
        let body = form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        return try await send(
            .post, path, headers: [.contentType: "application/x-www-form-urlencoded"], body: Data(body.utf8))
    }

    mutating func send(_ method: HTTPRequest.Method, _ path: String, headers extra: HTTPFields, body: Data?)
        async throws -> Page
    {
        var headers = extra
        if !cookies.isEmpty {
            headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        let response = try await client.client.executeRequest(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) })
        for header in response.headers[values: .setCookie] {
            let pair = header.prefix { $0 != ";" }.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            if header.contains("Max-Age=0") {
                cookies[String(pair[0])] = nil
            } else {
                cookies[String(pair[0])] = String(pair[1])
            }
        }
        return Page(
            status: response.status.code, headers: response.headers,
            text: String(decoding: response.body.readableBytesView, as: UTF8.self))
    }

    /// Opens the sign-in form and submits it; the answer to the submission.
    mutating func signIn(_ credentials: Credentials, next: String = "/ui/") async throws -> Page {
        let form = try await get("/ui/sign-in")
        return try await post(
            "/ui/sign-in",
            [
                ("csrf", form.csrf ?? ""), ("next", next), ("accessKeyId", credentials.accessKeyId),
                ("secretAccessKey", credentials.secretAccessKey),
            ])
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

extension TestServer.Client {
    /// An IAM request (form-encoded, signed for `iam`).
    func iam(_ form: String, as credentials: Credentials) async throws -> Answer {
        let body = Data((form + "&Version=2010-05-08").utf8)
        let headers = [
            HTTPHeader("host", "localhost"), HTTPHeader("content-type", "application/x-www-form-urlencoded"),
        ]
        let signed = Signer(credentials: credentials, region: "us-east-1", service: "iam").sign(
            method: "POST", path: "/", headers: headers,
            payload: .sha256(SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()), date: Date())
        return try await send(.post, "/", headers: signed.headers, body: body)
    }

    /// An IAM user whose only policy allows reading CodeDeploy (`Get*`, `List*`, `BatchGet*`), and its key.
    func readOnlyUser(as admin: Credentials) async throws -> Credentials {
        #expect(try await iam("Action=CreateUser&UserName=viewer", as: admin).status == 200)
        let policy =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["codedeploy:Get*","codedeploy:List*","codedeploy:BatchGet*"],"Resource":"*"}]}"#
        let put = try await iam(
            "Action=PutUserPolicy&UserName=viewer&PolicyName=read&PolicyDocument=\(ConsoleBrowser.encode(policy))",
            as: admin)
        #expect(put.status == 200, "PutUserPolicy: \(put.text)")
        let created = try await iam("Action=CreateAccessKey&UserName=viewer", as: admin).text
        func element(_ name: String) -> String {
            guard let start = created.range(of: "<\(name)>"), let end = created.range(of: "</\(name)>") else {
                return ""
            }
            return String(created[start.upperBound..<end.lowerBound])
        }
        return Credentials(accessKeyId: element("AccessKeyId"), secretAccessKey: element("SecretAccessKey"))
    }
}

@Suite("The console: sign-in, sessions, authorization and escaping")
struct ConsoleTests {
    @Test("a browser's GET / is sent to the console, which sends it on to sign in and back where it was going")
    func redirects() async throws {
        try await TestServer.withAdmin { _, client, admin in
            var browser = ConsoleBrowser(client: client)
            let root = try await browser.get("/", headers: [.accept: "text/html"])
            #expect(root.status == 303 && root.location == "/ui/")
            let page = try await browser.get("/ui/instances")
            #expect(page.status == 303)
            #expect(page.location == "/ui/sign-in?next=%2Fui%2Finstances")
            let signedIn = try await browser.signIn(admin, next: "/ui/instances")
            #expect(signedIn.status == 303 && signedIn.location == "/ui/instances")
            #expect(try await browser.get("/ui/instances").status == 200)
            // Somewhere outside the console is never where a sign-in leads.
            #expect(Console.safeNext("https://evil.example/") == "/ui/")
            #expect(Console.safeNext("//evil.example/ui/") == "/ui/")
            #expect(Console.safeNext("/ui//evil.example") == "/ui/")
            #expect(Console.safeNext("/ui/\r\nSet-Cookie: x") == "/ui/")
        }
    }

    @Test(
        "signing in with a wrong secret is refused without a session; the right one sets an HttpOnly, Secure, SameSite=Strict cookie that expires"
    )
    func signIn() async throws {
        try await TestServer.withAdmin { _, client, admin in
            var browser = ConsoleBrowser(client: client)
            let wrong = try await browser.signIn(
                Credentials(accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey + "x"))
            #expect(wrong.status == 401)
            #expect(wrong.text.contains("do not match an active key"))
            #expect(browser.cookies[ConsoleSessions.cookieName] == nil)
            let unknown = try await browser.signIn(Credentials(accessKeyId: "AKIANOSUCHKEY", secretAccessKey: "x"))
            #expect(unknown.status == 401)
            let right = try await browser.signIn(admin)
            #expect(right.status == 303)
            let cookie = try #require(
                right.headers[values: .setCookie].first { $0.hasPrefix(ConsoleSessions.cookieName + "=") })
            for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/ui", "Max-Age=43200"] {
                #expect(cookie.contains(attribute), "\(cookie) lacks \(attribute)")
            }
            let overview = try await browser.get("/ui/")
            #expect(overview.status == 200)
            #expect(overview.text.contains("<h1>Overview</h1>"))
            #expect(overview.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        }
    }

    @Test("a sign-in form without its own token is refused: a login cannot be forged from another site")
    func signInForgery() async throws {
        try await TestServer.withAdmin { _, client, admin in
            var browser = ConsoleBrowser(client: client)
            let forged = try await browser.post(
                "/ui/sign-in",
                [
                    ("csrf", String(repeating: "a", count: 64)), ("accessKeyId", admin.accessKeyId),
                    ("secretAccessKey", admin.secretAccessKey),
                ])
            #expect(forged.status == 403)
            #expect(browser.cookies[ConsoleSessions.cookieName] == nil)
        }
    }

    @Test("a POST without the session's CSRF token is refused and the deployment goes on")
    func csrf() async throws {
        try await TestServer.withAdmin { _, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(admin)
            let missing = try await browser.post("/ui/deployments/\(id)/stop", [])
            #expect(missing.status == 403)
            let wrong = try await browser.post(
                "/ui/deployments/\(id)/stop", [("csrf", String(repeating: "0", count: 64))])
            #expect(wrong.status == 403)
            #expect(try await client.deploymentStatus(id, as: admin) == "InProgress")
            // With the token of the page, the same form stops it.
            let page = try await browser.get("/ui/deployments/\(id)")
            #expect(page.text.contains("action=\"/ui/deployments/\(id)/stop\""))
            let stopped = try await browser.post("/ui/deployments/\(id)/stop", [("csrf", page.csrf ?? "")])
            #expect(stopped.status == 303 && stopped.location == "/ui/deployments/\(id)")
            #expect(try await client.deploymentStatus(id, as: admin) == "Stopped")
        }
    }

    @Test("a read-only user sees the deployment without a Stop button, and a Stop it posts anyway is refused with 403")
    func readOnly() async throws {
        try await TestServer.withAdmin { _, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let viewer = try await client.readOnlyUser(as: admin)
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.signIn(viewer).status == 303)
            let page = try await browser.get("/ui/deployments/\(id)")
            #expect(page.status == 200)
            #expect(page.text.contains("Deployment \(id)"))
            #expect(!page.text.contains("/stop\""))
            let refused = try await browser.post("/ui/deployments/\(id)/stop", [("csrf", page.csrf ?? "")])
            #expect(refused.status == 403)
            #expect(refused.text.contains("codedeploy:StopDeployment"))
            #expect(try await client.deploymentStatus(id, as: admin) == "InProgress")
            // An admin's page of the same deployment has the button.
            var adminBrowser = ConsoleBrowser(client: client)
            _ = try await adminBrowser.signIn(admin)
            #expect(try await adminBrowser.get("/ui/deployments/\(id)").text.contains("/stop\""))
        }
    }

    @Test("signing out, or the key being deleted, ends the session")
    func sessionEnds() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let deployer = try await server.key(.deployer)
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(deployer)
            let overview = try await browser.get("/ui/")
            #expect(overview.status == 200)
            let cookie = try #require(browser.cookies[ConsoleSessions.cookieName])
            _ = try await browser.post("/ui/sign-out", [("csrf", overview.csrf ?? "")])
            #expect(browser.cookies[ConsoleSessions.cookieName] == nil)
            browser.cookies[ConsoleSessions.cookieName] = cookie
            #expect(try await browser.get("/ui/").status == 303)

            var second = ConsoleBrowser(client: client)
            let viewer = try await client.readOnlyUser(as: admin)
            _ = try await second.signIn(viewer)
            #expect(try await second.get("/ui/").status == 200)
            let deleted = try await client.iam(
                "Action=DeleteAccessKey&UserName=viewer&AccessKeyId=\(viewer.accessKeyId)", as: admin)
            #expect(deleted.status == 200, "DeleteAccessKey: \(deleted.text)")
            let after = try await second.get("/ui/")
            #expect(after.status == 303, "a deleted key's session still opens pages")
        }
    }

    @Test("names, descriptions, tags and log lines from outside are shown as text, never as markup")
    func escaping() async throws {
        try await TestServer.withAdmin { _, client, admin in
            try await client.prepareFleet(as: admin)
            let hostile = #"<script>alert(1)</script>"#
            let answer = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","description":"\#(hostile)\"><img src=x onerror=alert(2)>","revision":\#(TestServer.Client.appZip)}"#,
                as: admin)
            let id = try #require(answer.json?["deploymentId"] as? String, "\(answer.text)")
            #expect(
                try await client.codeDeploy(
                    "AddTagsToOnPremisesInstances",
                    #"{"instanceNames":["gpu-01"],"tags":[{"Key":"note","Value":"\"><script>alert(3)</script>"}]}"#,
                    as: admin
                ).status == 200)
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(admin)
            for path in ["/ui/", "/ui/deployments/\(id)", "/ui/instances", "/ui/applications/web/groups/prod"] {
                let page = try await browser.get(path)
                #expect(page.status == 200, "\(path): \(page.status)")
                #expect(!page.text.contains("<script>alert"), "\(path) has a live script")
                #expect(!page.text.contains("<img src=x"), "\(path) has a live image")
            }
            #expect(
                try await browser.get("/ui/deployments/\(id)").text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(try await browser.get("/ui/instances").text.contains("&quot;&gt;&lt;script&gt;alert(3)"))
        }
    }

    @Test("a log's lines keep their stream, are escaped, and NUL or control characters cannot hide anything")
    func logLines() {
        let log = "2026-12-07 10:00:00 [stdout]<b>hi</b>\n2026-12-07 10:00:01 [stderr]bad\u{0}\u{1B}[31m\nplain line\n"
        let html = Console.logLines(log).text
        #expect(
            html.contains(
                #"<li class="stream-stdout"><span class="stamp">2026-12-07 10:00:00 </span><span class="text">&lt;b&gt;hi&lt;/b&gt;</span></li>"#
            ))
        #expect(html.contains(#"<li class="stream-stderr">"#))
        #expect(html.contains("bad\u{FFFD}\u{FFFD}[31m"))
        #expect(
            html.contains(#"<li class="stream-other"><span class="stamp"></span><span class="text">plain line</span>"#))
        #expect(!html.contains("\u{0}"))
        // A marker far into a line is text, not a stream.
        let late = Console.logLines(String(repeating: "x", count: 60) + "[stderr]y").text
        #expect(late.contains("stream-other"))
    }

    @Test("HTML escaping covers every character that can end text or an attribute")
    func escape() {
        #expect(
            HTML.escape(#"<a href="x" onclick='y'>&</a>"#)
                == "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;")
        #expect(HTML.escape("tab\tnew\nline\u{7F}\u{85}") == "tab\tnew\nline\u{FFFD}\u{FFFD}")
        let name = "a\"><script>"
        let built: HTML = "<a title=\"\(name)\">\(name)</a>"
        #expect(built.text == "<a title=\"a&quot;&gt;&lt;script&gt;\">a&quot;&gt;&lt;script&gt;</a>")
        #expect(ConsolePath.deployment("../../etc") == "/ui/deployments/..%2F..%2Fetc")
        #expect(ConsolePath.group(application: "a/b", group: "c?d#e") == "/ui/applications/a%2Fb/groups/c%3Fd%23e")
    }

    @Test("forms are parsed with + as a space; malformed escapes drop the field; the first value of a name wins")
    func forms() {
        #expect(Console.parseForm("a=1+2&b=%3Cx%3E&a=3") == ["a": "1 2", "b": "<x>"])
        #expect(Console.parseForm("bad=%ZZ&ok=1") == ["ok": "1"])
        #expect(Console.parseForm("&&=&novalue") == ["": "", "novalue": ""])
    }

    @Test("a form that is not urlencoded, or larger than 64 KiB, is refused")
    func hostileForms() async throws {
        try await TestServer.withAdmin { _, client, admin in
            var browser = ConsoleBrowser(client: client)
            let page = try await browser.get("/ui/sign-in")
            _ = try await browser.signIn(admin)
            _ = page
            let json = try await browser.send(
                .post, "/ui/sign-out", headers: [.contentType: "application/json"], body: Data("{}".utf8))
            #expect(json.status == 415)
            let huge = try await browser.send(
                .post, "/ui/sign-out", headers: [.contentType: "application/x-www-form-urlencoded"],
                body: Data(repeating: UInt8(ascii: "a"), count: 70_000))
            #expect(huge.status == 413)
            // Unknown pages and bad ids are plain 404s, never a crash.
            for path in [
                "/ui/deployments/d-%00", "/ui/deployments/xyz", "/ui/nope",
                "/ui/deployments/d-AAAAAAAAA/logs/h/NotAnEvent",
            ] {
                #expect(try await browser.get(path).status == 404, "\(path)")
            }
            #expect(try await browser.get("/ui/deployments/d-AAAAAAAAA").status == 404)
        }
    }

    @Test("a finished deployment's stream sends its whole state once, and to a browser that has seen it, only the end")
    func stream() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            _ = try await client.runEveryCommand(as: agent)
            #expect(try await client.deploymentStatus(id, as: admin) == "Succeeded")
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(admin)
            let stream = try await browser.get("/ui/deployments/\(id)/events")
            #expect(stream.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let events = stream.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("event:") }
            #expect(events.count == 1)
            let update = try #require(events.first)
            #expect(update.hasPrefix("event: update\n"))
            let id0 = try #require(update.split(separator: "\n").first { $0.hasPrefix("id: ") }?.dropFirst(4))
            let data = try #require(update.split(separator: "\n").first { $0.hasPrefix("data: ") }?.dropFirst(6))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
            #expect(json["full"] as? Bool == true && json["finished"] as? Bool == true)
            #expect((json["rows"] as? [[String: Any]])?.count == 1)
            #expect((json["head"] as? String)?.contains("Succeeded") == true)
            let resumed = try await browser.get(
                "/ui/deployments/\(id)/events", headers: [HTTPField.Name("Last-Event-ID")!: String(id0)])
            #expect(resumed.text.contains("event: end"))
            #expect(!resumed.text.contains("event: update"))
            // A host's events: the list the page's disclosure fetches, and the host's own page.
            let hostEvents = try await browser.get("/ui/deployments/\(id)/hosts/gpu-01?fragment=1")
            #expect(hostEvents.text.hasPrefix("<ol class=\"events\">"))
            #expect(hostEvents.text.contains("href=\"/ui/deployments/\(id)/logs/gpu-01/AfterInstall\""))
            #expect(try await browser.get("/ui/deployments/\(id)/hosts/gpu-01").text.contains("<h1>gpu-01 in \(id)"))
            #expect(try await browser.get("/ui/deployments/\(id)/hosts/nobody").status == 404)
            // Who made it, and each instance's last deployment with its outcome.
            #expect(try await browser.get("/ui/deployments/\(id)").text.contains("by admin key \(admin.accessKeyId)"))
            let instances = try await browser.get("/ui/instances").text
            #expect(
                instances.contains(
                    "<a href=\"/ui/deployments/\(id)\">\(id)</a> <span class=\"status status-succeeded\">"))
        }
    }

    @Test("a live stream ends at the next change once its session has signed out")
    func streamEndsWithSession() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(admin)
            let page = try await browser.get("/ui/deployments/\(id)")
            let watching = browser
            let stream = Task {
                var reader = watching
                return try await reader.get("/ui/deployments/\(id)/events").text
            }
            try await Task.sleep(for: .milliseconds(700))
            _ = try await browser.post("/ui/sign-out", [("csrf", page.csrf ?? "")])
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            _ = try await client.runEveryCommand(as: agent)
            let text = try await stream.value
            #expect(text.components(separatedBy: "event: update").count == 2, "\(text)")
            #expect(text.contains("event: end"))
        }
    }

    @Test(
        "a blue/green deployment shows its two fleets; Continue and Terminate now from the page move it on, each offered only while it waits"
    )
    func blueGreen() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await BlueGreenHandlerTests.prepare(
                client, as: admin, configuration: BlueGreenHandlerTests.waitForContinue)
            let blue = try await server.key(.agent, instanceName: "blue-1")
            let green = try await server.key(.agent, instanceName: "green-1")
            let created = try await BlueGreenHandlerTests.createDeployment(client, as: admin)
            let id = try #require(created.json?["deploymentId"] as? String, "\(created.text)")
            _ = try await BlueGreenHandlerTests.runCommands(of: "green-1", client, as: green)
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(admin)
            var page = try await browser.get("/ui/deployments/\(id)")
            #expect(page.text.contains("Original fleet (blue)</dt><dd>1 hosts"))
            #expect(page.text.contains("Replacement fleet (green)</dt><dd>1 hosts (1 Ready)"))
            #expect(page.text.contains("/continue\""))
            #expect(!page.text.contains("/skip-termination-wait\""))
            let continued = try await browser.post("/ui/deployments/\(id)/continue", [("csrf", page.csrf ?? "")])
            #expect(continued.status == 303)
            _ = try await BlueGreenHandlerTests.runCommands(of: "green-1", client, as: green)
            _ = try await BlueGreenHandlerTests.runCommands(of: "blue-1", client, as: blue)
            page = try await browser.get("/ui/deployments/\(id)")
            #expect(!page.text.contains("/continue\""))
            #expect(page.text.contains("/skip-termination-wait\""))
            let skipped = try await browser.post(
                "/ui/deployments/\(id)/skip-termination-wait", [("csrf", page.csrf ?? "")])
            #expect(skipped.status == 303)
            #expect(try await client.deploymentStatus(id, as: admin) == "Succeeded")
        }
    }
}
