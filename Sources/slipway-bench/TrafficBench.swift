import ArgumentParser
import Deployments
import Engine
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SlipwayModel
import Store
import Synchronization
import Traffic

/// A 3 → 3 blue/green deployment behind a real HAProxy while a steady client sends requests through it.
///
/// Each run starts its own HAProxy (`/usr/sbin/haproxy -db`) on loopback in a temporary directory, in front of six
/// small python HTTP servers: the original servers `b1`–`b3` serve backend `app`, the replacement servers `g1`–`g3`
/// start `disabled` (in maintenance). The deployment runs in this process, as the server runs it: the
/// ``DeploymentDriver`` over a real SQLite store with ``HAProxyTrafficController`` behind its traffic seam, its
/// traffic requests performed as they are queued (`runTraffic`), its timers running, and one agent per host that long
/// polls for its commands and reports each one succeeded at once (no-op hooks).
///
/// The client sends `--rate` requests a second on `--connections` keep-alive connections, each answer naming the
/// server that gave it. The same client runs for `--baseline-seconds` before the deployment is created: that is the
/// latency without a deployment.
struct TrafficBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic",
        abstract:
            "A 3 → 3 blue/green deployment through a real HAProxy under a steady client load (goals: every request "
            + "on green ≤ 5 s after the first AllowTraffic, no failed request, latency during the switch ≤ 1.5× "
            + "the same load without a deployment)."
    )

    @Option(help: "Runs, each with a fresh HAProxy, backends and store; the medians are reported.")
    var runs = 3

    @Option(help: "Keep-alive client connections through HAProxy's frontend.")
    var connections = 4

    @Option(help: "Client requests per second, over all connections.")
    var rate = 1000

    @Option(help: "Seconds of client load with no deployment, just before the deployment (the baseline).")
    var baselineSeconds = 5.0

    @Option(help: "The HAProxy binary.")
    var haproxy = "/usr/sbin/haproxy"

    @Flag(
        help: ArgumentHelp(
            "A control: no deployment. The same AllowTraffic requests (the replacements', at once), then BlockTraffic "
                + "(the originals'), go straight to the HAProxy controller, with no driver, store or agents.",
            discussion: "It separates what the switch itself costs the client from what the deployment around it adds.")
    )
    var switchOnly = false

    func validate() throws {
        guard runs > 0, connections > 0, rate > 0, baselineSeconds > 0 else {
            throw ValidationError("--runs, --connections, --rate and --baseline-seconds must be positive")
        }
    }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: haproxy) else {
            throw BenchError("\(haproxy) is not installed (apt-get install haproxy)")
        }
        print(
            "slipway-bench traffic: \(runs) runs of a 3 → 3 blue/green deployment (AllAtOnce) through HAProxy, "
                + "\(rate) req/s on \(connections) keep-alive connections, baseline \(baselineSeconds) s")
        if switchOnly {
            print(
                "--switch-only: no deployment; the traffic requests alone ('create → Succeeded' is the first "
                    + "AllowTraffic's start to the last BlockTraffic's end)")
        }
        var results: [TrafficRunResult] = []
        for run in 1...runs {
            let result = try await measure()
            results.append(result)
            print("run \(run):")
            result.printReport()
        }
        guard results.count > 1 else { return }
        print("medians of \(results.count) runs:")
        func line(_ label: String, _ values: [Double], _ unit: String = "s", goal: String = "") {
            let each = values.map { format($0, unit) }.joined(separator: " / ")
            print("  \(label): \(format(median(values), unit)) (\(each))\(goal.isEmpty ? "" : "; goal \(goal)")")
        }
        line("first AllowTraffic started → 100 % green", results.map(\.switchSeconds), goal: "≤ 5 s")
        line("first answer from green → 100 % green (client)", results.map(\.clientSwitchSeconds))
        line("create → Succeeded", results.map(\.deploymentSeconds))
        line(
            "failed requests", results.map { Double($0.failed) }, "",
            goal: "0 (total \(results.map(\.failed).reduce(0, +)))")
        line("baseline p50", results.map(\.baseline.p50), "ms")
        line("baseline p99", results.map(\.baseline.p99), "ms")
        line("switch p50", results.map(\.switchLatency.p50), "ms")
        line("switch p99", results.map(\.switchLatency.p99), "ms")
        line("switch p50 / baseline p50", results.map { $0.switchLatency.p50 / $0.baseline.p50 }, "×", goal: "≤ 1.5×")
        line("switch p99 / baseline p99", results.map { $0.switchLatency.p99 / $0.baseline.p99 }, "×", goal: "≤ 1.5×")
        // A switch lasts a fraction of a second, a few hundred requests: the p99 of one run is its second or third
        // slowest request. The requests of all runs together say more.
        let baseline = Latency(latencies: results.flatMap(\.baseline.latencies))
        let switching = Latency(latencies: results.flatMap(\.switchLatency.latencies))
        print(
            String(
                format: "  all runs' requests together: baseline p50 %.2f ms, p99 %.2f ms (%d); switch p50 %.2f ms, "
                    + "p99 %.2f ms (%d); %.2f× / %.2f×", baseline.p50 * 1000, baseline.p99 * 1000, baseline.count,
                switching.p50 * 1000, switching.p99 * 1000, switching.count, switching.p50 / baseline.p50,
                switching.p99 / baseline.p99))
    }

    /// One run: a fresh HAProxy, backends and store; the baseline load, then the deployment under the same load.
    private func measure() async throws -> TrafficRunResult {
        let site = try HAProxySite(haproxy: haproxy)
        defer { site.stop() }
        try await site.waitUntilUp(["b1", "b2", "b3"])

        let store = try SQLiteStore(path: site.directory.appendingPathComponent("store.sqlite").path)
        try await Deploy.register(in: store)
        let recorder = RecordingTrafficController(
            HAProxyTrafficController(
                runtimes: [site.runtime],
                timing: .init(drainTimeout: .seconds(30), healthTimeout: .seconds(30), pollInterval: .milliseconds(50))
            ))
        let driver = DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: "us-east-1"),
            logger: Logger(label: "slipway-bench", factory: { _ in SwiftLogNoOpLogHandler() }), traffic: recorder)

        let client = ClientLoad(
            port: site.frontendPort, connections: connections, interval: Double(connections) / Double(rate))
        let origin = client.origin
        do {
            // A second to settle (connections opened, HAProxy's server connections warm), then the baseline.
            try await Task.sleep(for: .seconds(1))
            let baselineStart = seconds(since: origin)
            let baselineCPU = processCPUSeconds()
            try await Task.sleep(for: .seconds(baselineSeconds))
            let baselineEnd = seconds(since: origin)
            let baselineCores = (processCPUSeconds() - baselineCPU) / (baselineEnd - baselineStart)

            let traffic = Task { await driver.runTraffic(clock: { Date() }) }
            // The server's loops: its timers (every second there) and the convergence of HAProxy to the stored
            // traffic state (every 5 s).
            let timers = Task {
                await withDiscardingTaskGroup { loops in
                    loops.addTask { await driver.runTrafficConvergence() }
                    await driver.runTimers(clock: { Date() })
                }
            }
            let agents = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for host in Deploy.hosts {
                        group.addTask { try await Deploy.agent(host, driver: driver) }
                    }
                    try await group.waitForAll()
                }
            }
            let created: Double
            let succeeded: Double
            let deploymentCPU: Double
            do {
                created = seconds(since: origin)
                let cpu = processCPUSeconds()
                if switchOnly {
                    await Deploy.switchTraffic(recorder)
                } else {
                    let id = try await Deploy.create(driver)
                    try await Deploy.waitUntilSucceeded(id, store: store)
                }
                succeeded = seconds(since: origin)
                deploymentCPU = processCPUSeconds() - cpu
            } catch {
                agents.cancel()
                timers.cancel()
                driver.stopTraffic()
                await traffic.value
                throw error
            }
            agents.cancel()
            timers.cancel()
            driver.stopTraffic()
            await traffic.value
            _ = await agents.result
            // Another half second of load after the end: a request answered by an original server then would show.
            try await Task.sleep(for: .milliseconds(500))
            let samples = try await client.finish()
            return try TrafficRunResult(
                samples: samples, baseline: baselineStart..<baselineEnd, created: created, succeeded: succeeded,
                traffic: recorder.events(since: origin),
                cores: (baseline: baselineCores, deployment: deploymentCPU / (succeeded - created)))
        } catch {
            _ = try? await client.finish()
            throw error
        }
    }
}

/// Seconds from `origin` to now.
func seconds(since origin: NIODeadline) -> Double {
    Double((NIODeadline.now() - origin).nanoseconds) / 1e9
}

func format(_ value: Double, _ unit: String) -> String {
    switch unit {
    case "ms": String(format: "%.2f ms", value * 1000)
    case "s": String(format: "%.3f s", value)
    case "×": String(format: "%.2f×", value)
    default: String(format: "%g", value)
    }
}

private func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

// MARK: - The deployment

/// The deployment group, its instances, and the in-process agents.
enum Deploy {
    static let originals = ["b1", "b2", "b3"]
    static let replacements = ["g1", "g2", "g3"]
    static let hosts = originals + replacements

    static func arn(_ host: String) -> String { "arn:aws:iam::000000000000:user/\(host)" }

    static let group = CodeDeploy.DeploymentGroupInfo(
        applicationName: "shop",
        blueGreenDeploymentConfiguration: .init(
            deploymentReadyOption: .init(actionOnTimeout: .continueDeployment),
            greenFleetProvisioningOption: .init(action: .discoverExisting),
            terminateBlueInstancesOnDeploymentSuccess: .init(action: .keepAlive)),
        deploymentConfigName: "CodeDeployDefault.AllAtOnce", deploymentGroupId: "g-bench",
        deploymentGroupName: "web",
        deploymentStyle: .init(deploymentOption: .withTrafficControl, deploymentType: .blueGreen),
        loadBalancerInfo: .init(targetGroupInfoList: [.init(name: "app")]),
        onPremisesInstanceTagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")])

    /// The instances (the originals tagged `env=prod`, the replacements `release=v2`) and the group `shop/web`.
    static func register(in store: SQLiteStore, group: CodeDeploy.DeploymentGroupInfo = group) async throws {
        let now = Date()
        try await store.write { tx in
            for host in hosts {
                let tag =
                    originals.contains(host)
                    ? CodeDeploy.Tag(key: "env", value: "prod") : CodeDeploy.Tag(key: "release", value: "v2")
                try tx.set(
                    CodeDeploy.InstanceInfo(iamUserArn: arn(host), instanceName: host, registerTime: now, tags: [tag]),
                    .instance, name: host)
            }
            try tx.set(group, .deploymentGroup, scope: "shop", name: "web")
        }
    }

    /// CreateDeployment of `a.zip` to the replacement instances, by tag; returns the deployment's id.
    static func create(_ driver: DeploymentDriver, group: CodeDeploy.DeploymentGroupInfo = group) async throws
        -> String
    {
        try await driver.create(now: Date()) { _ in
            DeploymentPlan(
                applicationName: "shop", group: group, configName: nil,
                revision: .init(
                    revisionType: .s3, s3Location: .init(bucket: "releases", bundleType: .zip, key: "a.zip")),
                creator: .user, description: nil, ignoreApplicationStopFailures: false, fileExistsBehavior: nil,
                autoRollbackConfiguration: nil, updateOutdatedInstancesOnly: false, rollbackOf: nil,
                targetInstances: CodeDeploy.TargetInstances(
                    tagFilters: [.init(key: "release", type: .keyAndValue, value: "v2")]))
        }.id
    }

    /// An agent: long polls as the server's PollHostCommand does (the host's wake-up sequence, the store, then a
    /// wait), acknowledges each command as a no-op and reports it succeeded at once, until cancelled.
    static func agent(_ host: String, driver: DeploymentDriver) async throws {
        let identifier = arn(host)
        while !Task.isCancelled {
            let sequence = await driver.wakeups.sequence(of: identifier)
            guard
                let id = try await driver.takeCommand(for: identifier, now: Date())?
                    .HostCommandIdentifier.flatMap(HostCommandID.init(rawValue:))
            else {
                _ = await driver.wakeups.wait(for: identifier, since: sequence, timeout: .seconds(1))
                continue
            }
            try await driver.apply(
                .acknowledged(id, CommandAcknowledgement(isNoop: true)), to: id.deploymentId, now: Date())
            try await driver.apply(.completed(id, .success), to: id.deploymentId, now: Date())
        }
    }

    /// The control of `--switch-only`: AllowTraffic for every replacement at once, then BlockTraffic for every
    /// original at once, as the deployment asks for them, straight to the controller.
    static func switchTraffic(_ controller: some TrafficController) async {
        func request(_ host: String, _ event: LifecycleEvent) -> TrafficRequest {
            TrafficRequest(
                id: HostCommandID(deploymentId: "d-SWITCHONLY", instanceName: host, event: event),
                hostIdentifier: arn(host), loadBalancerNames: ["app"])
        }
        for (hosts, event) in [(replacements, LifecycleEvent.allowTraffic), (originals, .blockTraffic)] {
            await withTaskGroup(of: Void.self) { group in
                for host in hosts {
                    group.addTask { _ = await controller.perform(request(host, event)) }
                }
            }
        }
    }

    /// Reads the deployment every 5 ms until it has succeeded; throws if it failed or stopped, or after 60 s.
    static func waitUntilSucceeded(_ id: String, store: SQLiteStore) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < deadline {
            let info = try await store.read { try $0.deployment(id) }?.info
            switch info?.status {
            case .succeeded: return
            case .failed, .stopped:
                throw BenchError(
                    "deployment \(id) ended \(info?.status?.rawValue ?? ""): "
                        + (info?.errorInformation?.message ?? "no message"))
            default: try await Task.sleep(for: .milliseconds(5))
            }
        }
        throw BenchError("deployment \(id) did not succeed within 60 s")
    }
}

/// The HAProxy controller, recording when each traffic request started and ended.
private final class RecordingTrafficController: TrafficController {
    struct Event: Sendable {
        var event: LifecycleEvent
        var server: String
        var started: NIODeadline
        var ended: NIODeadline
        var result: TrafficResult
    }

    private let controller: HAProxyTrafficController
    private let recorded = Mutex<[Event]>([])

    init(_ controller: HAProxyTrafficController) { self.controller = controller }

    func perform(_ request: TrafficRequest) async -> TrafficResult {
        let started = NIODeadline.now()
        let result = await controller.perform(request)
        let event = Event(
            event: request.event, server: request.serverName, started: started, ended: .now(), result: result)
        recorded.withLock { $0.append(event) }
        return result
    }

    func route(_ route: TrafficRoute) async -> TrafficResult { await controller.route(route) }

    func converge(to current: @escaping @Sendable () async throws -> TrafficState) async -> [String] {
        await controller.converge(to: current)
    }

    /// The requests performed: event, server, and start and end in seconds since `origin`.
    func events(since origin: NIODeadline) -> [(event: LifecycleEvent, server: String, started: Double, ended: Double)]
    {
        recorded.withLock { $0 }.map {
            (
                $0.event, $0.server, Double(($0.started - origin).nanoseconds) / 1e9,
                Double(($0.ended - origin).nanoseconds) / 1e9
            )
        }
    }
}

// MARK: - What a run measured

/// Latency percentiles of a set of requests.
private struct Latency {
    let count: Int
    let p50: Double
    let p99: Double
    let max: Double

    /// The latencies of `samples`, kept for percentiles over several runs.
    let latencies: [Double]

    init(_ samples: some Sequence<ClientSample>) { self.init(latencies: samples.map(\.latency)) }

    init(latencies: [Double]) {
        self.latencies = latencies
        let sorted = latencies.sorted()
        count = sorted.count
        p50 = percentile(sorted, 0.50)
        p99 = percentile(sorted, 0.99)
        max = sorted.last ?? .nan
    }
}

private struct TrafficRunResult {
    /// When the first AllowTraffic request was handed to the HAProxy controller (seconds since the client started).
    let firstAllow: Double
    /// When the first request answered by a replacement server was answered.
    let firstGreenAnswer: Double
    /// When the last request answered by an original server was answered: from then on, every request is on green.
    let lastBlueAnswer: Double
    let created: Double
    let succeeded: Double
    let failed: Int
    let requests: Int
    let baseline: Latency
    let switchLatency: Latency
    let deploymentLatency: Latency
    let traffic: [(event: LifecycleEvent, server: String, started: Double, ended: Double)]
    /// The CPU this process (the client and the deployment) used, in cores, during the baseline and the deployment.
    let cores: (baseline: Double, deployment: Double)

    var switchSeconds: Double { lastBlueAnswer - firstAllow }
    var clientSwitchSeconds: Double { lastBlueAnswer - firstGreenAnswer }
    var deploymentSeconds: Double { succeeded - created }

    init(
        samples: [ClientSample], baseline: Range<Double>, created: Double, succeeded: Double,
        traffic: [(event: LifecycleEvent, server: String, started: Double, ended: Double)],
        cores: (baseline: Double, deployment: Double)
    ) throws {
        self.cores = cores
        guard let firstAllow = traffic.filter({ $0.event == .allowTraffic }).map(\.started).min() else {
            throw BenchError("the deployment performed no AllowTraffic")
        }
        let answered = samples.filter { $0.server != nil }
        guard
            let firstGreen = answered.filter({ $0.server!.hasPrefix("g") }).map(\.answered).min(),
            let lastBlue = answered.filter({ $0.server!.hasPrefix("b") }).map(\.answered).max()
        else { throw BenchError("the client saw no answer from green, or none from blue") }
        self.firstAllow = firstAllow
        self.firstGreenAnswer = firstGreen
        self.lastBlueAnswer = lastBlue
        self.created = created
        self.succeeded = succeeded
        self.traffic = traffic.sorted { $0.started < $1.started }
        failed = samples.count - answered.count
        requests = samples.count
        self.baseline = Latency(samples.filter { baseline.contains($0.sent) })
        switchLatency = Latency(samples.filter { $0.sent >= firstAllow && $0.sent <= lastBlue })
        deploymentLatency = Latency(samples.filter { $0.sent >= created && $0.sent <= succeeded })
    }

    func printReport() {
        func ms(_ value: Double) -> String { String(format: "%.2f", value * 1000) }
        func latency(_ l: Latency) -> String {
            "p50 \(ms(l.p50)) ms, p99 \(ms(l.p99)) ms, max \(ms(l.max)) ms (\(l.count) requests)"
        }
        print(
            String(
                format: "  first AllowTraffic started → 100 %% green: %.3f s (client: first answer from green → "
                    + "last from blue %.3f s)", switchSeconds, clientSwitchSeconds))
        print(String(format: "  create → Succeeded: %.3f s", deploymentSeconds))
        print("  failed requests: \(failed) of \(requests)")
        print("  baseline, no deployment:     \(latency(baseline))")
        print(
            "  switch:                      \(latency(switchLatency))"
                + String(
                    format: "; %.2f× / %.2f× the baseline", switchLatency.p50 / baseline.p50,
                    switchLatency.p99 / baseline.p99))
        print("  create → Succeeded:          \(latency(deploymentLatency))")
        // The traffic requests, from the deployment's creation.
        let allow = traffic.filter { $0.event == .allowTraffic }
        let block = traffic.filter { $0.event == .blockTraffic }
        func span(_ events: [(event: LifecycleEvent, server: String, started: Double, ended: Double)]) -> String {
            guard let start = events.map(\.started).min(), let end = events.map(\.ended).max() else { return "none" }
            return String(format: "%.3f–%.3f s", start - created, end - created)
        }
        print(
            "  after create: AllowTraffic \(span(allow)) (\(allow.count)), BlockTraffic \(span(block)) "
                + "(\(block.count)); first answer from green "
                + String(format: "%.3f s, last from blue %.3f s", firstGreenAnswer - created, lastBlueAnswer - created))
        print(
            String(
                format: "  CPU of this process (client, driver, agents): %.2f cores during the baseline, %.2f during "
                    + "the deployment", cores.baseline, cores.deployment))
    }
}

// MARK: - HAProxy and its backends

/// HAProxy in front of six python HTTP servers, on free loopback ports, in a temporary directory. Every process it
/// starts is killed with SIGKILL by ``stop()`` (a child may inherit a signal mask that blocks SIGTERM).
final class HAProxySite {
    let directory: URL
    let frontendPort: Int
    let runtime: HAProxyRuntime
    private var processes: [Process] = []

    init(haproxy: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-bench-traffic-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        runtime = HAProxyRuntime(address: .unixSocket(path: directory.appendingPathComponent("haproxy.sock").path))
        let ports = try freePorts(Deploy.hosts.count + 1)
        frontendPort = ports[0]
        do {
            let script = directory.appendingPathComponent("backend.py")
            try Self.backendScript.write(to: script, atomically: true, encoding: .utf8)
            for (host, port) in zip(Deploy.hosts, ports.dropFirst()) {
                try start("/usr/bin/python3", [script.path, "\(port)", host])
            }
            let servers = zip(Deploy.hosts, ports.dropFirst()).map { host, port in
                "    server \(host) 127.0.0.1:\(port) check" + (Deploy.replacements.contains(host) ? " disabled" : "")
            }
            let configuration = """
                global
                    stats socket \(directory.path)/haproxy.sock mode 600 level admin
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                    option httpchk GET /health
                    default-server inter 500ms rise 2 fall 2
                frontend fe
                    bind 127.0.0.1:\(frontendPort)
                    default_backend app
                backend app
                \(servers.joined(separator: "\n"))

                """
            let file = directory.appendingPathComponent("haproxy.cfg")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            try start(haproxy, ["-db", "-f", file.path])
        } catch {
            stop()
            throw error
        }
    }

    /// Waits until HAProxy shows `servers` UP (at most 15 s).
    func waitUntilUp(_ servers: [String]) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(15))
        while ContinuousClock.now < deadline {
            var up = true
            for server in servers {
                let stat = try? await runtime.stat(of: HAProxyServer(backend: "app", server: server))
                if stat?.status != "UP" { up = false }
            }
            if up { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("HAProxy did not show \(servers) UP within 15 s")
    }

    func stop() {
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        processes = []
        try? FileManager.default.removeItem(at: directory)
    }

    private func start(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.append(process)
    }

    /// A backend: `/health` answers 200; any other path answers the server's name.
    private static let backendScript = """
        import http.server, sys
        port, name = int(sys.argv[1]), sys.argv[2]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            def do_GET(self):
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """
}

/// `count` TCP ports on loopback that nothing listens on now.
private func freePorts(_ count: Int) throws -> [Int] {
    var sockets: [Int32] = []
    defer { for socket in sockets { close(socket) } }
    return try (0..<count).map { _ in
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("cannot open a socket") }
        sockets.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw BenchError("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

// MARK: - The client

/// One client request: when it was sent and answered (seconds since the client started), and which server answered
/// (`nil`: it failed, by status, by a closed connection or by a refused connect).
struct ClientSample: Sendable {
    var sent: Double
    var answered: Double
    var server: String?

    var latency: Double { answered - sent }
}

/// A flag the client's connections read before each request.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var raised: Bool { flag.load(ordering: .relaxed) }
    func raise() { flag.store(true, ordering: .relaxed) }
}

/// A steady client on keep-alive connections through HAProxy: each connection sends `GET /` every `interval`
/// seconds (or as soon as the previous answer arrived, if that took longer), on one NIO event-loop thread. A
/// connection that closes is counted as a failure of its request under way and opened again.
final class ClientLoad: Sendable {
    let origin: NIODeadline
    private let group: MultiThreadedEventLoopGroup
    private let stop: StopFlag
    private let task: Task<[ClientSample], Never>

    init(port: Int, connections: Int, interval: Double) {
        let (group, stop, origin) = (MultiThreadedEventLoopGroup(numberOfThreads: 1), StopFlag(), NIODeadline.now())
        (self.group, self.stop, self.origin) = (group, stop, origin)
        let step = TimeAmount.nanoseconds(Int64(interval * 1e9))
        task = Task {
            await withTaskGroup(of: [ClientSample].self) { tasks in
                for index in 0..<connections {
                    // Spread the connections' requests over the interval.
                    let first = origin + .nanoseconds(step.nanoseconds * Int64(index) / Int64(connections))
                    tasks.addTask {
                        await Self.connection(
                            port: port, group: group, stop: stop, origin: origin, first: first, step: step)
                    }
                }
                var all: [ClientSample] = []
                for await samples in tasks { all += samples }
                return all.sorted { $0.sent < $1.sent }
            }
        }
    }

    /// Stops the client after the requests under way and returns every request's sample.
    func finish() async throws -> [ClientSample] {
        stop.raise()
        let samples = await task.value
        try await group.shutdownGracefully()
        return samples
    }

    private static func connection(
        port: Int, group: MultiThreadedEventLoopGroup, stop: StopFlag, origin: NIODeadline, first: NIODeadline,
        step: TimeAmount
    ) async -> [ClientSample] {
        var samples: [ClientSample] = []
        var next = first
        while !stop.raised {
            let attempt = NIODeadline.now()
            let done = group.next().makePromise(of: (samples: [ClientSample], next: NIODeadline).self)
            do {
                let start = next
                _ = try await ClientBootstrap(group: group)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            try channel.pipeline.syncOperations.addHandler(
                                PacedConnectionHandler(
                                    port: port, origin: origin, next: start, step: step, stop: stop, done: done))
                        }
                    }
                    .connect(host: "127.0.0.1", port: port).get()
                let result = try await done.futureResult.get()
                samples += result.samples
                next = result.next
            } catch {
                done.succeed((samples: [], next: next))
                let now = Double((NIODeadline.now() - origin).nanoseconds) / 1e9
                samples.append(
                    ClientSample(sent: Double((attempt - origin).nanoseconds) / 1e9, answered: now, server: nil))
                try? await Task.sleep(for: .milliseconds(10))
                next = .now()
            }
        }
        return samples
    }
}

/// Sends `GET /` at `next`, then every `step` after the previous send (at once if the answer came later), records
/// each answer, and ends (fulfilling `done`) when the stop flag is up or the connection closes.
private final class PacedConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let origin: NIODeadline
    private var next: NIODeadline
    private let step: TimeAmount
    private let stop: StopFlag
    private let done: EventLoopPromise<(samples: [ClientSample], next: NIODeadline)>
    private var samples: [ClientSample] = []
    private var sentAt: NIODeadline?
    private var status: UInt = 0
    private var body = ByteBuffer()
    private var finished = false

    init(
        port: Int, origin: NIODeadline, next: NIODeadline, step: TimeAmount, stop: StopFlag,
        done: EventLoopPromise<(samples: [ClientSample], next: NIODeadline)>
    ) {
        self.host = "127.0.0.1:\(port)"
        self.origin = origin
        self.next = next
        self.step = step
        self.stop = stop
        self.done = done
        samples.reserveCapacity(20_000)
    }

    func channelActive(context: ChannelHandlerContext) {
        schedule(context: context)
        context.fireChannelActive()
    }

    private func schedule(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if next <= now {
            send(context: context)
        } else {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(deadline: next) {
                let (handler, context) = bound.value
                handler.send(context: context)
            }
        }
    }

    private func send(context: ChannelHandlerContext) {
        guard !finished else { return }
        guard !stop.raised else {
            finish(context: context)
            return
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        head.headers.add(name: "Host", value: host)
        let now = NIODeadline.now()
        sentAt = now
        next = max(next + step, now)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let sent = sentAt else { return }
            sentAt = nil
            let server = String(buffer: body)
            samples.append(
                ClientSample(
                    sent: seconds(sent), answered: seconds(.now()),
                    server: status == 200 && !server.isEmpty ? server : nil))
            schedule(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context)
        context.fireChannelInactive()
    }

    private func seconds(_ deadline: NIODeadline) -> Double { Double((deadline - origin).nanoseconds) / 1e9 }

    /// Counts a request under way as failed, closes the connection and hands back what it recorded.
    private func finish(context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        if let sent = sentAt {
            samples.append(ClientSample(sent: seconds(sent), answered: seconds(.now()), server: nil))
            sentAt = nil
        }
        done.succeed((samples: samples, next: next))
        context.close(promise: nil)
    }
}
