import Engine
import Foundation
import SlipwayModel
import Testing

@Suite("A host's lifecycle events")
struct HostLifecycleTests {
    @Test("a single host runs its seven events one command at a time, then the deployment succeeds")
    func singleHostSucceeds() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        #expect(deployment.status == .created)
        #expect(deployment.start(now: clock.now) == [offer("web-1", .applicationStop, at: clock.now)])
        #expect(deployment.status == .inProgress)
        #expect(deployment.overview == .init(failed: 0, inProgress: 1, pending: 0, ready: 0, skipped: 0, succeeded: 0))

        for (index, event) in installEvents.enumerated() {
            let id = command("web-1", event)
            #expect(deployment.commandDelivered(id, now: clock.now) == [])
            #expect(deployment.commandStatus(id) == .inProgress)
            #expect(deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now) == [])
            #expect(deployment.commandStatus(id) == .inProgress)
            clock.advance(by: 3)
            let actions = deployment.commandCompleted(id, .success, now: clock.now)
            if index + 1 < installEvents.count {
                #expect(actions == [.releaseHost(id), offer("web-1", installEvents[index + 1], at: clock.now)])
            } else {
                #expect(actions == [.releaseHost(id), .finish(.succeeded)])
            }
            #expect(deployment.commandStatus(id) == .succeeded)
        }
        #expect(deployment.status == .succeeded)
        #expect(deployment.errorInformation == nil)
        #expect(deployment.completeTime == clock.now)
        #expect(deployment.nextDeadline == nil)
        #expect(deployment.hostOutcomes == [HostOutcome(instanceName: "web-1", status: .succeeded)])
        let events = try #require(deployment.host(named: "web-1")).lifecycleEvents
        #expect(events.map(\.lifecycleEventName) == installEvents.map(\.rawValue))
        #expect(events.allSatisfy { $0.status == .succeeded && $0.diagnostics?.errorCode == .success })
        #expect(events[0].startTime == ManualClock().now)
        #expect(events[0].endTime == ManualClock().now + 3)
    }

    @Test("a failed event fails the host; its remaining events are Skipped and keep no times")
    func failureSkipsTheRest() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("web-1", .applicationStop), now: clock.now)
        _ = deployment.run(command("web-1", .downloadBundle), now: clock.now)
        let actions = deployment.run(
            command("web-1", .beforeInstall), failure(script: "scripts/before.sh"), now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.releaseHost(command("web-1", .beforeInstall)), .finish(.failed(information))])
        #expect(information.code == .healthConstraints)
        #expect(information.message?.hasPrefix("The overall deployment failed because too many individual") == true)
        #expect(information.message?.contains("web-1: BeforeInstall failed (ScriptFailed)") == true)

        let host = try #require(deployment.host(named: "web-1"))
        #expect(host.status == .failed)
        #expect(host.failure == .eventFailed(.beforeInstall, .scriptFailed))
        #expect(host.events.map(\.status) == [.succeeded, .succeeded, .failed, .skipped, .skipped, .skipped, .skipped])
        let failed = host.lifecycleEvents[2]
        #expect(failed.diagnostics?.scriptName == "scripts/before.sh")
        #expect(failed.diagnostics?.logTail == "[stderr]boom")
        #expect(host.lifecycleEvents[3].startTime == nil)
        #expect(deployment.hostOutcomes == [HostOutcome(instanceName: "web-1", status: .failed)])
    }

    @Test("ignoreApplicationStopFailures: a failed ApplicationStop stays Failed and the host carries on")
    func ignoreApplicationStopFailures() throws {
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: snapshot(["web-1"], ignoreApplicationStopFailures: true), now: clock.now)
        _ = deployment.start(now: clock.now)
        let actions = deployment.run(command("web-1", .applicationStop), failure(), now: clock.now)
        #expect(
            actions == [
                .releaseHost(command("web-1", .applicationStop)), offer("web-1", .downloadBundle, at: clock.now),
            ])
        #expect(
            deployment.runHost("web-1", now: clock.now) == [
                .releaseHost(command("web-1", .validateService)), .finish(.succeeded),
            ])
        let host = try #require(deployment.host(named: "web-1"))
        #expect(host.status == .succeeded)
        #expect(host.events[0].status == .failed)
        #expect(host.failure == nil)
    }

    @Test("ignoreApplicationStopFailures covers BeforeBlockTraffic and AfterBlockTraffic, not later events")
    func ignoreCoversBlockTrafficHooks() {
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: snapshot(["web-1"], withLoadBalancer: true, ignoreApplicationStopFailures: true),
            now: clock.now)
        #expect(deployment.start(now: clock.now) == [offer("web-1", .beforeBlockTraffic, at: clock.now)])
        let blocked = deployment.run(command("web-1", .beforeBlockTraffic), failure(), now: clock.now)
        #expect(
            blocked == [
                .releaseHost(command("web-1", .beforeBlockTraffic)),
                .performTraffic(TrafficRequest(id: command("web-1", .blockTraffic), hostIdentifier: arn("web-1"))),
            ])
        #expect(deployment.openTrafficRequests.map(\.event) == [.blockTraffic])
        let after = deployment.trafficCompleted(command("web-1", .blockTraffic), .succeeded, now: clock.now)
        #expect(after == [offer("web-1", .afterBlockTraffic, at: clock.now)])
        #expect(
            deployment.run(command("web-1", .afterBlockTraffic), failure(), now: clock.now) == [
                .releaseHost(command("web-1", .afterBlockTraffic)), offer("web-1", .applicationStop, at: clock.now),
            ])
        _ = deployment.run(command("web-1", .applicationStop), failure(), now: clock.now)
        _ = deployment.run(command("web-1", .downloadBundle), failure(.unknownError), now: clock.now)
        #expect(deployment.status == .failed)
    }

    @Test("without ignoreApplicationStopFailures a failed ApplicationStop fails the host")
    func applicationStopFailureCounts() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("web-1", .applicationStop), failure(), now: clock.now)
        #expect(deployment.status == .failed)
        #expect(deployment.host(named: "web-1")?.events.dropFirst().allSatisfy { $0.status == .skipped } == true)
    }

    @Test("with a load balancer the host runs all thirteen events; the server performs the two traffic events")
    func loadBalancerOrder() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"], withLoadBalancer: true), now: clock.now)
        _ = deployment.start(now: clock.now)
        var agentCommands: [String] = []
        var trafficEvents: [LifecycleEvent] = []
        var actions: [DeploymentAction] = []
        while let id = deployment.host(named: "web-1")?.currentCommand {
            if let request = deployment.openTrafficRequests.first {
                trafficEvents.append(request.event)
                actions = deployment.trafficCompleted(request.id, .succeeded, now: clock.now)
            } else {
                agentCommands.append(id.event.rawValue)
                actions = deployment.run(id, now: clock.now)
            }
        }
        #expect(actions == [.releaseHost(command("web-1", .afterAllowTraffic)), .finish(.succeeded)])
        #expect(trafficEvents == [.blockTraffic, .allowTraffic])
        #expect(
            agentCommands == [
                "BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle", "BeforeInstall",
                "Install", "AfterInstall", "ApplicationStart", "ValidateService", "BeforeAllowTraffic",
                "AfterAllowTraffic",
            ])
        #expect(try #require(deployment.host(named: "web-1")).events.count == 13)
    }

    @Test("a failed traffic request fails the host like a failed event")
    func trafficFailure() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"], withLoadBalancer: true), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("web-1", .beforeBlockTraffic), now: clock.now)
        let actions = deployment.trafficCompleted(
            command("web-1", .blockTraffic), .failed(message: "target group refused"), now: clock.now)
        #expect(actions.count == 1)
        let host = try #require(deployment.host(named: "web-1"))
        #expect(host.failure == .trafficFailed(.blockTraffic))
        #expect(host.events[1].diagnostics?.message == "target group refused")
    }

    @Test("a no-op acknowledgement is recorded; the event still ends Succeeded with the agent's report")
    func noopEvent() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .applicationStop)
        _ = deployment.commandAcknowledged(id, CommandAcknowledgement(isNoop: true), now: clock.now)
        #expect(deployment.commandStatus(id) == .inProgress)
        _ = deployment.commandCompleted(id, .success, now: clock.now)
        let record = try #require(deployment.host(named: "web-1")?.events[0])
        #expect(record.isNoop)
        #expect(record.status == .succeeded)
    }

    @Test("hosts map to InstanceTarget and InstanceSummary in one call")
    func apiShapes() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let host = try #require(deployment.host(named: "web-1"))
        let target = host.instanceTarget(deploymentId: deploymentId, targetArn: "arn:slipway:instance/web-1")
        #expect(target.targetId == "web-1")
        #expect(target.status == .inProgress)
        #expect(target.lastUpdatedAt == clock.now)
        #expect(target.lifecycleEvents?.first?.status == .inProgress)
        #expect(target.lifecycleEvents?.last?.status == .pending)
        let summary = host.instanceSummary(deploymentId: deploymentId)
        #expect(summary.instanceId == "web-1")
        #expect(summary.status == .inProgress)
        #expect(deployment.instanceTargets == [host.instanceTarget(deploymentId: deploymentId)])
    }

    @Test("the deployment fills the engine's fields of DeploymentInfo and keeps the others")
    func deploymentInfo() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let info = deployment.deploymentInfo(
            CodeDeploy.DeploymentInfo(applicationName: "app", deploymentGroupName: "group"))
        #expect(info.applicationName == "app")
        #expect(info.deploymentId == deploymentId)
        #expect(info.status == .inProgress)
        #expect(info.createTime == clock.now)
        #expect(info.startTime == clock.now)
        #expect(info.completeTime == nil)
        #expect(info.deploymentOverview == deployment.overview)
        #expect(info.errorInformation == nil)
        #expect(info.ignoreApplicationStopFailures == false)
    }

    @Test("the offered command becomes the PollHostCommand answer")
    func pollAnswer() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let offered = try #require(deployment.offeredCommands.first)
        let execution = DeploymentExecutionID(region: "us-east-1", deploymentGroupId: "g-1", deploymentId: deploymentId)
        let instance = offered.id.instance(for: offered.hostIdentifier, execution: execution)
        #expect(instance.DeploymentExecutionId == "Slipway/us-east-1/g-1/\(deploymentId)")
        #expect(instance.HostCommandIdentifier == "\(deploymentId):web-1:ApplicationStop:1")
        #expect(instance.CommandName == "ApplicationStop")
        #expect(instance.HostIdentifier == arn("web-1"))
        _ = deployment.commandAcknowledged(offered.id, CommandAcknowledgement(), now: clock.now)
        #expect(deployment.offeredCommands.isEmpty)
    }
}
