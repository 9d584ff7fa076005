import Foundation
import SlipwayModel

/// One deployment to a fleet of on-premises hosts: its snapshot, its phase and the lifecycle of every host.
///
/// A value: the driver loads it, applies one event (see `Deployment+StateMachine.swift`), stores it back as one
/// JSON document together with the returned actions, and then performs them. Nothing lives outside it, so a server
/// restarted at any moment carries on from the stored value: it re-offers ``offeredCommands``, performs
/// ``openTrafficRequests`` again, and calls ``tick(now:)`` at ``nextDeadline``.
public struct Deployment: Codable, Sendable, Hashable {
    /// What was decided at `CreateDeployment`.
    public let snapshot: DeploymentSnapshot
    /// The hosts, in scheduling order.
    public internal(set) var hosts: [HostLifecycle]
    /// When the deployment was created.
    public let createTime: Date
    /// When it started.
    public internal(set) var startTime: Date?
    /// When it ended.
    public internal(set) var completeTime: Date?
    /// `m`: the hosts that must stay healthy, fixed at start (0 before).
    public internal(set) var minimumHealthyHostCount: Int
    /// The automatic rollback the engine asked for, if any.
    public internal(set) var rollbackRequest: RollbackRequest?
    /// The rollback deployment the driver created for it, once recorded.
    public internal(set) var rollbackDeploymentId: String?
    /// The `rollbackMessage` recorded with it.
    public internal(set) var rollbackMessage: String?
    var phase: Phase
    /// Where a blue/green deployment is, once started (see `Deployment+BlueGreen.swift`); `nil` for in-place.
    var blueGreenStage: BlueGreenStage?
    /// The share of requests (percent) the replacement backend got at the last change of a traffic split; `nil`
    /// before any.
    public internal(set) var replacementShare: Int?
    /// With a bake time, where the in-place deployment's waits between batches are (see `Deployment+Alarms.swift`).
    var bake: Bake?
    /// Derived from `hosts`; neither stored nor compared.
    var index: FleetIndex

    enum Phase: Codable, Sendable, Hashable {
        case created
        case queued
        case running
        /// A stop was asked for; running commands may still finish.
        case stopping(StopRequest)
        case finished(DeploymentOutcome)
    }

    /// A `StopDeployment` request.
    struct StopRequest: Codable, Sendable, Hashable {
        var requestedAt: Date
        var rollBack: Bool
        /// Why the deployment stops, when not for a `StopDeployment` request (an alarm).
        var information: CodeDeploy.ErrorInformation?
    }

    /// A new deployment in status `Created`. A target named twice is deployed to once.
    public init(snapshot: DeploymentSnapshot, now: Date) {
        self.snapshot = snapshot
        var seen: Set<String> = []
        let targets = snapshot.targets.filter { seen.insert($0.instanceName).inserted }
        // A blue/green replacement host waits in Ready before it takes traffic.
        let hold: LifecycleEvent? = snapshot.isBlueGreenRollback ? nil : .beforeAllowTraffic
        self.hosts = DeploymentTarget.schedulingOrder(targets).map {
            HostLifecycle(
                target: $0, events: snapshot.lifecycleEvents(of: $0),
                holdBefore: snapshot.blueGreen != nil && $0.label == .green ? hold : nil)
        }
        self.createTime = now
        self.minimumHealthyHostCount = 0
        self.phase = .created
        self.index = FleetIndex(hosts, saved: false)
    }

    private enum CodingKeys: String, CodingKey {
        case snapshot, hosts, createTime, startTime, completeTime, minimumHealthyHostCount, rollbackRequest
        case rollbackDeploymentId, rollbackMessage, phase, blueGreenStage, replacementShare, bake
    }

    /// Decodes a stored deployment and rebuilds its index.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.snapshot = try container.decode(DeploymentSnapshot.self, forKey: .snapshot)
        self.hosts = try container.decode([HostLifecycle].self, forKey: .hosts)
        self.createTime = try container.decode(Date.self, forKey: .createTime)
        self.startTime = try container.decodeIfPresent(Date.self, forKey: .startTime)
        self.completeTime = try container.decodeIfPresent(Date.self, forKey: .completeTime)
        self.minimumHealthyHostCount = try container.decode(Int.self, forKey: .minimumHealthyHostCount)
        self.rollbackRequest = try container.decodeIfPresent(RollbackRequest.self, forKey: .rollbackRequest)
        self.rollbackDeploymentId = try container.decodeIfPresent(String.self, forKey: .rollbackDeploymentId)
        self.rollbackMessage = try container.decodeIfPresent(String.self, forKey: .rollbackMessage)
        self.phase = try container.decode(Phase.self, forKey: .phase)
        self.blueGreenStage = try container.decodeIfPresent(BlueGreenStage.self, forKey: .blueGreenStage)
        self.replacementShare = try container.decodeIfPresent(Int.self, forKey: .replacementShare)
        self.bake = try container.decodeIfPresent(Bake.self, forKey: .bake)
        self.index = FleetIndex(hosts, saved: true)
    }

    /// Encodes the deployment without its index.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snapshot, forKey: .snapshot)
        try container.encode(hosts, forKey: .hosts)
        try container.encode(createTime, forKey: .createTime)
        try container.encodeIfPresent(startTime, forKey: .startTime)
        try container.encodeIfPresent(completeTime, forKey: .completeTime)
        try container.encode(minimumHealthyHostCount, forKey: .minimumHealthyHostCount)
        try container.encodeIfPresent(rollbackRequest, forKey: .rollbackRequest)
        try container.encodeIfPresent(rollbackDeploymentId, forKey: .rollbackDeploymentId)
        try container.encodeIfPresent(rollbackMessage, forKey: .rollbackMessage)
        try container.encode(phase, forKey: .phase)
        try container.encodeIfPresent(blueGreenStage, forKey: .blueGreenStage)
        try container.encodeIfPresent(replacementShare, forKey: .replacementShare)
        try container.encodeIfPresent(bake, forKey: .bake)
    }

    /// Deployments are equal when their state is; the index follows from it.
    public static func == (left: Deployment, right: Deployment) -> Bool {
        left.snapshot == right.snapshot && left.hosts == right.hosts && left.createTime == right.createTime
            && left.startTime == right.startTime && left.completeTime == right.completeTime
            && left.minimumHealthyHostCount == right.minimumHealthyHostCount
            && left.rollbackRequest == right.rollbackRequest && left.rollbackDeploymentId == right.rollbackDeploymentId
            && left.rollbackMessage == right.rollbackMessage && left.phase == right.phase
            && left.blueGreenStage == right.blueGreenStage && left.replacementShare == right.replacementShare
            && left.bake == right.bake
    }

    /// Hashes the state, not the index.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(snapshot)
        hasher.combine(hosts)
        hasher.combine(createTime)
        hasher.combine(startTime)
        hasher.combine(completeTime)
        hasher.combine(minimumHealthyHostCount)
        hasher.combine(rollbackRequest)
        hasher.combine(rollbackDeploymentId)
        hasher.combine(rollbackMessage)
        hasher.combine(phase)
        hasher.combine(blueGreenStage)
        hasher.combine(replacementShare)
        hasher.combine(bake)
    }

    /// The deployment's id.
    public var deploymentId: String { snapshot.deploymentId }
}

// MARK: - Read-outs

extension Deployment {
    /// The deployment's status: `Created`, `Queued`, `InProgress` (also while stopping), `Ready` (a blue/green
    /// deployment waiting for `ContinueDeployment`), `Succeeded`, `Failed` or `Stopped`.
    public var status: CodeDeploy.DeploymentStatus {
        switch phase {
        case .created: .created
        case .queued: .queued
        case .running: isWaitingForContinue ? .ready : .inProgress
        case .stopping: .inProgress
        case .finished(let outcome): outcome.status
        }
    }

    /// How the deployment ended; `nil` while it has not.
    public var outcome: DeploymentOutcome? {
        if case .finished(let outcome) = phase { return outcome }
        return nil
    }

    /// Whether the deployment has ended.
    public var isFinished: Bool { outcome != nil }

    /// Whether a stop was asked for and the deployment has not yet ended.
    public var isStopping: Bool {
        if case .stopping = phase { return true }
        return false
    }

    /// The answer to `StopDeployment`: `Pending` while running commands finish, `Succeeded` once stopped; `nil` when
    /// no stop was asked for.
    public var stopStatus: CodeDeploy.StopStatus? {
        switch phase {
        case .stopping: .pending
        case .finished(.stopped): .succeeded
        default: nil
        }
    }

    /// The deployment's `errorInformation`.
    public var errorInformation: CodeDeploy.ErrorInformation? { outcome?.errorInformation }

    /// The `deploymentOverview` counts.
    public var overview: CodeDeploy.DeploymentOverview {
        let count = { (status: CodeDeploy.TargetStatus) in Int64(index.statusCounts[status] ?? 0) }
        return CodeDeploy.DeploymentOverview(
            failed: count(.failed), inProgress: count(.inProgress), pending: count(.pending), ready: count(.ready),
            skipped: count(.skipped), succeeded: count(.succeeded))
    }

    /// The `deploymentStatusMessages`.
    public var statusMessages: [String] {
        var messages = blueGreenMessages + bakeMessages
        guard case .stopping = phase else { return messages }
        // A host has a command in flight exactly while it is InProgress.
        let running = index.statusCounts[.inProgress] ?? 0
        messages.append(
            "Stopping: waiting for \(running) running lifecycle event\(running == 1 ? "" : "s") to finish.")
        return messages
    }

    /// The `rollbackInfo` of this deployment: the rollback it triggered, or the deployment it rolls back.
    public var rollbackInfo: CodeDeploy.RollbackInfo? {
        if let rollbackOf = snapshot.rollbackOf {
            return CodeDeploy.RollbackInfo(rollbackMessage: rollbackMessage, rollbackTriggeringDeploymentId: rollbackOf)
        }
        guard rollbackDeploymentId != nil || rollbackMessage != nil else { return nil }
        return CodeDeploy.RollbackInfo(rollbackDeploymentId: rollbackDeploymentId, rollbackMessage: rollbackMessage)
    }

    /// The host for an instance name.
    public func host(named instanceName: String) -> HostLifecycle? {
        index.positions[instanceName].map { hosts[$0] }
    }

    /// The hosts as `BatchGetDeploymentTargets` shows them.
    public var instanceTargets: [CodeDeploy.InstanceTarget] {
        hosts.map { $0.instanceTarget(deploymentId: deploymentId) }
    }

    /// Every host's outcome, once the deployment has ended (empty before).
    public var hostOutcomes: [HostOutcome] {
        isFinished ? hosts.compactMap(\.outcome) : []
    }

    /// The commands waiting for their hosts to poll. After a restart the driver offers them again.
    public var offeredCommands: [HostCommand] { hosts.compactMap(\.offeredCommand) }

    /// The traffic requests not yet reported (see also ``openTrafficRoute``). After a restart the driver performs them
    /// again.
    public var openTrafficRequests: [TrafficRequest] {
        hosts.compactMap { $0.openTrafficRequest(snapshot) } + openRestoreRequests
    }

    /// The earliest deadline in the state: call ``tick(now:)`` then. `nil` when nothing is waiting.
    public var nextDeadline: Date? {
        [index.earliestDeadline, stageDeadline, bakeDeadline].compactMap { $0 }.min()
    }

    /// The positions in ``hosts`` of the hosts changed since the deployment was created, decoded or reassembled, or
    /// since ``markHostsSaved()``: what a driver that stores hosts apart must write.
    public var unsavedHostPositions: [Int] { index.unsaved.sorted() }

    /// The driver stored every host as it is now.
    public mutating func markHostsSaved() {
        index.markSaved()
    }

    /// The answer to `PutHostCommandAcknowledgement` (and `PostHostCommandUpdate`) for command `id`: `InProgress` for
    /// a live command, the final status for one that ended — `Failed` for one that timed out or was withdrawn;
    /// `nil` for a command this deployment never issued (answer it `Failed` too).
    public func commandStatus(_ id: HostCommandID) -> CodeDeployCommand.CommandStatus? {
        guard id.deploymentId == deploymentId, let host = host(named: id.instanceName) else { return nil }
        let status = host.commandStatus(id)
        // An acknowledged-but-not-yet-recorded command is about to run: the agent should go ahead.
        return status == .pending ? .inProgress : status
    }
}

extension Deployment {
    /// `info` (the deployment's stored request-side fields: application, group, revision, …) with every field the
    /// engine owns filled in: id, status, error information, times, overview, status messages, rollback info and
    /// `ignoreApplicationStopFailures`.
    public func deploymentInfo(_ info: CodeDeploy.DeploymentInfo) -> CodeDeploy.DeploymentInfo {
        var info = info
        info.deploymentId = deploymentId
        info.status = status
        info.errorInformation = errorInformation
        info.createTime = createTime
        info.startTime = startTime
        info.completeTime = completeTime
        info.deploymentOverview = overview
        info.deploymentStatusMessages = statusMessages
        info.rollbackInfo = rollbackInfo ?? info.rollbackInfo
        info.ignoreApplicationStopFailures = snapshot.ignoreApplicationStopFailures
        if snapshot.blueGreen != nil {
            info.instanceTerminationWaitTimeStarted = instanceTerminationWaitTimeStarted
        }
        return info
    }
}
