import Foundation
import SlipwayModel

/// One host's part of a deployment: its lifecycle events, run one at a time in order.
///
/// A sub-machine of ``Deployment``: the deployment hands it events and collects the actions it returns. A host is
/// `Pending` until the fleet scheduler starts it, `InProgress` while an event is offered, running or being
/// performed by the load balancer, and ends `Succeeded`, `Failed` or `Skipped`.
public struct HostLifecycle: Codable, Sendable, Hashable {
    /// The host.
    public let target: DeploymentTarget
    /// Its lifecycle events, in order, with their status, times and diagnostics.
    public private(set) var events: [LifecycleEventRecord]
    /// When anything about the host last changed.
    public private(set) var lastUpdatedAt: Date?
    /// Why the host failed, when it did.
    public private(set) var failure: HostFailure?
    private(set) var phase: Phase

    enum Phase: Codable, Sendable, Hashable {
        case pending
        case working(Step)
        case finished(CodeDeploy.TargetStatus)
    }

    /// The lifecycle event in flight.
    struct Step: Codable, Sendable, Hashable {
        var index: Int
        var id: HostCommandID
        var kind: Kind
        var deadline: Date
    }

    enum Kind: Codable, Sendable, Hashable {
        /// Offered to the agent; `deliveredAt` once a poll took it.
        case offered(deliveredAt: Date?)
        /// Acknowledged by the agent, which runs it for at most `limit` seconds.
        case running(acknowledgedAt: Date, limit: TimeInterval)
        /// Being performed by the traffic controller.
        case traffic
    }

    init(target: DeploymentTarget, events: [LifecycleEvent]) {
        self.target = target
        self.events = events.map { LifecycleEventRecord(event: $0) }
        self.phase = .pending
    }

    /// The on-premises instance name.
    public var instanceName: String { target.instanceName }

    /// The host's status.
    public var status: CodeDeploy.TargetStatus {
        switch phase {
        case .pending: .pending
        case .working: .inProgress
        case .finished(let status): status
        }
    }

    /// Whether the host has finished (succeeded, failed or skipped).
    public var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// The command offered to the host and not yet acknowledged, if any.
    public var offeredCommand: HostCommand? {
        guard case .working(let step) = phase, case .offered = step.kind else { return nil }
        return HostCommand(id: step.id, hostIdentifier: target.hostIdentifier, offeredAt: events[step.index].startTime!)
    }

    /// The traffic request being performed for the host, if any.
    public var openTrafficRequest: TrafficRequest? {
        guard case .working(let step) = phase, case .traffic = step.kind else { return nil }
        return TrafficRequest(id: step.id, hostIdentifier: target.hostIdentifier)
    }

    /// The command or traffic request in flight, if any.
    public var currentCommand: HostCommandID? {
        guard case .working(let step) = phase else { return nil }
        return step.id
    }

    /// When the event in flight times out, if one is in flight.
    public var deadline: Date? {
        guard case .working(let step) = phase else { return nil }
        return step.deadline
    }

    /// The answer to an agent asking about command `id`: `Pending` while offered, `InProgress` while running, the
    /// final status once it ended (`Failed` for one that timed out or was withdrawn); `nil` for a command this host
    /// never had.
    public func commandStatus(_ id: HostCommandID) -> CodeDeployCommand.CommandStatus? {
        if case .working(let step) = phase, step.id == id {
            if case .offered = step.kind { return .pending }
            return .inProgress
        }
        guard let record = events.first(where: { $0.commandId == id }) else { return nil }
        switch record.status {
        case .succeeded: return .succeeded
        case .pending: return .pending
        case .inProgress: return .inProgress
        default: return .failed
        }
    }

    /// The lifecycle events as the API shows them.
    public var lifecycleEvents: [CodeDeploy.LifecycleEvent] { events.map(\.codeDeploy) }

    /// The host as `BatchGetDeploymentTargets` shows it.
    public func instanceTarget(deploymentId: String, targetArn: String? = nil) -> CodeDeploy.InstanceTarget {
        CodeDeploy.InstanceTarget(
            deploymentId: deploymentId, lastUpdatedAt: lastUpdatedAt, lifecycleEvents: lifecycleEvents,
            status: status, targetArn: targetArn, targetId: instanceName)
    }

    /// The host as the deprecated `BatchGetDeploymentInstances` shows it.
    public func instanceSummary(deploymentId: String, instanceId: String? = nil) -> CodeDeploy.InstanceSummary {
        CodeDeploy.InstanceSummary(
            deploymentId: deploymentId, instanceId: instanceId ?? instanceName, lastUpdatedAt: lastUpdatedAt,
            lifecycleEvents: lifecycleEvents, status: CodeDeploy.InstanceStatus(rawValue: status.rawValue))
    }

    /// The host's outcome once it finished, for instance-health bookkeeping; `nil` while it has not.
    public var outcome: HostOutcome? {
        guard case .finished(let status) = phase else { return nil }
        return HostOutcome(instanceName: instanceName, status: status)
    }
}

/// One lifecycle event of one host.
public struct LifecycleEventRecord: Codable, Sendable, Hashable {
    /// The event.
    public let event: LifecycleEvent
    /// `Pending`, `InProgress`, `Succeeded`, `Failed` or `Skipped`.
    public internal(set) var status: CodeDeploy.LifecycleEventStatus
    /// When the event was offered to the host (or handed to the traffic controller).
    public internal(set) var startTime: Date?
    /// When it ended.
    public internal(set) var endTime: Date?
    /// The diagnostics of its end.
    public internal(set) var diagnostics: CodeDeploy.Diagnostics?
    /// The command that ran it, once issued.
    public internal(set) var commandId: HostCommandID?
    /// Whether the agent said it had no scripts to run for it.
    public internal(set) var isNoop: Bool

    init(event: LifecycleEvent) {
        self.event = event
        self.status = .pending
        self.isNoop = false
    }

    /// The event as the API shows it.
    public var codeDeploy: CodeDeploy.LifecycleEvent {
        CodeDeploy.LifecycleEvent(
            diagnostics: diagnostics, endTime: endTime, lifecycleEventName: event.rawValue, startTime: startTime,
            status: status)
    }
}

/// How a host ended, for instance-health and revision bookkeeping: health becomes Healthy iff `Succeeded`; a
/// `Skipped` host was not touched and keeps its health and revision.
public struct HostOutcome: Codable, Sendable, Hashable {
    public var instanceName: String
    public var status: CodeDeploy.TargetStatus

    public init(instanceName: String, status: CodeDeploy.TargetStatus) {
        self.instanceName = instanceName
        self.status = status
    }

    /// Whether the deployment changed the instance (it succeeded or failed on it).
    public var attempted: Bool { status == .succeeded || status == .failed }
}

/// Why a host failed.
public enum HostFailure: Codable, Sendable, Hashable {
    /// The agent reported the event failed.
    case eventFailed(LifecycleEvent, CodeDeploy.LifecycleErrorCode)
    /// The agent did not acknowledge the event's command within the pickup timeout; `delivered` tells whether it had
    /// polled for it at all.
    case notPickedUp(LifecycleEvent, delivered: Bool)
    /// The agent acknowledged the event but did not report its end in time.
    case noReport(LifecycleEvent)
    /// The traffic controller failed or did not finish the event in time.
    case trafficFailed(LifecycleEvent)
    /// The deployment stopped after the host had changed but before it finished; `event` is the last one it ran.
    case interrupted(after: LifecycleEvent?)

    /// One line for messages.
    public var summary: String {
        switch self {
        case .eventFailed(let event, let code): "\(event.rawValue) failed (\(code.rawValue))"
        case .notPickedUp(let event, true): "the agent received \(event.rawValue) but never acknowledged it"
        case .notPickedUp(let event, false): "the agent never polled for \(event.rawValue)"
        case .noReport(let event): "the agent did not report the end of \(event.rawValue)"
        case .trafficFailed(let event): "\(event.rawValue) did not complete"
        case .interrupted(let event?): "the deployment stopped after \(event.rawValue)"
        case .interrupted(nil): "the deployment stopped"
        }
    }
}

/// CodeDeploy's texts that Slipway repeats word for word.
enum Messages {
    static let notPickedUp =
        "CodeDeploy agent was not able to receive the lifecycle event. Check the CodeDeploy agent logs on your host "
        + "and make sure the agent is running and can connect to the CodeDeploy server."
    static let healthConstraints =
        "The overall deployment failed because too many individual instances failed deployment, too few healthy "
        + "instances are available for deployment, or some instances in your deployment group are experiencing "
        + "problems."
}

// MARK: - Transitions

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

    private mutating func issue(_ index: Int, now: Date, _ snapshot: DeploymentSnapshot) -> [DeploymentAction] {
        lastUpdatedAt = now
        guard index < events.count else {
            phase = .finished(failure == nil ? .succeeded : .failed)
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
            return [.performTraffic(TrafficRequest(id: id, hostIdentifier: target.hostIdentifier))]
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
        return end(step, diagnostics: report.diagnostics, failure: failure, now: now, stopping: stopping, snapshot)
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
            return end(
                step, diagnostics: report.diagnostics, failure: .noReport(event), now: now, stopping: stopping, snapshot
            )
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
    /// traffic request may finish (``completed(_:_:now:stopping:_:)`` then ends the host).
    mutating func interrupt(now: Date) -> [DeploymentAction] {
        switch phase {
        case .pending:
            skipRemaining(from: 0)
            phase = .finished(.skipped)
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
