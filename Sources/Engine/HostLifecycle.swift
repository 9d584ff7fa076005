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
    public internal(set) var events: [LifecycleEventRecord]
    /// When anything about the host last changed.
    public internal(set) var lastUpdatedAt: Date?
    /// Why the host failed, when it did.
    public internal(set) var failure: HostFailure?
    /// The event before which the host stops in `Ready` until its deployment moves on (a blue/green replacement
    /// host, before `BeforeAllowTraffic`); `nil` when it runs its events through.
    let hold: Int?
    var phase: Phase

    enum Phase: Codable, Sendable, Hashable {
        case pending
        case working(Step)
        /// Stopped before event `next` (the hold), waiting for its deployment.
        case ready(next: Int)
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

    init(target: DeploymentTarget, events: [LifecycleEvent], holdBefore: LifecycleEvent? = nil) {
        self.target = target
        self.events = events.map { LifecycleEventRecord(event: $0) }
        self.hold = holdBefore.flatMap { events.firstIndex(of: $0) }
        self.phase = .pending
    }

    private enum CodingKeys: String, CodingKey {
        case target, events, lastUpdatedAt, failure, hold, phase
    }

    /// The on-premises instance name.
    public var instanceName: String { target.instanceName }

    /// The host's status.
    public var status: CodeDeploy.TargetStatus {
        switch phase {
        case .pending: .pending
        case .working: .inProgress
        case .ready: .ready
        case .finished(let status): status
        }
    }

    /// Whether the host reached its hold: it is `Ready`, or went on from there.
    public var passedHold: Bool {
        guard let hold else { return false }
        if case .ready = phase { return true }
        return events[hold].startTime != nil
    }

    /// Whether event `event` of the host started (it was offered or handed to the traffic controller).
    public func started(_ event: LifecycleEvent) -> Bool {
        events.contains { $0.event == event && $0.startTime != nil }
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
    func openTrafficRequest(_ snapshot: DeploymentSnapshot) -> TrafficRequest? {
        guard case .working(let step) = phase, case .traffic = step.kind else { return nil }
        return trafficRequest(step.id, snapshot)
    }

    /// The request that changes the host's traffic for event `id`.
    func trafficRequest(_ id: HostCommandID, _ snapshot: DeploymentSnapshot) -> TrafficRequest {
        // With a traffic split, each side has its own backend.
        let backends =
            snapshot.trafficSplit.map { [target.label == .green ? $0.replacementBackend : $0.originalBackend] }
            ?? snapshot.loadBalancerNames ?? []
        return TrafficRequest(
            id: id, hostIdentifier: target.hostIdentifier, loadBalancerNames: backends,
            serverName: target.trafficServerName)
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
            deploymentId: deploymentId,
            instanceLabel: target.label.map { CodeDeploy.TargetLabel(rawValue: $0.rawValue) },
            lastUpdatedAt: lastUpdatedAt, lifecycleEvents: lifecycleEvents, status: status, targetArn: targetArn,
            targetId: instanceName)
    }

    /// The host as the deprecated `BatchGetDeploymentInstances` shows it.
    public func instanceSummary(deploymentId: String, instanceId: String? = nil) -> CodeDeploy.InstanceSummary {
        CodeDeploy.InstanceSummary(
            deploymentId: deploymentId, instanceId: instanceId ?? instanceName,
            instanceType: target.label.map { CodeDeploy.InstanceType(rawValue: $0.rawValue) },
            lastUpdatedAt: lastUpdatedAt, lifecycleEvents: lifecycleEvents,
            status: CodeDeploy.InstanceStatus(rawValue: status.rawValue))
    }

    /// The host's outcome once it finished, for instance-health bookkeeping; `nil` while it has not.
    public var outcome: HostOutcome? {
        guard case .finished(let status) = phase else { return nil }
        return HostOutcome(
            instanceName: instanceName, status: status, installed: events.contains { $0.event == .install })
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
    /// The on-premises instance.
    public var instanceName: String
    /// Its final status: `Succeeded`, `Failed` or `Skipped`.
    public var status: CodeDeploy.TargetStatus
    /// Whether the deployment installs its revision on the host (a blue/green deployment's original hosts and
    /// rollback only change traffic): a succeeded host that installs now runs the deployment's revision.
    public var installed: Bool

    /// An outcome.
    public init(instanceName: String, status: CodeDeploy.TargetStatus, installed: Bool = true) {
        self.instanceName = instanceName
        self.status = status
        self.installed = installed
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
