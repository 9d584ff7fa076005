import Engine
import Foundation
import SlipwayModel
import Testing

@Suite("Deadlines: pickup, running limit, heartbeats")
struct TimeoutTests {
    @Test("a host that never polls fails after the pickup timeout, with CodeDeploy's message and what Slipway saw")
    func neverPolled() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        #expect(deployment.nextDeadline == clock.now + 300)
        clock.advance(by: 299)
        #expect(deployment.tick(now: clock.now) == [])
        clock.advance(by: 1)
        let actions = deployment.tick(now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.withdrawCommand(command("web-1", .applicationStop)), .finish(.failed(information))])
        let host = try #require(deployment.host(named: "web-1"))
        #expect(host.failure == .notPickedUp(.applicationStop, delivered: false))
        let diagnostics = try #require(host.events[0].diagnostics)
        #expect(diagnostics.errorCode == .unknownError)
        #expect(
            diagnostics.message?.hasPrefix(
                "CodeDeploy agent was not able to receive the lifecycle event. Check the CodeDeploy agent logs on "
                    + "your host and make sure the agent is running and can connect to the CodeDeploy server.")
                == true)
        #expect(diagnostics.message?.contains("did not poll for this command within 300 seconds") == true)
        #expect(information.message?.contains("web-1: the agent never polled for ApplicationStop") == true)
        #expect(deployment.commandStatus(command("web-1", .applicationStop)) == .failed)
    }

    @Test("a host that polled but never acknowledged says so")
    func polledButNotAcknowledged() throws {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: snapshot(["web-1"], timeouts: DeploymentTimeouts(pickup: 60)), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.commandDelivered(command("web-1", .applicationStop), now: clock.now)
        clock.advance(by: 60)
        _ = deployment.tick(now: clock.now)
        let host = try #require(deployment.host(named: "web-1"))
        #expect(host.failure == .notPickedUp(.applicationStop, delivered: true))
        #expect(host.events[0].diagnostics?.message?.contains("received this command but did not acknowledge") == true)
    }

    @Test("a command running past 4200 s plus grace fails its host with UnknownError")
    func runningTimeout() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .applicationStop)
        _ = deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now)
        #expect(deployment.nextDeadline == clock.now + 4260)
        clock.advance(by: 4259)
        #expect(deployment.tick(now: clock.now) == [])
        clock.advance(by: 1)
        let actions = deployment.tick(now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.releaseHost(id), .finish(.failed(information))])
        #expect(deployment.status == .failed)
        let host = try #require(deployment.host(named: "web-1"))
        #expect(host.failure == .noReport(.applicationStop))
        #expect(host.events[0].diagnostics?.errorCode == .unknownError)
        #expect(host.events[0].diagnostics?.message?.contains("did not report its end within 4260 seconds") == true)
    }

    @Test("a maximum duration stated in the acknowledgement sets the running limit, within bounds")
    func reportedMaximum() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.commandAcknowledged(
            command("web-1", .applicationStop), CommandAcknowledgement(maxDuration: 120), now: clock.now)
        #expect(deployment.nextDeadline == clock.now + 180)

        var other = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = other.start(now: clock.now)
        _ = other.commandAcknowledged(
            command("web-1", .applicationStop), CommandAcknowledgement(maxDuration: 5), now: clock.now)
        #expect(other.nextDeadline == clock.now + 120)
    }

    @Test("a heartbeat extends a running command's deadline, never shortens it")
    func heartbeatExtends() {
        var clock = ManualClock()
        var deployment = Deployment(
            snapshot: snapshot(["web-1"], timeouts: DeploymentTimeouts(running: 600, grace: 30)), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .install)
        _ = deployment.run(command("web-1", .applicationStop), now: clock.now)
        _ = deployment.run(command("web-1", .downloadBundle), now: clock.now)
        _ = deployment.run(command("web-1", .beforeInstall), now: clock.now)
        _ = deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now)
        #expect(deployment.nextDeadline == clock.now + 630)
        clock.advance(by: 500)
        #expect(deployment.heartbeat(id, estimatedCompletion: nil, now: clock.now) == [])
        #expect(deployment.nextDeadline == clock.now + 630)
        clock.advance(by: 600)
        #expect(deployment.tick(now: clock.now) == [])
        #expect(deployment.heartbeat(id, estimatedCompletion: clock.now - 100, now: clock.now) == [])
        #expect(deployment.nextDeadline == clock.now + 30)
        #expect(deployment.heartbeat(id, estimatedCompletion: clock.now + 900, now: clock.now) == [])
        #expect(deployment.nextDeadline == clock.now + 930)
        #expect(deployment.commandStatus(id) == .inProgress)
    }

    @Test("a heartbeat for a command not yet acknowledged changes nothing")
    func heartbeatBeforeAcknowledgement() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let before = deployment
        _ = deployment.heartbeat(command("web-1", .applicationStop), estimatedCompletion: nil, now: clock.now + 10)
        #expect(deployment == before)
    }

    @Test("tick fires every expired deadline at once, across hosts")
    func tickFiresAll() {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(hostNames(3), minimumHealthy: .allAtOnce), now: clock.now)
        #expect(deployment.start(now: clock.now).count == 3)
        clock.advance(by: 1000)
        let actions = deployment.tick(now: clock.now)
        #expect(actions.filter { if case .withdrawCommand = $0 { true } else { false } }.count == 3)
        #expect(deployment.overview.failed == 3)
        #expect(deployment.status == .failed)
    }
}
