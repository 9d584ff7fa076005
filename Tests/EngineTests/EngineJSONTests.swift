import Foundation
import SlipwayModel
import Testing

@testable import Engine

/// A host is written with the hand-written writers and read back with the synthesized `Decodable`: every phase,
/// command kind and failure must survive the trip unchanged.
@Suite("Engine JSON writers")
struct EngineJSONTests {
    private static let now = Date(timeIntervalSince1970: 1_764_245_123.25)
    private static let id = HostCommandID(deploymentId: "d-ABCDEFGHI", instanceName: "web-1", event: .install)

    private static func host(phase: HostLifecycle.Phase, failure: HostFailure? = nil) -> HostLifecycle {
        var host = HostLifecycle(
            target: DeploymentTarget(
                instanceName: "web-1", hostIdentifier: "arn:aws:iam::000000000000:user/web-1",
                instanceHealth: .unhealthy, revisionHealth: .old),
            events: [.applicationStop, .downloadBundle, .install])
        host.phase = phase
        host.failure = failure
        host.lastUpdatedAt = now
        host.events[0].status = .succeeded
        host.events[0].startTime = now
        host.events[0].endTime = now.addingTimeInterval(1.5)
        host.events[0].isNoop = true
        host.events[0].commandId = HostCommandID(
            deploymentId: "d-ABCDEFGHI", instanceName: "web-1", event: .applicationStop)
        host.events[1].status = .failed
        host.events[1].diagnostics = CodeDeploy.Diagnostics(
            errorCode: .scriptFailed, logTail: "line 1\nline \"2\"", message: "Script at specified location: x failed",
            scriptName: "scripts/stop.sh")
        return host
    }

    static let phases: [HostLifecycle.Phase] = [
        .pending,
        .working(.init(index: 2, id: id, kind: .offered(deliveredAt: nil), deadline: now)),
        .working(.init(index: 2, id: id, kind: .offered(deliveredAt: now), deadline: now)),
        .working(.init(index: 2, id: id, kind: .running(acknowledgedAt: now, limit: 3600.5), deadline: now)),
        .working(.init(index: 1, id: id, kind: .traffic, deadline: now)),
        .finished(.succeeded),
    ]

    static let failures: [HostFailure?] = [
        nil,
        .eventFailed(.install, .scriptFailed),
        .notPickedUp(.install, delivered: true),
        .notPickedUp(.downloadBundle, delivered: false),
        .noReport(.afterInstall),
        .trafficFailed(.allowTraffic),
        .interrupted(after: .install),
        .interrupted(after: nil),
    ]

    @Test("every phase reads back equal", arguments: phases)
    func phaseRoundTrip(_ phase: HostLifecycle.Phase) throws {
        let host = Self.host(phase: phase)
        let decoded = try AWSJSON.makeDecoder().decode(HostLifecycle.self, from: JSONOutput.encode(host))
        #expect(decoded == host)
    }

    @Test("every failure reads back equal", arguments: failures)
    func failureRoundTrip(_ failure: HostFailure?) throws {
        let host = Self.host(phase: .finished(.failed), failure: failure)
        let decoded = try AWSJSON.makeDecoder().decode(HostLifecycle.self, from: JSONOutput.encode(host))
        #expect(decoded == host)
    }

    @Test("the document is the one JSONEncoder writes")
    func sameDocumentAsJSONEncoder() throws {
        for phase in Self.phases {
            let host = Self.host(phase: phase, failure: .notPickedUp(.install, delivered: true))
            let ours = try JSONReader.value(from: JSONOutput.encode(host))
            let theirs = try JSONReader.value(from: AWSJSON.makeEncoder().encode(host))
            #expect(ours == theirs)
        }
    }
}

/// A deployment's progress is written on every event with the hand-written writers and read with the synthesized
/// `Decodable` when the cache has lost it, so every phase must survive the trip.
@Suite("Deployment progress JSON")
struct ProgressJSONTests {
    /// The progress of deployments in every phase: created, queued, running, stopping, and finished in each way,
    /// with a rollback asked for.
    static func progresses() -> [Deployment.Progress] {
        var clock = ManualClock()
        var list: [Deployment.Progress] = []
        var queued = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        list.append(queued.progress)
        _ = queued.queue(now: clock.now)
        list.append(queued.progress)

        let rollback = CodeDeploy.AutoRollbackConfiguration(
            enabled: true, events: [.deploymentFailure, .deploymentStopOnRequest])
        var stopping = Deployment(snapshot: snapshot(["web-1"], autoRollback: rollback), now: clock.now)
        _ = stopping.start(now: clock.now)
        list.append(stopping.progress)
        clock.advance(by: 1.25)
        let first = stopping.host(named: "web-1")!.currentCommand!
        _ = stopping.commandDelivered(first, now: clock.now)
        _ = stopping.commandAcknowledged(first, CommandAcknowledgement(), now: clock.now)
        _ = stopping.stop(autoRollbackEnabled: true, now: clock.now)
        list.append(stopping.progress)
        _ = stopping.commandCompleted(first, .success, now: clock.now)
        list.append(stopping.progress)

        var failed = Deployment(snapshot: snapshot(["web-1"], autoRollback: rollback), now: clock.now)
        _ = failed.start(now: clock.now)
        _ = failed.runHost("web-1", failAt: .applicationStop, now: clock.now)
        failed.recordRollback(deploymentId: "d-ROLLBACK1", message: "Rolling back \"d-TEST00001\".")
        list.append(failed.progress)

        var succeeded = FleetRun(snapshot(hostNames(3), minimumHealthy: .allAtOnce))
        _ = succeeded.run()
        list.append(succeeded.deployment.progress)
        return list
    }

    @Test("every phase reads back equal and is the document JSONEncoder writes")
    func roundTrip() throws {
        let progresses = Self.progresses()
        for progress in progresses {
            let written = JSONOutput.encode(progress)
            #expect(try AWSJSON.makeDecoder().decode(Deployment.Progress.self, from: written) == progress)
            #expect(
                try JSONReader.value(from: written) == JSONReader.value(from: AWSJSON.makeEncoder().encode(progress)))
        }
        // The cases above reach every phase.
        let phases = Set(progresses.map { String(describing: $0.phase).prefix(while: { $0 != "(" }) })
        #expect(phases == ["created", "queued", "running", "stopping", "finished"])
    }
}
