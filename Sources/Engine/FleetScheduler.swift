import SlipwayModel

/// The fleet scheduler: a reconciler from (the targets, what each host is doing) to a plan — which hosts to start
/// now, or the deployment's verdict. It keeps no state; the deployment calls it after every event.
///
/// The model, inferred from every worked example AWS gives for minimum healthy hosts (its page states rules and
/// examples, not an algorithm; see
/// https://docs.aws.amazon.com/codedeploy/latest/userguide/instances-health.html#minimum-healthy-hosts): with `N`
/// targets and `m` minimum healthy hosts, a host may start while `N − failed − inFlight − 1 ≥ m`, so at most `N − m`
/// hosts are out of service at once. When nothing is in flight, hosts are still pending and `N − failed ≤ m`, the
/// budget is broken: the deployment fails with `HEALTH_CONSTRAINTS`. When every host has finished, it succeeds iff
/// at least `max(m, 1)` hosts succeeded. `m ≥ N` fails at once with `HEALTH_CONSTRAINTS_INVALID`; no targets,
/// `NO_INSTANCES`.
public enum FleetScheduler {
    /// What a host is doing, as the scheduler sees it.
    public enum HostPhase: String, Codable, Sendable, Hashable {
        case pending
        case inFlight
        case succeeded
        case failed
        /// Not attempted (the deployment already ended or stopped); does not count either way.
        case skipped
    }

    /// One host as observed.
    public struct ObservedHost: Codable, Sendable, Hashable {
        /// The on-premises instance.
        public var instanceName: String
        /// What it is doing.
        public var phase: HostPhase

        /// An observation.
        public init(_ instanceName: String, _ phase: HostPhase) {
            self.instanceName = instanceName
            self.phase = phase
        }
    }

    /// The deployment's verdict.
    public enum Verdict: Codable, Sendable, Hashable {
        case succeeded
        case failed(CodeDeploy.ErrorCode)
    }

    /// What to do next.
    public struct Plan: Codable, Sendable, Hashable {
        /// Hosts to start now, in order.
        public var start: [String]
        /// Set when the deployment is decided.
        public var verdict: Verdict?

        /// A plan.
        public init(start: [String] = [], verdict: Verdict? = nil) {
            self.start = start
            self.verdict = verdict
        }
    }

    /// How many hosts are in each phase.
    public struct Tally: Codable, Sendable, Hashable {
        public var pending: Int
        public var inFlight: Int
        public var succeeded: Int
        public var failed: Int
        public var skipped: Int

        /// A tally.
        public init(pending: Int = 0, inFlight: Int = 0, succeeded: Int = 0, failed: Int = 0, skipped: Int = 0) {
            self.pending = pending
            self.inFlight = inFlight
            self.succeeded = succeeded
            self.failed = failed
            self.skipped = skipped
        }

        /// The tally of `hosts`.
        public init(_ hosts: [ObservedHost]) {
            self.init()
            for host in hosts { self[host.phase] += 1 }
        }

        /// `N`, every host counted.
        public var total: Int { pending + inFlight + succeeded + failed + skipped }

        /// The count of one phase.
        public subscript(phase: HostPhase) -> Int {
            get {
                switch phase {
                case .pending: pending
                case .inFlight: inFlight
                case .succeeded: succeeded
                case .failed: failed
                case .skipped: skipped
                }
            }
            set {
                switch phase {
                case .pending: pending = newValue
                case .inFlight: inFlight = newValue
                case .succeeded: succeeded = newValue
                case .failed: failed = newValue
                case .skipped: skipped = newValue
                }
            }
        }
    }

    /// The plan for `hosts` (in scheduling order) when `minimumHealthy` hosts must stay in service.
    public static func plan(hosts: [ObservedHost], minimumHealthy m: Int) -> Plan {
        plan(
            tally: Tally(hosts), pendingInOrder: hosts.lazy.filter { $0.phase == .pending }.map(\.instanceName),
            minimumHealthy: m)
    }

    /// The same plan from counts alone and the pending hosts in scheduling order, of which it reads only as many as
    /// it starts (plus one): a deployment that keeps its counts plans in time independent of the fleet's size.
    public static func plan(
        tally: Tally, pendingInOrder pending: some Sequence<String>, minimumHealthy m: Int
    ) -> Plan {
        let n = tally.total
        guard n > 0 else { return Plan(verdict: .failed(.noInstances)) }
        guard m < n else { return Plan(verdict: .failed(.healthConstraintsInvalid)) }
        let failed = tally.failed
        var inFlight = tally.inFlight
        var start: [String] = []
        if n - failed - inFlight - 1 >= m {
            for name in pending {
                start.append(name)
                inFlight += 1
                guard n - failed - inFlight - 1 >= m else { break }
            }
        }
        let pendingLeft = tally.pending - start.count
        if inFlight == 0 && pendingLeft > 0 {
            // Only reachable when n − failed ≤ m: no host may start without breaking the budget.
            return Plan(verdict: .failed(.healthConstraints))
        }
        if inFlight == 0 && pendingLeft == 0 {
            return Plan(verdict: tally.succeeded >= max(m, 1) ? .succeeded : .failed(.healthConstraints))
        }
        return Plan(start: start)
    }

    /// The most hosts in flight at once for a fleet of `fleetSize` with `minimumHealthy` (0 when it cannot start).
    public static func maximumConcurrency(fleetSize: Int, minimumHealthy: Int) -> Int {
        max(fleetSize - minimumHealthy, 0)
    }
}
