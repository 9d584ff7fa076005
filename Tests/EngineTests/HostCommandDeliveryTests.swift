import Engine
import Foundation
import SlipwayModel
import Testing

/// One host's commands, offered by one or more deployments, reaching it one at a time.
@Suite("Host command delivery")
struct HostCommandDeliveryTests {
    private let clock = ManualClock()

    private func offered(_ instance: String, _ event: LifecycleEvent, deployment: String = deploymentId) -> HostCommand
    {
        HostCommand(
            id: HostCommandID(deploymentId: deployment, instanceName: instance, event: event),
            hostIdentifier: arn(instance), offeredAt: clock.now)
    }

    @Test("a poll hands out the oldest offered command and the host holds it")
    func handsOutOldestFirst() {
        var delivery = HostCommandDelivery()
        #expect(!delivery.mayHandOut(at: clock.now))
        delivery.offer(offered("web-1", .applicationStop))
        delivery.offer(offered("web-1", .applicationStop, deployment: "d-TEST00002"))
        #expect(delivery.mayHandOut(at: clock.now))
        #expect(
            delivery.poll(now: clock.now, heldStatus: nil)
                == .command(command("web-1", .applicationStop), again: false))
        #expect(delivery.held?.id == command("web-1", .applicationStop))
        #expect(delivery.offers.map(\.id.deploymentId) == ["d-TEST00002"])
    }

    @Test("a host holding a command gets nothing else until it ends, then the next")
    func oneCommandPerHost() {
        var clock = clock
        var delivery = HostCommandDelivery()
        let first = offered("web-1", .applicationStop)
        let second = offered("web-1", .applicationStop, deployment: "d-TEST00002")
        delivery.offer(first)
        delivery.offer(second)
        _ = delivery.poll(now: clock.now, heldStatus: nil)
        #expect(!delivery.mayHandOut(at: clock.now), "the next is not offered while one is held")
        #expect(delivery.poll(now: clock.now, heldStatus: .pending) == .nothing)
        clock.advance(by: 3_600)
        #expect(delivery.poll(now: clock.now, heldStatus: .inProgress) == .nothing, "a running command holds the host")
        let freed = delivery.end(first.id)
        #expect(freed, "ending the held command frees the host")
        #expect(delivery.poll(now: clock.now, heldStatus: nil) == .command(second.id, again: false))
    }

    @Test("a command handed out and not acknowledged is handed out again once the grace has passed, not before")
    func redeliveryAfterGrace() {
        var clock = clock
        var delivery = HostCommandDelivery()
        let command = offered("web-1", .downloadBundle)
        delivery.offer(command)
        _ = delivery.poll(now: clock.now, heldStatus: nil)
        #expect(delivery.redeliveryDeadline == clock.now + HostCommandDelivery.redeliveryGrace)
        clock.advance(by: HostCommandDelivery.redeliveryGrace - 1)
        #expect(!delivery.mayHandOut(at: clock.now))
        #expect(delivery.poll(now: clock.now, heldStatus: .pending) == .nothing)
        clock.advance(by: 1)
        #expect(delivery.mayHandOut(at: clock.now))
        #expect(delivery.poll(now: clock.now, heldStatus: .pending) == .command(command.id, again: true))
        #expect(
            delivery.redeliveryDeadline == clock.now + HostCommandDelivery.redeliveryGrace,
            "the grace starts again from the second hand-out")
    }

    @Test("an acknowledged command is never handed out again, however long it runs")
    func acknowledgedIsNotRedelivered() {
        var clock = clock
        var delivery = HostCommandDelivery()
        delivery.offer(offered("web-1", .install))
        _ = delivery.poll(now: clock.now, heldStatus: nil)
        clock.advance(by: 4_000)
        #expect(delivery.poll(now: clock.now, heldStatus: .inProgress) == .nothing)
        #expect(delivery.held != nil)
    }

    @Test("a held command its deployment says has ended is let go, and the host gets its next")
    func endedWithoutBeingTold() {
        var delivery = HostCommandDelivery()
        let first = offered("web-1", .install)
        let next = offered("web-1", .applicationStop, deployment: "d-TEST00002")
        delivery.offer(first)
        _ = delivery.poll(now: clock.now, heldStatus: nil)
        delivery.offer(next)
        for status in [CodeDeployCommand.CommandStatus.failed, .succeeded] {
            var copy = delivery
            #expect(copy.poll(now: clock.now, heldStatus: status) == .command(next.id, again: false))
        }
        #expect(delivery.poll(now: clock.now, heldStatus: nil) == .command(next.id, again: false))
    }

    @Test("a withdrawn command is never handed out; withdrawing the held one frees the host")
    func withdrawn() {
        var delivery = HostCommandDelivery()
        let first = offered("web-1", .applicationStop)
        delivery.offer(first)
        let wasHeld = delivery.end(first.id)
        #expect(!wasHeld, "an offered command was not held")
        #expect(delivery.isIdle)
        #expect(delivery.poll(now: clock.now, heldStatus: nil) == .nothing)
        delivery.offer(first)
        _ = delivery.poll(now: clock.now, heldStatus: nil)
        let heldEnded = delivery.end(first.id)
        #expect(heldEnded)
        #expect(delivery.isIdle)
        let endedAgain = delivery.end(first.id)
        #expect(!endedAgain, "a second end changes nothing")
    }

    @Test("offering a command twice offers it once")
    func offerIsIdempotent() {
        var delivery = HostCommandDelivery()
        let command = offered("web-1", .applicationStop)
        delivery.offer(command)
        delivery.offer(command)
        #expect(delivery.offers.count == 1)
        _ = delivery.poll(now: clock.now, heldStatus: nil)
        delivery.offer(command)
        #expect(delivery.offers.isEmpty, "nor again while it is held")
    }

    @Test("a deployment releases the host when its command ends, and withdraws one never acknowledged")
    func deploymentActionsDriveDelivery() throws {
        var clock = clock
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        var delivery = HostCommandDelivery()
        func perform(_ actions: [DeploymentAction]) -> [String] {
            actions.compactMap { action in
                switch action {
                case .offerCommand(let command):
                    delivery.offer(command)
                    return "offer \(command.commandName)"
                case .withdrawCommand(let id):
                    return delivery.end(id) ? "withdraw held \(id.event.rawValue)" : "withdraw \(id.event.rawValue)"
                case .releaseHost(let id):
                    return delivery.end(id) ? "release \(id.event.rawValue)" : nil
                default:
                    return nil
                }
            }
        }
        #expect(perform(deployment.start(now: clock.now)) == ["offer ApplicationStop"])
        let first = command("web-1", .applicationStop)
        #expect(delivery.poll(now: clock.now, heldStatus: nil) == .command(first, again: false))
        _ = deployment.commandDelivered(first, now: clock.now)
        _ = deployment.commandAcknowledged(first, CommandAcknowledgement(diagnostics: nil), now: clock.now)
        #expect(
            perform(deployment.commandCompleted(first, .success, now: clock.now))
                == ["release ApplicationStop", "offer DownloadBundle"])
        let second = command("web-1", .downloadBundle)
        #expect(delivery.poll(now: clock.now, heldStatus: nil) == .command(second, again: false))
        _ = deployment.commandDelivered(second, now: clock.now)
        clock.advance(by: 300)
        #expect(perform(deployment.tick(now: clock.now)) == ["withdraw held DownloadBundle"])
        #expect(delivery.isIdle)
    }
}
