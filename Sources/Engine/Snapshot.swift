import Foundation
import SlipwayModel

/// Everything the engine needs to know about a deployment, captured once at `CreateDeployment`.
///
/// Later changes to the deployment group, its configuration or its instances do not reach a running deployment.
public struct DeploymentSnapshot: Codable, Sendable, Hashable {
    /// The deployment's id (`d-XXXXXXXXX`).
    public var deploymentId: String
    /// The hosts to deploy to. The engine orders them for scheduling (see ``DeploymentTarget/schedulingOrder(_:)``).
    public var targets: [DeploymentTarget]
    /// The deployment configuration's minimum healthy hosts.
    public var minimumHealthyHosts: MinimumHealthy
    /// Whether the deployment group has a load balancer: it adds the six traffic events to every host's lifecycle.
    public var withLoadBalancer: Bool
    /// The names the group's load balancer info gives (`elbInfoList` and `targetGroupInfoList`): the backends whose
    /// servers the traffic events change. `nil` in snapshots stored before Slipway kept them.
    public var loadBalancerNames: [String]?
    /// Whether a failed `ApplicationStop`, `BeforeBlockTraffic` or `AfterBlockTraffic` lets the host carry on.
    public var ignoreApplicationStopFailures: Bool
    /// How long hosts get to pick up and to run commands.
    public var timeouts: DeploymentTimeouts
    /// The deployment's automatic rollback settings (`nil`: none).
    public var autoRollbackConfiguration: CodeDeploy.AutoRollbackConfiguration?
    /// Set when this deployment is itself an automatic rollback, to the id of the deployment it rolls back.
    /// A rollback never asks for another rollback.
    public var rollbackOf: String?
    /// Set for a blue/green deployment: how its replacement (green) hosts take the traffic of its original (blue)
    /// hosts. `nil` for an in-place deployment.
    public var blueGreen: BlueGreenSettings?
    /// Set for a blue/green deployment whose group names a pair of backends and the map that splits requests
    /// between them: the traffic then moves by shares, step by step, instead of server by server.
    public var trafficSplit: TrafficSplitPlan?
    /// The alarms the deployment watches while it runs (the group's `alarmConfiguration`, or the deployment's
    /// `overrideAlarmConfiguration`); `nil` when none are enabled.
    public var alarms: AlarmWatch?
    /// How long an in-place deployment waits after each batch, and a blue/green one after each traffic step, before
    /// it goes on, watching its alarms (the group's `slipway:bake-time` tag); `nil` for no wait.
    public var bakeTime: TimeInterval?

    /// A snapshot; every setting past the targets has CodeDeploy's default.
    public init(
        deploymentId: String,
        targets: [DeploymentTarget],
        minimumHealthyHosts: MinimumHealthy = .oneAtATime,
        withLoadBalancer: Bool = false,
        loadBalancerNames: [String] = [],
        ignoreApplicationStopFailures: Bool = false,
        timeouts: DeploymentTimeouts = DeploymentTimeouts(),
        autoRollbackConfiguration: CodeDeploy.AutoRollbackConfiguration? = nil,
        rollbackOf: String? = nil,
        blueGreen: BlueGreenSettings? = nil,
        trafficSplit: TrafficSplitPlan? = nil,
        alarms: AlarmWatch? = nil,
        bakeTime: TimeInterval? = nil
    ) {
        self.deploymentId = deploymentId
        self.targets = targets
        self.minimumHealthyHosts = minimumHealthyHosts
        self.withLoadBalancer = withLoadBalancer
        self.loadBalancerNames = loadBalancerNames
        self.ignoreApplicationStopFailures = ignoreApplicationStopFailures
        self.timeouts = timeouts
        self.autoRollbackConfiguration = autoRollbackConfiguration
        self.rollbackOf = rollbackOf
        self.blueGreen = blueGreen
        self.trafficSplit = trafficSplit
        self.alarms = alarms
        self.bakeTime = bakeTime
    }

    /// The lifecycle events of an in-place deployment's hosts, in order (`Start` and `End` are not listed).
    public var lifecycleEvents: [LifecycleEvent] { LifecycleEvent.inPlaceOrder(withLoadBalancer: withLoadBalancer) }

    /// Whether this is the automatic rollback of a blue/green deployment: its original hosts take the traffic back
    /// and its replacement hosts give it up; nothing is installed.
    public var isBlueGreenRollback: Bool { blueGreen != nil && rollbackOf != nil }

    /// The lifecycle events of `target`, in order: an in-place host's whole sequence; in a blue/green deployment
    /// (reference §3.3) a replacement host installs and then takes traffic, an original host gives it up, and in a
    /// blue/green rollback the other way round.
    public func lifecycleEvents(of target: DeploymentTarget) -> [LifecycleEvent] {
        guard blueGreen != nil else { return lifecycleEvents }
        let install: [LifecycleEvent] = [
            .applicationStop, .downloadBundle, .beforeInstall, .install, .afterInstall, .applicationStart,
            .validateService,
        ]
        let allow: [LifecycleEvent] = [.beforeAllowTraffic, .allowTraffic, .afterAllowTraffic]
        let block: [LifecycleEvent] = [.beforeBlockTraffic, .blockTraffic, .afterBlockTraffic]
        switch (target.label, isBlueGreenRollback) {
        case (.green?, false): return install + allow
        case (.green?, true): return block
        case (_, false): return block
        case (_, true): return allow
        }
    }

    /// Whether automatic rollback is on for `event`.
    public func rollsBack(on event: CodeDeploy.AutoRollbackEvent) -> Bool {
        guard rollbackOf == nil, let configuration = autoRollbackConfiguration, configuration.enabled == true else {
            return false
        }
        return (configuration.events ?? []).contains(event)
    }
}

/// One host of a deployment: an on-premises instance and the identity its agent polls with.
public struct DeploymentTarget: Codable, Sendable, Hashable {
    /// The on-premises instance name (the `targetId` of the API).
    public var instanceName: String
    /// The agent's `HostIdentifier`: the instance's IAM user or session ARN.
    public var hostIdentifier: String
    /// The instance's health before this deployment.
    public var instanceHealth: InstanceHealth
    /// How the instance's revision relates to the one being deployed.
    public var revisionHealth: RevisionHealth
    /// The name of the instance's server in the load balancer's backends, when its tag gives one other than the
    /// instance name (see ``trafficServerName``).
    public var loadBalancerServer: String?
    /// In a blue/green deployment, whether the host is an original (blue) or a replacement (green) one; `nil` in an
    /// in-place deployment.
    public var label: Label?

    /// A target; without history an instance counts as healthy with an unknown revision.
    public init(
        instanceName: String,
        hostIdentifier: String,
        instanceHealth: InstanceHealth = .healthy,
        revisionHealth: RevisionHealth = .unknown,
        loadBalancerServer: String? = nil,
        label: Label? = nil
    ) {
        self.instanceName = instanceName
        self.hostIdentifier = hostIdentifier
        self.instanceHealth = instanceHealth
        self.revisionHealth = revisionHealth
        self.loadBalancerServer = loadBalancerServer
        self.label = label
    }

    /// A blue/green deployment's two fleets: the original hosts that serve before it (`Blue`) and the replacement
    /// hosts it installs and moves the traffic to (`Green`). The raw values are CodeDeploy's `TargetLabel`s.
    public enum Label: String, Codable, Sendable, Hashable {
        case blue = "Blue"
        case green = "Green"
    }

    /// The instance tag whose value names the instance's server in the load balancer's backends.
    public static let loadBalancerServerTag = "slipway:load-balancer-server"

    /// The instance's server in the load balancer's backends: the tag's value, or else the instance name.
    public var trafficServerName: String { loadBalancerServer ?? instanceName }

    /// Instance health: healthy iff the last deployment to the instance succeeded.
    public enum InstanceHealth: String, Codable, Sendable, Hashable {
        case healthy = "Healthy"
        case unhealthy = "Unhealthy"
    }

    /// Revision health: whether the instance runs the revision being deployed.
    public enum RevisionHealth: String, Codable, Sendable, Hashable {
        case current = "Current"
        case old = "Old"
        case unknown = "Unknown"
    }

    /// The order CodeDeploy deploys in: unhealthy instances first, then unknown, old and current revisions; ties
    /// keep their given order.
    public static func schedulingOrder(_ targets: [DeploymentTarget]) -> [DeploymentTarget] {
        func rank(_ target: DeploymentTarget) -> Int {
            if target.instanceHealth == .unhealthy { return 0 }
            switch target.revisionHealth {
            case .unknown: return 1
            case .old: return 2
            case .current: return 3
            }
        }
        return targets.enumerated().sorted { left, right in
            let (l, r) = (rank(left.element), rank(right.element))
            return l != r ? l < r : left.offset < right.offset
        }.map(\.element)
    }
}

/// The minimum healthy hosts of a deployment configuration: how many hosts must stay in service.
public enum MinimumHealthy: Codable, Sendable, Hashable {
    /// At least this many hosts (`HOST_COUNT`).
    case hostCount(Int)
    /// At least this percentage of the fleet, rounded up (`FLEET_PERCENT`).
    case fleetPercent(Int)
    /// At most this many hosts at once (`MOST_CONCURRENCY`, what `CodeDeployDefault.OneAtATime` reports with 1).
    case mostConcurrency(Int)

    /// `CodeDeployDefault.OneAtATime`.
    public static let oneAtATime = MinimumHealthy.mostConcurrency(1)
    /// `CodeDeployDefault.HalfAtATime`.
    public static let halfAtATime = MinimumHealthy.fleetPercent(50)
    /// `CodeDeployDefault.AllAtOnce`.
    public static let allAtOnce = MinimumHealthy.hostCount(0)

    /// The rule of a deployment configuration's `minimumHealthyHosts`; `nil` for a type or value it cannot be.
    public init?(_ shape: CodeDeploy.MinimumHealthyHosts) {
        guard let value = shape.value, value >= 0 else { return nil }
        switch shape.type?.rawValue {
        case CodeDeploy.MinimumHealthyHostsType.hostCount.rawValue: self = .hostCount(value)
        case CodeDeploy.MinimumHealthyHostsType.fleetPercent.rawValue where value <= 100: self = .fleetPercent(value)
        case "MOST_CONCURRENCY" where value >= 1: self = .mostConcurrency(value)
        default: return nil
        }
    }

    /// The rule as the API shows it.
    public var shape: CodeDeploy.MinimumHealthyHosts {
        switch self {
        case .hostCount(let value): CodeDeploy.MinimumHealthyHosts(type: .hostCount, value: value)
        case .fleetPercent(let value): CodeDeploy.MinimumHealthyHosts(type: .fleetPercent, value: value)
        case .mostConcurrency(let value):
            CodeDeploy.MinimumHealthyHosts(
                type: CodeDeploy.MinimumHealthyHostsType(rawValue: "MOST_CONCURRENCY"), value: value)
        }
    }

    /// `m`, the number of hosts that must stay healthy in a fleet of `fleetSize`, fixed at deployment start.
    public func count(fleetSize: Int) -> Int {
        switch self {
        case .hostCount(let value): max(value, 0)
        case .fleetPercent(let percent): (fleetSize * min(max(percent, 0), 100) + 99) / 100
        case .mostConcurrency(let value): max(fleetSize - max(value, 1), 0)
        }
    }
}

/// How long hosts get, in seconds.
public struct DeploymentTimeouts: Codable, Sendable, Hashable {
    /// How long an offered command may wait to be acknowledged before its host fails (CodeDeploy: 5 minutes).
    public var pickup: TimeInterval
    /// How long an acknowledged command may run without a report, unless the agent states its own maximum
    /// (CodeDeploy's ceiling of 70 minutes).
    public var running: TimeInterval
    /// Added to every running deadline, so that an agent's own script timeout reports before the server gives up.
    public var grace: TimeInterval
    /// Bounds applied to a maximum duration the agent states when it acknowledges.
    public var reportedDurationBounds: ClosedRange<TimeInterval>

    /// Timeouts; the defaults are CodeDeploy's, plus one minute of grace.
    public init(
        pickup: TimeInterval = 300,
        running: TimeInterval = 4200,
        grace: TimeInterval = 60,
        reportedDurationBounds: ClosedRange<TimeInterval> = 60...4200
    ) {
        self.pickup = pickup
        self.running = running
        self.grace = grace
        self.reportedDurationBounds = reportedDurationBounds
    }
}

/// How a blue/green deployment's replacement hosts take over (a deployment group's
/// `blueGreenDeploymentConfiguration`, resolved at `CreateDeployment`).
public struct BlueGreenSettings: Codable, Sendable, Hashable {
    /// How long the deployment waits in status `Ready`, once its replacement hosts are installed, for
    /// `ContinueDeployment` before it stops (`STOP_DEPLOYMENT`); `nil`: it moves the traffic at once
    /// (`CONTINUE_DEPLOYMENT`).
    public var readyWait: TimeInterval?
    /// What becomes of the original hosts once the traffic has left them.
    public var originalHosts: OriginalHosts

    /// Settings.
    public init(readyWait: TimeInterval? = nil, originalHosts: OriginalHosts = .keepAlive) {
        self.readyWait = readyWait
        self.originalHosts = originalHosts
    }

    /// `terminateBlueInstancesOnDeploymentSuccess`.
    public enum OriginalHosts: Codable, Sendable, Hashable {
        /// `KEEP_ALIVE`: they leave the load balancer and the deployment group's fleet, and keep running.
        case keepAlive
        /// `TERMINATE`: after the wait, they are also deregistered from Slipway (which cannot power a machine off:
        /// the deployment says so for someone to act on).
        case terminate(after: TimeInterval)
    }
}

/// How a blue/green deployment splits requests between its two backends: the original hosts serve in one, the
/// replacement hosts are readied in the other, and a map the load balancer reads sends each request to one of them.
public struct TrafficSplitPlan: Codable, Sendable, Hashable {
    /// The map that splits the requests (for HAProxy, the map file's path as its configuration names it).
    public var map: String
    /// The backend the original hosts serve in.
    public var originalBackend: String
    /// The backend the replacement hosts are readied in.
    public var replacementBackend: String
    /// The shares the replacement backend gets, in order; the last is 100 (0 in a rollback, which sends everything
    /// back).
    public var steps: [Step]

    /// A plan.
    public init(map: String, originalBackend: String, replacementBackend: String, steps: [Step]) {
        self.map = map
        self.originalBackend = originalBackend
        self.replacementBackend = replacementBackend
        self.steps = steps
    }

    /// One shift: the replacement backend's share of requests, and how long the deployment waits after it.
    public struct Step: Codable, Sendable, Hashable {
        public var percent: Int
        public var wait: TimeInterval

        public init(percent: Int, wait: TimeInterval = 0) {
            self.percent = percent
            self.wait = wait
        }
    }

    /// All at once: one step to 100 %.
    public static func allAtOnce() -> [Step] { [Step(percent: 100)] }

    /// `TimeBasedCanary`: `percent` for `interval`, then the rest.
    public static func canary(percent: Int, interval: TimeInterval) -> [Step] {
        guard (1...99).contains(percent) else { return allAtOnce() }
        return [Step(percent: percent, wait: interval), Step(percent: 100)]
    }

    /// `TimeBasedLinear`: `percent` more every `interval` until all.
    public static func linear(percent: Int, interval: TimeInterval) -> [Step] {
        guard (1...99).contains(percent) else { return allAtOnce() }
        let shares = stride(from: percent, to: 100, by: percent).map { Step(percent: $0, wait: interval) }
        return shares + [Step(percent: 100)]
    }
}
