import Foundation
import SlipwayModel

/// The host's transitions. Each returns the actions for the deployment to pass on.
extension HostLifecycle {
    /// Whether a failure of `event` leaves the host going under `ignoreApplicationStopFailures`.
    static func isIgnorable(_ event: LifecycleEvent) -> Bool {
        event == .applicationStop || event == .beforeBlockTraffic || event == .afterBlockTraffic
    }

    /// The fleet scheduler started the host.
    mutating func begin(now: Date, _ snapshot: DeploymentSnapshot) -> [DeploymentAction] {
        guard case .pending = phase else { return [] }
        return issue(0, now: now, snapshot)
    }

    /// The deployment moves a `Ready` host on, past its hold.
    mutating func proceed(now: Date, _ snapshot: DeploymentSnapshot) -> [DeploymentAction] {
        guard case .ready(let next) = phase else { return [] }
        return issue(next, now: now, snapshot, passingHold: true)
    }

    private mutating func issue(
        _ index: Int, now: Date, _ snapshot: DeploymentSnapshot, passingHold: Bool = false
    ) -> [DeploymentAction] {
        lastUpdatedAt = now
        guard index < events.count else {
            phase = .finished(failure == nil ? .succeeded : .failed)
            return []
        }
        if index == hold && !passingHold {
            phase = .ready(next: index)
            return []
        }
        let id = HostCommandID(
            deploymentId: snapshot.deploymentId, instanceName: instanceName, event: events[index].event)
        events[index].status = .inProgress
        events[index].startTime = now
        events[index].commandId = id
        if events[index].event == .blockTraffic || events[index].event == .allowTraffic {
            let deadline = now + snapshot.timeouts.running + snapshot.timeouts.grace
            phase = .working(Step(index: index, id: id, kind: .traffic, deadline: deadline))
            return [.performTraffic(trafficRequest(id, snapshot))]
        }
        let deadline = now + snapshot.timeouts.pickup
        phase = .working(Step(index: index, id: id, kind: .offered(deliveredAt: nil), deadline: deadline))
        return [.offerCommand(HostCommand(id: id, hostIdentifier: target.hostIdentifier, offeredAt: now))]
    }

    /// A poll handed the offered command to the agent.
    mutating func delivered(_ id: HostCommandID, now: Date) {
        guard case .working(var step) = phase, step.id == id, case .offered(nil) = step.kind else { return }
        step.kind = .offered(deliveredAt: now)
        phase = .working(step)
        lastUpdatedAt = now
    }

    /// The agent acknowledged the command: it runs from now on.
    mutating func acknowledged(
        _ id: HostCommandID, _ acknowledgement: CommandAcknowledgement, now: Date, _ snapshot: DeploymentSnapshot
    ) {
        guard case .working(var step) = phase, step.id == id, case .offered = step.kind else { return }
        let timeouts = snapshot.timeouts
        let limit =
            acknowledgement.maxDuration.map {
                min(max($0, timeouts.reportedDurationBounds.lowerBound), timeouts.reportedDurationBounds.upperBound)
            } ?? timeouts.running
        step.kind = .running(acknowledgedAt: now, limit: limit)
        step.deadline = now + limit + timeouts.grace
        phase = .working(step)
        events[step.index].isNoop = acknowledgement.isNoop
        lastUpdatedAt = now
    }

    /// The agent says the command is still running; the deadline moves to the estimated end (or a full running limit
    /// from now), plus grace, and never earlier.
    mutating func heartbeat(
        _ id: HostCommandID, estimatedCompletion: Date?, now: Date, _ snapshot: DeploymentSnapshot
    ) {
        guard case .working(var step) = phase, step.id == id, case .running(_, let limit) = step.kind else { return }
        let end = estimatedCompletion ?? now + limit
        step.deadline = max(step.deadline, end + snapshot.timeouts.grace)
        phase = .working(step)
        lastUpdatedAt = now
    }

    /// The agent reported the command's end. A report for any other command (finished, withdrawn, timed out) changes
    /// nothing: the first outcome stays.
    mutating func completed(
        _ id: HostCommandID, _ report: CommandReport, now: Date, stopping: Bool, _ snapshot: DeploymentSnapshot
    ) -> [DeploymentAction] {
        guard case .working(let step) = phase, step.id == id else { return [] }
        if case .traffic = step.kind { return [] }
        let failure: HostFailure? =
            report.succeeded ? nil : .eventFailed(step.id.event, report.diagnostics.errorCode ?? .unknownError)
        return [.releaseHost(step.id)]
            + end(step, diagnostics: report.diagnostics, failure: failure, now: now, stopping: stopping, snapshot)
    }

    /// The traffic controller reported a request's end.
    mutating func trafficCompleted(
        _ id: HostCommandID, _ result: TrafficResult, now: Date, stopping: Bool, _ snapshot: DeploymentSnapshot
    ) -> [DeploymentAction] {
        guard case .working(let step) = phase, step.id == id, case .traffic = step.kind else { return [] }
        switch result {
        case .succeeded:
            return end(
                step, diagnostics: CommandReport.success.diagnostics, failure: nil, now: now, stopping: stopping,
                snapshot)
        case .notPerformed(let message):
            var diagnostics = CommandReport.success.diagnostics
            diagnostics.message = message
            return end(step, diagnostics: diagnostics, failure: nil, now: now, stopping: stopping, snapshot)
        case .failed(let message):
            return end(
                step, diagnostics: CommandReport.failure(.unknownError, message: message).diagnostics,
                failure: .trafficFailed(step.id.event), now: now, stopping: stopping, snapshot)
        }
    }

    /// Fails the event in flight if its deadline has passed. Timeouts are never ignored, even for `ApplicationStop`
    /// under `ignoreApplicationStopFailures`: an agent that does not answer will not answer the next event either.
    mutating func expire(now: Date, stopping: Bool, _ snapshot: DeploymentSnapshot) -> [DeploymentAction] {
        guard case .working(let step) = phase, step.deadline <= now else { return [] }
        let event = step.id.event
        switch step.kind {
        case .offered(let deliveredAt):
            let detail =
                deliveredAt == nil
                ? "Slipway: the host's agent did not poll for this command within \(seconds(snapshot.timeouts.pickup))."
                : "Slipway: the host's agent received this command but did not acknowledge it within "
                    + "\(seconds(snapshot.timeouts.pickup))."
            let report = CommandReport.failure(.unknownError, message: Messages.notPickedUp + " " + detail)
            let failure = HostFailure.notPickedUp(event, delivered: deliveredAt != nil)
            return [.withdrawCommand(step.id)]
                + end(step, diagnostics: report.diagnostics, failure: failure, now: now, stopping: stopping, snapshot)
        case .running(let acknowledgedAt, _):
            let report = CommandReport.failure(
                .unknownError,
                message: "Slipway: the host acknowledged \(event.rawValue) but did not report its end within "
                    + "\(seconds(now.timeIntervalSince(acknowledgedAt))). The CodeDeploy agent may have stopped, or "
                    + "the host may be down.")
            return [.releaseHost(step.id)]
                + end(
                    step, diagnostics: report.diagnostics, failure: .noReport(event), now: now, stopping: stopping,
                    snapshot)
        case .traffic:
            let report = CommandReport.failure(
                .unknownError,
                message: "Slipway: \(event.rawValue) did not complete within "
                    + "\(seconds(snapshot.timeouts.running + snapshot.timeouts.grace)).")
            return end(
                step, diagnostics: report.diagnostics, failure: .trafficFailed(event), now: now, stopping: stopping,
                snapshot)
        }
    }

    /// The deployment stops: a host not started is skipped; an offered command is withdrawn; a running command or
    /// traffic request may finish (``completed(_:_:now:stopping:_:)`` then ends the host); a `Ready` host, which
    /// has changed but never took traffic, fails.
    mutating func interrupt(now: Date) -> [DeploymentAction] {
        switch phase {
        case .pending:
            skipRemaining(from: 0)
            phase = .finished(.skipped)
            lastUpdatedAt = now
            return []
        case .ready(let next):
            skipRemaining(from: next)
            failure = failure ?? .interrupted(after: next > 0 ? events[next - 1].event : nil)
            phase = .finished(.failed)
            lastUpdatedAt = now
            return []
        case .working(let step):
            guard case .offered = step.kind else { return [] }
            events[step.index].status = .skipped
            events[step.index].endTime = now
            skipRemaining(from: step.index + 1)
            lastUpdatedAt = now
            if step.index == 0 {
                phase = .finished(.skipped)
            } else {
                failure = failure ?? .interrupted(after: events[step.index - 1].event)
                phase = .finished(.failed)
            }
            return [.withdrawCommand(step.id)]
        case .finished:
            return []
        }
    }

    /// Ends the event in flight and moves on: the next event, or the host's end.
    private mutating func end(
        _ step: Step, diagnostics: CodeDeploy.Diagnostics, failure newFailure: HostFailure?, now: Date,
        stopping: Bool, _ snapshot: DeploymentSnapshot
    ) -> [DeploymentAction] {
        events[step.index].status = newFailure == nil ? .succeeded : .failed
        events[step.index].endTime = now
        events[step.index].diagnostics = diagnostics
        lastUpdatedAt = now
        if let newFailure {
            let ignored: Bool
            switch newFailure {
            case .eventFailed(let event, _):
                ignored = snapshot.ignoreApplicationStopFailures && Self.isIgnorable(event)
            default:
                ignored = false
            }
            if !ignored {
                failure = newFailure
                skipRemaining(from: step.index + 1)
                phase = .finished(.failed)
                return []
            }
        }
        if stopping && step.index + 1 < events.count {
            failure = .interrupted(after: step.id.event)
            skipRemaining(from: step.index + 1)
            phase = .finished(.failed)
            return []
        }
        return issue(step.index + 1, now: now, snapshot)
    }

    private mutating func skipRemaining(from index: Int) {
        for i in index..<events.count where events[i].status == .pending {
            events[i].status = .skipped
        }
    }
}

private func seconds(_ interval: TimeInterval) -> String {
    let whole = Int(interval.rounded())
    return whole == 1 ? "1 second" : "\(whole) seconds"
}
