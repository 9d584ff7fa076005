import Foundation
import SlipwayModel

/// The deployment's events. Each takes `now`, changes the value, and returns what the driver must do; none reads a
/// clock. An event that does not apply (a late, duplicate or unknown report, a second stop) changes nothing and
/// returns no action.
extension Deployment {
    /// The deployment waits for its deployment group's in-progress deployment to end (`Created` → `Queued`).
    public mutating func queue(now: Date) -> [DeploymentAction] {
        guard case .created = phase else { return [] }
        phase = .queued
        return []
    }

    /// The deployment starts: it resolves `m`, fails at once without targets (`NO_INSTANCES`) or when `m` is not
    /// below the number of targets (`HEALTH_CONSTRAINTS_INVALID`), and otherwise offers the first commands.
    public mutating func start(now: Date) -> [DeploymentAction] {
        switch phase {
        case .created, .queued: break
        default: return []
        }
        startTime = now
        if snapshot.blueGreen != nil {
            // A blue/green deployment's configuration counts the hosts that take the traffic.
            minimumHealthyHostCount = snapshot.minimumHealthyHosts.count(fleetSize: trafficTakerCount)
            guard trafficTakerCount > 0 else {
                phase = .running
                return finish(.failed(failureInformation(.noInstances)), now: now)
            }
            blueGreenStage = snapshot.isBlueGreenRollback ? .rerouting : .replacing
        } else {
            minimumHealthyHostCount = snapshot.minimumHealthyHosts.count(fleetSize: hosts.count)
        }
        phase = .running
        return settle(now: now)
    }

    /// A poll handed command `id` to its host. Record it so that a pickup timeout can say whether the agent polled.
    public mutating func commandDelivered(_ id: HostCommandID, now: Date) -> [DeploymentAction] {
        modifyHost(for: id, now: now) { host, _, _ in
            host.delivered(id, now: now)
            return []
        }
    }

    /// The agent acknowledged command `id` (`PutHostCommandAcknowledgement`); answer it with ``commandStatus(_:)``.
    ///
    /// A no-op acknowledgement (`IsCommandNoop`) is recorded on the event, which still ends with the agent's report:
    /// CodeDeploy shows an event without scripts as `Succeeded`, and `Skipped` stays reserved for events that never
    /// ran.
    public mutating func commandAcknowledged(
        _ id: HostCommandID, _ acknowledgement: CommandAcknowledgement, now: Date
    ) -> [DeploymentAction] {
        modifyHost(for: id, now: now) { host, snapshot, _ in
            host.acknowledged(id, acknowledgement, now: now, snapshot)
            return []
        }
    }

    /// The agent is still running command `id` (`PostHostCommandUpdate`): its deadline moves later.
    public mutating func heartbeat(_ id: HostCommandID, estimatedCompletion: Date?, now: Date) -> [DeploymentAction] {
        modifyHost(for: id, now: now) { host, snapshot, _ in
            host.heartbeat(id, estimatedCompletion: estimatedCompletion, now: now, snapshot)
            return []
        }
    }

    /// The agent reported command `id`'s end (`PutHostCommandComplete`). Only the first report of a live command
    /// counts: a duplicate keeps the first report's diagnostics, and a report for a command that timed out or was
    /// withdrawn leaves it `Failed`.
    public mutating func commandCompleted(_ id: HostCommandID, _ report: CommandReport, now: Date) -> [DeploymentAction]
    {
        modifyHost(for: id, now: now) { host, snapshot, stopping in
            host.completed(id, report, now: now, stopping: stopping, snapshot)
        }
    }

    /// The traffic controller finished request `id`.
    public mutating func trafficCompleted(_ id: HostCommandID, _ result: TrafficResult, now: Date) -> [DeploymentAction]
    {
        if case .restoring(let restore)? = blueGreenStage, restore.open.contains(id), liveStopping != nil {
            return restoreCompleted(id, result, now: now) + settle(now: now)
        }
        return modifyHost(for: id, now: now) { host, snapshot, stopping in
            host.trafficCompleted(id, result, now: now, stopping: stopping, snapshot)
        }
    }

    /// Time passed: every deadline at or before `now` fires (pickup and running timeouts fail their hosts).
    public mutating func tick(now: Date) -> [DeploymentAction] {
        guard let stopping = liveStopping else { return [] }
        var actions: [DeploymentAction] = []
        let snapshot = self.snapshot
        for position in hosts.indices where (hosts[position].deadline ?? .distantFuture) <= now {
            actions += modify(position) { $0.expire(now: now, stopping: stopping, snapshot) }
        }
        actions += tickBlueGreen(now: now)
        return actions + settle(now: now)
    }

    /// `StopDeployment`. Hosts not started are skipped and offered commands withdrawn at once; commands already
    /// running may finish (or time out), after which their hosts stop. The deployment is `Stopped` (`MANUAL_STOP`)
    /// when nothing runs any more. `autoRollbackEnabled` decides the rollback; `nil` leaves it to the deployment's
    /// `DEPLOYMENT_STOP_ON_REQUEST` setting.
    public mutating func stop(autoRollbackEnabled: Bool?, now: Date) -> [DeploymentAction] {
        let rollBack =
            autoRollbackEnabled.map { $0 && snapshot.rollbackOf == nil }
            ?? snapshot.rollsBack(on: .deploymentStopOnRequest)
        return stop(StopRequest(requestedAt: now, rollBack: rollBack), now: now)
    }

    /// Stops the deployment as `request` asks (see ``stop(autoRollbackEnabled:now:)``).
    mutating func stop(_ request: StopRequest, now: Date) -> [DeploymentAction] {
        switch phase {
        case .created, .queued:
            phase = .stopping(request)
            return settle(now: now)
        case .running:
            phase = .stopping(request)
            var actions: [DeploymentAction] = []
            for position in hosts.indices where !hosts[position].isFinished {
                actions += modify(position) { $0.interrupt(now: now) }
            }
            return actions + settle(now: now)
        case .stopping, .finished:
            return []
        }
    }

    /// The driver created the rollback deployment it was asked for (`deploymentId`), or could not (`nil`, with the
    /// reason in `message`, e.g. no earlier successful revision).
    public mutating func recordRollback(deploymentId: String?, message: String?) {
        rollbackDeploymentId = deploymentId
        if let message { rollbackMessage = message }
    }

    // MARK: Internals

    /// `nil` unless the deployment is running or stopping; then whether it is stopping.
    var liveStopping: Bool? {
        switch phase {
        case .running: false
        case .stopping: true
        default: nil
        }
    }

    /// Applies `change` to the host command `id` belongs to, then settles the fleet.
    private mutating func modifyHost(
        for id: HostCommandID, now: Date,
        _ change: (inout HostLifecycle, DeploymentSnapshot, Bool) -> [DeploymentAction]
    ) -> [DeploymentAction] {
        guard let stopping = liveStopping, id.deploymentId == deploymentId,
            let position = index.positions[id.instanceName]
        else { return [] }
        let snapshot = self.snapshot
        let actions = modify(position) { change(&$0, snapshot, stopping) }
        return actions + settle(now: now)
    }

    /// Every change of a host goes through here, so that the index follows.
    mutating func modify<Result>(_ position: Int, _ change: (inout HostLifecycle) -> Result) -> Result {
        let before = hosts[position].summary
        let result = change(&hosts[position])
        index.update(position, from: before, in: hosts)
        return result
    }

    /// Runs the fleet scheduler (or, when stopping, checks whether anything still runs) and ends the deployment
    /// when it is decided.
    mutating func settle(now: Date) -> [DeploymentAction] {
        switch phase {
        case .running where blueGreenStage != nil:
            return settleBlueGreen(now: now)
        case .running:
            let plan = FleetScheduler.plan(
                tally: index.tally, pendingInOrder: index.pendingNames(hosts), minimumHealthy: minimumHealthyHostCount)
            if case .failed(let code)? = plan.verdict {
                return finish(.failed(failureInformation(code)), now: now)
            }
            if bakeHolds(now: now) { return [] }
            var actions: [DeploymentAction] = []
            for name in plan.start {
                guard let position = index.positions[name] else { continue }
                let snapshot = self.snapshot
                actions += modify(position) { $0.begin(now: now, snapshot) }
            }
            switch plan.verdict {
            case nil:
                // A host may have finished at once (no events): look again.
                return actions.isEmpty && !plan.start.isEmpty ? settle(now: now) : actions
            case .succeeded?:
                return actions + finish(.succeeded, now: now)
            case .failed(let code)?:
                return actions + finish(.failed(failureInformation(code)), now: now)
            }
        case .stopping(let request):
            guard index.tally.inFlight == 0 else { return [] }
            switch blueGreenStage {
            case .restoring?: return []
            // A change of the split under way ends first, so that the route back comes after it.
            case .shifting(let shift)? where shift.open: return []
            default: break
            }
            interruptUnfinished(now: now)
            let information =
                request.information
                ?? CodeDeploy.ErrorInformation(
                    code: .manualStop, message: "The deployment was stopped by a StopDeployment request.")
            return restoreOrFinish(.stopped(information), rollBack: request.rollBack, now: now)
        default:
            return []
        }
    }

    mutating func finish(
        _ outcome: DeploymentOutcome, now: Date, rollBack stopRollBack: Bool = false
    ) -> [DeploymentAction] {
        for position in hosts.indices where hosts[position].status == .pending || hosts[position].status == .ready {
            _ = modify(position) { $0.interrupt(now: now) }
        }
        phase = .finished(outcome)
        completeTime = now
        var actions: [DeploymentAction] = [.finish(outcome)]
        let attempted = hosts.contains { $0.outcome?.attempted == true }
        let request: RollbackRequest?
        switch outcome {
        case .failed(let information) where attempted && snapshot.rollsBack(on: .deploymentFailure):
            request = RollbackRequest(
                triggeringDeploymentId: deploymentId, reason: .deploymentFailure,
                message: "Automatic rollback: deployment \(deploymentId) failed (\(information.code?.rawValue ?? "")).")
        case .stopped(let information) where attempted && stopRollBack && information.code == .alarmActive:
            request = RollbackRequest(
                triggeringDeploymentId: deploymentId, reason: .deploymentStopOnAlarm,
                message: "Automatic rollback: deployment \(deploymentId) was stopped by an alarm.")
        case .stopped where attempted && stopRollBack:
            request = RollbackRequest(
                triggeringDeploymentId: deploymentId, reason: .deploymentStopOnRequest,
                message: "Automatic rollback: deployment \(deploymentId) was stopped.")
        default:
            request = nil
        }
        if let request {
            rollbackRequest = request
            rollbackMessage = request.message
            actions.append(.requestRollback(request))
        }
        return actions
    }

    func failureInformation(_ code: CodeDeploy.ErrorCode) -> CodeDeploy.ErrorInformation {
        switch code {
        case .noInstances:
            return CodeDeploy.ErrorInformation(
                code: code,
                message: "No registered on-premises instance matches the deployment group's tag filters or tag set.")
        case .healthConstraintsInvalid:
            return CodeDeploy.ErrorInformation(
                code: code,
                message: "The deployment cannot succeed: its deployment configuration requires at least "
                    + "\(minimumHealthyHostCount) healthy instances, and the deployment has \(hosts.count).")
        default:
            let failed = hosts.compactMap { host in host.failure.map { "\(host.instanceName): \($0.summary)" } }
            var detail = failed.prefix(5).joined(separator: "; ")
            if failed.count > 5 { detail += "; and \(failed.count - 5) more" }
            let message =
                failed.isEmpty ? Messages.healthConstraints : Messages.healthConstraints + " Slipway: \(detail)."
            return CodeDeploy.ErrorInformation(code: code, message: message)
        }
    }
}
