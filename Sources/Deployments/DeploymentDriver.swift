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
        /// A change of the traffic split the controller finished (the route's step).
        case routeCompleted(Int, TrafficResult)
        case tick
        /// StopDeployment; refused with ``DeploymentError/deploymentAlreadyCompleted(_:)`` once the deployment ended.
        case stop(autoRollbackEnabled: Bool?)
        /// ContinueDeployment and SkipWaitTimeForInstanceTermination; refused with
        /// ``DeploymentError/cannotContinue(_:_:)`` when the deployment is not waiting for it.
        case continueDeployment(DeploymentWait)
        /// What the alarm watcher found about the alarms the deployment watches.
        case alarms(AlarmReport)
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

    /// Applies `event` to deployment `id`.
    package func apply(_ event: Event, to id: String, now: Date) async throws {
        try await transaction(now: now) { run in
            try run.process(event, for: id)
        }
    }

    /// Applies `event` to deployment `id` and returns `answer` of its engine state afterwards, read inside the
    /// transaction: the caller keeps no copy of the deployment, which the next event then changes in place.
    package func apply<Answer: Sendable>(
        _ event: Event, to id: String, now: Date, answer: @Sendable (Deployment) -> Answer
    ) async throws -> Answer {
        try await transaction(now: now) { run in
            try run.process(event, for: id)
            return answer(try run.machine(of: id))
        }
    }

    /// Creates a deployment from the plan `validate` returns (it runs in the same transaction, so its checks hold
    /// when the deployment is stored) and starts it if its group is idle.
    package func create(now: Date, _ validate: @Sendable (any StoreWriter) throws -> DeploymentPlan) async throws
        -> LoadedDeployment
    {
        try await transaction(now: now) { run in
            let id = try run.add(validate)
            return try run.shown(id)
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
            try run.finish()
            return (result, run.hostsToWake, run.trafficRequests)
        }
        await wakeups.wake(hosts)
        trafficQueue.add(traffic)
        return result
    }

    /// Performs the traffic requests queued so far, one after the other, and applies each result as its deployment's
    /// `trafficCompleted` event; returns once nothing is queued, including what those events asked for, with how
    /// many requests it performed. For tests: the server runs ``runTraffic(clock:)``.
    @discardableResult
    package func performQueuedTraffic(now: @Sendable () -> Date) async -> Int {
        var performed = 0
        while case let requests = trafficQueue.takeAll(), !requests.isEmpty {
            for request in requests { await perform(request, now: now) }
            performed += requests.count
        }
        return performed
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

    /// Brings the load balancers back to the stored traffic state where they lost it, and logs what it changed.
    package func convergeTraffic() async {
        let changes = await traffic.converge { [store] in try await store.read { try $0.trafficState() } }
        for change in changes {
            logger.notice("load balancer brought back to the stored traffic state", metadata: ["change": "\(change)"])
        }
    }

    /// Calls ``convergeTraffic()`` now and every `interval` until the task is cancelled: a server that starts, and
    /// an HAProxy that was reloaded, get back what Slipway had made of them.
    package func runTrafficConvergence(every interval: Duration = .seconds(5)) async {
        while !Task.isCancelled {
            await convergeTraffic()
            try? await Task.sleep(for: interval)
        }
    }

    private func perform(_ work: TrafficWork, now: @Sendable () -> Date) async {
        let (event, deploymentId, what): (Event, String, String)
        let result: TrafficResult
        switch work {
        case .host(let request):
            result = await traffic.perform(request)
            event = .trafficCompleted(request.id, result)
            (deploymentId, what) = (request.id.deploymentId, "\(request.id)")
        case .route(let route):
            result = await traffic.route(route)
            event = .routeCompleted(route.step, result)
            (deploymentId, what) = (route.deploymentId, "\(route.replacementPercent) % to \(route.replacementBackend)")
            logger.info(
                "traffic split changed",
                metadata: [
                    "deployment": "\(route.deploymentId)", "split": "\(what)", "result": "\(result)",
                ])
        }
        do {
            try await transaction(now: now()) { run in
                run.trafficEnded = (work, result)
                try run.process(event, for: deploymentId)
            }
        } catch {
            logger.error(
                "cannot record the end of a traffic change; it is made again when the server restarts",
                metadata: ["change": "\(what)", "error": "\(error)"])
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
        let listed = try await store.write { try $0.buildDeploymentListings() }
        if listed > 0 { logger.info("listed the stored deployments", metadata: ["deployments": "\(listed)"]) }
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
    /// Deregisters an on-premises instance, as `DeregisterOnPremisesInstance` does (a blue/green deployment's
    /// `TERMINATE`); the server's also unbinds the instance's IAM user.
    package var deregisterInstance: @Sendable (any StoreWriter, String, Date) throws -> Void
    /// The account id trigger messages name.
    package var accountID: String

    package init(
        region: String, accountID: String = "000000000000", timeouts: DeploymentTimeouts = DeploymentTimeouts(),
        deregisterInstance: @escaping @Sendable (any StoreWriter, String, Date) throws -> Void =
            DeploymentSettings.markDeregistered
    ) {
        self.region = region
        self.accountID = accountID
        self.timeouts = timeouts
        self.deregisterInstance = deregisterInstance
    }

    /// Sets the instance's `deregisterTime`, unless it is deregistered already.
    package static func markDeregistered(in tx: any StoreWriter, instance name: String, at now: Date) throws {
        guard var instance = try tx.get(CodeDeploy.InstanceInfo.self, .instance, name: name),
            instance.deregisterTime == nil
        else { return }
        instance.deregisterTime = now
        try tx.set(instance, .instance, name: name)
    }
}
