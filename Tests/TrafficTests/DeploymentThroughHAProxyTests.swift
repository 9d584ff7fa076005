import Deployments
import Engine
import Foundation
import Logging
import SlipwayModel
import Store
import Testing
import Traffic

/// The deployment driver with the HAProxy controller behind its traffic seam, over a real store and a real HAProxy.
@Suite(
    "Deployments through HAProxy",
    .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
struct DeploymentThroughHAProxyTests {
    @Test(
        "an in-place deployment with traffic control over 3 hosts installs on each only while HAProxy keeps it out, and no client request fails"
    )
    func inPlaceWithTrafficControl() async throws {
        let scenario = try await TrafficScenario(
            haproxy: try await HAProxyHarness(servers: ["s1", "s2", "s3"]),
            instances: [
                "s1": [.init(key: "env", value: "prod")], "s2": [.init(key: "env", value: "prod")],
                "s3": [.init(key: "env", value: "prod")],
            ],
            group: CodeDeploy.DeploymentGroupInfo(
                applicationName: "shop", deploymentConfigName: "CodeDeployDefault.OneAtATime",
                deploymentGroupId: "g-1", deploymentGroupName: "web",
                deploymentStyle: .init(deploymentOption: .withTrafficControl, deploymentType: .inPlace),
                loadBalancerInfo: .init(targetGroupInfoList: [.init(name: "app")]),
                onPremisesInstanceTagFilters: [.init(key: "env", type: .keyAndValue, value: "prod")]))
        let id = try await scenario.createDeployment()
        // A client sends requests through HAProxy for the whole deployment; each event a host runs is checked
        // against what HAProxy says of its server.
        let load = LoadGenerator(port: scenario.haproxy.frontendPort)
        var installedWhile: [String: String] = [:]
        try await scenario.runAgents(
            ["s1", "s2", "s3"],
            observe: { id in
                if id.event == .install { installedWhile[id.instanceName] = try await scenario.status(id.instanceName) }
            })
        let (answered, failed, _) = await load.finish()

        let record = try #require(try await scenario.deployment(id))
        #expect(record.info.status == .succeeded, "\(String(describing: record.info.errorInformation))")
        #expect(installedWhile == ["s1": "MAINT", "s2": "MAINT", "s3": "MAINT"], "each installs out of service")
        #expect(failed == 0, "no client request failed (\(answered) answered)")
        #expect(answered > 0)
        for host in ["s1", "s2", "s3"] {
            #expect(try await scenario.status(host).hasPrefix("UP"))
        }
    }
}
