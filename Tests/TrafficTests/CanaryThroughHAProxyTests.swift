import Deployments
import Engine
import Foundation
import SlipwayModel
import Testing
import Traffic

/// Canary deployments between two HAProxy backends: every host is a server of both `app-a` and `app-b`, the
/// original hosts `b1` and `b2` serve in `app-a`, and the replacement hosts `g1` and `g2` are readied in `app-b`; a
/// map sends each request to one backend. A client sends requests for the whole deployment; none may fail.
@Suite(
    "Canary deployments through HAProxy",
    .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
struct CanaryThroughHAProxyTests {
    static let hosts = ["b1", "b2", "g1", "g2"]
    static let green = CodeDeploy.TargetInstances(tagFilters: [.init(key: "release", type: .keyAndValue, value: "v2")])

    static func scenario() async throws -> TrafficScenario {
        let haproxy = try await HAProxyHarness(servers: hosts, maintenance: ["g1", "g2"], pair: true)
        let tags: [String: [CodeDeploy.Tag]] = [
            "b1": [.init(key: "env", value: "prod")], "b2": [.init(key: "env", value: "prod")],
            "g1": [.init(key: "release", value: "v2")], "g2": [.init(key: "release", value: "v2")],
        ]
        return try await TrafficScenario(
            haproxy: haproxy, instances: tags,
            group: CodeDeploy.DeploymentGroupInfo(
                applicationName: "shop",
                blueGreenDeploymentConfiguration: .init(
                    deploymentReadyOption: .init(actionOnTimeout: .continueDeployment),
                    greenFleetProvisioningOption: .init(action: .discoverExisting),
                    terminateBlueInstancesOnDeploymentSuccess: .init(action: .keepAlive)),
                deploymentConfigName: "Canary10Percent1Minute", deploymentGroupId: "g-1", deploymentGroupName: "web",
                deploymentStyle: .init(deploymentOption: .withTrafficControl, deploymentType: .blueGreen),
                loadBalancerInfo: .init(
                    targetGroupPairInfoList: [
                        .init(
                            prodTrafficRoute: .init(listenerArns: [haproxy.mapPath]),
                            targetGroups: [.init(name: "app-a"), .init(name: "app-b")])
                    ]),
                onPremisesInstanceTagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")]),
            configs: [
                CodeDeploy.DeploymentConfigInfo(
                    computePlatform: .server, deploymentConfigName: "Canary10Percent1Minute",
                    minimumHealthyHosts: .init(type: .hostCount, value: 0),
                    trafficRoutingConfig: .init(
                        timeBasedCanary: .init(canaryInterval: 1, canaryPercentage: 10), type: .timeBasedCanary))
            ])
    }

    /// A canary deployment whose replacements took their 10 %, with a client sending requests through HAProxy.
    static func atTheCanary() async throws -> (TrafficScenario, String, LoadGenerator) {
        let scenario = try await Self.scenario()
        let id = try await scenario.createDeployment(targetInstances: Self.green)
        let load = LoadGenerator(port: scenario.haproxy.frontendPort)
        try await scenario.runAgents(Self.hosts)
        return (scenario, id, load)
    }

    /// The share of `count` requests answered by the replacement hosts, in percent.
    static func greenShare(_ scenario: TrafficScenario, count: Int) async throws -> Double {
        var green = 0
        for _ in 0..<count {
            let answer = try await HAProxyHarness.request(port: scenario.haproxy.frontendPort)
            if answer.server.hasPrefix("g") { green += 1 }
        }
        return Double(green) * 100 / Double(count)
    }

    @Test("10 % of requests reach the replacements for the canary interval, then all; no request fails")
    func canaryThenAll() async throws {
        let (scenario, id, load) = try await Self.atTheCanary()
        let canary = try #require(try await scenario.deployment(id))
        #expect(canary.info.status == .inProgress, "\(String(describing: canary.info.errorInformation))")
        #expect(canary.info.deploymentStatusMessages?.first?.hasPrefix("Traffic: 10 %") == true)
        let share = try await Self.greenShare(scenario, count: 1200)
        #expect(abs(share - 10) <= 3, "the canary got \(share) % of 1,200 requests")
        #expect(try String(contentsOfFile: scenario.haproxy.mapPath, encoding: .utf8).contains("0:9 app-b"))

        // A minute later (stored times may move by a rounding error, so a second more).
        await scenario.driver.tick(now: scenario.now + 61)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .succeeded, "\(String(describing: record.info.deploymentStatusMessages))")
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(try await Self.greenShare(scenario, count: 200) == 100)
        #expect(try await scenario.status("b1", backend: "app-a") == "MAINT")
        #expect(try await scenario.status("g1", backend: "app-b").hasPrefix("UP"))
    }

    @Test("a stop mid-canary sends every request back to the originals at once, then blocks the replacements")
    func stopMidCanary() async throws {
        let (scenario, id, load) = try await Self.atTheCanary()
        try await scenario.driver.apply(.stop(autoRollbackEnabled: false), to: id, now: scenario.now)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .stopped)
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(try await Self.greenShare(scenario, count: 200) == 0)
        #expect(try await scenario.status("g1", backend: "app-b") == "MAINT")
        #expect(try String(contentsOfFile: scenario.haproxy.mapPath, encoding: .utf8).contains("0:99 app-a"))
    }

    @Test("a server restarted mid-canary carries on from the stored step, and the next deployment goes back to app-a")
    func restartMidCanary() async throws {
        let (started, id, load) = try await Self.atTheCanary()
        var scenario = started
        scenario = try await scenario.restarted()
        await scenario.driver.tick(now: scenario.now + 61)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .succeeded, "\(String(describing: record.info.deploymentStatusMessages))")
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")

        // The hosts that won serve in app-b now: the next deployment readies its replacements in app-a.
        let next = try await scenario.createDeployment(
            targetInstances: .init(tagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")]))
        let machine = try await scenario.driver.apply(.tick, to: next, now: scenario.now) { $0.snapshot }
        #expect(machine.trafficSplit?.originalBackend == "app-b")
        #expect(machine.trafficSplit?.replacementBackend == "app-a")
        #expect(machine.targets.filter { $0.label == .blue }.map(\.instanceName).sorted() == ["g1", "g2"])
    }

    @Test("an HAProxy reload mid-canary loses its runtime state; Slipway puts it back and the deployment carries on")
    func reloadMidCanary() async throws {
        let (scenario, id, load) = try await Self.atTheCanary()
        try await scenario.haproxy.reload()
        // The configuration has the replacements in maintenance; the map file kept the share.
        #expect(try await scenario.status("g1", backend: "app-b") == "MAINT")
        #expect(try await Self.greenShare(scenario, count: 100) == 0, "the guard sends nothing to an empty backend")
        await scenario.driver.convergeTraffic()
        #expect(try await scenario.status("g1", backend: "app-b").hasPrefix("UP"))
        let share = try await Self.greenShare(scenario, count: 1200)
        #expect(abs(share - 10) <= 3, "the canary got \(share) % of 1,200 requests after the reload")

        await scenario.driver.tick(now: scenario.now + 61)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()
        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .succeeded, "\(String(describing: record.info.deploymentStatusMessages))")
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        // Converging again changes nothing: the stored state is what HAProxy has.
        await scenario.driver.convergeTraffic()
        #expect(try await Self.greenShare(scenario, count: 100) == 100)
    }

    @Test("replacements that fail their health checks mid-canary stop the next step: the traffic goes back, none fails")
    func replacementsFailMidCanary() async throws {
        let (scenario, id, load) = try await Self.atTheCanary()
        try scenario.haproxy.setHealthy("g1", false)
        try scenario.haproxy.setHealthy("g2", false)
        try await waitUntil("the replacements are down") {
            let first = try await scenario.status("g1", backend: "app-b")
            let second = try await scenario.status("g2", backend: "app-b")
            return first.hasPrefix("DOWN") && second.hasPrefix("DOWN")
        }
        await scenario.driver.tick(now: scenario.now + 61)
        try await scenario.runAgents(Self.hosts)
        let (answered, failed, servers) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .failed)
        #expect(record.info.errorInformation?.code == .elasticLoadBalancingInvalid)
        #expect(record.info.errorInformation?.message?.contains("no server of app-b is up") == true)
        #expect(failed == 0, "no client request failed (\(answered) answered by \(servers))")
        #expect(try String(contentsOfFile: scenario.haproxy.mapPath, encoding: .utf8).contains("0:99 app-a"))
        #expect(try await scenario.status("g1", backend: "app-b") == "MAINT")
        #expect(try await scenario.status("b1", backend: "app-a").hasPrefix("UP"))
    }
}
