import Deployments
import Engine
import Foundation
import SlipwayModel
import Testing
import Traffic

/// Blue/green deployments with the driver, a real store and a real HAProxy: the original servers `b1` and `b2` serve
/// backend `app`, the replacement servers `g1` and `g2` start in maintenance, and a client sends requests through
/// HAProxy for the whole deployment. None of them may fail, and the traffic must end where the outcome says.
@Suite(
    "Blue/green deployments through HAProxy",
    .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
struct BlueGreenThroughHAProxyTests {
    static let hosts = ["b1", "b2", "g1", "g2"]

    static func scenario(
        originals: BlueGreenStyle = .keepAlive
    ) async throws -> TrafficScenario {
        let tags: [String: [CodeDeploy.Tag]] = [
            "b1": [.init(key: "env", value: "prod")], "b2": [.init(key: "env", value: "prod")],
            "g1": [.init(key: "release", value: "v2")], "g2": [.init(key: "release", value: "v2")],
        ]
        return try await TrafficScenario(
            haproxy: try await HAProxyHarness(servers: hosts, maintenance: ["g1", "g2"]), instances: tags,
            group: CodeDeploy.DeploymentGroupInfo(
                applicationName: "shop",
                blueGreenDeploymentConfiguration: .init(
                    deploymentReadyOption: .init(actionOnTimeout: .continueDeployment),
                    greenFleetProvisioningOption: .init(action: .discoverExisting),
                    terminateBlueInstancesOnDeploymentSuccess: originals.option),
                deploymentConfigName: "CodeDeployDefault.AllAtOnce", deploymentGroupId: "g-1",
                deploymentGroupName: "web",
                deploymentStyle: .init(deploymentOption: .withTrafficControl, deploymentType: .blueGreen),
                loadBalancerInfo: .init(targetGroupInfoList: [.init(name: "app")]),
                onPremisesInstanceTagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")]))
    }

    enum BlueGreenStyle {
        case keepAlive
        case terminate(minutes: Int)

        var option: CodeDeploy.BlueInstanceTerminationOption {
            switch self {
            case .keepAlive: .init(action: .keepAlive)
            case .terminate(let minutes): .init(action: .terminate, terminationWaitTimeInMinutes: minutes)
            }
        }
    }

    static let green = CodeDeploy.TargetInstances(tagFilters: [.init(key: "release", type: .keyAndValue, value: "v2")])

    @Test("2 → 2: the replacements install out of service, take the traffic, and the originals leave it")
    func twoToTwo() async throws {
        let scenario = try await Self.scenario()
        let id = try await scenario.createDeployment(targetInstances: Self.green)
        let load = LoadGenerator(port: scenario.haproxy.frontendPort)
        var installedWhile: [String: String] = [:]
        try await scenario.runAgents(
            Self.hosts,
            observe: { id in
                if id.event == .install { installedWhile[id.instanceName] = try await scenario.status(id.instanceName) }
            })
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .succeeded, "\(String(describing: record.info.errorInformation))")
        #expect(installedWhile == ["g1": "MAINT", "g2": "MAINT"])
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(try await scenario.status("g1").hasPrefix("UP"))
        #expect(try await scenario.status("g2").hasPrefix("UP"))
        #expect(try await scenario.status("b1") == "MAINT")
        #expect(try await scenario.status("b2") == "MAINT")
        let after = try await HAProxyHarness.request(port: scenario.haproxy.frontendPort)
        #expect(["g1", "g2"].contains(after.server))
    }

    @Test("a replacement whose health checks fail never takes a request; the deployment fails and blue serves on")
    func unhealthyReplacement() async throws {
        let scenario = try await Self.scenario()
        try scenario.haproxy.setHealthy("g1", false)
        try scenario.haproxy.setHealthy("g2", false)
        let id = try await scenario.createDeployment(targetInstances: Self.green)
        let load = LoadGenerator(port: scenario.haproxy.frontendPort)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .failed)
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(servers["g1"] == nil && servers["g2"] == nil, "the unhealthy replacements got no request")
        #expect(try await scenario.status("b1").hasPrefix("UP"))
        #expect(try await scenario.status("b2").hasPrefix("UP"))
        #expect(try await scenario.status("g1") == "MAINT")
        #expect(try await scenario.status("g2") == "MAINT")
    }

    @Test("a replacement failing after it took traffic sends the traffic back: the replacements are blocked again")
    func failureAfterTrafficMoved() async throws {
        let scenario = try await Self.scenario()
        let id = try await scenario.createDeployment(targetInstances: Self.green)
        let load = LoadGenerator(port: scenario.haproxy.frontendPort)
        var greenServedBeforeFailing = false
        try await scenario.runAgents(Self.hosts) { id in
            id.event == .afterAllowTraffic ? .failure(.scriptFailed, message: "the model answers nonsense") : .success
        } observe: { id in
            if id.event == .afterAllowTraffic {
                greenServedBeforeFailing = try await scenario.status(id.instanceName).hasPrefix("UP")
            }
        }
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .failed)
        #expect(greenServedBeforeFailing)
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(try await scenario.status("b1").hasPrefix("UP"))
        #expect(try await scenario.status("b2").hasPrefix("UP"))
        #expect(try await scenario.status("g1") == "MAINT")
        #expect(try await scenario.status("g2") == "MAINT")
    }

    @Test("a stop once the originals left sends the traffic back to them before the replacements are blocked")
    func stopDuringTerminationWait() async throws {
        let scenario = try await Self.scenario(originals: .terminate(minutes: 60))
        let id = try await scenario.createDeployment(targetInstances: Self.green)
        let load = LoadGenerator(port: scenario.haproxy.frontendPort)
        try await scenario.runAgents(Self.hosts)
        let waiting = try #require(try await scenario.deployment(id))
        #expect(waiting.info.instanceTerminationWaitTimeStarted == true)
        #expect(try await scenario.status("b1") == "MAINT")

        try await scenario.driver.apply(.stop(autoRollbackEnabled: false), to: id, now: scenario.now)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .stopped)
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(try await scenario.status("b1").hasPrefix("UP"))
        #expect(try await scenario.status("b2").hasPrefix("UP"))
        #expect(try await scenario.status("g1") == "MAINT")
        #expect(try await scenario.status("g2") == "MAINT")
    }
}
