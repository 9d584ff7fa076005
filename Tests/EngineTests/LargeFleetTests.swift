import Engine
import Foundation
import SlipwayModel
import Testing

/// A deployment keeps counts, positions and deadlines of its hosts as they change, instead of looking at every host
/// on every event. These tests hold those read-outs against a recount from the hosts themselves.
@Suite("Large fleets: counts, the next hosts and the next deadline follow every event")
struct LargeFleetTests {
    /// The read-outs recomputed from scratch.
    private func expectConsistent(_ deployment: Deployment, _ note: String) {
        let count = { (status: CodeDeploy.TargetStatus) in Int64(deployment.hosts.count { $0.status == status }) }
        let overview = CodeDeploy.DeploymentOverview(
            failed: count(.failed), inProgress: count(.inProgress), pending: count(.pending), ready: count(.ready),
            skipped: count(.skipped), succeeded: count(.succeeded))
        #expect(deployment.overview == overview, "\(note)")
        #expect(deployment.nextDeadline == deployment.hosts.compactMap(\.deadline).min(), "\(note)")
    }

    @Test("a fleet of 200, 50 at a time, with failures, timeouts and heartbeats: overview and deadline stay exact")
    func readOutsFollowEveryEvent() throws {
        var clock = ManualClock()
        let names = hostNames(200)
        var deployment = Deployment(
            snapshot: snapshot(names, minimumHealthy: .hostCount(150)), now: clock.now)
        _ = deployment.start(now: clock.now)
        expectConsistent(deployment, "at start")
        #expect(deployment.overview.inProgress == 50)
        var step = 0
        while !deployment.isFinished, step < 5_000 {
            step += 1
            clock.advance(by: 1)
            let inFlight = deployment.hosts.filter { $0.currentCommand != nil }
            guard !inFlight.isEmpty else { break }
            // Hosts answer in a scrambled order; every 37th host never acknowledges, every 23rd fails.
            let host = inFlight[(step * 7) % inFlight.count]
            let id = try #require(host.currentCommand)
            let number = Int(host.instanceName.dropFirst("host-".count)) ?? 0
            if number % 37 == 0 {
                clock.advance(by: 10)
                _ = deployment.tick(now: clock.now)
            } else if number % 23 == 0, id.event == .beforeInstall {
                _ = deployment.run(id, failure(), now: clock.now)
            } else {
                _ = deployment.commandDelivered(id, now: clock.now)
                _ = deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now)
                if step % 5 == 0 { _ = deployment.heartbeat(id, estimatedCompletion: nil, now: clock.now) }
                _ = deployment.commandCompleted(id, .success, now: clock.now)
            }
            expectConsistent(deployment, "after step \(step)")
            if step % 40 == 0 {
                clock.advance(by: 300)
                _ = deployment.tick(now: clock.now)
                expectConsistent(deployment, "after the tick of step \(step)")
            }
        }
        #expect(deployment.isFinished)
        expectConsistent(deployment, "at the end")
    }

    @Test("a stopped fleet shows its counts and no deadline")
    func stoppedFleet() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(hostNames(30), minimumHealthy: .hostCount(20)), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("host-1", .applicationStop), now: clock.now)
        _ = deployment.commandAcknowledged(command("host-1", .downloadBundle), CommandAcknowledgement(), now: clock.now)
        _ = deployment.stop(autoRollbackEnabled: false, now: clock.now)
        expectConsistent(deployment, "while stopping")
        #expect(deployment.statusMessages == ["Stopping: waiting for 1 running lifecycle event to finish."])
        _ = deployment.runHost("host-1", now: clock.now)
        expectConsistent(deployment, "stopped")
        #expect(deployment.status == .stopped)
        #expect(deployment.nextDeadline == nil)
    }

    @Test("the scheduler reads only the pending hosts it starts, plus one")
    func schedulerReadsFewHosts() {
        final class Reads { var count = 0 }
        let reads = Reads()
        let pending = (1...1_000).lazy.map { number -> String in
            reads.count += 1
            return "host-\(number)"
        }
        let tally = FleetScheduler.Tally(pending: 1_000, inFlight: 998, succeeded: 2)
        let plan = FleetScheduler.plan(tally: tally, pendingInOrder: pending, minimumHealthy: 1_000)
        #expect(plan.start == ["host-1", "host-2"])
        #expect(reads.count <= 3)
    }

    @Test("planning from counts agrees with planning from every host")
    func countsAgreeWithHosts() {
        let phases: [FleetScheduler.HostPhase] = [.pending, .inFlight, .succeeded, .failed, .skipped]
        for seed in 0..<300 {
            var generator = UInt64(seed) &* 2_654_435_761 &+ 1
            let size = seed % 13
            let hosts = (0..<size).map { position -> FleetScheduler.ObservedHost in
                generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return FleetScheduler.ObservedHost("host-\(position)", phases[Int((generator >> 33) % 5)])
            }
            let m = seed % 7
            let fromCounts = FleetScheduler.plan(
                tally: FleetScheduler.Tally(hosts),
                pendingInOrder: hosts.filter { $0.phase == .pending }.map(\.instanceName), minimumHealthy: m)
            #expect(fromCounts == FleetScheduler.plan(hosts: hosts, minimumHealthy: m), "seed \(seed)")
        }
    }

    @Test("only the hosts an event changed are left to save")
    func unsavedHosts() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(hostNames(100), minimumHealthy: .allAtOnce), now: clock.now)
        #expect(deployment.unsavedHostPositions.count == 100)
        deployment.markHostsSaved()
        _ = deployment.start(now: clock.now)
        #expect(deployment.unsavedHostPositions.count == 100)
        deployment.markHostsSaved()
        _ = deployment.commandDelivered(command("host-42", .applicationStop), now: clock.now)
        #expect(deployment.unsavedHostPositions == [41])
        deployment.markHostsSaved()
        _ = deployment.commandCompleted(command("host-7", .applicationStop), .success, now: clock.now)
        #expect(deployment.unsavedHostPositions == [6])
    }
}
