import Engine
import Foundation
import SlipwayModel
import Testing

@testable import Deployments

/// The driver over a real store: each test is an event (CreateDeployment, a poll, a report, a stop, a restart) and
/// what the store and the agents see after it.
@Suite("The deployment driver")
struct DriverTests {
    @Test("a created deployment offers each host its first command and wakes the host's poll")
    func createOffersFirstCommands() async throws {
        let harness = try await DriverHarness(hosts: ["web-1", "web-2"])
        let id = try await harness.createDeployment()
        for host in ["web-1", "web-2"] {
            #expect(await harness.driver.wakeups.sequence(of: arn(host)) > 0)
            let command = try #require(try await harness.poll(host))
            #expect(command.CommandName == "ApplicationStop")
            #expect(command.HostIdentifier == arn(host))
            #expect(command.HostCommandIdentifier == "\(id):\(host):ApplicationStop:1")
            #expect(command.DeploymentExecutionId == "Slipway/us-east-1/g-1/\(id)")
        }
        #expect(try await harness.deployment(id)?.info.status == .inProgress)
    }

    @Test("a host running one deployment's command is handed another deployment's only once it completes it")
    func busyHostGetsNothing() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let web = try await harness.createDeployment()
        let api = try await harness.createDeployment(to: try await harness.addGroup("api"))
        let first = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(first)
        harness.advance(by: 60)
        #expect(try await harness.poll("web-1") == nil)
        try await harness.complete(first)
        let next = try #require(try await harness.pollCommand("web-1"))
        #expect([web, api].contains(next.deploymentId))
        #expect(next != first)
    }

    @Test("a completed command frees its host, which is handed the next lifecycle event")
    func completionOffersNext() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let id = try await harness.createDeployment()
        let first = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(first)
        let woken = await harness.driver.wakeups.sequence(of: arn("web-1"))
        try await harness.complete(first)
        #expect(await harness.driver.wakeups.sequence(of: arn("web-1")) > woken)
        #expect(
            try await harness.pollCommand("web-1")
                == HostCommandID(
                    deploymentId: id, instanceName: "web-1", event: .downloadBundle))
        let stored = try #require(try await harness.host("web-1", of: id))
        #expect(stored.events.first?.status == .succeeded)
    }

    @Test("every host running every event succeeds the deployment")
    func allEventsSucceed() async throws {
        let harness = try await DriverHarness(hosts: ["web-1", "web-2"])
        let id = try await harness.createDeployment()
        for host in ["web-1", "web-2"] {
            #expect(try await harness.runCommands(of: host) == LifecycleEvent.inPlaceOrder(withLoadBalancer: false))
        }
        #expect(try await harness.deployment(id)?.info.status == .succeeded)
    }

    @Test("a command handed out and never acknowledged is handed out again once the redelivery grace has passed")
    func unacknowledgedCommandIsRedelivered() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        _ = try await harness.createDeployment()
        let first = try #require(try await harness.pollCommand("web-1"))
        harness.advance(by: HostCommandDelivery.redeliveryGrace - 1)
        #expect(try await harness.poll("web-1") == nil, "within the grace the answer may still be on its way")
        harness.advance(by: 1)
        #expect(try await harness.pollCommand("web-1") == first)
    }

    @Test("a stop while a command runs skips the hosts not started, and the deployment stops when the command ends")
    func stopWhileCommandRuns() async throws {
        let harness = try await DriverHarness(hosts: ["web-1", "web-2"], config: "CodeDeployDefault.OneAtATime")
        let id = try await harness.createDeployment()
        let running = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(running)
        #expect(try await harness.poll("web-2") == nil, "one host at a time")

        let stopping = try await harness.driver.apply(.stop(autoRollbackEnabled: nil), to: id, now: harness.now) {
            $0.stopStatus
        }
        #expect(stopping == .pending)
        #expect(try await harness.deployment(id)?.info.status == .inProgress)
        #expect(try await harness.host("web-2", of: id)?.status == .skipped)

        try await harness.complete(running)
        #expect(try await harness.deployment(id)?.info.status == .stopped)
        #expect(try await harness.host("web-1", of: id)?.status == .failed, "it ran only part of the revision")
        #expect(try await harness.poll("web-1") == nil)
    }

    @Test("stopping a deployment that has ended is refused as already completed")
    func stopAfterEndIsRefused() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let id = try await harness.createDeployment()
        try await harness.runCommands(of: "web-1")
        await #expect(throws: DeploymentError.deploymentAlreadyCompleted(id)) {
            try await harness.driver.apply(.stop(autoRollbackEnabled: nil), to: id, now: harness.now)
        }
    }

    @Test("an event for a deployment that does not exist is refused as such")
    func unknownDeploymentIsRefused() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        await #expect(throws: DeploymentError.deploymentDoesNotExist("d-NOSUCH000")) {
            try await harness.driver.apply(.stop(autoRollbackEnabled: nil), to: "d-NOSUCH000", now: harness.now)
        }
    }

    @Test("a new driver over the same store carries a deployment on, handing out no command twice")
    func restartCarriesOn() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let id = try await harness.createDeployment()
        let first = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(first)
        try await harness.complete(first)
        let handedOut = try #require(try await harness.pollCommand("web-1"))

        harness.restart()
        harness.advance(by: 1)
        #expect(try await harness.poll("web-1") == nil, "the command handed out before the restart is not handed again")
        #expect(try await harness.acknowledge(handedOut) == .inProgress)
        try await harness.complete(handedOut)
        #expect(try await harness.runCommands(of: "web-1").first == .beforeInstall)
        #expect(try await harness.deployment(id)?.info.status == .succeeded)
    }

    @Test("a transaction that fails after applying an event leaves no trace, in the store or in the cache")
    func failedTransactionLeavesNoTrace() async throws {
        struct Crash: Error {}
        let harness = try await DriverHarness(hosts: ["web-1"])
        let id = try await harness.createDeployment()
        let first = try #require(try await harness.pollCommand("web-1"))
        await #expect(throws: Crash.self) {
            try await harness.driver.transaction(now: harness.now) { run in
                try run.process(.acknowledged(first, CommandAcknowledgement()), for: first.deploymentId)
                try run.process(.completed(first, .success), for: first.deploymentId)
                throw Crash()
            }
        }
        #expect(try await harness.host("web-1", of: id)?.commandStatus(first) == .pending)
        let answer = try await harness.driver.apply(.tick, to: id, now: harness.now) {
            $0.host(named: "web-1")?.commandStatus(first)
        }
        #expect(answer == .pending, "the cache did not keep what the failed transaction changed")
        #expect(try await harness.acknowledge(first) == .inProgress)
        try await harness.complete(first)
        #expect(try await harness.pollCommand("web-1")?.event == .downloadBundle)
    }

    @Test("at start, a command a live deployment offers but its host's delivery lost is offered again")
    func startReoffersLostOffers() async throws {
        let harness = try await DriverHarness(hosts: ["web-1", "web-2"])
        let id = try await harness.createDeployment()
        let held = try #require(try await harness.pollCommand("web-1"))
        try await harness.store.write { tx in
            for host in ["web-1", "web-2"] { try tx.delete(.commandDelivery, scope: "", name: arn(host)) }
        }
        harness.restart()
        #expect(try await harness.poll("web-2") == nil, "the offer is gone")
        try await harness.driver.resume(now: harness.now)
        #expect(await harness.driver.wakeups.sequence(of: arn("web-2")) > 0)
        #expect(try await harness.pollCommand("web-2")?.event == .applicationStop)
        #expect(
            try await harness.pollCommand("web-1") == held,
            "a command handed out and never acknowledged is offered again")
        try await harness.driver.resume(now: harness.now)
        #expect(try await harness.poll("web-1") == nil, "offering it again while it is held changes nothing")
        #expect(try await harness.deployment(id)?.info.status == .inProgress)
    }

    @Test("at start, a group's queue stored under its name by an earlier version moves under the group's id")
    func startMovesQueuesStoredByName() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let id = try await harness.createDeployment()
        try await harness.store.write { tx in
            try tx.delete(.groupQueue, scope: "", name: "g-1")
            try tx.put(
                .groupQueue, scope: "shop", name: "web", document: Data(#"{"active":"\#(id)","waiting":[]}"#.utf8))
        }
        harness.restart()
        try await harness.driver.resume(now: harness.now)
        let queue = try await harness.store.read { tx in
            (try tx.groupQueue("g-1"), try tx.allRecords(.groupQueue).map { "\($0.scope)/\($0.name)" })
        }
        #expect(queue.0?.active == id)
        #expect(queue.0?.application == "shop" && queue.0?.group == "web")
        #expect(queue.1 == ["/g-1"])
    }

    @Test("a command that runs past its limit frees its host at once for another deployment's command")
    func runningTimeoutReleasesHost() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let web = try await harness.createDeployment()
        let first = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(first)
        harness.advance(by: 4_200)
        let api = try await harness.createDeployment(to: try await harness.addGroup("api"))
        #expect(try await harness.poll("web-1") == nil)
        harness.advance(by: 60)
        let woken = await harness.driver.wakeups.sequence(of: arn("web-1"))
        await harness.driver.tick(now: harness.now)
        #expect(try await harness.deployment(web)?.info.status == .failed)
        #expect(await harness.driver.wakeups.sequence(of: arn("web-1")) > woken, "its held poll is woken at once")
        #expect(try await harness.pollCommand("web-1")?.deploymentId == api)
    }
}

@Suite("Traffic")
struct TrafficTests {
    @Test("the driver asks its traffic controller to block and then allow each host's traffic")
    func trafficEventsGoToTheController() async throws {
        let traffic = RecordingTraffic()
        let harness = try await DriverHarness(hosts: ["web-1"], loadBalancer: true, traffic: traffic)
        let id = try await harness.createDeployment()
        let ran = try await harness.runCommands(of: "web-1")
        #expect(!ran.contains(.blockTraffic) && !ran.contains(.allowTraffic), "agents never run traffic events")
        #expect(traffic.requests.map(\.event) == [.blockTraffic, .allowTraffic])
        #expect(traffic.requests.map(\.hostIdentifier) == [arn("web-1"), arn("web-1")])
        #expect(try await harness.deployment(id)?.info.status == .succeeded)
    }

    @Test("a traffic event the controller fails fails its host, with the controller's message")
    func failedTrafficFailsTheHost() async throws {
        let harness = try await DriverHarness(
            hosts: ["web-1"], loadBalancer: true, traffic: RecordingTraffic(failing: [.blockTraffic]))
        let id = try await harness.createDeployment()
        #expect(try await harness.runCommands(of: "web-1") == [.beforeBlockTraffic])
        let host = try #require(try await harness.host("web-1", of: id))
        #expect(host.status == .failed)
        let block = try #require(host.events.first { $0.event == .blockTraffic })
        #expect(block.status == .failed)
        #expect(block.diagnostics?.message == "the load balancer refused")
    }

    @Test("a traffic event is performed after its transaction commits, and shows InProgress until it ends")
    func trafficAfterCommit() async throws {
        let traffic = RecordingTraffic()
        let harness = try await DriverHarness(hosts: ["web-1"], loadBalancer: true, traffic: traffic)
        let id = try await harness.createDeployment()
        let before = try #require(try await harness.pollCommand("web-1"))
        #expect(before.event == .beforeBlockTraffic)
        try await harness.acknowledge(before)
        try await harness.complete(before)
        #expect(traffic.requests.isEmpty, "nothing is performed inside the agent's request")
        let waiting = try #require(try await harness.host("web-1", of: id))
        #expect(waiting.events.first { $0.event == .blockTraffic }?.status == .inProgress)
        #expect(try await harness.poll("web-1") == nil, "the host's next event waits for the load balancer")
        await harness.performTraffic()
        #expect(traffic.requests.map(\.event) == [.blockTraffic])
        #expect(try await harness.pollCommand("web-1")?.event == .afterBlockTraffic)
    }

    @Test("the stored traffic state marks a server changing while its event runs, then holds what it became")
    func trafficStateFollowsTheEvents() async throws {
        let harness = try await DriverHarness(
            hosts: ["web-1", "web-2"], loadBalancer: true, traffic: RecordingTraffic(failing: [.allowTraffic]))
        _ = try await harness.createDeployment()
        for host in ["web-1", "web-2"] {
            let before = try #require(try await harness.pollCommand(host))
            try await harness.acknowledge(before)
            try await harness.complete(before)
        }
        let changing = try await harness.store.read { try $0.trafficState() }
        #expect(changing.changing == ["web-lb/web-1", "web-lb/web-2"])
        #expect(changing.servers.isEmpty)
        await harness.performTraffic()
        let blocked = try await harness.store.read { try $0.trafficState() }
        #expect(blocked.changing.isEmpty)
        #expect(blocked.servers == ["web-lb/web-1": .maintenance, "web-lb/web-2": .maintenance])
        _ = try await harness.runCommands(of: "web-1")
        // Its AllowTraffic failed: the controller left it in maintenance, and that is what stays wanted.
        let allowed = try await harness.store.read { try $0.trafficState() }
        #expect(allowed.servers["web-lb/web-1"] == .maintenance)
    }

    @Test("a traffic event under way when the server stops is performed again when it starts")
    func restartPerformsOpenTraffic() async throws {
        let traffic = RecordingTraffic()
        let harness = try await DriverHarness(hosts: ["web-1"], loadBalancer: true, traffic: traffic)
        _ = try await harness.createDeployment()
        let before = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(before)
        try await harness.complete(before)
        harness.restart()  // the queued request is lost with the process
        await harness.performTraffic()
        #expect(traffic.requests.isEmpty)
        try await harness.driver.resume(now: harness.now)
        await harness.performTraffic()
        #expect(traffic.requests.map(\.event) == [.blockTraffic])
        #expect(try await harness.pollCommand("web-1")?.event == .afterBlockTraffic)
    }

    @Test("a traffic event that never ends fails its host at the event's deadline")
    func trafficTimesOut() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"], loadBalancer: true, traffic: RecordingTraffic())
        let id = try await harness.createDeployment()
        let before = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(before)
        try await harness.complete(before)
        harness.advance(by: 4_200 + 60)
        await harness.driver.tick(now: harness.now)
        let host = try #require(try await harness.host("web-1", of: id))
        #expect(host.status == .failed)
        #expect(host.events.first { $0.event == .blockTraffic }?.status == .failed)
        await harness.performTraffic()  // the late answer changes nothing
        #expect(try await harness.host("web-1", of: id)?.status == .failed)
    }

    @Test(
        "a group whose load balancer Slipway does not drive shows its traffic events Succeeded, saying traffic was not changed"
    )
    func noLoadBalancerSaysSo() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"], loadBalancer: true)
        let id = try await harness.createDeployment()
        try await harness.runCommands(of: "web-1")
        let host = try #require(try await harness.host("web-1", of: id))
        for event in [LifecycleEvent.blockTraffic, .allowTraffic] {
            let record = try #require(host.events.first { $0.event == event })
            #expect(record.status == .succeeded)
            #expect(record.diagnostics?.message?.contains("traffic was not changed") == true)
        }
        #expect(try await harness.deployment(id)?.info.status == .succeeded)
    }
}
