import Alarms
import ArgumentParser
import Deployments
import Engine
import Foundation
import Logging
import NIOCore
import SlipwayModel
import Store
import Traffic

/// How long an alarm takes to bring the traffic back to the original servers: the 3 → 3 blue/green deployment of
/// `traffic` behind a real HAProxy, under the same steady client, with the group watching the alarm `errors` and
/// keeping its original servers for a termination wait. Once every request goes to the replacement servers, the
/// alarm is set to ALARM in Slipway's CloudWatch alarms (the store, as `aws cloudwatch set-alarm-state` sets it); the
/// alarm watcher polls every `--alarm-poll-interval` seconds as the server's does.
///
/// Measured from the moment the alarm is set: until the deployment is `Stopped`, and until the last request a
/// replacement server answered (the traffic is back on the originals after it). An alarm source of one's own adds
/// its evaluation interval before the alarm is set.
struct AlarmRollbackBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alarm-rollback",
        abstract:
            "From an alarm set to ALARM to every request back on the original servers of a blue/green deployment, "
            + "through a real HAProxy under a steady client (goal: ≤ 10 s plus the alarm source's own interval)."
    )

    @Option(help: "Runs, each with a fresh HAProxy, backends and store; the medians are reported.")
    var runs = 3

    @Option(help: "Keep-alive client connections through HAProxy's frontend.")
    var connections = 4

    @Option(help: "Client requests per second, over all connections.")
    var rate = 500

    @Option(help: "Seconds between two reads of the alarms (the server's --alarm-poll-interval; its default is 2).")
    var alarmPollInterval = 2

    @Option(help: "The HAProxy binary.")
    var haproxy = "/usr/sbin/haproxy"

    func validate() throws {
        guard runs > 0, connections > 0, rate > 0, (1...3600).contains(alarmPollInterval) else {
            throw ValidationError("--runs, --connections and --rate must be positive, --alarm-poll-interval 1 to 3600")
        }
    }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: haproxy) else {
            throw BenchError("\(haproxy) is not installed (apt-get install haproxy)")
        }
        print(
            "slipway-bench alarm-rollback: \(runs) runs, a 3 → 3 blue/green deployment through HAProxy at \(rate) "
                + "req/s, alarms read every \(alarmPollInterval) s")
        var stopped: [Double] = []
        var back: [Double] = []
        var failed: [Double] = []
        for run in 1...runs {
            let result = try await measure()
            print(
                "run \(run): alarm → Stopped \(format(result.stopped, "s")), alarm → last request on a replacement "
                    + "\(format(result.back, "s")), failed requests \(result.failed) of \(result.requests)")
            stopped.append(result.stopped)
            back.append(result.back)
            failed.append(Double(result.failed))
        }
        print(
            "median: alarm → Stopped \(format(median(stopped), "s")); alarm → traffic back on the originals "
                + "\(format(median(back), "s")) (goal ≤ 10 s); failed requests \(Int(median(failed)))")
    }

    private struct RunResult {
        var stopped: Double
        var back: Double
        var failed: Int
        var requests: Int
    }

    private func measure() async throws -> RunResult {
        let site = try HAProxySite(haproxy: haproxy)
        defer { site.stop() }
        try await site.waitUntilUp(["b1", "b2", "b3"])
        let store = try SQLiteStore(path: site.directory.appendingPathComponent("store.sqlite").path)
        var group = Deploy.group
        group.alarmConfiguration = .init(alarms: [.init(name: "errors")], enabled: true, ignorePollAlarmFailure: false)
        group.blueGreenDeploymentConfiguration?.terminateBlueInstancesOnDeploymentSuccess = .init(
            action: .terminate, terminationWaitTimeInMinutes: 60)
        try await Deploy.register(in: store, group: group)
        try await store.write { tx in
            _ = try tx.set(LocalAlarm(name: "errors", now: Date()), .cloudWatchAlarm, name: "errors")
        }
        let driver = DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: "us-east-1"),
            logger: Logger(label: "slipway-bench", factory: { _ in SwiftLogNoOpLogHandler() }),
            traffic: HAProxyTrafficController(
                runtimes: [site.runtime],
                timing: .init(drainTimeout: .seconds(30), healthTimeout: .seconds(30), pollInterval: .milliseconds(50))
            ))
        let watcher = AlarmWatcher(driver: driver, sources: [LocalAlarmSource(store: store)])
        let client = ClientLoad(
            port: site.frontendPort, connections: connections, interval: Double(connections) / Double(rate))
        let origin = client.origin
        let traffic = Task { await driver.runTraffic(clock: { Date() }) }
        let loops = Task {
            await withDiscardingTaskGroup { loops in
                loops.addTask { await watcher.run(every: .seconds(alarmPollInterval), clock: { Date() }) }
                await driver.runTimers(clock: { Date() })
            }
        }
        let agents = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for host in Deploy.hosts { group.addTask { try await Deploy.agent(host, driver: driver) } }
                try await group.waitForAll()
            }
        }
        defer {
            agents.cancel()
            loops.cancel()
        }
        do {
            let id = try await Deploy.create(driver, group: group)
            // All traffic on the replacements: the originals are blocked and the termination wait has begun.
            try await Self.waitUntil(store: store, id: id) { $0.instanceTerminationWaitTimeStarted == true }
            try await Task.sleep(for: .milliseconds(500))
            let raised = seconds(since: origin)
            try await store.write { tx in
                guard var alarm = try tx.get(LocalAlarm.self, .cloudWatchAlarm, name: "errors") else { return }
                (alarm.state, alarm.stateReason, alarm.stateUpdated) = (.alarm, "benchmark", Date())
                try tx.set(alarm, .cloudWatchAlarm, name: "errors")
            }
            try await Self.waitUntil(store: store, id: id, seconds: 60) { $0.status == .stopped }
            let stopped = seconds(since: origin)
            // Load for another second after the stop: a request a replacement answered then would show.
            try await Task.sleep(for: .seconds(1))
            agents.cancel()
            loops.cancel()
            driver.stopTraffic()
            await traffic.value
            let samples = try await client.finish()
            let lastOnReplacement =
                samples.filter { $0.sent >= raised && Deploy.replacements.contains($0.server ?? "") }.map(\.answered)
                .max() ?? raised
            return RunResult(
                stopped: stopped - raised, back: lastOnReplacement - raised,
                failed: samples.filter { $0.server == nil }.count, requests: samples.count)
        } catch {
            driver.stopTraffic()
            await traffic.value
            _ = try? await client.finish()
            throw error
        }
    }

    /// Reads the deployment every 5 ms until `condition` holds; throws when it ends otherwise, or after `seconds`.
    private static func waitUntil(
        store: SQLiteStore, id: String, seconds: Int = 60, _ condition: (CodeDeploy.DeploymentInfo) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(seconds))
        while ContinuousClock.now < deadline {
            if let info = try await store.read({ try $0.deployment(id) })?.info {
                if condition(info) { return }
                if info.status == .failed || (info.status == .succeeded) {
                    throw BenchError("deployment \(id) ended \(info.status?.rawValue ?? "")")
                }
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("deployment \(id) did not get there within \(seconds) s")
    }
}
