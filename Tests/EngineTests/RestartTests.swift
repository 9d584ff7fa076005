import Engine
import Foundation
import SlipwayModel
import Testing

@Suite("Restart safety: the stored JSON document is the whole deployment")
struct RestartTests {
    /// One input to a deployment, as data.
    enum Input {
        case start
        case deliver(String, LifecycleEvent)
        case acknowledge(String, LifecycleEvent)
        case complete(String, LifecycleEvent, CommandReport)
        case traffic(String, LifecycleEvent)
        case heartbeat(String, LifecycleEvent)
        case advance(TimeInterval)
        case tick
        case stop(Bool?)
    }

    static func apply(_ input: Input, to deployment: inout Deployment, clock: inout ManualClock) -> [DeploymentAction] {
        switch input {
        case .start: deployment.start(now: clock.now)
        case .deliver(let host, let event): deployment.commandDelivered(command(host, event), now: clock.now)
        case .acknowledge(let host, let event):
            deployment.commandAcknowledged(command(host, event), CommandAcknowledgement(), now: clock.now)
        case .complete(let host, let event, let report):
            deployment.commandCompleted(command(host, event), report, now: clock.now)
        case .traffic(let host, let event):
            deployment.trafficCompleted(command(host, event), .succeeded, now: clock.now)
        case .heartbeat(let host, let event):
            deployment.heartbeat(command(host, event), estimatedCompletion: nil, now: clock.now)
        case .advance(let seconds):
            {
                clock.advance(by: seconds)
                return []
            }()
        case .tick: deployment.tick(now: clock.now)
        case .stop(let rollback): deployment.stop(autoRollbackEnabled: rollback, now: clock.now)
        }
    }

    /// Three hosts behind a load balancer, two at a time: a traffic event, an ignored ApplicationStop failure,
    /// a heartbeat, a pickup timeout and a host failure, ending in HEALTH_CONSTRAINTS and a rollback request.
    static let script: [Input] = {
        var inputs: [Input] = [.start]
        for host in ["host-1", "host-2"] {
            inputs += [
                .deliver(host, .beforeBlockTraffic), .acknowledge(host, .beforeBlockTraffic),
                .complete(host, .beforeBlockTraffic, .success), .traffic(host, .blockTraffic),
            ]
        }
        inputs += [
            .advance(5),
            .acknowledge("host-1", .afterBlockTraffic), .complete("host-1", .afterBlockTraffic, failure()),
            .acknowledge("host-1", .applicationStop), .heartbeat("host-1", .applicationStop), .advance(200),
            .complete("host-1", .applicationStop, .success),
            .advance(200), .tick,  // host-2's AfterBlockTraffic was never picked up
            .acknowledge("host-1", .downloadBundle), .advance(10),
            .complete("host-1", .downloadBundle, failure(.unknownError)),
            .advance(1), .tick,
        ]
        return inputs
    }()

    static let restartSnapshot = snapshot(
        hostNames(3), minimumHealthy: .hostCount(1), withLoadBalancer: true, ignoreApplicationStopFailures: true,
        autoRollback: .init(enabled: true, events: [.deploymentFailure]))

    @Test("the script ends as designed")
    func referenceRun() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: Self.restartSnapshot, now: clock.now)
        var log: [DeploymentAction] = []
        for input in Self.script { log += Self.apply(input, to: &deployment, clock: &clock) }
        #expect(deployment.status == .failed)
        #expect(deployment.errorInformation?.code == .healthConstraints)
        #expect(deployment.overview == .init(failed: 2, inProgress: 0, pending: 0, ready: 0, skipped: 1, succeeded: 0))
        #expect(log.contains { if case .requestRollback = $0 { true } else { false } })
        let message = try #require(deployment.errorInformation?.message)
        #expect(message.contains("host-1: DownloadBundle failed (UnknownError)"))
        #expect(message.contains("host-2: the agent never polled for AfterBlockTraffic"))
    }

    @Test("encoded to JSON and decoded after any event, a deployment continues identically")
    func continuesIdentically() throws {
        var referenceClock = ManualClock()
        var reference = Deployment(snapshot: Self.restartSnapshot, now: referenceClock.now)
        var referenceLog: [[DeploymentAction]] = []
        for input in Self.script {
            referenceLog.append(Self.apply(input, to: &reference, clock: &referenceClock))
        }

        for split in 0...Self.script.count {
            var clock = ManualClock()
            var deployment = Deployment(snapshot: Self.restartSnapshot, now: clock.now)
            for input in Self.script[..<split] { _ = Self.apply(input, to: &deployment, clock: &clock) }

            let stored = try JSONEncoder().encode(deployment)
            var restored = try JSONDecoder().decode(Deployment.self, from: stored)
            #expect(restored == deployment, "after \(split) inputs")
            #expect(restored.nextDeadline == deployment.nextDeadline)
            #expect(restored.offeredCommands == deployment.offeredCommands)

            var log: [[DeploymentAction]] = []
            for input in Self.script[split...] { log.append(Self.apply(input, to: &restored, clock: &clock)) }
            #expect(log == Array(referenceLog[split...]), "after \(split) inputs")
            #expect(restored == reference, "after \(split) inputs")
        }
    }

    @Test("stored in parts (snapshot, progress, hosts) and reassembled, a deployment continues identically")
    func partsReassemble() throws {
        var referenceClock = ManualClock()
        var reference = Deployment(snapshot: Self.restartSnapshot, now: referenceClock.now)
        for input in Self.script { _ = Self.apply(input, to: &reference, clock: &referenceClock) }

        for split in 0...Self.script.count {
            var clock = ManualClock()
            var deployment = Deployment(snapshot: Self.restartSnapshot, now: clock.now)
            for input in Self.script[..<split] { _ = Self.apply(input, to: &deployment, clock: &clock) }

            let progress = try JSONDecoder().decode(
                Deployment.Progress.self, from: JSONEncoder().encode(deployment.progress))
            let hosts = try deployment.hosts.map {
                try JSONDecoder().decode(HostLifecycle.self, from: JSONEncoder().encode($0))
            }
            var restored = Deployment(snapshot: deployment.snapshot, progress: progress, hosts: hosts)
            #expect(restored == deployment, "after \(split) inputs")
            for input in Self.script[split...] { _ = Self.apply(input, to: &restored, clock: &clock) }
            #expect(restored == reference, "after \(split) inputs")
        }
    }

    @Test("actions are Codable too, so the driver can store them in the same transaction")
    func actionsRoundTrip() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: Self.restartSnapshot, now: clock.now)
        let actions = deployment.start(now: clock.now)
        let decoded = try JSONDecoder().decode([DeploymentAction].self, from: JSONEncoder().encode(actions))
        #expect(decoded == actions)
        #expect(actions.count == 2)
    }

    @Test("after a restart the driver finds the offered commands, open traffic requests and the next deadline")
    func whatADriverRebuilds() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: Self.restartSnapshot, now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("host-1", .beforeBlockTraffic), now: clock.now)
        #expect(deployment.offeredCommands.map(\.id) == [command("host-2", .beforeBlockTraffic)])
        #expect(deployment.openTrafficRequests.map(\.id) == [command("host-1", .blockTraffic)])
        #expect(deployment.nextDeadline == clock.now + 300)
    }
}
