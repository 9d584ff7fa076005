import Engine
import Foundation
import Logging
import SlipwayModel
import Store
import Synchronization

@testable import Deployments

/// The IAM ARN an instance's agent polls with.
func arn(_ instance: String) -> String { "arn:aws:iam::000000000000:user/\(instance)" }

/// A deployment driver over a real SQLite store in a temporary directory, at the time the test sets: nothing sleeps,
/// and a second driver over the same store is a server restarted.
final class DriverHarness {
    let directory: URL
    let store: SQLiteStore
    private(set) var driver: DeploymentDriver
    let traffic: any TrafficController
    var now = Date(timeIntervalSince1970: 1_800_000_000)
    /// The group `shop/web`.
    let group: CodeDeploy.DeploymentGroupInfo

    /// Registered instances `hosts` (tagged `env=prod`) and the group `shop/web` that targets them.
    init(
        hosts: [String], config: String = "CodeDeployDefault.AllAtOnce", loadBalancer: Bool = false,
        traffic: any TrafficController = NoLoadBalancer()
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-driver-\(UUID())")
        store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        self.traffic = traffic
        driver = Self.driver(over: store, traffic: traffic)
        group = CodeDeploy.DeploymentGroupInfo(
            applicationName: "shop", deploymentConfigName: config, deploymentGroupId: "g-1",
            deploymentGroupName: "web",
            deploymentStyle: loadBalancer
                ? .init(deploymentOption: .withTrafficControl, deploymentType: .inPlace) : nil,
            loadBalancerInfo: loadBalancer ? .init(elbInfoList: [.init(name: "web-lb")]) : nil,
            onPremisesInstanceTagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")])
        let (group, now) = (group, now)
        try await store.write { tx in
            for name in hosts {
                let instance = CodeDeploy.InstanceInfo(
                    iamUserArn: arn(name), instanceName: name, registerTime: now,
                    tags: [.init(key: "env", value: "prod")])
                try tx.set(instance, .instance, name: name)
            }
            try tx.set(group, .deploymentGroup, scope: "shop", name: "web")
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    private static func driver(over store: any Store, traffic: any TrafficController) -> DeploymentDriver {
        DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: "us-east-1"),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), traffic: traffic)
    }

    /// A new driver over the same store, with nothing in memory: the server after a restart.
    func restart() {
        driver = Self.driver(over: store, traffic: traffic)
    }

    func advance(by seconds: TimeInterval) { now += seconds }

    /// A second group, `shop/<name>` with id `g-<name>`, targeting the same instances.
    func addGroup(_ name: String) async throws -> CodeDeploy.DeploymentGroupInfo {
        var other = group
        other.deploymentGroupName = name
        other.deploymentGroupId = "g-\(name)"
        let stored = other
        try await store.write { tx in try tx.set(stored, .deploymentGroup, scope: "shop", name: name) }
        return other
    }

    /// CreateDeployment of `shop.zip` to `group` (by default `shop/web`); returns the deployment id.
    func createDeployment(to group: CodeDeploy.DeploymentGroupInfo? = nil) async throws -> String {
        let group = group ?? self.group
        let revision = CodeDeploy.RevisionLocation(
            revisionType: .s3, s3Location: .init(bucket: "releases", bundleType: .zip, key: "shop.zip"))
        return try await driver.create(now: now) { _ in
            DeploymentPlan(
                applicationName: "shop", group: group, configName: nil, revision: revision, creator: .user,
                description: nil, ignoreApplicationStopFailures: false, fileExistsBehavior: nil,
                autoRollbackConfiguration: nil, updateOutdatedInstancesOnly: false, rollbackOf: nil)
        }.id
    }

    /// What the poll of `host`'s agent is handed now, if anything.
    func poll(_ host: String) async throws -> CodeDeployCommand.HostCommandInstance? {
        try await driver.takeCommand(for: arn(host), now: now)
    }

    /// The command the poll of `host` is handed now, by identifier.
    func pollCommand(_ host: String) async throws -> HostCommandID? {
        try await poll(host).flatMap { $0.HostCommandIdentifier }.flatMap(HostCommandID.init(rawValue:))
    }

    /// `PutHostCommandAcknowledgement`; returns the command's status as answered.
    @discardableResult
    func acknowledge(_ id: HostCommandID) async throws -> CodeDeployCommand.CommandStatus? {
        try await driver.apply(.acknowledged(id, CommandAcknowledgement()), to: id.deploymentId, now: now) {
            $0.commandStatus(id)
        }
    }

    /// `PutHostCommandComplete`.
    func complete(_ id: HostCommandID, _ report: CommandReport = .success) async throws {
        try await driver.apply(.completed(id, report), to: id.deploymentId, now: now) { _ in () }
    }

    /// Polls, acknowledges and completes `host`'s commands with success until it is handed none; returns the events
    /// it ran.
    @discardableResult
    func runCommands(of host: String) async throws -> [LifecycleEvent] {
        var events: [LifecycleEvent] = []
        while true {
            var next = try await pollCommand(host)
            if next == nil {
                await performTraffic()
                next = try await pollCommand(host)
            }
            guard let id = next else { return events }
            events.append(id.event)
            try await acknowledge(id)
            try await complete(id)
        }
    }

    /// Performs the traffic requests the driver queued, as the server's traffic task would, at the harness's time.
    func performTraffic() async {
        let now = now
        await driver.performQueuedTraffic { now }
    }

    /// The deployment as stored.
    func deployment(_ id: String) async throws -> DeploymentRecord? {
        try await store.read { try $0.deployment(id) }
    }

    /// One host of the deployment as stored.
    func host(_ name: String, of id: String) async throws -> HostLifecycle? {
        try await store.read { try $0.deploymentHost(id, instanceName: name) }
    }
}

/// A traffic controller that records what it is asked, and fails the events it is told to.
final class RecordingTraffic: TrafficController {
    let failing: Set<LifecycleEvent>
    private let asked = Mutex<[TrafficRequest]>([])

    init(failing: Set<LifecycleEvent> = []) {
        self.failing = failing
    }

    var requests: [TrafficRequest] { asked.withLock { $0 } }

    func perform(_ request: TrafficRequest) async -> TrafficResult {
        asked.withLock { $0.append(request) }
        return failing.contains(request.event) ? .failed(message: "the load balancer refused") : .succeeded
    }

    private let routed = Mutex<[TrafficRoute]>([])
    var routes: [TrafficRoute] { routed.withLock { $0 } }

    func route(_ route: TrafficRoute) async -> TrafficResult {
        routed.withLock { $0.append(route) }
        return .succeeded
    }
}
