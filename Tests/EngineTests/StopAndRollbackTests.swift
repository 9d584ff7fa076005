import Engine
import Foundation
import SlipwayModel
import Testing

@Suite("Stopping and automatic rollback")
struct StopAndRollbackTests {
    private let onFailure = CodeDeploy.AutoRollbackConfiguration(enabled: true, events: [.deploymentFailure])
    private let onStop = CodeDeploy.AutoRollbackConfiguration(enabled: true, events: [.deploymentStopOnRequest])

    @Test("stop: the running command may finish; pending hosts are Skipped; then the deployment is Stopped")
    func stopLetsRunningCommandFinish() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(hostNames(3)), now: clock.now)
        _ = deployment.start(now: clock.now)
        let running = command("host-1", .applicationStop)
        _ = deployment.commandAcknowledged(running, CommandAcknowledgement(), now: clock.now)
        clock.advance(by: 5)
        #expect(deployment.stop(autoRollbackEnabled: nil, now: clock.now) == [])
        #expect(deployment.status == .inProgress)
        #expect(deployment.isStopping)
        #expect(deployment.stopStatus == .pending)
        #expect(deployment.statusMessages == ["Stopping: waiting for 1 running lifecycle event to finish."])
        #expect(deployment.overview == .init(failed: 0, inProgress: 1, pending: 0, ready: 0, skipped: 2, succeeded: 0))
        #expect(deployment.commandStatus(running) == .inProgress)
        #expect(deployment.stop(autoRollbackEnabled: nil, now: clock.now) == [])

        clock.advance(by: 5)
        let actions = deployment.commandCompleted(running, .success, now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(actions == [.releaseHost(running), .finish(.stopped(information))])
        #expect(information.code == .manualStop)
        #expect(deployment.status == .stopped)
        #expect(deployment.stopStatus == .succeeded)
        let host = try #require(deployment.host(named: "host-1"))
        #expect(host.status == .failed)
        #expect(host.failure == .interrupted(after: .applicationStop))
        #expect(host.events.map(\.status) == [.succeeded] + Array(repeating: .skipped, count: 6))
        #expect(deployment.hostOutcomes.map(\.status) == [.failed, .skipped, .skipped])
        #expect(deployment.hostOutcomes.map(\.attempted) == [true, false, false])
    }

    @Test("stop withdraws offered commands; a host that had not run anything is Skipped")
    func stopWithdrawsOfferedCommands() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(hostNames(2), minimumHealthy: .allAtOnce), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("host-2", .applicationStop), now: clock.now)
        let actions = deployment.stop(autoRollbackEnabled: false, now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(
            actions == [
                .withdrawCommand(command("host-1", .applicationStop)),
                .withdrawCommand(command("host-2", .downloadBundle)),
                .finish(.stopped(information)),
            ])
        #expect(deployment.host(named: "host-1")?.status == .skipped)
        #expect(deployment.host(named: "host-2")?.status == .failed)
        #expect(deployment.commandStatus(command("host-1", .applicationStop)) == .failed)
        #expect(deployment.offeredCommands.isEmpty)
        #expect(deployment.nextDeadline == nil)
    }

    @Test("a running command that fails after the stop fails its host; the deployment is still Stopped")
    func failureWhileStopping() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .applicationStop)
        _ = deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now)
        _ = deployment.stop(autoRollbackEnabled: nil, now: clock.now)
        _ = deployment.commandCompleted(id, failure(), now: clock.now)
        #expect(deployment.status == .stopped)
        #expect(deployment.host(named: "web-1")?.failure == .eventFailed(.applicationStop, .scriptFailed))
    }

    @Test("a running command that never reports after a stop times out, then the deployment is Stopped")
    func stopThenTimeout() {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.commandAcknowledged(command("web-1", .applicationStop), CommandAcknowledgement(), now: clock.now)
        _ = deployment.stop(autoRollbackEnabled: nil, now: clock.now)
        clock.advance(by: 4260)
        let information = CodeDeploy.ErrorInformation(
            code: .manualStop, message: "The deployment was stopped by a StopDeployment request.")
        #expect(
            deployment.tick(now: clock.now) == [
                .releaseHost(command("web-1", .applicationStop)), .finish(.stopped(information)),
            ])
        #expect(deployment.status == .stopped)
    }

    @Test("stopping a deployment that has not started stops it at once and skips every host")
    func stopBeforeStart() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(hostNames(2)), now: clock.now)
        _ = deployment.queue(now: clock.now)
        #expect(deployment.status == .queued)
        let actions = deployment.stop(autoRollbackEnabled: true, now: clock.now)
        #expect(actions.count == 1)
        #expect(deployment.status == .stopped)
        #expect(deployment.startTime == nil)
        #expect(deployment.overview.skipped == 2)
        #expect(deployment.start(now: clock.now) == [])
    }

    @Test("stop with autoRollbackEnabled asks for a rollback once hosts were changed")
    func stopWithRollback() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        _ = deployment.run(command("web-1", .applicationStop), now: clock.now)
        let actions = deployment.stop(autoRollbackEnabled: true, now: clock.now)
        let request = RollbackRequest(
            triggeringDeploymentId: deploymentId, reason: .deploymentStopOnRequest,
            message: "Automatic rollback: deployment \(deploymentId) was stopped.")
        #expect(actions.last == .requestRollback(request))
        #expect(deployment.rollbackRequest == request)
        deployment.recordRollback(deploymentId: "d-ROLLBACK1", message: nil)
        #expect(
            deployment.rollbackInfo
                == CodeDeploy.RollbackInfo(rollbackDeploymentId: "d-ROLLBACK1", rollbackMessage: request.message))
    }

    @Test("stop without autoRollbackEnabled follows DEPLOYMENT_STOP_ON_REQUEST; false overrides it")
    func stopRollbackSetting() {
        let clock = ManualClock()
        func stopped(_ configuration: CodeDeploy.AutoRollbackConfiguration?, _ flag: Bool?) -> [DeploymentAction] {
            var deployment = Deployment(snapshot: snapshot(["web-1"], autoRollback: configuration), now: clock.now)
            _ = deployment.start(now: clock.now)
            _ = deployment.run(command("web-1", .applicationStop), now: clock.now)
            return deployment.stop(autoRollbackEnabled: flag, now: clock.now)
        }
        let asks = { (actions: [DeploymentAction]) in
            actions.contains { if case .requestRollback = $0 { true } else { false } }
        }
        #expect(asks(stopped(onStop, nil)))
        #expect(!asks(stopped(onStop, false)))
        #expect(!asks(stopped(nil, nil)))
        #expect(!asks(stopped(onFailure, nil)))
    }

    @Test("a failed deployment asks for a rollback when DEPLOYMENT_FAILURE is enabled")
    func rollbackOnFailure() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"], autoRollback: onFailure), now: clock.now)
        _ = deployment.start(now: clock.now)
        let actions = deployment.run(command("web-1", .applicationStop), failure(), now: clock.now)
        let information = try #require(deployment.errorInformation)
        #expect(
            actions == [
                .releaseHost(command("web-1", .applicationStop)),
                .finish(.failed(information)),
                .requestRollback(
                    RollbackRequest(
                        triggeringDeploymentId: deploymentId, reason: .deploymentFailure,
                        message: "Automatic rollback: deployment \(deploymentId) failed (HEALTH_CONSTRAINTS).")),
            ])
        deployment.recordRollback(deploymentId: nil, message: "No earlier revision to roll back to.")
        #expect(
            deployment.rollbackInfo
                == CodeDeploy.RollbackInfo(
                    rollbackDeploymentId: nil, rollbackMessage: "No earlier revision to roll back to."))
    }

    @Test("no rollback when it is disabled, not configured for failures, or nothing was changed")
    func noRollback() {
        let clock = ManualClock()
        let disabled = CodeDeploy.AutoRollbackConfiguration(enabled: false, events: [.deploymentFailure])
        for configuration in [nil, disabled, onStop] {
            var deployment = Deployment(snapshot: snapshot(["web-1"], autoRollback: configuration), now: clock.now)
            _ = deployment.start(now: clock.now)
            let actions = deployment.run(command("web-1", .applicationStop), failure(), now: clock.now)
            #expect(!actions.contains { if case .requestRollback = $0 { true } else { false } })
            #expect(deployment.rollbackRequest == nil)
        }
        var empty = Deployment(snapshot: snapshot([], autoRollback: onFailure), now: clock.now)
        #expect(empty.start(now: clock.now).count == 1)
    }

    @Test("a rollback deployment never asks for another rollback, and names the deployment it rolls back")
    func rollbackOfRollback() {
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: snapshot(["web-1"], autoRollback: onFailure, rollbackOf: "d-ORIGINAL1"), now: clock.now)
        _ = deployment.start(now: clock.now)
        let actions = deployment.run(command("web-1", .applicationStop), failure(), now: clock.now)
        #expect(!actions.contains { if case .requestRollback = $0 { true } else { false } })
        #expect(deployment.rollbackInfo?.rollbackTriggeringDeploymentId == "d-ORIGINAL1")
    }
}
