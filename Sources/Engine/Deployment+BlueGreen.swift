import Foundation
import SlipwayModel

/// Where a blue/green deployment is. The replacement (green) hosts install the revision and stop in `Ready`; the
/// traffic moves to them; the original (blue) hosts give it up; the originals may be retired after a wait. A
/// blue/green rollback only moves traffic: back to its original hosts, away from its replacement hosts.
///
/// ```
/// replacing ─┬────────────────────────────────► rerouting ─► blocking ─┬─────────────────────► Succeeded
///            └─► waitingForContinue ─continue─┘                        └─► waitingToTerminate ─┘
///                   └─ wait expires ─► Stopped
/// a failure or stop once traffic has moved ─► restoring (originals allowed again, then replacements blocked)
///                                                       ─► Failed | Stopped
/// ```
enum BlueGreenStage: Codable, Sendable, Hashable {
    /// The replacement hosts run the install sequence, all at once (they take no traffic), and stop in `Ready`.
    case replacing
    /// Status `Ready`: waiting for `ContinueDeployment(READY_WAIT)` until `until`, then the deployment stops.
    case waitingForContinue(until: Date)
    /// The hosts that take the traffic run their allow-traffic events, as many at once as the deployment
    /// configuration lets.
    case rerouting
    /// With a traffic split: the replacement backend's share moves step by step (see ``TrafficSplitPlan``).
    case shifting(Shift)
    /// With a bake time: all the traffic has moved; the deployment waits until `until`, watching its alarms, before
    /// the original hosts give theirs up.
    case baking(until: Date)
    /// The hosts that give the traffic up run their block-traffic events, all at once.
    case blocking
    /// The traffic has moved; the original hosts are retired at `until`, unless the wait is skipped.
    case waitingToTerminate(until: Date)
    /// The deployment failed or stopped after traffic had moved: the traffic goes back to the original hosts.
    case restoring(Restore)
}

/// A step of a traffic split: the change of step `step` is under way (`open`, until its deadline `until`), or done
/// and waited after until `until`.
struct Shift: Codable, Sendable, Hashable {
    var step: Int
    var open: Bool
    var until: Date
}

/// A blue/green deployment sending its traffic back to its original hosts before it ends: the originals are allowed
/// again, the split (if any) sends everything to them, then the replacements are blocked.
struct Restore: Codable, Sendable, Hashable {
    enum Step: Int, Codable, Sendable, Hashable, Comparable {
        case allowOriginals, routeBack, blockReplacements

        static func < (left: Step, right: Step) -> Bool { left.rawValue < right.rawValue }
    }

    /// How the deployment ends once the traffic is back.
    var outcome: DeploymentOutcome
    /// Whether a stop asked for an automatic rollback.
    var rollBack: Bool
    var step: Step
    /// The host traffic requests under way.
    var open: [HostCommandID]
    /// Whether the route back is under way.
    var routeOpen: Bool
    /// When the requests under way count as failed.
    var deadline: Date
    /// What could not be undone, for the deployment's error message.
    var failures: [String]
}

/// What `ContinueDeployment` (and `SkipWaitTimeForInstanceTermination`) can end.
public enum DeploymentWait: String, Codable, Sendable, Hashable {
    /// `READY_WAIT`: the replacement hosts are ready; move the traffic to them.
    case readyWait = "READY_WAIT"
    /// `TERMINATION_WAIT`: the traffic has moved; retire the original hosts now.
    case terminationWait = "TERMINATION_WAIT"
}

/// Why a deployment cannot be continued.
public enum ContinueRefusal: Error, Sendable, Hashable {
    /// It is an in-place deployment.
    case notBlueGreen
    /// It has ended.
    case finished
    /// It is not waiting for that (its status is given).
    case notWaiting(DeploymentWait, status: CodeDeploy.DeploymentStatus)
}

/// A blue/green deployment succeeded: the group's fleet is now its replacement hosts that took the traffic.
public struct FleetReplacement: Codable, Sendable, Hashable {
    /// The replacement hosts that took the traffic: the group's next original fleet.
    public var replacementHosts: [String]
    /// The original hosts, which left the load balancer.
    public var originalHosts: [String]
    /// Whether the original hosts are deregistered (`TERMINATE`) or kept (`KEEP_ALIVE`).
    public var deregisterOriginalHosts: Bool

    /// A replacement.
    public init(replacementHosts: [String], originalHosts: [String], deregisterOriginalHosts: Bool) {
        self.replacementHosts = replacementHosts
        self.originalHosts = originalHosts
        self.deregisterOriginalHosts = deregisterOriginalHosts
    }
}

extension Deployment {
    /// `ContinueDeployment`: ends the wait in `Ready` (the traffic moves to the replacement hosts) or the wait before
    /// the original hosts are retired. Throws when the deployment is not waiting for that.
    public mutating func continueDeployment(_ wait: DeploymentWait, now: Date) throws(ContinueRefusal)
        -> [DeploymentAction]
    {
        try checkContinue(wait)
        switch wait {
        case .readyWait:
            blueGreenStage = .rerouting
            return settleBlueGreen(now: now)
        case .terminationWait:
            return finishBlueGreen(now: now)
        }
    }

    /// Throws when ``continueDeployment(_:now:)`` would refuse `wait`.
    public func checkContinue(_ wait: DeploymentWait) throws(ContinueRefusal) {
        guard snapshot.blueGreen != nil else { throw .notBlueGreen }
        guard !isFinished else { throw .finished }
        switch (wait, phase, blueGreenStage) {
        case (.readyWait, .running, .waitingForContinue?), (.terminationWait, .running, .waitingToTerminate?):
            return
        default:
            throw .notWaiting(wait, status: status)
        }
    }

    /// Whether the deployment waits in `Ready` for `ContinueDeployment`.
    var isWaitingForContinue: Bool {
        if case .waitingForContinue? = blueGreenStage { return true }
        return false
    }

    /// `instanceTerminationWaitTimeStarted`: whether the wait before the original hosts are retired began.
    public var instanceTerminationWaitTimeStarted: Bool {
        if case .waitingToTerminate? = blueGreenStage { return true }
        return false
    }

    /// The deadline of the stage, if it has one.
    var stageDeadline: Date? {
        switch blueGreenStage {
        case .waitingForContinue(let until)?, .waitingToTerminate(let until)?, .baking(let until)?: until
        case .restoring(let restore)?: restore.deadline
        case .shifting(let shift)?: shift.until
        default: nil
        }
    }

    /// The traffic split change under way, to perform again after a restart.
    public var openTrafficRoute: TrafficRoute? {
        switch blueGreenStage {
        case .shifting(let shift)? where shift.open: route(step: shift.step)
        case .restoring(let restore)? where restore.routeOpen: route(step: TrafficRoute.restoreStep)
        default: nil
        }
    }

    /// The change of step `step` of the split (or the route back).
    private func route(step: Int) -> TrafficRoute? {
        guard let split = snapshot.trafficSplit else { return nil }
        let percent = split.steps.indices.contains(step) ? split.steps[step].percent : 0
        return TrafficRoute(
            deploymentId: deploymentId, step: step, map: split.map, originalBackend: split.originalBackend,
            replacementBackend: split.replacementBackend, replacementPercent: percent)
    }

    /// The restore requests under way, to perform again after a restart.
    var openRestoreRequests: [TrafficRequest] {
        guard case .restoring(let restore)? = blueGreenStage else { return [] }
        return restore.open.compactMap { id in host(named: id.instanceName)?.trafficRequest(id, snapshot) }
    }

    /// The `deploymentStatusMessages` a blue/green deployment adds.
    var blueGreenMessages: [String] {
        if isFinished {
            guard case .finished(.succeeded) = phase, !snapshot.isBlueGreenRollback,
                case .terminate? = snapshot.blueGreen?.originalHosts
            else { return [] }
            let originals = hosts.filter { $0.target.label != .green }.map(\.instanceName)
            return [
                "Deregistered the original instances \(originals.joined(separator: ", ")). Slipway cannot power "
                    + "machines off: shut them down or register them again to reuse them."
            ]
        }
        switch blueGreenStage {
        case .waitingForContinue(let until)?:
            return [
                "The replacement instances are ready. Traffic moves to them on ContinueDeployment (READY_WAIT); the "
                    + "deployment stops at \(until.formatted(.iso8601)) otherwise."
            ]
        case .waitingToTerminate(let until)?:
            return [
                "Traffic is on the replacement instances. The original instances are deregistered at "
                    + "\(until.formatted(.iso8601)), or on SkipWaitTimeForInstanceTermination."
            ]
        case .restoring?:
            return ["Sending traffic back to the original instances."]
        case .shifting(let shift)?:
            let share = "\(replacementShare ?? 0) % of requests on the replacement instances"
            guard !shift.open, let split = snapshot.trafficSplit, shift.step + 1 < split.steps.count else {
                return ["Traffic: \(share); shifting."]
            }
            return [
                "Traffic: \(share); \(split.steps[shift.step + 1].percent) % at \(shift.until.formatted(.iso8601))."
            ]
        default:
            return []
        }
    }

    // MARK: Internals

    /// Whether host `position` takes the traffic in this deployment (a replacement host; an original host in a
    /// rollback).
    private func takesTraffic(_ position: Int) -> Bool {
        (hosts[position].target.label == .green) != snapshot.isBlueGreenRollback
    }

    /// The hosts that take the traffic.
    var trafficTakerCount: Int { hosts.indices.count { takesTraffic($0) } }

    /// Plans and starts hosts of the current stage, and moves to the next stage when this one is decided.
    mutating func settleBlueGreen(now: Date) -> [DeploymentAction] {
        guard case .running = phase, let stage = blueGreenStage else { return [] }
        switch stage {
        case .replacing:
            let positions = hosts.indices.filter { takesTraffic($0) }
            // Replacement hosts take no traffic yet: all install at once.
            let (actions, verdict) = plan(positions, minimumHealthy: 0, ready: .succeeded, now: now) {
                $0.begin(now: now, $1)
            }
            guard verdict != nil else { return actions }
            let ready = positions.count { hosts[$0].status == .ready }
            guard ready >= max(minimumHealthyHostCount, 1) else {
                return actions + fail(.healthConstraints, now: now)
            }
            if let wait = snapshot.blueGreen?.readyWait {
                blueGreenStage = .waitingForContinue(until: now + wait)
                return actions
            }
            blueGreenStage = .rerouting
            return actions + settleBlueGreen(now: now)
        case .rerouting:
            let positions = hosts.indices.filter {
                takesTraffic($0) && (snapshot.isBlueGreenRollback || hosts[$0].passedHold)
            }
            let minimum = snapshot.minimumHealthyHosts.count(fleetSize: positions.count)
            let (actions, verdict) = plan(positions, minimumHealthy: minimum, ready: .pending, now: now) {
                host, snapshot in
                host.begin(now: now, snapshot) + host.proceed(now: now, snapshot)
            }
            switch verdict {
            case nil:
                return actions
            case .succeeded?:
                if snapshot.trafficSplit != nil {
                    return actions + startShift(0, now: now)
                }
                return actions + trafficMoved(now: now)
            case .failed(let code)?:
                return actions + fail(code, now: now)
            }
        case .blocking:
            let positions = hosts.indices.filter { !takesTraffic($0) }
            let (actions, verdict) = plan(positions, minimumHealthy: 0, ready: .pending, now: now) {
                $0.begin(now: now, $1)
            }
            guard verdict != nil else { return actions }
            guard positions.allSatisfy({ hosts[$0].status == .succeeded }) else {
                return actions + fail(.healthConstraints, now: now)
            }
            if !snapshot.isBlueGreenRollback, case .terminate(let wait)? = snapshot.blueGreen?.originalHosts,
                wait > 0
            {
                blueGreenStage = .waitingToTerminate(until: now + wait)
                return actions
            }
            return actions + finishBlueGreen(now: now)
        case .waitingForContinue, .waitingToTerminate, .restoring, .shifting, .baking:
            return []
        }
    }

    /// All the traffic is on the hosts that take it: the original hosts give theirs up, after the bake time if the
    /// deployment has one (a rollback waits for nothing).
    private mutating func trafficMoved(now: Date) -> [DeploymentAction] {
        if let time = snapshot.bakeTime, time > 0, !snapshot.isBlueGreenRollback {
            blueGreenStage = .baking(until: now + time)
            return []
        }
        blueGreenStage = .blocking
        return settleBlueGreen(now: now)
    }

    /// Asks for step `step` of the traffic split.
    private mutating func startShift(_ step: Int, now: Date) -> [DeploymentAction] {
        guard let route = route(step: step) else { return [] }
        blueGreenStage = .shifting(Shift(step: step, open: true, until: now + trafficDeadline))
        return [.routeTraffic(route)]
    }

    /// How long a traffic change may take before it counts as failed: as long as a host's traffic event.
    private var trafficDeadline: TimeInterval { snapshot.timeouts.running + snapshot.timeouts.grace }

    /// The load balancer changed the split (or could not).
    public mutating func routeCompleted(_ step: Int, _ result: TrafficResult, now: Date) -> [DeploymentAction] {
        guard liveStopping != nil else { return [] }
        switch blueGreenStage {
        case .shifting(var shift)? where shift.open && shift.step == step:
            let percent = route(step: step)?.replacementPercent ?? 0
            if case .failed(let message) = result {
                shift.open = false
                blueGreenStage = .shifting(shift)
                interruptUnfinished(now: now)
                let information = CodeDeploy.ErrorInformation(
                    code: .elasticLoadBalancingInvalid,
                    message: "Slipway could not move \(percent) % of requests to the replacement instances: \(message)")
                guard case .running = phase else { return settle(now: now) }
                return restoreOrFinish(.failed(information), rollBack: false, now: now)
            }
            replacementShare = percent
            shift.open = false
            guard case .running = phase else {
                blueGreenStage = .shifting(shift)
                return settle(now: now)
            }
            let steps = snapshot.trafficSplit?.steps ?? []
            if step + 1 >= steps.count { return trafficMoved(now: now) }
            // A bake time makes every wait between steps at least as long.
            let wait = snapshot.isBlueGreenRollback ? steps[step].wait : max(steps[step].wait, snapshot.bakeTime ?? 0)
            if wait <= 0 { return startShift(step + 1, now: now) }
            shift.until = now + wait
            blueGreenStage = .shifting(shift)
            return []
        case .restoring(var restore)? where restore.routeOpen && step == TrafficRoute.restoreStep:
            restore.routeOpen = false
            if case .failed(let message) = result {
                restore.failures.append("the traffic split: \(message)")
            } else {
                replacementShare = 0
            }
            return advanceRestore(&restore, now: now)
        default:
            return []
        }
    }

    /// Runs the fleet scheduler over the hosts at `positions` (a host in `Ready` counts as `ready`: done with the
    /// stage that brought it there, or pending for the one that moves it on), starts what it plans with `start`,
    /// and returns the actions and its verdict. A stage's fleet is part of the deployment's, so it is counted here
    /// rather than kept in the index.
    private mutating func plan(
        _ positions: [Int], minimumHealthy: Int, ready: FleetScheduler.HostPhase, now: Date,
        start: (inout HostLifecycle, DeploymentSnapshot) -> [DeploymentAction]
    ) -> ([DeploymentAction], FleetScheduler.Verdict?) {
        var actions: [DeploymentAction] = []
        while true {
            let observed = positions.map { position in
                let host = hosts[position]
                let phase: FleetScheduler.HostPhase
                switch host.phase {
                case .pending: phase = .pending
                case .ready: phase = ready
                case .working: phase = .inFlight
                case .finished(.succeeded): phase = .succeeded
                case .finished(.failed): phase = .failed
                case .finished: phase = .skipped
                }
                return FleetScheduler.ObservedHost(host.instanceName, phase)
            }
            let plan = FleetScheduler.plan(hosts: observed, minimumHealthy: minimumHealthy)
            var started = false
            for name in plan.start {
                guard let position = index.positions[name] else { continue }
                let snapshot = self.snapshot
                let before = hosts[position].status
                actions += modify(position) { start(&$0, snapshot) }
                started = started || hosts[position].status != before
            }
            // A host that went straight to Ready or to its end leaves room for the next: plan again.
            if plan.verdict != nil || !started || plan.start.allSatisfy({ host(named: $0)?.status == .inProgress }) {
                return (actions, plan.verdict)
            }
        }
    }

    /// The deployment failed with `code`: traffic that moved goes back first.
    private mutating func fail(_ code: CodeDeploy.ErrorCode, now: Date) -> [DeploymentAction] {
        let information = failureInformation(code)
        interruptUnfinished(now: now)
        return restoreOrFinish(.failed(information), rollBack: false, now: now)
    }

    /// Ends the hosts that have not finished: pending hosts are skipped, `Ready` hosts fail.
    mutating func interruptUnfinished(now: Date) {
        for position in hosts.indices where !hosts[position].isFinished {
            _ = modify(position) { $0.interrupt(now: now) }
        }
    }

    /// Ends the deployment with `outcome`, once the traffic is back on the original hosts if any had moved.
    mutating func restoreOrFinish(_ outcome: DeploymentOutcome, rollBack: Bool, now: Date) -> [DeploymentAction] {
        guard snapshot.blueGreen != nil, !snapshot.isBlueGreenRollback else {
            return finish(outcome, now: now, rollBack: rollBack)
        }
        var restore = Restore(
            outcome: outcome, rollBack: rollBack, step: .allowOriginals, open: [], routeOpen: false, deadline: now,
            failures: [])
        return startRestoreStep(&restore, now: now)
    }

    /// Starts `restore`'s current step, or the first after it that has something to do, or ends the deployment.
    private mutating func startRestoreStep(_ restore: inout Restore, now: Date) -> [DeploymentAction] {
        restore.deadline = now + trafficDeadline
        switch restore.step {
        case .allowOriginals, .blockReplacements:
            let (label, event, undoes): (DeploymentTarget.Label, LifecycleEvent, LifecycleEvent) =
                restore.step == .allowOriginals
                ? (.blue, .allowTraffic, .blockTraffic) : (.green, .blockTraffic, .allowTraffic)
            let requests = hosts.filter { $0.target.label == label && $0.started(undoes) }.map {
                $0.trafficRequest(
                    HostCommandID(deploymentId: deploymentId, instanceName: $0.instanceName, event: event), snapshot)
            }
            guard !requests.isEmpty else { return advanceRestore(&restore, now: now) }
            restore.open = requests.map(\.id)
            blueGreenStage = .restoring(restore)
            return requests.map { .performTraffic($0) }
        case .routeBack:
            // Only a split that moved needs sending back.
            guard let route = route(step: TrafficRoute.restoreStep), (replacementShare ?? 0) > 0 else {
                return advanceRestore(&restore, now: now)
            }
            restore.routeOpen = true
            blueGreenStage = .restoring(restore)
            return [.routeTraffic(route)]
        }
    }

    /// The current step of `restore` is done: the next one, or the deployment's end.
    private mutating func advanceRestore(_ restore: inout Restore, now: Date) -> [DeploymentAction] {
        guard let next = Restore.Step(rawValue: restore.step.rawValue + 1) else {
            return finishRestore(restore, now: now)
        }
        restore.step = next
        return startRestoreStep(&restore, now: now)
    }

    private mutating func finishRestore(_ restore: Restore, now: Date) -> [DeploymentAction] {
        var outcome = restore.outcome
        if !restore.failures.isEmpty {
            outcome = outcome.adding(
                " Slipway could not move all traffic back to the original instances: "
                    + restore.failures.joined(separator: "; ") + ".")
        }
        return finish(outcome, now: now, rollBack: restore.rollBack)
    }

    /// A restore request ended.
    mutating func restoreCompleted(_ id: HostCommandID, _ result: TrafficResult, now: Date) -> [DeploymentAction] {
        guard case .restoring(var restore)? = blueGreenStage, restore.open.contains(id) else { return [] }
        restore.open.removeAll { $0 == id }
        if case .failed(let message) = result {
            restore.failures.append("\(id.event.rawValue) on \(id.instanceName): \(message)")
        }
        blueGreenStage = .restoring(restore)
        guard restore.open.isEmpty else { return [] }
        return advanceRestore(&restore, now: now)
    }

    /// The stage's deadline passed.
    mutating func tickBlueGreen(now: Date) -> [DeploymentAction] {
        guard let deadline = stageDeadline, deadline <= now else { return [] }
        switch blueGreenStage {
        case .waitingForContinue?:
            interruptUnfinished(now: now)
            let minutes = Int(((snapshot.blueGreen?.readyWait ?? 0) / 60).rounded())
            return finish(
                .stopped(
                    CodeDeploy.ErrorInformation(
                        code: .timeout,
                        message: "The deployment was stopped: its replacement instances waited \(minutes) minutes "
                            + "in Ready and no ContinueDeployment came (deploymentReadyOption STOP_DEPLOYMENT). "
                            + "Traffic stayed on the original instances.")), now: now)
        case .waitingToTerminate?:
            return finishBlueGreen(now: now)
        case .baking?:
            guard case .running = phase else { return [] }
            blueGreenStage = .blocking
            return settleBlueGreen(now: now)
        case .restoring(var restore)?:
            for id in restore.open {
                restore.failures.append("\(id.event.rawValue) on \(id.instanceName) did not complete in time")
            }
            if restore.routeOpen { restore.failures.append("the traffic split did not change in time") }
            restore.open = []
            restore.routeOpen = false
            return advanceRestore(&restore, now: now)
        case .shifting(let shift)? where shift.open:
            return routeCompleted(
                shift.step, .failed(message: "the load balancer did not answer in time"), now: now)
        case .shifting(let shift)?:
            guard case .running = phase else { return [] }
            return startShift(shift.step + 1, now: now)
        default:
            return []
        }
    }

    /// The blue/green deployment succeeded: the replacement hosts that took the traffic are the group's fleet.
    private mutating func finishBlueGreen(now: Date) -> [DeploymentAction] {
        var actions = finish(.succeeded, now: now)
        guard !snapshot.isBlueGreenRollback else { return actions }
        let replacement = FleetReplacement(
            replacementHosts: hosts.filter { $0.target.label == .green && $0.status == .succeeded }.map(\.instanceName),
            originalHosts: hosts.filter { $0.target.label != .green }.map(\.instanceName),
            deregisterOriginalHosts: {
                if case .terminate? = snapshot.blueGreen?.originalHosts { return true }
                return false
            }())
        actions.append(.replaceFleet(replacement))
        return actions
    }
}

extension DeploymentOutcome {
    /// The outcome with `detail` added to its error message.
    func adding(_ detail: String) -> DeploymentOutcome {
        switch self {
        case .succeeded: return self
        case .failed(var information):
            information.message = (information.message ?? "") + detail
            return .failed(information)
        case .stopped(var information):
            information.message = (information.message ?? "") + detail
            return .stopped(information)
        }
    }
}
