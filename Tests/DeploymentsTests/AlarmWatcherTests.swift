import Engine
import Foundation
import SlipwayModel
import Store
import Synchronization
import Testing

@testable import Deployments

/// An alarm source whose answers the test sets, counting what it is asked.
private final class ScriptedAlarms: AlarmSource {
    enum Answer {
        case alarming(Set<String>)
        case failure(String)
        /// Never answers (until cancelled).
        case silence
    }

    let description: String
    private let state: Mutex<(answer: Answer, asked: [Set<String>])>

    init(_ description: String = "scripted alarms", _ answer: Answer = .alarming([])) {
        self.description = description
        state = Mutex((answer, []))
    }

    var answer: Answer {
        get { state.withLock { $0.answer } }
        set { state.withLock { $0.answer = newValue } }
    }

    var asked: [Set<String>] { state.withLock { $0.asked } }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    func alarming(among names: Set<String>) async throws -> Set<String> {
        let answer = state.withLock {
            $0.asked.append(names)
            return $0.answer
        }
        switch answer {
        case .alarming(let alarming): return alarming.intersection(names)
        case .failure(let message): throw Refused(description: message)
        case .silence:
            try await Task.sleep(for: .seconds(3600))
            return []
        }
    }
}

extension DriverHarness {
    /// The group `shop/<name>` watching `alarms`, targeting the harness's instances.
    func addGroup(_ name: String, watching alarms: [String], ignorePollFailure: Bool = false) async throws
        -> CodeDeploy.DeploymentGroupInfo
    {
        var other = group
        other.deploymentGroupName = name
        other.deploymentGroupId = "g-\(name)"
        other.alarmConfiguration = .init(
            alarms: alarms.map { .init(name: $0) }, enabled: true, ignorePollAlarmFailure: ignorePollFailure)
        let stored = other
        try await store.write { tx in try tx.set(stored, .deploymentGroup, scope: "shop", name: name) }
        return other
    }

    func watcher(_ sources: [any AlarmSource], timeout: Duration = .seconds(10)) -> AlarmWatcher {
        AlarmWatcher(driver: driver, sources: sources, timeout: timeout)
    }

    func pollAlarms(_ watcher: AlarmWatcher) async -> [String: AlarmReport] {
        let now = now
        return await watcher.poll { now }
    }
}

@Suite("The alarm watcher")
struct AlarmWatcherTests {
    @Test("an alarm in ALARM stops the deployment: the running event finishes, then it is Stopped with ALARM_ACTIVE")
    func alarmStopsTheDeployment() async throws {
        let harness = try await DriverHarness(hosts: ["web-1", "web-2"], config: "CodeDeployDefault.OneAtATime")
        let group = try await harness.addGroup("api", watching: ["errors", "latency"])
        let id = try await harness.createDeployment(to: group)
        let running = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(running)
        let source = ScriptedAlarms()
        let watcher = harness.watcher([source])
        #expect(await harness.pollAlarms(watcher) == [:])
        #expect(source.asked == [["errors", "latency"]])

        source.answer = .alarming(["latency", "cpu"])
        harness.advance(by: 2)
        #expect(await harness.pollAlarms(watcher) == [id: .raised(["latency"])])
        #expect(try await harness.deployment(id)?.info.status == .inProgress)
        try await harness.complete(running)
        let info = try #require(try await harness.deployment(id)?.info)
        #expect(info.status == .stopped)
        #expect(info.errorInformation?.code == .alarmActive)
        #expect(info.errorInformation?.message == "The deployment was stopped because the alarm latency is in ALARM.")
        #expect(try await harness.pollCommand("web-2") == nil)
        // A stopped deployment is watched no more.
        #expect(await harness.pollAlarms(watcher) == [:])
        #expect(source.asked.count == 2)
    }

    @Test("one poll reads each source once, for every alarm of every deployment in progress")
    func onePollPerSource() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let api = try await harness.addGroup("api", watching: ["errors"])
        let jobs = try await harness.addGroup("jobs", watching: ["errors", "queue-depth"])
        _ = try await harness.addGroup("quiet")
        let first = try await harness.createDeployment(to: api)
        let second = try await harness.createDeployment(to: jobs)
        _ = try await harness.createDeployment(to: harness.group)
        let (prometheus, cloudWatch) = (ScriptedAlarms("one"), ScriptedAlarms("two", .alarming(["queue-depth"])))
        let reports = await harness.pollAlarms(harness.watcher([prometheus, cloudWatch]))
        #expect(prometheus.asked == [["errors", "queue-depth"]])
        #expect(cloudWatch.asked == [["errors", "queue-depth"]])
        #expect(reports == [second: .raised(["queue-depth"])])
        #expect(try await harness.deployment(first)?.info.status == .inProgress)
        #expect(try await harness.deployment(second)?.info.status == .stopped)
    }

    @Test("a source that fails or does not answer in time stops the deployments that do not ignore poll failures")
    func unreadableSources() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let strict = try await harness.addGroup("strict", watching: ["errors"])
        let lenient = try await harness.addGroup("lenient", watching: ["errors"], ignorePollFailure: true)
        let stopped = try await harness.createDeployment(to: strict)
        let going = try await harness.createDeployment(to: lenient)
        let down = ScriptedAlarms("Prometheus at http://127.0.0.1:9", .failure("connection refused"))
        let hung = ScriptedAlarms("Alertmanager at http://127.0.0.1:10", .silence)
        let started = ContinuousClock.now
        let reports = await harness.pollAlarms(harness.watcher([down, hung], timeout: .milliseconds(200)))
        #expect(ContinuousClock.now - started < .seconds(30))
        let reason =
            "Alertmanager at http://127.0.0.1:10 did not answer in 0.2 seconds; "
            + "Prometheus at http://127.0.0.1:9: connection refused"
        #expect(reports == [stopped: .unreadable(reason), going: .unreadable(reason)])
        let info = try #require(try await harness.deployment(stopped)?.info)
        #expect(info.status == .stopped)
        #expect(info.errorInformation?.code == .alarmActive)
        #expect(info.errorInformation?.message?.contains(reason) == true)
        #expect(try await harness.deployment(going)?.info.status == .inProgress)
    }

    @Test("an alarm one source reports in ALARM stops the deployment even when another source cannot be read")
    func alarmWinsOverAFailure() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let group = try await harness.addGroup("api", watching: ["errors"], ignorePollFailure: true)
        let id = try await harness.createDeployment(to: group)
        let sources = [ScriptedAlarms("down", .failure("refused")), ScriptedAlarms("up", .alarming(["errors"]))]
        #expect(await harness.pollAlarms(harness.watcher(sources)) == [id: .raised(["errors"])])
        #expect(try await harness.deployment(id)?.info.status == .stopped)
    }

    @Test("deployments without alarms are never polled for")
    func nothingToWatch() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        _ = try await harness.createDeployment()
        let source = ScriptedAlarms("", .alarming(["errors"]))
        #expect(await harness.pollAlarms(harness.watcher([source])) == [:])
        #expect(source.asked.isEmpty)
    }

    @Test("what a deployment watches is stored: a restarted server's watcher polls for it")
    func watchSurvivesARestart() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let group = try await harness.addGroup("api", watching: ["errors"])
        let id = try await harness.createDeployment(to: group)
        harness.restart()
        let source = ScriptedAlarms("", .alarming(["errors"]))
        #expect(await harness.pollAlarms(harness.watcher([source])) == [id: .raised(["errors"])])
    }
}
