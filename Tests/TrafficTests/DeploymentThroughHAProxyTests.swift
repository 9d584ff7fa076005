import Deployments
import Engine
import Foundation
import Logging
import SlipwayModel
import Store
import Synchronization
import Testing
import Traffic

/// The deployment driver with the HAProxy controller behind its traffic seam, over a real store and a real HAProxy.
@Suite(
    "Deployments through HAProxy",
    .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
struct DeploymentThroughHAProxyTests {
    @Test(
        "an in-place deployment with traffic control installs on each host only while HAProxy keeps it out, and no client request fails"
    )
    func inPlaceWithTrafficControl() async throws {
        let haproxy = try await HAProxyHarness()
        let store = try SQLiteStore(path: haproxy.directory.appendingPathComponent("store.sqlite").path)
        let now = Date()
        let group = CodeDeploy.DeploymentGroupInfo(
            applicationName: "shop", deploymentConfigName: "CodeDeployDefault.OneAtATime", deploymentGroupId: "g-1",
            deploymentGroupName: "web",
            deploymentStyle: .init(deploymentOption: .withTrafficControl, deploymentType: .inPlace),
            loadBalancerInfo: .init(targetGroupInfoList: [.init(name: "app")]),
            onPremisesInstanceTagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")])
        try await store.write { tx in
            for name in ["s1", "s2"] {
                try tx.set(
                    CodeDeploy.InstanceInfo(
                        iamUserArn: "arn:aws:iam::000000000000:user/\(name)", instanceName: name, registerTime: now,
                        tags: [.init(key: "env", value: "prod")]),
                    .instance, name: name)
            }
            try tx.set(group, .deploymentGroup, scope: "shop", name: "web")
        }
        let driver = DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: "us-east-1"),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            traffic: HAProxyTrafficController(
                runtimes: [haproxy.runtime],
                timing: .init(drainTimeout: .seconds(10), healthTimeout: .seconds(5), pollInterval: .milliseconds(50))))
        let id = try await driver.create(now: now) { _ in
            DeploymentPlan(
                applicationName: "shop", group: group, configName: nil,
                revision: .init(
                    revisionType: .s3, s3Location: .init(bucket: "releases", bundleType: .zip, key: "a.zip")),
                creator: .user, description: nil, ignoreApplicationStopFailures: false, fileExistsBehavior: nil,
                autoRollbackConfiguration: nil, updateOutdatedInstancesOnly: false, rollbackOf: nil)
        }.id

        // A client sends requests through HAProxy for the whole deployment.
        let stop = Stop()
        let port = haproxy.frontendPort
        let client = Task {
            var answered = 0
            var failed = 0
            while !stop.requested {
                if let answer = try? await HAProxyHarness.request(port: port), answer.status == 200 {
                    answered += 1
                } else {
                    failed += 1
                }
            }
            return (answered, failed)
        }

        // The agents: each event a host runs is checked against what HAProxy says of its server.
        var installedWhile: [String: String] = [:]
        for _ in 0..<200 {
            var progressed = false
            for host in ["s1", "s2"] {
                guard
                    let id = try await driver.takeCommand(for: "arn:aws:iam::000000000000:user/\(host)", now: now)?
                        .HostCommandIdentifier.flatMap(HostCommandID.init(rawValue:))
                else { continue }
                progressed = true
                if id.event == .install {
                    installedWhile[host] = try await haproxy.runtime.stat(of: haproxy.server(host)).status
                }
                try await driver.apply(.acknowledged(id, CommandAcknowledgement()), to: id.deploymentId, now: now)
                try await driver.apply(.completed(id, .success), to: id.deploymentId, now: now)
            }
            await driver.performQueuedTraffic { now }
            if !progressed, try await store.read({ try $0.deployment(id) })?.isFinished == true { break }
        }
        stop.request()
        let (answered, failed) = await client.value

        let record = try #require(try await store.read { try $0.deployment(id) })
        #expect(record.info.status == .succeeded, "\(String(describing: record.info.errorInformation))")
        #expect(installedWhile == ["s1": "MAINT", "s2": "MAINT"], "each host installs while out of service")
        #expect(failed == 0, "no client request failed (\(answered) answered)")
        #expect(answered > 0)
        for host in ["s1", "s2"] {
            #expect(try await haproxy.runtime.stat(of: haproxy.server(host)).status.hasPrefix("UP"))
        }
    }
}

/// A flag a test raises to end a loop in another task.
final class Stop: Sendable {
    private let flag = Mutex(false)
    var requested: Bool { flag.withLock { $0 } }
    func request() { flag.withLock { $0 = true } }
}
