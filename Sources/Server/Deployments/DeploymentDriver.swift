import Engine
import Foundation
import Logging
import SlipwayModel
import Store

/// Runs the engine: applies an event to a stored deployment and carries out the actions it returns, all in one store
/// transaction, then wakes the hosts that have new work.
///
/// Actions may lead to more events (a finished deployment starts the next one of its group, a rollback is created
/// and started); they are worked off in the same transaction, so the store never shows half a decision.
struct DeploymentDriver: Sendable {
    /// What can happen to a deployment.
    enum Event: Sendable {
        case start
        case delivered(HostCommandID)
        case acknowledged(HostCommandID, CommandAcknowledgement)
        case heartbeat(HostCommandID, estimatedCompletion: Date?)
        case completed(HostCommandID, CommandReport)
        /// A load-balancer event the traffic controller finished.
        case trafficDone(HostCommandID)
        case tick
        case stop(autoRollbackEnabled: Bool?)
    }

    let store: any Store
    let wakeups: HostWakeups
    let settings: DeploymentSettings
    let arns: ARNs
    let logger: Logger

    /// Applies `event` to deployment `id` and returns the deployment as stored afterwards.
    @discardableResult
    func apply(_ event: Event, to id: String, now: Date) async throws -> DeploymentRecord {
        let (record, hosts) = try await store.write { [settings, arns] tx in
            var run = DriverTransaction(tx: tx, now: now, settings: settings, arns: arns)
            try run.process(event, for: id)
            return (try run.saved(id), run.hostsToWake)
        }
        await wakeups.wake(hosts)
        return record
    }

    /// Creates a deployment from the plan `validate` returns (it runs in the same transaction, so its checks hold
    /// when the deployment is stored) and starts it if its group is idle.
    func create(now: Date, _ validate: @Sendable (any StoreWriter) throws -> DeploymentPlan) async throws
        -> DeploymentRecord
    {
        let (record, hosts) = try await store.write { [settings, arns] tx in
            let plan = try validate(tx)
            var run = DriverTransaction(tx: tx, now: now, settings: settings, arns: arns)
            let record = try plan.makeRecord(id: try run.freshDeploymentID(), in: tx, settings: settings, now: now)
            try run.add(record)
            try run.drain()
            return (try run.saved(record.id), run.hostsToWake)
        }
        await wakeups.wake(hosts)
        return record
    }

    /// Fires the deadlines that have passed, deployment by deployment.
    func tick(now: Date) async {
        let due: [String]
        do {
            due = try await store.read { tx in
                try tx.list(LiveDeploymentRecord.self, .liveDeployment)
                    .filter { ($0.value.nextDeadline ?? .distantFuture) <= now }.map(\.name)
            }
        } catch {
            logger.error("cannot read the deployments in progress", metadata: ["error": "\(error)"])
            return
        }
        for id in due {
            do {
                try await apply(.tick, to: id, now: now)
            } catch {
                logger.error("a deployment timer failed", metadata: ["deployment": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Calls ``tick(now:)`` every `interval` until the task is cancelled. Deadlines are in the store, so after a
    /// restart the first tick fires whatever expired while the server was down.
    func runTimers(every interval: Duration = .seconds(1), clock: @escaping @Sendable () -> Date) async {
        while !Task.isCancelled {
            await tick(now: clock())
            try? await Task.sleep(for: interval)
        }
    }
}

/// Server-wide settings of deployments.
struct DeploymentSettings: Sendable {
    /// Engine timeouts (pickup, running, grace).
    var timeouts = DeploymentTimeouts()
}

/// One transaction's worth of engine work: the events to apply, the records they touched, the hosts to wake.
struct DriverTransaction {
    let tx: any StoreWriter
    let now: Date
    let settings: DeploymentSettings
    let arns: ARNs
    private(set) var hostsToWake: Set<String> = []
    private var records: [String: DeploymentRecord] = [:]
    private var work: [(id: String, event: DeploymentDriver.Event)] = []

    init(tx: any StoreWriter, now: Date, settings: DeploymentSettings, arns: ARNs) {
        self.tx = tx
        self.now = now
        self.settings = settings
        self.arns = arns
    }

    /// Applies `event` to deployment `id`, and every event its actions lead to, then stores what changed.
    mutating func process(_ event: DeploymentDriver.Event, for id: String) throws {
        work.append((id, event))
        try drain()
    }

    /// Works off the queued events, then stores every record the transaction touched.
    mutating func drain() throws {
        while !work.isEmpty {
            let (id, event) = work.removeFirst()
            var record = try load(id)
            let actions = Self.apply(event, to: &record.machine, now: now)
            records[id] = record
            if case .completed(let command, _) = event { try releaseHost(of: command, in: record) }
            for action in actions { try perform(action, for: id) }
        }
        for record in records.values { try save(record) }
    }

    /// Stores a deployment that this transaction created (CreateDeployment, a rollback) and queues it on its group.
    mutating func add(_ record: DeploymentRecord) throws {
        guard try tx.create(record, .deployment, name: record.id) else {
            throw AWSJSONError(type: "InternalFailure", message: "Deployment id \(record.id) is taken.", status: 500)
        }
        records[record.id] = record
        try enqueue(record)
    }

    /// The stored record of `id` after the transaction.
    func saved(_ id: String) throws -> DeploymentRecord {
        guard let record = records[id] else { return try tx.existingDeployment(id) }
        return record
    }

    private static func apply(_ event: DeploymentDriver.Event, to machine: inout Deployment, now: Date)
        -> [DeploymentAction]
    {
        switch event {
        case .start: machine.start(now: now)
        case .delivered(let id): machine.commandDelivered(id, now: now)
        case .acknowledged(let id, let acknowledgement): machine.commandAcknowledged(id, acknowledgement, now: now)
        case .heartbeat(let id, let estimate): machine.heartbeat(id, estimatedCompletion: estimate, now: now)
        case .completed(let id, let report): machine.commandCompleted(id, report, now: now)
        case .trafficDone(let id): machine.trafficCompleted(id, .succeeded, now: now)
        case .tick: machine.tick(now: now)
        case .stop(let rollBack): machine.stop(autoRollbackEnabled: rollBack, now: now)
        }
    }

    private mutating func load(_ id: String) throws -> DeploymentRecord {
        if let record = records[id] { return record }
        return try tx.existingDeployment(id)
    }

    private func save(_ record: DeploymentRecord) throws {
        try tx.set(record, .deployment, name: record.id)
        if record.machine.isFinished {
            try tx.delete(.liveDeployment, scope: "", name: record.id)
        } else {
            try tx.set(
                LiveDeploymentRecord(nextDeadline: record.machine.nextDeadline), .liveDeployment, name: record.id)
        }
    }

    private mutating func perform(_ action: DeploymentAction, for id: String) throws {
        switch action {
        case .offerCommand(let command):
            try tx.set(
                OfferedCommandRecord(deploymentId: id, commandName: command.commandName, offeredAt: command.offeredAt),
                .offeredCommand, scope: command.hostIdentifier, name: command.id.rawValue)
            hostsToWake.insert(command.hostIdentifier)
        case .withdrawCommand(let command):
            guard let host = records[id]?.machine.host(named: command.instanceName)?.target.hostIdentifier else {
                return
            }
            try tx.delete(.offeredCommand, scope: host, name: command.rawValue)
            hostsToWake.insert(host)
        case .performTraffic(let request):
            // Slipway drives no load balancer yet: the traffic controller of every group is `NoTrafficController`,
            // whose requests succeed at once, so the report is applied in the same transaction.
            work.append((id, .trafficDone(request.id)))
        case .finish(let outcome):
            try finished(id, outcome)
        case .requestRollback(let request):
            try rollBack(id, request)
        }
    }

    /// A host that completed its command may be handed the next one.
    private mutating func releaseHost(of command: HostCommandID, in record: DeploymentRecord) throws {
        guard let host = record.machine.host(named: command.instanceName)?.target.hostIdentifier else { return }
        if let busy = try tx.get(HostBusyRecord.self, .hostBusy, name: host), busy.commandId == command.rawValue {
            try tx.delete(.hostBusy, scope: "", name: host)
            hostsToWake.insert(host)
        }
    }

    /// Queues a deployment on its group: it starts now if the group is idle, otherwise when the one ahead ends.
    private mutating func enqueue(_ record: DeploymentRecord) throws {
        let application = record.info.applicationName ?? ""
        let group = record.info.deploymentGroupName ?? ""
        var queue = try tx.get(GroupQueue.self, .groupQueue, scope: application, name: group) ?? GroupQueue(waiting: [])
        if queue.active == nil {
            queue.active = record.id
            work.append((record.id, .start))
        } else {
            queue.waiting.append(record.id)
            var waiting = try load(record.id)
            _ = waiting.machine.queue(now: now)
            records[record.id] = waiting
        }
        try tx.set(queue, .groupQueue, scope: application, name: group)
    }

    /// The bookkeeping of an ended deployment: its group's last deployments and target revision, the health of the
    /// instances it changed, and the next deployment of the group.
    private mutating func finished(_ id: String, _ outcome: DeploymentOutcome) throws {
        let record = try load(id)
        let application = record.info.applicationName ?? ""
        let groupName = record.info.deploymentGroupName ?? ""
        if var group = try tx.deploymentGroup(application: application, name: groupName) {
            let last = CodeDeploy.LastDeploymentInfo(
                createTime: record.info.createTime, deploymentId: id, endTime: now, status: outcome.status)
            group.lastAttemptedDeployment = last
            if outcome == .succeeded {
                group.lastSuccessfulDeployment = last
                group.targetRevision = record.info.revision
            }
            try tx.set(group, .deploymentGroup, scope: application, name: groupName)
        }
        let revisionKey = try record.info.revision.map(RevisionKey.make)
        for host in record.machine.hostOutcomes where host.attempted {
            var state =
                try tx.get(
                    InstanceGroupState.self, .instanceGroupState, scope: record.deploymentGroupId,
                    name: host.instanceName)
                ?? InstanceGroupState(lastDeploymentSucceeded: false)
            state.lastDeploymentSucceeded = host.status == .succeeded
            if host.status == .succeeded { state.revisionKey = revisionKey }
            try tx.set(state, .instanceGroupState, scope: record.deploymentGroupId, name: host.instanceName)
        }
        guard var queue = try tx.get(GroupQueue.self, .groupQueue, scope: application, name: groupName) else { return }
        if queue.active == id { queue.active = nil }
        queue.waiting.removeAll { $0 == id }
        if queue.active == nil, !queue.waiting.isEmpty {
            let next = queue.waiting.removeFirst()
            queue.active = next
            work.append((next, .start))
        }
        if queue.active == nil && queue.waiting.isEmpty {
            try tx.delete(.groupQueue, scope: application, name: groupName)
        } else {
            try tx.set(queue, .groupQueue, scope: application, name: groupName)
        }
    }

    /// Creates the automatic rollback of deployment `id`: a new deployment of the group's last successful revision.
    private mutating func rollBack(_ id: String, _ request: RollbackRequest) throws {
        var record = try load(id)
        let application = record.info.applicationName ?? ""
        let groupName = record.info.deploymentGroupName ?? ""
        let group = try tx.deploymentGroup(application: application, name: groupName)
        let lastGood = try group?.lastSuccessfulDeployment?.deploymentId.flatMap { try tx.deployment($0) }
        guard let group, let lastGood, let revision = lastGood.info.revision else {
            record.machine.recordRollback(
                deploymentId: nil,
                message:
                    "Automatic rollback was not started: deployment group \(groupName) has no earlier successful "
                    + "deployment whose revision it could roll back to.")
            records[id] = record
            return
        }
        let plan = DeploymentPlan(
            applicationName: application, group: group, configName: record.info.deploymentConfigName,
            revision: revision, creator: .codeDeployRollback, description: nil,
            ignoreApplicationStopFailures: record.info.ignoreApplicationStopFailures ?? false,
            fileExistsBehavior: lastGood.info.fileExistsBehavior,
            autoRollbackConfiguration: nil, updateOutdatedInstancesOnly: false, rollbackOf: id)
        var rollback = try plan.makeRecord(id: try freshDeploymentID(), in: tx, settings: settings, now: now)
        rollback.machine.recordRollback(deploymentId: nil, message: request.message)
        record.machine.recordRollback(deploymentId: rollback.id, message: request.message)
        records[id] = record
        try add(rollback)
    }

    /// A deployment id not yet taken.
    func freshDeploymentID() throws -> String {
        while true {
            let id = DeploymentID.make()
            if try tx.deployment(id) == nil && records[id] == nil { return id }
        }
    }
}
