import ArgumentParser
import AsyncHTTPClient
import Deployments
import Foundation
import NIOCore
import SigV4
import SlipwayModel
import Store

/// The console against a real `slipway server`: a deployment of 1,000 simulated hosts watched live (the server's
/// stream of updates, and Debian's Chromium applying them), its page once it has ended (the server's first byte and
/// the browser's time until the page is usable), and the overview and a group's pages with 100,000 deployments in
/// the store. Baselines, in the same run: a signed `GetDeployment` of the same deployment, and a signed
/// `GetApplication`.
struct ConsoleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract:
            "The console: a 1,000-host deployment's page (goal: usable ≤ 1 s), its live updates while every host moves, "
            + "and the overview with 100,000 deployments (goal: first byte ≤ 200 ms)."
    )

    @Option(help: "Hosts of the watched deployment.")
    var hosts = 1000

    @Option(help: "Deployments in the store for the overview.")
    var deployments = 100_000

    @Option(help: "Measured page loads per page; medians are reported.")
    var runs = 7

    @Option(help: "The slipway binary. (default: the one next to slipway-bench)")
    var slipway: String?

    @Option(help: "The browser timing script (Selenium with Debian's Chromium).")
    var browserScript = "scripts/console-timing.py"

    func run() async throws {
        let binary = slipway.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway")
        var server = try ServerProcess(binary: binary, arguments: ["--poll-hold", "1"])
        let key = try server.adminKey(binary: binary)
        let credentials = Credentials(accessKeyId: key.id, secretAccessKey: key.secret)
        print("slipway-bench console: \(hosts) hosts, \(deployments) stored deployments, \(runs) loads per page")

        // A deployment of every host, watched live by a stream reader and by the browser.
        var endpoint = "http://127.0.0.1:\(server.port)"
        let api = APICall(
            client: .shared, endpoint: endpoint,
            signer: Signer(credentials: credentials, region: "us-east-1", service: CodeDeploy.signingName))
        // Each simulated agent on its own keep-alive connection, as real agents are.
        let pool = try await ConnectionPool(host: "127.0.0.1", port: server.port, connections: hosts)
        let commands = APICall(
            transport: .pool(pool), endpoint: endpoint,
            signer: Signer(credentials: credentials, region: "us-east-1", service: CodeDeployCommand.signingName))
        let names = (1...hosts).map { "host-\($0)" }
        try await prepare(names: names, api: api)
        var session = try await signIn(endpoint: endpoint, key: key)
        let (id, live) = try await watchedDeployment(
            names: names, api: api, commands: commands, endpoint: endpoint, session: session, key: key)
        await pool.close()
        print(
            String(
                format:
                    "live: deployment %.2f s; the stream sent %d updates (%.1f/s, %d host rows, at most %d rows "
                    + "and %.0f KiB in one); its last state: %d of %d hosts Succeeded",
                live.seconds, live.updates, Double(live.updates) / max(live.seconds, 0.001), live.rows,
                live.largestRows,
                Double(live.largestBytes) / 1024, live.succeeded, hosts))
        if let data = live.browser, let browser = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            print(
                "      the browser applied \(browser["updatesApplied"] ?? "?") updates; longest task "
                    + "\(browser["longestTaskMs"] ?? "?") ms; all hosts shown Succeeded after "
                    + "\(browser["secondsToAllSucceeded"] ?? "?") s")
        }

        // The page of the ended deployment.
        let page = try await firstByte(endpoint + "/ui/deployments/\(id)", session: session)
        let baseline = try await timedCalls { try await api.send("GetDeployment", #"{"deploymentId":"\#(id)"}"#) }
        print(
            String(
                format: "deployment page (%d hosts): first byte %.1f ms, whole page %.1f ms, %.0f KiB "
                    + "(baseline: signed GetDeployment %.1f ms, %.1f×)",
                hosts, page.firstByte * 1000, page.whole * 1000, Double(page.bytes) / 1024, baseline * 1000,
                page.firstByte / max(baseline, 0.000_001)))
        if let timing = browserTiming(endpoint: endpoint, key: key, paths: ["/ui/deployments/\(id)"]) {
            print("      in the browser: \(timing)")
        }

        // The overview and a group's list with many deployments stored.
        server.stop(keepingData: true)
        let seeded = try await seed(from: id, into: server.dataDirectory)
        server = try ServerProcess(
            binary: binary, arguments: ["--poll-hold", "1"], dataDirectory: server.dataDirectory)
        defer { server.stop() }
        endpoint = "http://127.0.0.1:\(server.port)"
        session = try await signIn(endpoint: endpoint, key: key)
        let restarted = APICall(
            client: .shared, endpoint: endpoint,
            signer: Signer(credentials: credentials, region: "us-east-1", service: CodeDeploy.signingName))
        let application = try await timedCalls {
            try await restarted.send("GetApplication", #"{"applicationName":"console"}"#)
        }
        for (name, path) in [
            ("overview", "/ui/"), ("group, newest", "/ui/applications/console/groups/fleet"),
            ("group, Failed only", "/ui/applications/console/groups/fleet?status=Failed"),
        ] {
            let timing = try await firstByte(endpoint + path, session: session)
            print(
                String(
                    format: "%@ with %d deployments: first byte %.1f ms, whole page %.1f ms, %.0f KiB "
                        + "(baseline: signed GetApplication %.1f ms, %.1f×)",
                    name, seeded, timing.firstByte * 1000, timing.whole * 1000, Double(timing.bytes) / 1024,
                    application * 1000, timing.firstByte / max(application, 0.000_001)))
        }
        let list = try await timedCalls(runs: 3) {
            try await restarted.send("ListDeployments", #"{"applicationName":"console","deploymentGroupName":"fleet"}"#)
        }
        print(String(format: "      for comparison, the API's ListDeployments of the group: %.1f ms", list * 1000))
        if let timing = browserTiming(endpoint: endpoint, key: key, paths: ["/ui/"]) {
            print("      the overview in the browser: \(timing)")
        }
    }

    // MARK: Steps

    private func prepare(names: [String], api: APICall) async throws {
        try expectOK(await api.call(target("CreateApplication"), #"{"applicationName":"console"}"#))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in stride(from: 0, to: names.count, by: 50) {
                group.addTask {
                    for name in names[batch..<min(batch + 50, names.count)] {
                        try expectOK(
                            await api.call(
                                target("RegisterOnPremisesInstance"),
                                #"{"instanceName":"\#(name)","iamUserArn":"arn:aws:iam::000000000000:user/\#(name)"}"#))
                    }
                }
            }
            try await group.waitForAll()
        }
        for batch in stride(from: 0, to: names.count, by: 100) {
            let list = names[batch..<min(batch + 100, names.count)].map { "\"\($0)\"" }.joined(separator: ",")
            try expectOK(
                await api.call(
                    target("AddTagsToOnPremisesInstances"),
                    #"{"instanceNames":[\#(list)],"tags":[{"Key":"fleet","Value":"console"}]}"#))
        }
        try expectOK(
            await api.call(
                target("CreateDeploymentGroup"),
                #"{"applicationName":"console","deploymentGroupName":"fleet","deploymentConfigName":"CodeDeployDefault.AllAtOnce","serviceRoleArn":"arn:aws:iam::000000000000:role/r","onPremisesInstanceTagFilters":[{"Key":"fleet","Value":"console","Type":"KEY_AND_VALUE"}]}"#
            ))
    }

    struct Live {
        var seconds: Double
        var updates = 0
        var rows = 0
        var largestRows = 0
        var largestBytes = 0
        var succeeded = 0
        /// The timing script's answer while it watched the page.
        var browser: Data?
    }

    /// Creates the deployment with an agent per host, reads its stream until it says it ended, and has the browser
    /// watch the page meanwhile.
    private func watchedDeployment(
        names: [String], api: APICall, commands: APICall, endpoint: String, session: String,
        key: (id: String, secret: String)
    ) async throws -> (String, Live) {
        let started = ContinuousClock.now
        return try await withThrowingTaskGroup(of: Void.self) { group in
            startSimulatedAgents(names, api: commands, in: &group)
            let created = try await api.call(
                target("CreateDeployment"),
                #"{"applicationName":"console","deploymentGroupName":"fleet","revision":{"revisionType":"GitHub","gitHubLocation":{"repository":"slipway/bench","commitId":"console"}}}"#
            )
            try expectOK(created)
            let id =
                try JSONDecoder().decode(CodeDeploy.CreateDeploymentOutput.self, from: created.body).deploymentId
                ?? ""
            let watcher = Task { [browserScript] in
                Self.runScript(
                    browserScript,
                    [endpoint, key.id, key.secret, "1", "watch", "/ui/deployments/\(id)", "\(names.count)"])
            }
            var live = try await readStream(endpoint + "/ui/deployments/\(id)/events", session: session)
            let elapsed = started.duration(to: .now)
            live.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            try await group.waitForAll()
            live.browser = await watcher.value
            return (id, live)
        }
    }

    /// Reads a deployment page's stream until an update says the deployment ended; keeps each host's last status.
    private func readStream(_ url: String, session: String) async throws -> Live {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Cookie", value: "slipway_session=\(session)")
        let response = try await Self.browserless.execute(request, timeout: .seconds(600))
        var live = Live(seconds: 0)
        var statuses: [Int: String] = [:]
        var pending = ""
        struct Update: Decodable {
            struct Row: Decodable {
                var index: Int
                var html: String
            }
            var rows: [Row]
            var finished: Bool
        }
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let message = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                guard message.hasPrefix("event: update"),
                    let data = message.split(separator: "\n").first(where: { $0.hasPrefix("data: ") })?.dropFirst(6)
                else { continue }
                let update = try JSONDecoder().decode(Update.self, from: Data(data.utf8))
                live.updates += 1
                live.rows += update.rows.count
                live.largestRows = max(live.largestRows, update.rows.count)
                live.largestBytes = max(live.largestBytes, data.utf8.count)
                for row in update.rows {
                    let status = row.html.range(of: #"class="host host-[a-z]+""#, options: .regularExpression).map {
                        String(row.html[$0].dropFirst(#"class="host host-"#.count).dropLast())
                    }
                    statuses[row.index] = status
                }
                if update.finished {
                    live.succeeded = statuses.values.filter { $0 == "succeeded" }.count
                    return live
                }
            }
        }
        throw BenchError("the stream ended before the deployment did")
    }

    /// Writes `deployments` copies of deployment `id` (new ids, one a minute back in time, one in ten Failed) with
    /// their listings, into the store of a stopped server.
    private func seed(from id: String, into dataDirectory: URL) async throws -> Int {
        let store = try SQLiteStore(path: dataDirectory.appendingPathComponent("slipway.sqlite").path)
        guard let original = try await store.read({ try $0.deployment(id) }) else {
            throw BenchError("the deployment \(id) is not in the store")
        }
        let count = deployments
        let began = ContinuousClock.now
        for batch in stride(from: 0, to: count, by: 5000) {
            try await store.write { tx in
                for index in batch..<min(batch + 5000, count) {
                    var record = original
                    let created = (original.info.createTime ?? Date()).addingTimeInterval(-60 * Double(index + 1))
                    record.info.deploymentId = Self.deploymentID(index)
                    record.info.createTime = created
                    record.info.startTime = created
                    record.info.completeTime = created.addingTimeInterval(20)
                    record.info.status = index % 10 == 3 ? .failed : .succeeded
                    try tx.put(
                        .deployment, scope: "", name: record.id, document: RecordCoding.encode(record))
                    try tx.updateListing(of: record, before: nil)
                }
            }
        }
        let elapsed = began.duration(to: .now)
        print("seeded \(count) deployments in \(elapsed.components.seconds) s")
        return count + 1
    }

    /// `d-` and nine characters of `index` in base 36.
    private static func deploymentID(_ index: Int) -> String {
        let digits = String(index, radix: 36).uppercased()
        return "d-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits
    }

    // MARK: HTTP

    /// A client that does not follow redirects: a sign-in's session cookie comes with its redirect.
    private static let browserless: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    private func signIn(endpoint: String, key: (id: String, secret: String)) async throws -> String {
        let form = try await Self.browserless.execute(
            HTTPClientRequest(url: endpoint + "/ui/sign-in"), timeout: .seconds(30))
        guard let token = Self.cookie("slipway_sign_in", in: form.headers["set-cookie"]) else {
            throw BenchError("the sign-in form set no token")
        }
        var request = HTTPClientRequest(url: endpoint + "/ui/sign-in")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Cookie", value: "slipway_sign_in=\(token)")
        request.body = .bytes(
            ByteBuffer(
                string:
                    "csrf=\(token)&accessKeyId=\(key.id)&secretAccessKey=\(key.secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            ))
        let answer = try await Self.browserless.execute(request, timeout: .seconds(30))
        guard let session = Self.cookie("slipway_session", in: answer.headers["set-cookie"]) else {
            throw BenchError("signing in failed: HTTP \(answer.status.code)")
        }
        return session
    }

    private static func cookie(_ name: String, in headers: [String]) -> String? {
        for header in headers where header.hasPrefix(name + "=") {
            return String(header.dropFirst(name.count + 1).prefix { $0 != ";" })
        }
        return nil
    }

    /// Medians over ``runs`` loads: time to the response head, time to the whole body, and the body's size.
    private func firstByte(_ url: String, session: String) async throws -> (
        firstByte: Double, whole: Double, bytes: Int
    ) {
        var heads: [Double] = []
        var wholes: [Double] = []
        var size = 0
        for _ in 0..<(runs + 1) {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Cookie", value: "slipway_session=\(session)")
            let start = ContinuousClock.now
            let response = try await Self.browserless.execute(request, timeout: .seconds(60))
            let head = start.duration(to: .now)
            let body = try await response.body.collect(upTo: 64 << 20)
            let whole = start.duration(to: .now)
            guard response.status == .ok else { throw BenchError("\(url): HTTP \(response.status.code)") }
            heads.append(Self.seconds(head))
            wholes.append(Self.seconds(whole))
            size = body.readableBytes
        }
        // The first load warms caches; it is left out.
        return (median(Array(heads.dropFirst())), median(Array(wholes.dropFirst())), size)
    }

    private func timedCalls(runs count: Int? = nil, _ call: () async throws -> UInt) async throws -> Double {
        var samples: [Double] = []
        for _ in 0..<((count ?? runs) + 1) {
            let start = ContinuousClock.now
            let status = try await call()
            guard status == 200 else { throw BenchError("a baseline call answered HTTP \(status)") }
            samples.append(Self.seconds(start.duration(to: .now)))
        }
        return median(Array(samples.dropFirst()))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    // MARK: The browser

    private func browserTiming(endpoint: String, key: (id: String, secret: String), paths: [String]) -> String? {
        guard let data = Self.runScript(browserScript, [endpoint, key.id, key.secret, "\(runs)", "load"] + paths),
            let result = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return result.map { path, value in
            guard let timing = value as? [String: Any] else { return "\(path): ?" }
            return String(
                format: "%@: first byte %.0f ms, usable (DOMContentLoaded) %.0f ms, load %.0f ms, %@ table rows",
                path, timing["firstByteMs"] as? Double ?? -1, timing["usableMs"] as? Double ?? -1,
                timing["loadMs"] as? Double ?? -1, "\(timing["tableRows"] ?? "?")")
        }.joined(separator: "; ")
    }

    /// Runs the timing script with python3; its JSON answer, or nil (saying why) when it cannot run.
    private static func runScript(_ script: String, _ arguments: [String]) -> Data? {
        guard FileManager.default.fileExists(atPath: script) else {
            print("      (no browser figures: \(script) not found; run from the repository's root)")
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch {
            print("      (no browser figures: \(error))")
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            print("      (no browser figures: the timing script failed with status \(process.terminationStatus))")
            return nil
        }
        return data
    }

    private func target(_ operation: String) -> String { "\(CodeDeploy.targetPrefix).\(operation)" }
}
