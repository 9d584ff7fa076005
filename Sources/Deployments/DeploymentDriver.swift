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
package struct DeploymentDriver: Sendable {
    /// What can happen to a deployment.
    package enum Event: Sendable {
        case start
        case delivered(HostCommandID)
        case acknowledged(HostCommandID, CommandAcknowledgement)
        case heartbeat(HostCommandID, estimatedCompletion: Date?)
        case completed(HostCommandID, CommandReport)
        /// A load-balancer event the traffic controller finished.
        case trafficCompleted(HostCommandID, TrafficResult)
        case tick
        /// StopDeployment; refused with ``DeploymentError/deploymentAlreadyCompleted(_:)`` once the deployment ended.
        case stop(autoRollbackEnabled: Bool?)
    }

    package let store: any Store
    package let wakeups: HostWakeups
    package let settings: DeploymentSettings
    package let logger: Logger
    /// Performs the traffic events the engine asks for.
    package let traffic: any TrafficController
    package let cache = DeploymentCache()
    let trafficQueue = TrafficQueue()

    package init(
        store: any Store, wakeups: HostWakeups, settings: DeploymentSettings, logger: Logger,
        traffic: any TrafficController = NoLoadBalancer()
    ) {
        self.store = store
        self.wakeups = wakeups
        self.settings = settings
        self.logger = logger
        self.traffic = traffic
    }

    /// Applies `event` to deployment `id` and returns the deployment as stored afterwards.
    @discardableResult
    package func apply(_ event: Event, to id: String, now: Date) async throws -> LoadedDeployment {
        try await transaction(now: now) { run in
            try run.process(event, for: id)
            return try run.loaded(id)
        }
    }

    /// Applies `event` to deployment `id` and returns `answer` of the deployment as stored afterwards, read inside the
    /// transaction: the caller keeps no copy of the deployment, which the next event then changes in place.
    package func apply<Answer: Sendable>(
        _ event: Event, to id: String, now: Date, answer: @Sendable (LoadedDeployment) -> Answer
    ) async throws -> Answer {
        try await transaction(now: now) { run in
            try run.process(event, for: id)
            return answer(try run.loaded(id))
        }
    }

    /// Creates a deployment from the plan `validate` returns (it runs in the same transaction, so its checks hold
    /// when the deployment is stored) and starts it if its group is idle.
    package func create(now: Date, _ validate: @Sendable (any StoreWriter) throws -> DeploymentPlan) async throws
        -> LoadedDeployment
    {
        try await transaction(now: now) { run in
            let id = try run.add(validate)
            try run.drain()
            return try run.loaded(id)
        }
    }

    /// In one transaction: the command a poll of `host` gets from its ``HostCommandDelivery``, marked delivered in its
    /// deployment; `nil` when none is offered or the host still runs the one it holds.
    package func takeCommand(for host: String, now: Date) async throws -> CodeDeployCommand.HostCommandInstance? {
        // Most polls find nothing: look before taking the write lock.
        let waiting = try await store.read { tx in
            try tx.commandDelivery(of: host)?.mayHandOut(at: now) ?? false
        }
        guard waiting else { return nil }
        return try await transaction(now: now) { run in
            try run.takeCommand(for: host)
        }
    }

    /// Runs `body` in a store transaction, then wakes the hosts it gave work and queues the traffic it asked for.
    func transaction<T: Sendable>(now: Date, _ body: @Sendable (inout DriverTransaction) throws -> T) async throws
        -> T
    {
        let (result, hosts, traffic) = try await store.write { [settings, cache] tx in
            var run = DriverTransaction(tx: tx, now: now, settings: settings, cache: cache)
            let result = try body(&run)
            try run.drain()  // hands back to the cache what the body only looked at
            return (result, run.hostsToWake, run.trafficRequests)
        }
        await wakeups.wake(hosts)
        trafficQueue.add(traffic)
        return result
    }

    /// Performs the traffic requests queued so far, one after the other, and applies each result as its deployment's
    /// `trafficCompleted` event; returns once nothing is queued, including what those events asked for. For tests:
    /// the server runs ``runTraffic(clock:)``.
    package func performQueuedTraffic(now: @Sendable () -> Date) async {
        while case let requests = trafficQueue.takeAll(), !requests.isEmpty {
            for request in requests { await perform(request, now: now) }
        }
    }

    /// Performs every traffic request as it is queued, each in a task of its own (one host's drain does not hold up
    /// another's), until ``stopTraffic()``; tasks under way are waited for.
    package func runTraffic(clock: @escaping @Sendable () -> Date) async {
        await withDiscardingTaskGroup { group in
            for await _ in trafficQueue.additions {
                for request in trafficQueue.takeAll() {
                    group.addTask { await perform(request, now: clock) }
                }
            }
        }
    }

    /// Ends ``runTraffic(clock:)`` once the requests under way are done.
    package func stopTraffic() { trafficQueue.close() }

    private func perform(_ request: TrafficRequest, now: @Sendable () -> Date) async {
        let result = await traffic.perform(request)
        do {
            try await apply(.trafficCompleted(request.id, result), to: request.id.deploymentId, now: now()) { _ in () }
        } catch {
            logger.error(
                "cannot record the end of a traffic event; it is performed again when the server restarts",
                metadata: ["command": "\(request.id)", "error": "\(error)"])
        }
    }

    /// Fires the deadlines that have passed, deployment by deployment.
    package func tick(now: Date) async {
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

    /// Carries on what the deployments in progress were waiting for when the server stopped: run once at start, it
    /// offers every command they offer to its host again (offering a command twice offers it once; this also carries
    /// on deployments stored by a version of Slipway that kept offers in other records) and queues their open
    /// traffic requests again.
    package func resume(now: Date) async throws {
        try await transaction(now: now) { run in
            try run.resume()
        }
    }

    /// Calls ``tick(now:)`` every `interval` until the task is cancelled. Deadlines are in the store, so after a
    /// restart the first tick fires whatever expired while the server was down.
    package func runTimers(every interval: Duration = .seconds(1), clock: @escaping @Sendable () -> Date) async {
        while !Task.isCancelled {
            await tick(now: clock())
            try? await Task.sleep(for: interval)
        }
    }
}

/// Server-wide settings of deployments.
package struct DeploymentSettings: Sendable {
    /// The server's region, which the deployment executions handed to agents name.
    package var region: String
    /// Engine timeouts (pickup, running, grace).
    package var timeouts: DeploymentTimeouts

    package init(region: String, timeouts: DeploymentTimeouts = DeploymentTimeouts()) {
        self.region = region
        self.timeouts = timeouts
    }
}

/// One transaction's worth of engine work: the events to apply, the deployments they touched, the hosts to wake.
struct DriverTransaction {
    private let tx: any StoreWriter
    let now: Date
    let settings: DeploymentSettings
    let cache: DeploymentCache
    private(set) var hostsToWake: Set<String> = []
    /// The traffic requests to hand to the controller once the transaction has committed.
    private(set) var trafficRequests: [TrafficRequest] = []
    /// The deployments saved by ``drain()``.
    private var stored: [String: LoadedDeployment] = [:]
    private var touched: [String: LoadedDeployment] = [:]
    /// Touched deployments loaded by ``deployment(_:)`` and not changed since.
    private var unchanged: Set<String> = []
    /// The next deadline of each deployment as loaded: its live record is rewritten only when that changes.
    private var loadedDeadlines: [String: Date?] = [:]
    private var work: [(id: String, event: DeploymentDriver.Event)] = []
    /// The command deliveries of the hosts this transaction changed, by host identifier; stored by ``drain()``.
    private var deliveries: [String: HostCommandDelivery] = [:]

    init(tx: any StoreWriter, now: Date, settings: DeploymentSettings, cache: DeploymentCache) {
        self.tx = tx
        self.now = now
        self.settings = settings
        self.cache = cache
    }

    /// Applies `event` to deployment `id`, and every event its actions lead to, then stores what changed.
    mutating func process(_ event: DeploymentDriver.Event, for id: String) throws {
        work.append((id, event))
        try drain()
    }

    /// Works off the queued events, then stores every deployment the transaction touched.
    mutating func drain() throws {
        while !work.isEmpty {
            let (id, event) = work.removeFirst()
            if touched[id] == nil { touched[id] = try load(id) }
            if case .stop = event, touched[id]!.machine.isFinished {
                throw DeploymentError.deploymentAlreadyCompleted(id)
            }
            unchanged.remove(id)
            // In place: the transaction holds the only copy of the deployment (the cache gave its entry up), so a
            // thousand hosts are not copied to change one.
            let actions = Self.apply(event, to: &touched[id]!.machine, now: now)
            for action in actions { try perform(action, for: id) }
        }
        for (host, delivery) in deliveries.sorted(by: { $0.key < $1.key }) {
            if delivery.isIdle {
                try tx.delete(.commandDelivery, scope: "", name: host)
            } else {
                try tx.set(delivery, .commandDelivery, name: host)
            }
        }
        deliveries = [:]
        for id in touched.keys.sorted() {
            if unchanged.remove(id) != nil, let deployment = touched.removeValue(forKey: id) {
                stored[id] = deployment
                cache.install(deployment)
            } else {
                try save(id)
            }
        }
    }

    /// The command a poll of `host` gets (see ``DeploymentDriver/takeCommand(for:now:)``).
    mutating func takeCommand(for host: String) throws -> CodeDeployCommand.HostCommandInstance? {
        let now = now
        while true {
            var heldStatus: CodeDeployCommand.CommandStatus? = nil
            if let held = try commandDelivery(of: host).held?.id {
                heldStatus = try deployment(held.deploymentId)?.machine.host(named: held.instanceName)?.commandStatus(
                    held)
            }
            let handout = try changeDelivery(of: host) { $0.poll(now: now, heldStatus: heldStatus) }
            guard case .command(let id, let again) = handout else { return nil }
            guard let deployment = try deployment(id.deploymentId),
                again || deployment.machine.host(named: id.instanceName)?.offeredCommand?.id == id
            else {
                try changeDelivery(of: host) { $0.end(id) }  // no longer offered: the action that withdrew it was lost
                continue
            }
            let groupId = deployment.record.deploymentGroupId
            if !again { try process(.delivered(id), for: id.deploymentId) }
            return instance(id, for: host, groupId: groupId)
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
            trafficRequests += deployment.machine.openTrafficRequests
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

    /// Deployment `id` as it is stored, for a look before deciding on an event; `nil` when there is none.
    mutating func deployment(_ id: String) throws -> LoadedDeployment? {
        if let deployment = touched[id] ?? stored[id] { return deployment }
        guard let deployment = try tx.loadDeployment(id, cache: cache, taking: true) else { return nil }
        loadedDeadlines[id] = deployment.machine.nextDeadline
        touched[id] = deployment
        unchanged.insert(id)
        return deployment
    }

    /// Creates a deployment from the plan `validate` makes in this transaction (CreateDeployment) and queues it on its
    /// group; returns its id.
    mutating func add(_ validate: (any StoreWriter) throws -> DeploymentPlan) throws -> String {
        try add(validate(tx))
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
        touched[id] = LoadedDeployment(record: record, machine: machine)
        try enqueue(touched[id]!)
        return id
    }

    /// A deployment as this transaction leaves it.
    func loaded(_ id: String) throws -> LoadedDeployment {
        if let deployment = stored[id] ?? touched[id] { return deployment }
        guard let deployment = try tx.loadDeployment(id, cache: cache) else {
            throw DeploymentError.deploymentDoesNotExist(id)
        }
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
        case .tick: machine.tick(now: now)
        case .stop(let rollBack): machine.stop(autoRollbackEnabled: rollBack, now: now)
        }
    }

    private mutating func load(_ id: String) throws -> LoadedDeployment {
        if let deployment = touched[id] { return deployment }
        guard let deployment = try tx.loadDeployment(id, cache: cache, taking: true) else {
            throw DeploymentError.deploymentDoesNotExist(id)
        }
        loadedDeadlines[id] = deployment.machine.nextDeadline
        return deployment
    }

    /// Stores the record when its `DeploymentInfo` or progress changed (most events change one host only), the
    /// hosts that changed since they were loaded, and a new state token.
    private mutating func save(_ id: String) throws {
        guard var deployment = touched.removeValue(forKey: id) else { return }
        if deployment.record.show(deployment.machine) || deployment.token == nil {
            try deployment.record.keepSpecificationText()
            try tx.put(.deployment, scope: "", name: id, document: RecordCoding.encode(deployment.record))
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
        } else if loadedDeadlines[id] != .some(deployment.machine.nextDeadline) {
            try tx.set(LiveDeploymentRecord(nextDeadline: deployment.machine.nextDeadline), .liveDeployment, name: id)
        }
        loadedDeadlines[id] = deployment.machine.nextDeadline
        stored[id] = deployment
        cache.install(deployment)
    }

    private mutating func perform(_ action: DeploymentAction, for id: String) throws {
        switch action {
        case .offerCommand(let command):
            try changeDelivery(of: command.hostIdentifier) { $0.offer(command) }
            hostsToWake.insert(command.hostIdentifier)
        case .withdrawCommand(let command), .releaseHost(let command):
            guard let host = touched[id]?.machine.host(named: command.instanceName)?.target.hostIdentifier else {
                return
            }
            let freed = try changeDelivery(of: host) { $0.end(command) && !$0.offers.isEmpty }
            if freed { hostsToWake.insert(host) }
        case .performTraffic(let request):
            trafficRequests.append(request)
        case .finish(let outcome):
            try finished(id, outcome)
        case .requestRollback(let request):
            try rollBack(id, request)
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
            work.append((deployment.id, .start))
        } else {
            queue.waiting.append(deployment.id)
            var waiting = deployment
            _ = waiting.machine.queue(now: now)
            touched[deployment.id] = waiting
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
        let deployment = try load(id)
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
            if host.status == .succeeded { state.revisionKey = revisionKey }
            try tx.set(state, .instanceGroupState, scope: groupId, name: host.instanceName)
        }
        guard var queue = try tx.groupQueue(groupId) else { return }
        if queue.active == id { queue.active = nil }
        queue.waiting.removeAll { $0 == id }
        if queue.active == nil, !queue.waiting.isEmpty {
            let next = queue.waiting.removeFirst()
            queue.active = next
            work.append((next, .start))
        }
        if queue.active == nil && queue.waiting.isEmpty {
            try tx.delete(.groupQueue, scope: "", name: groupId)
        } else {
            try tx.set(queue, .groupQueue, name: groupId)
        }
    }

    /// Creates the automatic rollback of deployment `id`: a new deployment of the group's last successful revision.
    private mutating func rollBack(_ id: String, _ request: RollbackRequest) throws {
        var deployment = try load(id)
        let info = deployment.record.info
        let (application, groupName, group) = try currentGroup(of: deployment)
        let lastGood = try group?.lastSuccessfulDeployment?.deploymentId.flatMap { try tx.deployment($0) }
        guard let group, let lastGood, let revision = lastGood.info.revision else {
            deployment.machine.recordRollback(
                deploymentId: nil,
                message:
                    "Automatic rollback was not started: deployment group \(groupName) has no earlier successful "
                    + "deployment whose revision it could roll back to.")
            touched[id] = deployment
            return
        }
        let plan = DeploymentPlan(
            applicationName: application, group: group, configName: info.deploymentConfigName,
            revision: revision, creator: .codeDeployRollback, description: nil,
            ignoreApplicationStopFailures: info.ignoreApplicationStopFailures ?? false,
            fileExistsBehavior: lastGood.info.fileExistsBehavior,
            autoRollbackConfiguration: nil, updateOutdatedInstancesOnly: false, rollbackOf: id)
        let rollbackId = try add(plan)
        touched[rollbackId]?.machine.recordRollback(deploymentId: nil, message: request.message)
        deployment.machine.recordRollback(deploymentId: rollbackId, message: request.message)
        touched[id] = deployment
    }

    /// A deployment id not yet taken.
    private func freshDeploymentID() throws -> String {
        while true {
            let id = DeploymentID.make()
            if try tx.deployment(id) == nil && touched[id] == nil { return id }
        }
    }
}
