import Foundation
import SlipwayModel
import Store

/// The predefined `CodeDeployDefault.*` deployment configurations: deployments resolve configuration names against
/// them before the stored custom ones, and the API lists and protects them.
package enum PredefinedDeploymentConfigs {
    /// The prefix of predefined names, which custom configurations may not use.
    package static let prefix = "CodeDeployDefault."

    /// The predefined configurations. OneAtATime is reported as `MOST_CONCURRENCY`, as AWS does. Its id is AWS's;
    /// the others are numbered after it in the order of AWS's documentation (inferred: AWS does not publish them).
    package static let all: [String: CodeDeploy.DeploymentConfigInfo] = {
        // 2014-11-12, CodeDeploy's launch: the predefined configurations exist from then on.
        let created = Date(timeIntervalSince1970: 1_415_750_400)
        var configs: [String: CodeDeploy.DeploymentConfigInfo] = [:]
        var number = 0
        func add(
            _ name: String, _ platform: CodeDeploy.ComputePlatform, hosts: CodeDeploy.MinimumHealthyHosts? = nil,
            routing: CodeDeploy.TrafficRoutingConfig? = nil
        ) {
            number += 1
            let id =
                "00000000-0000-0000-0000-" + String(repeating: "0", count: 12 - String(number).count) + String(number)
            configs[prefix + name] = CodeDeploy.DeploymentConfigInfo(
                computePlatform: platform, createTime: created, deploymentConfigId: id,
                deploymentConfigName: prefix + name, minimumHealthyHosts: hosts, trafficRoutingConfig: routing)
        }
        add("OneAtATime", .server, hosts: .init(type: .init(rawValue: "MOST_CONCURRENCY"), value: 1))
        add("HalfAtATime", .server, hosts: .init(type: .fleetPercent, value: 50))
        add("AllAtOnce", .server, hosts: .init(type: .hostCount, value: 0))
        for minutes in [5, 10, 15, 30] {
            add("LambdaCanary10Percent\(minutes)Minutes", .lambda, routing: canary(10, minutes))
        }
        for (minutes, label) in [(1, "1Minute"), (2, "2Minutes"), (3, "3Minutes"), (10, "10Minutes")] {
            add("LambdaLinear10PercentEvery\(label)", .lambda, routing: linear(10, minutes))
        }
        add("LambdaAllAtOnce", .lambda, routing: .init(type: .allAtOnce))
        for minutes in [1, 3] { add("ECSLinear10PercentEvery\(minutes)Minutes", .ecs, routing: linear(10, minutes)) }
        for minutes in [5, 15] { add("ECSCanary10Percent\(minutes)Minutes", .ecs, routing: canary(10, minutes)) }
        add("ECSAllAtOnce", .ecs, routing: .init(type: .allAtOnce))
        return configs
    }()

    private static func canary(_ percent: Int, _ minutes: Int) -> CodeDeploy.TrafficRoutingConfig {
        .init(timeBasedCanary: .init(canaryInterval: minutes, canaryPercentage: percent), type: .timeBasedCanary)
    }

    private static func linear(_ percent: Int, _ minutes: Int) -> CodeDeploy.TrafficRoutingConfig {
        .init(timeBasedLinear: .init(linearInterval: minutes, linearPercentage: percent), type: .timeBasedLinear)
    }
}

extension StoreReader {
    /// A predefined or custom deployment configuration.
    package func deploymentConfig(_ name: String) throws -> CodeDeploy.DeploymentConfigInfo? {
        if let config = PredefinedDeploymentConfigs.all[name] { return config }
        return try get(CodeDeploy.DeploymentConfigInfo.self, .deploymentConfig, name: name)
    }

    package func deploymentGroup(application: String, name: String) throws -> CodeDeploy.DeploymentGroupInfo? {
        try get(CodeDeploy.DeploymentGroupInfo.self, .deploymentGroup, scope: application, name: name)
    }
}

/// The identity of a revision location.
package enum RevisionKey {
    /// A canonical text of the location: the same revision always gives the same key.
    package static func make(_ location: CodeDeploy.RevisionLocation) throws -> String {
        let encoder = AWSJSON.makeEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(location), as: UTF8.self)
    }
}
