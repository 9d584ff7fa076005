import Engine
import Foundation
import SlipwayModel
import Store

/// One store transaction of the driver: the events it applies (and those their actions lead to), the deployments
/// and host deliveries they change, and what to do once it commits (hosts to wake, traffic to perform).
///
/// Deployments are changed in memory as events arrive and written once, by ``finish()``: each only if an event
/// changed it, and within it only what changed (its record when what it shows changed, its changed hosts, its live
/// record when its next deadline moved).
struct DriverTransaction {
    /// A deployment this transaction loaded or created.
    private struct Working {
        var deployment: LoadedDeployment
        /// Whether an event changed it: ``finish()`` stores it, or else gives it back to the cache as it was.
        var changed: Bool
        /// Its live record as stored (`nil` for one created in this transaction).
        var storedLive: LiveDeploymentRecord?
        /// Its status and rollback as stored, for the triggers (`nil` for one created in this transaction).
        var statusBefore: CodeDeploy.DeploymentStatus? = nil
        var rollbackBefore: String? = nil
    }

    let tx: any StoreWriter
    let now: Date
    let settings: DeploymentSettings
    let cache: DeploymentCache
    /// The hosts to wake once the transaction has committed: given a command, or freed for their next.
    private(set) var hostsToWake: Set<String> = []
    /// The traffic work to hand to the controller once the transaction has committed.
    private(set) var trafficRequests: [TrafficWork] = []
    /// The traffic work whose end this transaction records, for the wanted traffic state.
    var trafficEnded: (TrafficWork, TrafficResult)?
    private var deployments: [String: Working] = [:]
    /// The ids of ``deployments`` in the order this transaction took them up: the order they are saved in, so that
    /// their notifications leave in the order their events happened (a deployment's failure before its rollback's
    /// start).
    private var order: [String] = []
    /// Events not applied yet, oldest first.
    private var events: [(id: String, event: DeploymentDriver.Event)] = []
    /// The command deliveries of the hosts this transaction changed, by host identifier.
    private var deliveries: [String: HostCommandDelivery] = [:]

    init(tx: any StoreWriter, now: Date, settings: DeploymentSettings, cache: DeploymentCache) {
        self.tx = tx
        self.now = now
        self.settings = settings
        self.cache = cache
    }

    /// Applies `event` to deployment `id`, and every event its actions lead to.
    mutating func process(_ event: DeploymentDriver.Event, for id: String) throws {
        events.append((id, event))
        try applyEvents()
    }

    /// Applies the queued events in order; an action may queue more.
    private mutating func applyEvents() throws {
        while !events.isEmpty {
            let (id, event) = events.removeFirst()
            try load(id)
            if case .stop = event, deployments[id]!.deployment.machine.isFinished {
                throw DeploymentError.deploymentAlreadyCompleted(id)
            }
            if case .continueDeployment(let wait) = event {
                do {
                    try deployments[id]!.deployment.machine.checkContinue(wait)
                } catch {
                    throw DeploymentError.cannotContinue(id, error)
                }
            }
            deployments[id]!.changed = true
            // In place: the transaction holds the only copy of the deployment (the cache gave its entry up), so a
            // thousand hosts are not copied to change one.
            let actions = Self.apply(event, to: &deployments[id]!.deployment.machine, now: now)
            for action in actions { try perform(action, for: id) }
        }
    }

    /// Stores what the transaction changed and gives the cache back what it only looked at. The driver calls it
    /// once, last.
    mutating func finish() throws {
        if !trafficRequests.isEmpty || trafficEnded != nil {
            var state = try tx.trafficState()
            if let (work, result) = trafficEnded { state.ended(work, result) }
            for work in trafficRequests { state.started(work) }
            try tx.set(state, .trafficState, name: TrafficState.recordName)
        }
        for (host, delivery) in deliveries.sorted(by: { $0.key < $1.key }) {
            if delivery.isIdle {
                try tx.delete(.commandDelivery, scope: "", name: host)
            } else {
                try tx.set(delivery, .commandDelivery, name: host)
            }
        }
        for id in order where deployments[id] != nil {
            if deployments[id]!.changed {
                try save(id)
            } else {
                cache.install(deployments[id]!.deployment)
            }
        }
    }

    /// The command a poll of `host` gets (see ``DeploymentDriver/takeCommand(for:now:)``).
    mutating func takeCommand(for host: String) throws -> CodeDeployCommand.HostCommandInstance? {
        var delivery = try commandDelivery(of: host)
        defer { deliveries[host] = delivery }
        while true {
            var heldStatus: CodeDeployCommand.CommandStatus? = nil
            if let held = delivery.held?.id {
                heldStatus = try deployment(held.deploymentId)?.machine.host(named: held.instanceName)?.commandStatus(
                    held)
            }
            guard case .command(let id, let again) = delivery.poll(now: now, heldStatus: heldStatus) else {
                return nil
            }
            guard let deployment = try deployment(id.deploymentId),
                again || deployment.machine.host(named: id.instanceName)?.offeredCommand?.id == id
            else {
                delivery.end(id)  // no longer offered: the action that withdrew it was lost
                continue
            }
            // `.delivered` asks for no action, so it leaves this host's delivery to this function.
            if again { DeploymentMetrics.redelivered() } else { try process(.delivered(id), for: id.deploymentId) }
            return instance(id, for: host, groupId: deployment.record.deploymentGroupId)
        }
    }

    /// Offers every live deployment's offered commands to their hosts again and asks for its open traffic requests
    /// again (see ``DeploymentDriver/resume(now:)``).
    mutating func resume() throws {
        // Queues stored by group name before groups were keyed by id, so that a rename cannot leave them behind.
        for record in try tx.allRecords(.groupQueue) where !record.scope.isEmpty {
            try tx.delete(.groupQueue, scope: record.scope, name: record.name)
            struct ByName: Decodable {
                var active: String?
                var waiting: [String]
            }
            guard let groupId = try tx.deploymentGroup(application: record.scope, name: record.name)?.deploymentGroupId
            else { continue }
            let queue = try RecordCoding.decode(ByName.self, from: record)
            try tx.set(
                GroupQueue(active: queue.active, waiting: queue.waiting, application: record.scope, group: record.name),
                .groupQueue, name: groupId)
        }
        for live in try tx.list(LiveDeploymentRecord.self, .liveDeployment) {
            guard let deployment = try deployment(live.name) else { continue }
            for command in deployment.machine.offeredCommands {
                try changeDelivery(of: command.hostIdentifier) { $0.offer(command) }
                hostsToWake.insert(command.hostIdentifier)
            }
            trafficRequests += deployment.machine.openTrafficRequests.map { .host($0) }
            if let route = deployment.machine.openTrafficRoute { trafficRequests.append(.route(route)) }
        }
    }

    /// Command `id` as the poll of `host` answers it: its deployment execution names the region and the group.
    private func instance(_ id: HostCommandID, for host: String, groupId: String)
        -> CodeDeployCommand.HostCommandInstance
    {
        let execution = DeploymentExecutionID(
            region: settings.region, deploymentGroupId: groupId, deploymentId: id.deploymentId)
        return id.instance(for: host, execution: execution)
    }

    /// Deployment `id` as this transaction has it, for a look before deciding on an event; `nil` when there is none.
    mutating func deployment(_ id: String) throws -> LoadedDeployment? {
        try loadIfStored(id) ? deployments[id]!.deployment : nil
    }

    /// Creates a deployment from the plan `validate` makes in this transaction (CreateDeployment) and queues it on its
    /// group; returns its id.
    mutating func add(_ validate: (any StoreWriter) throws -> DeploymentPlan) throws -> String {
        let id = try add(validate(tx))
        try applyEvents()  // starts it if its group is idle
        return id
    }

    /// Creates a deployment from `plan` (CreateDeployment, a rollback) and queues it on its group; returns its id.
    mutating func add(_ plan: DeploymentPlan) throws -> String {
        let id = try freshDeploymentID()
        let (record, machine) = try plan.make(id: id, in: tx, settings: settings, now: now)
        guard try tx.create(machine.snapshot, .deploymentSnapshot, name: id) else {
            throw StoreError("a snapshot of deployment \(id) exists already")
        }
        for target in machine.snapshot.targets {
            try tx.set(target.instanceName, .deploymentHostIdentifier, scope: id, name: target.hostIdentifier)
        }
        order.append(id)
        deployments[id] = Working(
            deployment: LoadedDeployment(record: record, machine: machine), changed: true, storedLive: nil)
        try enqueue(deployments[id]!.deployment)
        return id
    }

    /// The engine state of deployment `id` as this transaction leaves it.
    func machine(of id: String) throws -> Deployment {
        guard let machine = try deployments[id]?.deployment.machine ?? tx.loadDeployment(id, cache: cache)?.machine
        else { throw DeploymentError.deploymentDoesNotExist(id) }
        return machine
    }

    /// Deployment `id` as this transaction leaves it, its record showing its engine state.
    func shown(_ id: String) throws -> LoadedDeployment {
        guard var deployment = try deployments[id]?.deployment ?? tx.loadDeployment(id, cache: cache) else {
            throw DeploymentError.deploymentDoesNotExist(id)
        }
        deployment.record.show(deployment.machine)
        return deployment
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
        case .trafficCompleted(let id, let result): machine.trafficCompleted(id, result, now: now)
        case .routeCompleted(let step, let result): machine.routeCompleted(step, result, now: now)
        case .tick: machine.tick(now: now)
        case .stop(let rollBack): machine.stop(autoRollbackEnabled: rollBack, now: now)
        case .alarms(.raised(let names)): machine.alarmsRaised(names, now: now)
        case .alarms(.unreadable(let reason)): machine.alarmsUnreadable(reason, now: now)
        // Checked by the caller.
        case .continueDeployment(let wait): (try? machine.continueDeployment(wait, now: now)) ?? []
        }
    }

    /// Makes deployment `id` one this transaction works on, taking it from the cache or the store.
    private mutating func load(_ id: String) throws {
        guard try loadIfStored(id) else { throw DeploymentError.deploymentDoesNotExist(id) }
    }

    /// ``load(_:)``, returning `false` when there is no deployment `id`.
    private mutating func loadIfStored(_ id: String) throws -> Bool {
        guard deployments[id] == nil else { return true }
        guard let deployment = try tx.loadDeployment(id, cache: cache, taking: true) else { return false }
        order.append(id)
        deployments[id] = Working(
            deployment: deployment, changed: false, storedLive: LiveDeploymentRecord(deployment.machine),
            statusBefore: deployment.machine.status, rollbackBefore: deployment.machine.rollbackDeploymentId)
        return true
    }

    /// Stores the record when its `DeploymentInfo` or progress changed (most events change one host only), the
    /// hosts that changed since they were loaded, and a new state token.
    private mutating func save(_ id: String) throws {
        guard let working = deployments[id] else { return }
        var deployment = working.deployment
        deployments[id] = nil  // the one copy, so that marking its hosts saved does not copy them
        let listed = deployment.token == nil ? nil : DeploymentListing(deployment.record)
        let shownChanged = deployment.record.show(deployment.machine)
        let changes = deployment.machine.takeStatusChanges()
        DeploymentMetrics.record(deployment.machine, statusBefore: working.statusBefore, changes: changes)
        try notifyTriggers(
            deployment, changes: changes, statusBefore: working.statusBefore, rollbackBefore: working.rollbackBefore)
        if shownChanged || deployment.token == nil {
            try deployment.record.keepSpecificationText()
            try tx.put(.deployment, scope: "", name: id, document: RecordCoding.encode(deployment.record))
            try tx.updateListing(of: deployment.record, before: listed)
        }
        let token = UniqueIDs.make()
        try tx.put(.deploymentState, scope: "", name: id, document: Data(token.utf8))
        deployment.token = token
        for index in deployment.machine.unsavedHostPositions {
            let host = deployment.machine.hosts[index]
            try tx.set(StoredHost(index: index, host: host), .deploymentHost, scope: id, name: host.instanceName)
        }
        deployment.machine.markHostsSaved()
        if deployment.machine.isFinished {
            try tx.delete(.liveDeployment, scope: "", name: id)
        } else if case let live = LiveDeploymentRecord(deployment.machine), working.storedLive != live {
            try tx.set(live, .liveDeployment, name: id)
        }
        cache.install(deployment)
    }

    private mutating func perform(_ action: DeploymentAction, for id: String) throws {
        switch action {
        case .offerCommand(let command):
            try changeDelivery(of: command.hostIdentifier) { $0.offer(command) }
            hostsToWake.insert(command.hostIdentifier)
        case .withdrawCommand(let command), .releaseHost(let command):
            guard
                let host = deployments[id]?.deployment.machine.host(named: command.instanceName)?.target.hostIdentifier
            else {
                return
            }
            let freed = try changeDelivery(of: host) { $0.end(command) && !$0.offers.isEmpty }
            if freed { hostsToWake.insert(host) }
        case .performTraffic(let request):
            trafficRequests.append(.host(request))
        case .routeTraffic(let route):
            trafficRequests.append(.route(route))
        case .finish(let outcome):
            try finished(id, outcome)
        case .requestRollback(let request):
            try rollBack(id, request)
        case .replaceFleet(let replacement):
            try replaceFleet(of: id, replacement)
        }
    }

    /// A blue/green deployment succeeded: its replacement hosts become its group's fleet; its original hosts leave
    /// it, and are deregistered for `TERMINATE`.
    private mutating func replaceFleet(of id: String, _ replacement: FleetReplacement) throws {
        let groupId = deployments[id]!.deployment.record.deploymentGroupId
        let backend = deployments[id]!.deployment.machine.snapshot.trafficSplit?.replacementBackend
        try tx.set(
            BlueGreenFleet(instanceNames: replacement.replacementHosts, deploymentId: id, backend: backend),
            .blueGreenFleet, name: groupId)
        guard replacement.deregisterOriginalHosts else { return }
        for name in replacement.originalHosts {
            try settings.deregisterInstance(tx, name, now)
        }
    }

    /// The command delivery of `host` as this transaction has it.
    private mutating func commandDelivery(of host: String) throws -> HostCommandDelivery {
        if let delivery = deliveries[host] { return delivery }
        return try tx.commandDelivery(of: host) ?? HostCommandDelivery()
    }

    /// Changes the command delivery of `host` with `change`, to be stored by ``drain()``.
    @discardableResult
    private mutating func changeDelivery<T>(of host: String, _ change: (inout HostCommandDelivery) -> T) throws -> T {
        var delivery = try commandDelivery(of: host)
        let result = change(&delivery)
        deliveries[host] = delivery
        return result
    }

    /// Queues a deployment on its group: it starts now if the group is idle, otherwise when the one ahead ends.
    private mutating func enqueue(_ deployment: LoadedDeployment) throws {
        let groupId = deployment.record.deploymentGroupId
        var queue =
            try tx.groupQueue(groupId)
            ?? GroupQueue(
                waiting: [], application: deployment.record.info.applicationName ?? "",
                group: deployment.record.info.deploymentGroupName ?? "")
        if queue.active == nil {
            queue.active = deployment.id
            events.append((deployment.id, .start))
        } else {
            queue.waiting.append(deployment.id)
            let now = now
            _ = deployments[deployment.id]?.deployment.machine.queue(now: now)
        }
        try tx.set(queue, .groupQueue, name: groupId)
    }

    /// Where deployment `deployment`'s group is now (it may have been renamed since), and the group.
    private func currentGroup(of deployment: LoadedDeployment) throws -> (
        application: String, name: String, group: CodeDeploy.DeploymentGroupInfo?
    ) {
        let queue = try tx.groupQueue(deployment.record.deploymentGroupId)
        let application = queue?.application ?? deployment.record.info.applicationName ?? ""
        let name = queue?.group ?? deployment.record.info.deploymentGroupName ?? ""
        return (application, name, try tx.deploymentGroup(application: application, name: name))
    }

    /// The bookkeeping of an ended deployment: its group's last deployments and target revision, the health of the
    /// instances it changed, and the next deployment of the group.
    private mutating func finished(_ id: String, _ outcome: DeploymentOutcome) throws {
        try load(id)
        let deployment = deployments[id]!.deployment
        let info = deployment.record.info
        let (application, groupName, group) = try currentGroup(of: deployment)
        if var group {
            let last = CodeDeploy.LastDeploymentInfo(
                createTime: info.createTime, deploymentId: id, endTime: now, status: outcome.status)
            group.lastAttemptedDeployment = last
            if outcome == .succeeded {
                group.lastSuccessfulDeployment = last
                group.targetRevision = info.revision
            }
            try tx.set(group, .deploymentGroup, scope: application, name: groupName)
        }
        let revisionKey = try info.revision.map(RevisionKey.make)
        let groupId = deployment.record.deploymentGroupId
        for host in deployment.machine.hostOutcomes where host.attempted {
            var state =
                try tx.get(InstanceGroupState.self, .instanceGroupState, scope: groupId, name: host.instanceName)
                ?? InstanceGroupState(lastDeploymentSucceeded: false)
            state.lastDeploymentSucceeded = host.status == .succeeded
            state.lastDeploymentId = id
            state.lastDeploymentTime = now
            // A blue/green original host only gave its traffic up: its revision did not change.
            if host.status == .succeeded && host.installed { state.revisionKey = revisionKey }
            try tx.set(state, .instanceGroupState, scope: groupId, name: host.instanceName)
        }
        guard var queue = try tx.groupQueue(groupId) else { return }
        if queue.active == id { queue.active = nil }
        queue.waiting.removeAll { $0 == id }
        if queue.active == nil, !queue.waiting.isEmpty {
            let next = queue.waiting.removeFirst()
            queue.active = next
            events.append((next, .start))
        }
        if queue.active == nil && queue.waiting.isEmpty {
            try tx.delete(.groupQueue, scope: "", name: groupId)
        } else {
            try tx.set(queue, .groupQueue, name: groupId)
        }
    }

    /// Creates the automatic rollback of deployment `id`: a new deployment of the group's last successful revision.
    private mutating func rollBack(_ id: String, _ request: RollbackRequest) throws {
        try load(id)
        let info = deployments[id]!.deployment.record.info
        let (application, groupName, group) = try currentGroup(of: deployments[id]!.deployment)
        let lastGood = try group?.lastSuccessfulDeployment?.deploymentId.flatMap { try tx.deployment($0) }
        guard let group, let lastGood, let revision = lastGood.info.revision else {
            deployments[id]!.deployment.machine.recordRollback(
                deploymentId: nil,
                message:
                    "Automatic rollback was not started: deployment group \(groupName) has no earlier successful "
                    + "deployment whose revision it could roll back to.")
            return
        }
        var plan = DeploymentPlan(
            applicationName: application, group: group, configName: info.deploymentConfigName,
            revision: revision, creator: .codeDeployRollback, description: nil,
            ignoreApplicationStopFailures: info.ignoreApplicationStopFailures ?? false,
            fileExistsBehavior: lastGood.info.fileExistsBehavior,
            autoRollbackConfiguration: nil, updateOutdatedInstancesOnly: false, rollbackOf: id)
        let triggering = deployments[id]!.deployment.machine.snapshot
        if triggering.blueGreen != nil {
            // A blue/green rollback moves the traffic back between the same hosts and backends (reference §3.3).
            plan.blueGreenRollbackTargets = triggering.targets
            plan.rollbackSplit = triggering.trafficSplit.map {
                TrafficSplitPlan(
                    map: $0.map, originalBackend: $0.originalBackend, replacementBackend: $0.replacementBackend,
                    steps: [TrafficSplitPlan.Step(percent: 0)])
            }
        }
        let rollbackId = try add(plan)
        deployments[rollbackId]?.deployment.machine.recordRollback(deploymentId: nil, message: request.message)
        deployments[id]!.deployment.machine.recordRollback(deploymentId: rollbackId, message: request.message)
    }

    /// A deployment id not yet taken.
    private func freshDeploymentID() throws -> String {
        while true {
            let id = DeploymentID.make()
            if try tx.deployment(id) == nil && deployments[id] == nil { return id }
        }
    }
}
