import Deployments
import Engine
import Foundation
import Logging
import SlipwayModel
import Store
import Synchronization
import Traffic

/// The deployment driver with the HAProxy controller behind its traffic seam, over a real store, in front of a real
/// HAProxy: registered instances, a deployment group, and agents that run what their hosts are offered.
struct TrafficScenario {
    let haproxy: HAProxyHarness
    let store: SQLiteStore
    private(set) var driver: DeploymentDriver
    let group: CodeDeploy.DeploymentGroupInfo
    let now = Date()

    static func arn(_ host: String) -> String { "arn:aws:iam::000000000000:user/\(host)" }

    /// `instances` (name → tags) registered, `group` stored as `shop/web` and `configs` stored.
    init(
        haproxy: HAProxyHarness, instances: [String: [CodeDeploy.Tag]], group: CodeDeploy.DeploymentGroupInfo,
        configs: [CodeDeploy.DeploymentConfigInfo] = []
    ) async throws {
        self.haproxy = haproxy
        self.group = group
        store = try SQLiteStore(path: haproxy.directory.appendingPathComponent("store.sqlite").path)
        let now = self.now
        try await store.write { tx in
            for (name, tags) in instances {
                try tx.set(
                    CodeDeploy.InstanceInfo(
                        iamUserArn: Self.arn(name), instanceName: name, registerTime: now, tags: tags),
                    .instance, name: name)
            }
            try tx.set(group, .deploymentGroup, scope: "shop", name: "web")
            for config in configs {
                try tx.set(config, .deploymentConfig, name: config.deploymentConfigName ?? "")
            }
        }
        driver = DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: "us-east-1"),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            traffic: HAProxyTrafficController(
                runtimes: [haproxy.runtime],
                timing: .init(drainTimeout: .seconds(10), healthTimeout: .seconds(3), pollInterval: .milliseconds(50))))
    }

    /// The server restarted: a new driver over the same store, which carries on what the deployments were waiting
    /// for.
    func restarted() async throws -> TrafficScenario {
        var scenario = self
        scenario.driver = DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: "us-east-1"),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), traffic: driver.traffic)
        try await scenario.driver.resume(now: now)
        return scenario
    }

    /// A deployment of `a.zip` to the group (to the replacement instances `targetInstances` names, for blue/green).
    func createDeployment(
        targetInstances: CodeDeploy.TargetInstances? = nil, autoRollback: CodeDeploy.AutoRollbackConfiguration? = nil
    ) async throws -> String {
        let group = self.group
        return try await driver.create(now: now) { _ in
            DeploymentPlan(
                applicationName: "shop", group: group, configName: nil,
                revision: .init(
                    revisionType: .s3, s3Location: .init(bucket: "releases", bundleType: .zip, key: "a.zip")),
                creator: .user, description: nil, ignoreApplicationStopFailures: false, fileExistsBehavior: nil,
                autoRollbackConfiguration: autoRollback, updateOutdatedInstancesOnly: false, rollbackOf: nil,
                targetInstances: targetInstances)
        }.id
    }

    /// The agents of `hosts` run what they are offered, and the traffic the driver asks for is performed, until
    /// nothing moves: the deployment ended or waits. `report` says how each command ends; `observe` sees each
    /// command as its host takes it.
    func runAgents(
        _ hosts: [String], report: (HostCommandID) -> CommandReport = { _ in .success },
        observe: (HostCommandID) async throws -> Void = { _ in }
    ) async throws {
        for _ in 0..<200 {
            var progressed = false
            for host in hosts {
                guard
                    let id = try await driver.takeCommand(for: Self.arn(host), now: now)?
                        .HostCommandIdentifier.flatMap(HostCommandID.init(rawValue:))
                else { continue }
                progressed = true
                try await observe(id)
                try await driver.apply(.acknowledged(id, CommandAcknowledgement()), to: id.deploymentId, now: now)
                try await driver.apply(.completed(id, report(id)), to: id.deploymentId, now: now)
            }
            let now = self.now
            let performed = await driver.performQueuedTraffic { now }
            if !progressed && performed == 0 { return }
        }
    }

    /// The deployment's record.
    func deployment(_ id: String) async throws -> DeploymentRecord? {
        try await store.read { try $0.deployment(id) }
    }

    /// HAProxy's status of server `name` of `backend`.
    func status(_ name: String, backend: String = "app") async throws -> String {
        try await haproxy.runtime.stat(of: haproxy.server(name, backend: backend)).status
    }
}

/// A client sending requests through HAProxy's frontend, one after the other, until stopped; it counts what failed.
final class LoadGenerator: Sendable {
    private let stop = Stop()
    private let task: Task<(answered: Int, failed: Int, servers: [String: Int]), Never>

    init(port: Int) {
        let stop = self.stop
        task = Task {
            var answered = 0
            var failed = 0
            var servers: [String: Int] = [:]
            while !stop.requested {
                if let answer = try? await HAProxyHarness.request(port: port), answer.status == 200 {
                    answered += 1
                    servers[answer.server, default: 0] += 1
                } else {
                    failed += 1
                }
            }
            return (answered, failed, servers)
        }
    }

    /// Stops the client; how many requests were answered and failed, and which servers answered how many.
    func finish() async -> (answered: Int, failed: Int, servers: [String: Int]) {
        stop.request()
        return await task.value
    }
}

/// A flag a test raises to end a loop in another task.
final class Stop: Sendable {
    private let flag = Mutex(false)
    var requested: Bool { flag.withLock { $0 } }
    func request() { flag.withLock { $0 = true } }
}
