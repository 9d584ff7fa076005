import Foundation
import SlipwayModel
import Testing

@testable import Engine

/// A blue/green deployment of `blue` original hosts and `green` replacement hosts.
private func blueGreen(
    blue: [String] = ["blue-1", "blue-2"], green: [String] = ["green-1", "green-2"],
    minimumHealthy: MinimumHealthy = .allAtOnce, settings: BlueGreenSettings = BlueGreenSettings(),
    autoRollback: CodeDeploy.AutoRollbackConfiguration? = nil, rollbackOf: String? = nil,
    split: [TrafficSplitPlan.Step]? = nil
) -> DeploymentSnapshot {
    var targets = blue.map { name in
        var target = target(name)
        target.label = .blue
        return target
    }
    targets += green.map { name in
        var target = target(name)
        target.label = .green
        return target
    }
    return DeploymentSnapshot(
        deploymentId: deploymentId, targets: targets, minimumHealthyHosts: minimumHealthy, withLoadBalancer: true,
        loadBalancerNames: ["app"], autoRollbackConfiguration: autoRollback, rollbackOf: rollbackOf,
        blueGreen: settings,
        trafficSplit: split.map {
            TrafficSplitPlan(
                map: "/etc/haproxy/app.map", originalBackend: "app-a", replacementBackend: "app-b", steps: $0)
        })
}

private let install: [LifecycleEvent] = [
    .applicationStop, .downloadBundle, .beforeInstall, .install, .afterInstall, .applicationStart, .validateService,
]

extension Deployment {
    /// The traffic requests among `actions`, as (event, host).
    fileprivate static func traffic(_ actions: [DeploymentAction]) -> [String] {
        actions.compactMap {
            guard case .performTraffic(let request) = $0 else { return nil }
            return "\(request.event.rawValue) \(request.instanceName)"
        }
    }

    fileprivate func statuses(_ names: [String]) -> [CodeDeploy.TargetStatus] {
        names.map { host(named: $0)?.status ?? .unknown }
    }
}

@Suite("Blue/green deployments")
struct BlueGreenTests {
    @Test("the replacement hosts install at once and wait in Ready; the original hosts are not touched")
    func replacementHostsWaitInReady() throws {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: blueGreen(settings: BlueGreenSettings(readyWait: 3600)), now: clock.now)
        let actions = deployment.start(now: clock.now)
        #expect(
            actions == [
                offer("green-1", .applicationStop, at: clock.now), offer("green-2", .applicationStop, at: clock.now),
            ])
        #expect(
            deployment.host(named: "green-1")?.events.map(\.event) == install + [
                .beforeAllowTraffic, .allowTraffic, .afterAllowTraffic,
            ])
        #expect(
            deployment.host(named: "blue-1")?.events.map(\.event) == [
                .beforeBlockTraffic, .blockTraffic, .afterBlockTraffic,
            ])
        clock.advance(by: 10)
        _ = deployment.runHost("green-1", now: clock.now)
        #expect(deployment.status == .inProgress)
        _ = deployment.runHost("green-2", now: clock.now)
        #expect(deployment.status == .ready)
        #expect(
            deployment.statuses(["green-1", "green-2", "blue-1", "blue-2"]) == [.ready, .ready, .pending, .pending])
        #expect(deployment.overview == .init(failed: 0, inProgress: 0, pending: 2, ready: 2, skipped: 0, succeeded: 0))
        #expect(deployment.nextDeadline == clock.now + 3600)
        #expect(deployment.statusMessages.first?.contains("ContinueDeployment (READY_WAIT)") == true)
        #expect(deployment.host(named: "green-1")?.instanceTarget(deploymentId: deploymentId).instanceLabel == .green)
        #expect(deployment.host(named: "blue-1")?.instanceTarget(deploymentId: deploymentId).instanceLabel == .blue)
    }

    @Test("ContinueDeployment moves the traffic: every replacement host is allowed before any original is blocked")
    func continueMovesTrafficThenBlocksOriginals() throws {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: blueGreen(settings: BlueGreenSettings(readyWait: 3600)), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.runHost("green-2", now: clock.now)
        #expect(throws: ContinueRefusal.notWaiting(.terminationWait, status: .ready)) {
            try deployment.checkContinue(.terminationWait)
        }
        clock.advance(by: 60)
        let actions = try deployment.continueDeployment(.readyWait, now: clock.now)
        #expect(
            actions == [
                offer("green-1", .beforeAllowTraffic, at: clock.now),
                offer("green-2", .beforeAllowTraffic, at: clock.now),
            ])
        #expect(deployment.status == .inProgress)
        _ = deployment.run(command("green-1", .beforeAllowTraffic), now: clock.now)
        _ = deployment.run(command("green-2", .beforeAllowTraffic), now: clock.now)
        #expect(
            deployment.openTrafficRequests.map { "\($0.event.rawValue) \($0.instanceName)" } == [
                "AllowTraffic green-1", "AllowTraffic green-2",
            ])
        _ = deployment.runHost("green-1", now: clock.now)
        #expect(deployment.statuses(["blue-1", "blue-2"]) == [.pending, .pending])
        let blocking = deployment.runHost("green-2", now: clock.now)
        #expect(
            blocking == [
                .releaseHost(command("green-2", .afterAllowTraffic)),
                offer("blue-1", .beforeBlockTraffic, at: clock.now),
                offer("blue-2", .beforeBlockTraffic, at: clock.now),
            ])
        _ = deployment.runHost("blue-1", now: clock.now)
        let end = deployment.runHost("blue-2", now: clock.now)
        #expect(deployment.status == .succeeded)
        #expect(
            end.last
                == .replaceFleet(
                    FleetReplacement(
                        replacementHosts: ["green-1", "green-2"], originalHosts: ["blue-1", "blue-2"],
                        deregisterOriginalHosts: false)))
        #expect(deployment.hostOutcomes.map(\.installed) == [false, false, true, true])
        #expect(throws: ContinueRefusal.finished) { try deployment.checkContinue(.readyWait) }
    }

    @Test("with CONTINUE_DEPLOYMENT the traffic moves as soon as the replacement hosts are ready")
    func continuesAtOnce() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: blueGreen(green: ["green-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        for _ in install { _ = deployment.run(deployment.host(named: "green-1")!.currentCommand!, now: clock.now) }
        #expect(deployment.host(named: "green-1")?.currentCommand == command("green-1", .beforeAllowTraffic))
        #expect(throws: ContinueRefusal.notWaiting(.readyWait, status: .inProgress)) {
            try deployment.checkContinue(.readyWait)
        }
    }

    @Test("replacement hosts are rerouted as many at once as the deployment configuration lets")
    func reroutingFollowsTheConfiguration() throws {
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: blueGreen(green: ["green-1", "green-2", "green-3"], minimumHealthy: .oneAtATime), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.runHost("green-2", now: clock.now)
        #expect(deployment.statuses(["green-1", "green-2"]) == [.ready, .ready])
        _ = deployment.runHost("green-3", now: clock.now)
        #expect(deployment.inFlightNames == ["green-1"])
        _ = deployment.runHost("green-1", now: clock.now)
        #expect(deployment.inFlightNames == ["green-2"])
    }

    @Test("a ready wait that expires stops the deployment; the traffic never moved")
    func readyWaitExpires() throws {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: blueGreen(settings: BlueGreenSettings(readyWait: 600)), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.runHost("green-2", now: clock.now)
        clock.advance(by: 599)
        #expect(deployment.tick(now: clock.now) == [])
        clock.advance(by: 1)
        let actions = deployment.tick(now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.finish(.stopped(information))])
        #expect(information.code == .timeout)
        #expect(information.message?.contains("10 minutes") == true)
        #expect(
            deployment.statuses(["green-1", "green-2", "blue-1", "blue-2"]) == [.failed, .failed, .skipped, .skipped])
    }

    @Test("TERMINATE waits before the originals are retired; the wait shows and can be skipped")
    func terminationWait() throws {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: blueGreen(green: ["green-1"], settings: BlueGreenSettings(originalHosts: .terminate(after: 300))),
            now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.runHost("blue-1", now: clock.now)
        _ = deployment.runHost("blue-2", now: clock.now)
        #expect(deployment.status == .inProgress)
        #expect(deployment.instanceTerminationWaitTimeStarted)
        #expect(deployment.nextDeadline == clock.now + 300)
        var skipped = deployment
        let early = try skipped.continueDeployment(.terminationWait, now: clock.now)
        #expect(
            early.last
                == .replaceFleet(
                    FleetReplacement(
                        replacementHosts: ["green-1"], originalHosts: ["blue-1", "blue-2"],
                        deregisterOriginalHosts: true)))
        #expect(skipped.status == .succeeded)
        #expect(skipped.statusMessages.first?.contains("cannot power machines off") == true)

        clock.advance(by: 300)
        let actions = deployment.tick(now: clock.now)
        #expect(deployment.status == .succeeded)
        #expect(actions.count == 2)
    }

    @Test("a failure after the traffic moved sends it back: originals allowed first, then replacements blocked")
    func failureRestoresTraffic() throws {
        let clock = ManualClock()
        let onFailure = CodeDeploy.AutoRollbackConfiguration(enabled: true, events: [.deploymentFailure])
        var deployment = Deployment(snapshot: blueGreen(autoRollback: onFailure), now: clock.now)
        _ = deployment.start(now: clock.now)
        for name in ["green-1", "green-2", "green-1", "green-2", "blue-2"] {
            _ = deployment.runHost(name, now: clock.now)
        }
        // blue-2 gave its traffic up; blue-1's BeforeBlockTraffic fails.
        let actions = deployment.run(command("blue-1", .beforeBlockTraffic), failure(), now: clock.now)
        #expect(Deployment.traffic(actions) == ["AllowTraffic blue-2"])
        #expect(deployment.status == .inProgress)
        #expect(deployment.statusMessages == ["Sending traffic back to the original instances."])
        #expect(deployment.openTrafficRequests.map(\.id) == [command("blue-2", .allowTraffic)])
        let next = deployment.trafficCompleted(command("blue-2", .allowTraffic), .succeeded, now: clock.now)
        #expect(Deployment.traffic(next) == ["BlockTraffic green-1", "BlockTraffic green-2"])
        _ = deployment.trafficCompleted(command("green-1", .blockTraffic), .succeeded, now: clock.now)
        let end = deployment.trafficCompleted(
            command("green-2", .blockTraffic), .failed(message: "No such server."), now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(deployment.status == .failed)
        #expect(information.code == .healthConstraints)
        #expect(information.message?.hasSuffix("BlockTraffic on green-2: No such server..") == true)
        #expect(end.contains { if case .requestRollback = $0 { true } else { false } })
        #expect(!end.contains { if case .replaceFleet = $0 { true } else { false } })
    }

    @Test("a replacement host that fails before the traffic moved fails the deployment without a traffic change")
    func failureBeforeTrafficMoved() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: blueGreen(green: ["green-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let actions = deployment.runHost("green-1", failAt: .validateService, now: clock.now)
        #expect(Deployment.traffic(actions) == [])
        #expect(deployment.status == .failed)
        #expect(deployment.statuses(["green-1", "blue-1", "blue-2"]) == [.failed, .skipped, .skipped])
    }

    @Test("a stop during the termination wait sends the traffic back and asks for the rollback")
    func stopAfterTrafficMoved() throws {
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: blueGreen(green: ["green-1"], settings: BlueGreenSettings(originalHosts: .terminate(after: 60))),
            now: clock.now)
        _ = deployment.start(now: clock.now)
        for name in ["green-1", "green-1", "blue-1", "blue-2"] { _ = deployment.runHost(name, now: clock.now) }
        let actions = deployment.stop(autoRollbackEnabled: true, now: clock.now)
        #expect(Deployment.traffic(actions) == ["AllowTraffic blue-1", "AllowTraffic blue-2"])
        _ = deployment.trafficCompleted(command("blue-1", .allowTraffic), .succeeded, now: clock.now)
        _ = deployment.trafficCompleted(command("blue-2", .allowTraffic), .succeeded, now: clock.now)
        let end = deployment.trafficCompleted(command("green-1", .blockTraffic), .succeeded, now: clock.now)
        #expect(deployment.status == .stopped)
        #expect(end.contains { if case .requestRollback = $0 { true } else { false } })
    }

    @Test("a blue/green rollback allows the original hosts first, then blocks the replacements; nothing installs")
    func rollbackOnlyMovesTraffic() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: blueGreen(rollbackOf: "d-FAILED001"), now: clock.now)
        let actions = deployment.start(now: clock.now)
        #expect(
            actions == [
                offer("blue-1", .beforeAllowTraffic, at: clock.now),
                offer("blue-2", .beforeAllowTraffic, at: clock.now),
            ])
        #expect(
            deployment.host(named: "green-1")?.events.map(\.event) == [
                .beforeBlockTraffic, .blockTraffic, .afterBlockTraffic,
            ])
        _ = deployment.runHost("blue-1", now: clock.now)
        let blocking = deployment.runHost("blue-2", now: clock.now)
        #expect(
            blocking.suffix(2) == [
                offer("green-1", .beforeBlockTraffic, at: clock.now),
                offer("green-2", .beforeBlockTraffic, at: clock.now),
            ])
        _ = deployment.runHost("green-1", now: clock.now)
        let end = deployment.runHost("green-2", now: clock.now)
        #expect(deployment.status == .succeeded)
        #expect(!end.contains { if case .replaceFleet = $0 { true } else { false } })
    }

    @Test("without replacement hosts the deployment fails with NO_INSTANCES")
    func noReplacementHosts() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: blueGreen(green: []), now: clock.now)
        _ = deployment.start(now: clock.now)
        #expect(deployment.errorInformation?.code == .noInstances)
    }

    @Test("a deployment stored mid-restore reads back equal and performs its open requests again")
    func restoreSurvivesARestart() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: blueGreen(green: ["green-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.runHost("green-1", now: clock.now)
        _ = deployment.run(command("blue-1", .beforeBlockTraffic), failure(), now: clock.now)
        _ = deployment.runHost("blue-2", now: clock.now)
        let written = JSONOutput.encode(deployment.progress)
        let progress = try AWSJSON.makeDecoder().decode(Deployment.Progress.self, from: written)
        let hosts = try deployment.hosts.map {
            try AWSJSON.makeDecoder().decode(HostLifecycle.self, from: JSONOutput.encode($0))
        }
        let restored = Deployment(snapshot: deployment.snapshot, progress: progress, hosts: hosts)
        #expect(restored == deployment)
        #expect(restored.openTrafficRequests.map(\.id) == [command("blue-2", .allowTraffic)])
        #expect(restored.nextDeadline == deployment.nextDeadline)
    }

    /// A canary deployment whose replacement hosts took their AllowTraffic events: the first route is asked for.
    private static func canaryAtFirstShift(_ clock: ManualClock) -> (Deployment, [DeploymentAction]) {
        var deployment = Deployment(
            snapshot: blueGreen(split: TrafficSplitPlan.canary(percent: 10, interval: 300)), now: clock.now)
        _ = deployment.start(now: clock.now)
        var actions: [DeploymentAction] = []
        for name in ["green-1", "green-2", "green-1", "green-2"] {
            actions += deployment.runHost(name, now: clock.now)
        }
        return (deployment, actions)
    }

    private static func route(_ step: Int, _ percent: Int) -> DeploymentAction {
        .routeTraffic(
            TrafficRoute(
                deploymentId: deploymentId, step: step, map: "/etc/haproxy/app.map", originalBackend: "app-a",
                replacementBackend: "app-b", replacementPercent: percent))
    }

    @Test("a canary moves 10 % of requests, waits its interval, then moves the rest before the originals leave")
    func canaryShiftsInSteps() throws {
        var clock = ManualClock()
        var (deployment, actions) = Self.canaryAtFirstShift(clock)
        #expect(deployment.openTrafficRequests.isEmpty)
        #expect(actions.last == Self.route(0, 10))
        #expect(deployment.openTrafficRoute?.replacementPercent == 10)
        #expect(deployment.routeCompleted(0, .succeeded, now: clock.now) == [])
        #expect(deployment.replacementShare == 10)
        #expect(deployment.nextDeadline == clock.now + 300)
        #expect(deployment.statusMessages.first?.hasPrefix("Traffic: 10 % of requests on the replacement") == true)
        #expect(deployment.statuses(["blue-1", "blue-2"]) == [.pending, .pending])
        clock.advance(by: 299)
        #expect(deployment.tick(now: clock.now) == [])
        clock.advance(by: 1)
        #expect(deployment.tick(now: clock.now) == [Self.route(1, 100)])
        let blocking = deployment.routeCompleted(1, .succeeded, now: clock.now)
        #expect(
            blocking == [
                offer("blue-1", .beforeBlockTraffic, at: clock.now),
                offer("blue-2", .beforeBlockTraffic, at: clock.now),
            ])
        #expect(deployment.replacementShare == 100)
        _ = deployment.runHost("blue-1", now: clock.now)
        _ = deployment.runHost("blue-2", now: clock.now)
        #expect(deployment.status == .succeeded)
        // Each side's traffic events name its own backend.
        #expect(
            deployment.host(named: "green-1")?.trafficRequest(command("green-1", .allowTraffic), deployment.snapshot)
                .loadBalancerNames == ["app-b"])
        #expect(
            deployment.host(named: "blue-1")?.trafficRequest(command("blue-1", .blockTraffic), deployment.snapshot)
                .loadBalancerNames == ["app-a"])
    }

    @Test("linear shifting adds its percentage every interval; 0 and 100 % mean all at once")
    func linearSteps() {
        #expect(TrafficSplitPlan.linear(percent: 30, interval: 60).map(\.percent) == [30, 60, 90, 100])
        #expect(TrafficSplitPlan.linear(percent: 30, interval: 60).map(\.wait) == [60, 60, 60, 0])
        #expect(TrafficSplitPlan.canary(percent: 0, interval: 60) == TrafficSplitPlan.allAtOnce())
        #expect(TrafficSplitPlan.linear(percent: 100, interval: 60) == TrafficSplitPlan.allAtOnce())
        #expect(TrafficSplitPlan.canary(percent: -5, interval: 60) == TrafficSplitPlan.allAtOnce())
    }

    @Test("a stop mid-canary sends every request back in one change before the replacements are blocked")
    func stopMidCanary() throws {
        let clock = ManualClock()
        var (deployment, _) = Self.canaryAtFirstShift(clock)
        _ = deployment.routeCompleted(0, .succeeded, now: clock.now)
        let actions = deployment.stop(autoRollbackEnabled: false, now: clock.now)
        #expect(actions == [Self.route(TrafficRoute.restoreStep, 0)])
        #expect(deployment.openTrafficRoute?.step == TrafficRoute.restoreStep)
        let blocking = deployment.routeCompleted(TrafficRoute.restoreStep, .succeeded, now: clock.now)
        #expect(Deployment.traffic(blocking) == ["BlockTraffic green-1", "BlockTraffic green-2"])
        #expect(deployment.replacementShare == 0)
        _ = deployment.trafficCompleted(command("green-1", .blockTraffic), .succeeded, now: clock.now)
        _ = deployment.trafficCompleted(command("green-2", .blockTraffic), .succeeded, now: clock.now)
        #expect(deployment.status == .stopped)
    }

    @Test("a stop while a share is being changed waits for that change before sending the traffic back")
    func stopDuringAShift() throws {
        let clock = ManualClock()
        var (deployment, _) = Self.canaryAtFirstShift(clock)
        #expect(deployment.stop(autoRollbackEnabled: false, now: clock.now) == [])
        #expect(deployment.routeCompleted(0, .succeeded, now: clock.now) == [Self.route(TrafficRoute.restoreStep, 0)])
    }

    @Test("a split the load balancer refuses fails the deployment; the replacements are blocked again")
    func refusedSplit() throws {
        let clock = ManualClock()
        var (deployment, _) = Self.canaryAtFirstShift(clock)
        let actions = deployment.routeCompleted(0, .failed(message: "Unknown map identifier."), now: clock.now)
        #expect(Deployment.traffic(actions) == ["BlockTraffic green-1", "BlockTraffic green-2"])
        _ = deployment.trafficCompleted(command("green-1", .blockTraffic), .succeeded, now: clock.now)
        _ = deployment.trafficCompleted(command("green-2", .blockTraffic), .succeeded, now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(information.code == .elasticLoadBalancingInvalid)
        #expect(information.message?.contains("Unknown map identifier.") == true)
    }

    @Test("a deployment stored mid-shift reads back equal and asks for its open change again")
    func shiftSurvivesARestart() throws {
        let clock = ManualClock()
        let (deployment, _) = Self.canaryAtFirstShift(clock)
        let written = JSONOutput.encode(deployment.progress)
        let progress = try AWSJSON.makeDecoder().decode(Deployment.Progress.self, from: written)
        let restored = Deployment(snapshot: deployment.snapshot, progress: progress, hosts: deployment.hosts)
        #expect(restored == deployment)
        #expect(restored.openTrafficRoute == deployment.openTrafficRoute)
        #expect(restored.openTrafficRoute != nil)
    }
}

@Suite("Blue/green deployments, alarms and bake times")
struct BlueGreenAlarmTests {
    private static func route(_ step: Int, _ percent: Int) -> DeploymentAction {
        .routeTraffic(
            TrafficRoute(
                deploymentId: deploymentId, step: step, map: "/etc/haproxy/app.map", originalBackend: "app-a",
                replacementBackend: "app-b", replacementPercent: percent))
    }

    /// A canary deployment watching the alarm `errors`, with a bake time, whose replacement hosts took their
    /// AllowTraffic events and whose first share moved.
    private static func canaryAfterFirstShift(
        _ clock: ManualClock, bakeTime: TimeInterval, rollback: [CodeDeploy.AutoRollbackEvent] = []
    ) -> Deployment {
        var snapshot = blueGreen(
            autoRollback: rollback.isEmpty ? nil : .init(enabled: true, events: rollback),
            split: TrafficSplitPlan.canary(percent: 10, interval: 300))
        snapshot.alarms = AlarmWatch(alarmNames: ["errors"], ignorePollFailure: false)
        snapshot.bakeTime = bakeTime
        var deployment = Deployment(snapshot: snapshot, now: clock.now)
        _ = deployment.start(now: clock.now)
        for name in ["green-1", "green-2", "green-1", "green-2"] { _ = deployment.runHost(name, now: clock.now) }
        _ = deployment.routeCompleted(0, .succeeded, now: clock.now)
        return deployment
    }

    @Test("a bake time longer than the canary interval lengthens the wait, and bakes again after the last step")
    func bakeAfterEachStep() throws {
        var clock = ManualClock()
        var deployment = Self.canaryAfterFirstShift(clock, bakeTime: 600)
        #expect(deployment.nextDeadline == clock.now + 600)
        clock.advance(by: 599)
        #expect(deployment.tick(now: clock.now) == [])
        clock.advance(by: 1)
        #expect(deployment.tick(now: clock.now) == [Self.route(1, 100)])
        #expect(deployment.routeCompleted(1, .succeeded, now: clock.now) == [])
        #expect(deployment.statusMessages.first?.hasPrefix("Baking: watching the alarm errors until") == true)
        #expect(deployment.statuses(["blue-1", "blue-2"]) == [.pending, .pending])
        clock.advance(by: 600)
        let blocking = deployment.tick(now: clock.now)
        #expect(
            blocking == [
                offer("blue-1", .beforeBlockTraffic, at: clock.now),
                offer("blue-2", .beforeBlockTraffic, at: clock.now),
            ])
    }

    @Test("a bake time shorter than the canary interval leaves the interval as it is")
    func shortBakeKeepsTheInterval() {
        let clock = ManualClock()
        let deployment = Self.canaryAfterFirstShift(clock, bakeTime: 60)
        #expect(deployment.nextDeadline == clock.now + 300)
    }

    @Test("an alarm during the canary sends every request back at once and asks for the rollback")
    func alarmMidCanary() throws {
        var clock = ManualClock()
        var deployment = Self.canaryAfterFirstShift(clock, bakeTime: 0, rollback: [.deploymentStopOnAlarm])
        clock.advance(by: 42)
        #expect(deployment.alarmsRaised(["errors"], now: clock.now) == [Self.route(TrafficRoute.restoreStep, 0)])
        let blocking = deployment.routeCompleted(TrafficRoute.restoreStep, .succeeded, now: clock.now)
        #expect(Deployment.traffic(blocking) == ["BlockTraffic green-1", "BlockTraffic green-2"])
        _ = deployment.trafficCompleted(command("green-1", .blockTraffic), .succeeded, now: clock.now)
        let end = deployment.trafficCompleted(command("green-2", .blockTraffic), .succeeded, now: clock.now)
        #expect(deployment.status == .stopped)
        #expect(deployment.errorInformation?.code == .alarmActive)
        #expect(deployment.replacementShare == 0)
        let request = try #require(deployment.rollbackRequest)
        #expect(request.reason == .deploymentStopOnAlarm)
        #expect(end.last == .requestRollback(request))
    }

    @Test("alarms are watched through the termination wait: an alarm then sends the traffic back")
    func alarmDuringTerminationWait() throws {
        let clock = ManualClock()
        var snapshot = blueGreen(green: ["green-1"], settings: BlueGreenSettings(originalHosts: .terminate(after: 600)))
        snapshot.alarms = AlarmWatch(alarmNames: ["errors"], ignorePollFailure: false)
        var deployment = Deployment(snapshot: snapshot, now: clock.now)
        _ = deployment.start(now: clock.now)
        for name in ["green-1", "green-1", "blue-1", "blue-2"] { _ = deployment.runHost(name, now: clock.now) }
        #expect(deployment.instanceTerminationWaitTimeStarted)
        #expect(deployment.watchedAlarms == ["errors"])
        let actions = deployment.alarmsRaised(["errors"], now: clock.now)
        #expect(Deployment.traffic(actions) == ["AllowTraffic blue-1", "AllowTraffic blue-2"])
    }

    @Test("a deployment stored while baking reads back equal and bakes on")
    func bakingSurvivesARestart() throws {
        var clock = ManualClock()
        var deployment = Self.canaryAfterFirstShift(clock, bakeTime: 600)
        clock.advance(by: 600)
        _ = deployment.tick(now: clock.now)
        _ = deployment.routeCompleted(1, .succeeded, now: clock.now)
        let progress = try AWSJSON.makeDecoder().decode(
            Deployment.Progress.self, from: JSONOutput.encode(deployment.progress))
        let restored = Deployment(snapshot: deployment.snapshot, progress: progress, hosts: deployment.hosts)
        #expect(restored == deployment)
        #expect(restored.nextDeadline == clock.now + 600)
    }
}
