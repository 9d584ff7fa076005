import Foundation
import SlipwayModel
import Testing

@testable import Engine

/// An in-place deployment of `names` that watches the alarm `errors` (and `latency`).
private func watching(
    _ names: [String] = hostNames(2), minimumHealthy: MinimumHealthy = .oneAtATime,
    ignorePollFailure: Bool = false, rollbackEvents: [CodeDeploy.AutoRollbackEvent] = [], bakeTime: TimeInterval? = nil,
    rollbackOf: String? = nil
) -> DeploymentSnapshot {
    var snapshot = snapshot(
        names, minimumHealthy: minimumHealthy,
        autoRollback: rollbackEvents.isEmpty ? nil : .init(enabled: true, events: rollbackEvents),
        rollbackOf: rollbackOf)
    snapshot.alarms = AlarmWatch(alarmNames: ["errors", "latency"], ignorePollFailure: ignorePollFailure)
    snapshot.bakeTime = bakeTime
    return snapshot
}

private func offers(_ actions: [DeploymentAction]) -> [String] {
    actions.compactMap {
        guard case .offerCommand(let command) = $0 else { return nil }
        return "\(command.instanceName) \(command.commandName)"
    }
}

@Suite("Alarms and bake times")
struct AlarmTests {
    @Test("an alarm in ALARM stops the deployment with ALARM_ACTIVE: the running event finishes, the rest is skipped")
    func alarmStopsTheDeployment() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: watching(hostNames(3)), now: clock.now)
        #expect(deployment.watchedAlarms == [])
        _ = deployment.start(now: clock.now)
        #expect(deployment.watchedAlarms == ["errors", "latency"])
        let running = command("host-1", .applicationStop)
        _ = deployment.commandAcknowledged(running, CommandAcknowledgement(), now: clock.now)
        clock.advance(by: 5)
        #expect(deployment.alarmsRaised(["errors"], now: clock.now) == [])
        #expect(deployment.isStopping)
        #expect(deployment.watchedAlarms == [])
        let actions = deployment.commandCompleted(running, .success, now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.releaseHost(running), .finish(.stopped(information))])
        #expect(deployment.status == .stopped)
        #expect(information.code == .alarmActive)
        #expect(information.message == "The deployment was stopped because the alarm errors is in ALARM.")
        #expect(deployment.hostOutcomes.map(\.status) == [.failed, .skipped, .skipped])
        #expect(deployment.rollbackRequest == nil)
    }

    @Test("an alarm the deployment does not watch, or an empty report, changes nothing")
    func unwatchedAlarmsAreIgnored() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: watching(), now: clock.now)
        _ = deployment.start(now: clock.now)
        #expect(deployment.alarmsRaised(["cpu", "Errors"], now: clock.now) == [])
        #expect(deployment.alarmsRaised([], now: clock.now) == [])
        #expect(deployment.status == .inProgress)
        #expect(!deployment.isStopping)
    }

    @Test(
        "with DEPLOYMENT_STOP_ON_ALARM the alarm's stop asks for a rollback; DEPLOYMENT_STOP_ON_REQUEST alone does not")
    func alarmRollsBackOnlyWhenAsked() throws {
        let clock = ManualClock()
        var onAlarm = Deployment(snapshot: watching(rollbackEvents: [.deploymentStopOnAlarm]), now: clock.now)
        _ = onAlarm.start(now: clock.now)
        _ = onAlarm.run(command("host-1", .applicationStop), now: clock.now)
        let actions = onAlarm.alarmsRaised(["latency", "errors"], now: clock.now)
        let request = try #require(onAlarm.rollbackRequest)
        #expect(request.reason == .deploymentStopOnAlarm)
        #expect(request.message == "Automatic rollback: deployment \(deploymentId) was stopped by an alarm.")
        #expect(actions.last == .requestRollback(request))
        #expect(onAlarm.errorInformation?.message?.contains("the alarms errors, latency are in ALARM") == true)

        var onRequest = Deployment(snapshot: watching(rollbackEvents: [.deploymentStopOnRequest]), now: clock.now)
        _ = onRequest.start(now: clock.now)
        _ = onRequest.run(command("host-1", .applicationStop), now: clock.now)
        _ = onRequest.alarmsRaised(["errors"], now: clock.now)
        #expect(onRequest.status == .stopped)
        #expect(onRequest.rollbackRequest == nil)
    }

    @Test("alarms are watched from the start until the end: not while queued, not after, never by a rollback")
    func watchWindow() {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: watching(["web-1"]), now: clock.now)
        _ = deployment.queue(now: clock.now)
        #expect(deployment.watchedAlarms == [])
        #expect(deployment.alarmsRaised(["errors"], now: clock.now) == [])
        #expect(deployment.status == .queued)
        _ = deployment.start(now: clock.now)
        clock.advance(by: 1)
        _ = deployment.runHost("web-1", now: clock.now)
        #expect(deployment.status == .succeeded)
        #expect(deployment.watchedAlarms == [])
        #expect(deployment.alarmsRaised(["errors"], now: clock.now) == [])

        var rollback = Deployment(snapshot: watching(rollbackOf: "d-BAD000001"), now: clock.now)
        _ = rollback.start(now: clock.now)
        #expect(rollback.watchedAlarms == [])
        #expect(rollback.alarmsRaised(["errors"], now: clock.now) == [])
        #expect(rollback.alarmsUnreadable("connection refused", now: clock.now) == [])
        #expect(!rollback.isStopping)
    }

    @Test("alarms that cannot be read stop the deployment, unless it ignores poll failures")
    func pollFailure() throws {
        let clock = ManualClock()
        var strict = Deployment(snapshot: watching(rollbackEvents: [.deploymentStopOnAlarm]), now: clock.now)
        _ = strict.start(now: clock.now)
        _ = strict.run(command("host-1", .applicationStop), now: clock.now)
        _ = strict.alarmsUnreadable("Prometheus at http://127.0.0.1:9 refused the connection", now: clock.now)
        let information = try #require(strict.errorInformation)
        #expect(strict.status == .stopped)
        #expect(information.code == .alarmActive)
        #expect(information.message?.contains("could not be read (Prometheus at http://127.0.0.1:9 refused") == true)
        #expect(strict.rollbackRequest?.reason == .deploymentStopOnAlarm)

        var lenient = Deployment(snapshot: watching(ignorePollFailure: true), now: clock.now)
        _ = lenient.start(now: clock.now)
        #expect(lenient.alarmsUnreadable("timed out", now: clock.now) == [])
        #expect(lenient.status == .inProgress)
        #expect(!lenient.isStopping)
        // Ignoring poll failures does not ignore the alarms themselves.
        _ = lenient.alarmsRaised(["errors"], now: clock.now)
        #expect(lenient.status == .stopped)
    }

    @Test("a bake time holds the next batch until it has passed, and the deployment's success after the last one")
    func bakeBetweenBatches() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: watching(bakeTime: 120), now: clock.now)
        _ = deployment.start(now: clock.now)
        clock.advance(by: 10)
        #expect(offers(deployment.runHost("host-1", now: clock.now)) == [])
        #expect(deployment.nextDeadline == clock.now + 120)
        #expect(deployment.host(named: "host-2")?.status == .pending)
        #expect(deployment.statusMessages.first?.hasPrefix("Baking: watching the alarms errors, latency until") == true)
        clock.advance(by: 119)
        #expect(deployment.tick(now: clock.now) == [])
        clock.advance(by: 1)
        #expect(offers(deployment.tick(now: clock.now)) == ["host-2 ApplicationStop"])
        #expect(deployment.statusMessages == [])
        clock.advance(by: 10)
        _ = deployment.runHost("host-2", now: clock.now)
        #expect(deployment.status == .inProgress)
        clock.advance(by: 120)
        #expect(deployment.tick(now: clock.now) == [.finish(.succeeded)])
        #expect(deployment.status == .succeeded)
        #expect(deployment.nextDeadline == nil)
        #expect(deployment.statusMessages == [])
    }

    @Test("with a bake time no host starts while its batch still runs")
    func bakeKeepsBatchesWhole() throws {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: watching(hostNames(4), minimumHealthy: .halfAtATime, bakeTime: 60), now: clock.now)
        #expect(offers(deployment.start(now: clock.now)) == ["host-1 ApplicationStop", "host-2 ApplicationStop"])
        // Without a bake time host-3 would start as soon as host-1 is done.
        #expect(offers(deployment.runHost("host-1", now: clock.now)) == [])
        #expect(deployment.host(named: "host-3")?.status == .pending)
        _ = deployment.runHost("host-2", now: clock.now)
        clock.advance(by: 60)
        #expect(offers(deployment.tick(now: clock.now)) == ["host-3 ApplicationStop", "host-4 ApplicationStop"])
    }

    @Test("a batch whose hosts all failed is not baked after: the deployment fails at once")
    func failedBatchIsNotBaked() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: watching(hostNames(2), bakeTime: 600), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("host-1", failAt: .applicationStop, now: clock.now)
        #expect(deployment.status == .failed)
        #expect(deployment.errorInformation?.code == .healthConstraints)
    }

    @Test("an alarm during a bake stops the deployment at once")
    func alarmDuringBake() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: watching(bakeTime: 300), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("host-1", now: clock.now)
        clock.advance(by: 30)
        let actions = deployment.alarmsRaised(["latency"], now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.finish(.stopped(information))])
        #expect(deployment.hostOutcomes.map(\.status) == [.succeeded, .skipped])
        #expect(deployment.nextDeadline == nil)
        #expect(deployment.statusMessages == [])
    }

    @Test("a deployment stored mid-bake and mid-stop for an alarm reads back equal")
    func storedStateReadsBack() throws {
        var clock = ManualClock()
        var baking = Deployment(snapshot: watching(bakeTime: 300), now: clock.now)
        _ = baking.start(now: clock.now)
        _ = baking.runHost("host-1", now: clock.now)
        let encoder = JSONEncoder()
        let decoded = try JSONDecoder().decode(Deployment.self, from: encoder.encode(baking))
        #expect(decoded == baking)
        let parts = Deployment(snapshot: baking.snapshot, progress: baking.progress, hosts: baking.hosts)
        #expect(parts == baking)
        #expect(parts.nextDeadline == clock.now + 300)
        let written = try AWSJSON.makeDecoder().decode(
            Deployment.Progress.self, from: JSONOutput.encode(baking.progress))
        #expect(written == baking.progress)

        var stopping = Deployment(snapshot: watching(hostNames(2)), now: clock.now)
        _ = stopping.start(now: clock.now)
        _ = stopping.commandAcknowledged(command("host-1", .applicationStop), CommandAcknowledgement(), now: clock.now)
        _ = stopping.alarmsRaised(["errors"], now: clock.now)
        let progress = try AWSJSON.makeDecoder().decode(
            Deployment.Progress.self, from: JSONOutput.encode(stopping.progress))
        var restored = Deployment(snapshot: stopping.snapshot, progress: progress, hosts: stopping.hosts)
        clock.advance(by: 1)
        _ = restored.commandCompleted(command("host-1", .applicationStop), .success, now: clock.now)
        #expect(restored.errorInformation?.code == .alarmActive)
    }
}
