import Foundation
import SigV4
import Testing

@testable import Server

/// Blue/green deployments through the CodeDeploy and agent APIs: a deployment group of original instances, a
/// deployment naming its replacement instances by tag, agents running what each side is offered, and the waits
/// that ContinueDeployment and SkipWaitTimeForInstanceTermination end.
@Suite("Blue/green deployments through the API")
struct BlueGreenHandlerTests {
    static func arn(_ name: String) -> String { "arn:aws:iam::000000000000:user/\(name)" }

    /// `releases/app.zip`, instances `blue-1` (`env=prod`) and `green-1` (`release=v2`), and the blue/green group
    /// `web/prod` with `configuration` (a `blueGreenDeploymentConfiguration` JSON object).
    static func prepare(_ client: TestServer.Client, as admin: Credentials, configuration: String) async throws {
        func ok(_ answer: TestServer.Client.Answer, _ what: String) {
            #expect(answer.status == 200, "\(what): \(answer.text)")
        }
        ok(try await client.s3(.put, "/releases", as: admin), "CreateBucket")
        ok(try await client.s3(.put, "/releases/app.zip", body: Data("v1".utf8), as: admin), "PutObject")
        for (name, tag) in [
            ("blue-1", #"{"Key":"env","Value":"prod"}"#), ("green-1", #"{"Key":"release","Value":"v2"}"#),
        ] {
            ok(
                try await client.codeDeploy(
                    "RegisterOnPremisesInstance", #"{"instanceName":"\#(name)","iamUserArn":"\#(arn(name))"}"#,
                    as: admin), "Register \(name)")
            ok(
                try await client.codeDeploy(
                    "AddTagsToOnPremisesInstances", #"{"instanceNames":["\#(name)"],"tags":[\#(tag)]}"#, as: admin),
                "Tag \(name)")
        }
        ok(try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin), "CreateApp")
        let answer = try await client.codeDeploy("CreateDeploymentGroup", group(configuration), as: admin)
        ok(answer, "CreateDeploymentGroup")
    }

    static func group(_ configuration: String, style: String = "BLUE_GREEN", option: String = "WITH_TRAFFIC_CONTROL")
        -> String
    {
        #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r","#
            + #""onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}],"#
            + #""loadBalancerInfo":{"targetGroupInfoList":[{"name":"app"}]},"#
            + #""deploymentStyle":{"deploymentType":"\#(style)","deploymentOption":"\#(option)"},"#
            + #""blueGreenDeploymentConfiguration":\#(configuration)}"#
    }

    static let waitForContinue =
        #"{"deploymentReadyOption":{"actionOnTimeout":"STOP_DEPLOYMENT","waitTimeInMinutes":60},"#
        + #""terminateBlueInstancesOnDeploymentSuccess":{"action":"TERMINATE","terminationWaitTimeInMinutes":5}}"#

    static func createDeployment(_ client: TestServer.Client, as admin: Credentials, greenTag: String = "v2")
        async throws -> TestServer.Client.Answer
    {
        try await client.codeDeploy(
            "CreateDeployment",
            #"{"applicationName":"web","deploymentGroupName":"prod","revision":\#(TestServer.Client.appZip),"#
                + #""targetInstances":{"tagFilters":[{"Key":"release","Value":"\#(greenTag)","Type":"KEY_AND_VALUE"}]}}"#,
            as: admin)
    }

    /// Runs what `host` is offered until no command comes for a while: its agent's lifecycle events, in order. The
    /// server performs the traffic events between them, so an empty poll is asked again for up to two seconds.
    static func runCommands(of host: String, _ client: TestServer.Client, as agent: Credentials) async throws
        -> [String]
    {
        var names: [String] = []
        var quiet = 0
        while quiet < 40, names.count < 20 {
            guard let command = try await client.poll(as: agent, host: arn(host)).hostCommand else {
                quiet += 1
                continue
            }
            quiet = 0
            let id = try #require(command["HostCommandIdentifier"] as? String)
            names.append(try #require(command["CommandName"] as? String))
            #expect(try await client.acknowledge(id, as: agent).status == 200)
            #expect(try await client.complete(id, as: agent).status == 200)
        }
        return names
    }

    static func targets(_ id: String, label: String, _ client: TestServer.Client, as admin: Credentials)
        async throws -> [String]
    {
        let answer = try await client.codeDeploy(
            "ListDeploymentTargets",
            #"{"deploymentId":"\#(id)","targetFilters":{"ServerInstanceLabel":["\#(label)"]}}"#, as: admin)
        #expect(answer.status == 200, "\(answer.text)")
        return answer.json?["targetIds"] as? [String] ?? []
    }

    @Test("replacement hosts install and wait in Ready; ContinueDeployment moves traffic; the originals are retired")
    func wholeDeployment() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.prepare(client, as: admin, configuration: Self.waitForContinue)
            let blue = try await server.key(.agent, instanceName: "blue-1")
            let green = try await server.key(.agent, instanceName: "green-1")
            let created = try await Self.createDeployment(client, as: admin)
            let id = try #require(created.json?["deploymentId"] as? String, "\(created.text)")

            #expect(
                try await Self.runCommands(of: "green-1", client, as: green) == [
                    "ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
                    "ApplicationStart", "ValidateService",
                ])
            #expect(try await client.poll(as: blue, host: Self.arn("blue-1")).hostCommand == nil)
            var info = try await client.deploymentInfo(id, as: admin)
            #expect(info["status"] as? String == "Ready")
            #expect((info["deploymentOverview"] as? [String: Any])?["Ready"] as? Int == 1)
            #expect((info["deploymentStyle"] as? [String: Any])?["deploymentType"] as? String == "BLUE_GREEN")
            #expect(info["targetInstances"] != nil && info["blueGreenDeploymentConfiguration"] != nil)
            #expect(try await Self.targets(id, label: "Green", client, as: admin) == ["green-1"])
            #expect(try await Self.targets(id, label: "Blue", client, as: admin) == ["blue-1"])
            let target = try await client.codeDeploy(
                "GetDeploymentTarget", #"{"deploymentId":"\#(id)","targetId":"green-1"}"#, as: admin)
            let instance = (target.json?["deploymentTarget"] as? [String: Any])?["instanceTarget"] as? [String: Any]
            #expect(instance?["instanceLabel"] as? String == "Green")
            #expect(instance?["status"] as? String == "Ready")

            let early = try await client.codeDeploy(
                "SkipWaitTimeForInstanceTermination", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(early.errorType == "DeploymentNotStartedException", "\(early.text)")
            let continued = try await client.codeDeploy(
                "ContinueDeployment", #"{"deploymentId":"\#(id)","deploymentWaitType":"READY_WAIT"}"#, as: admin)
            #expect(continued.status == 200, "\(continued.text)")
            let again = try await client.codeDeploy("ContinueDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(again.errorType == "DeploymentIsNotInReadyStateException", "\(again.text)")

            #expect(
                try await Self.runCommands(of: "green-1", client, as: green) == [
                    "BeforeAllowTraffic", "AfterAllowTraffic",
                ])
            #expect(
                try await Self.runCommands(of: "blue-1", client, as: blue) == [
                    "BeforeBlockTraffic", "AfterBlockTraffic",
                ])
            info = try await client.deploymentInfo(id, as: admin)
            #expect(info["status"] as? String == "InProgress")
            #expect(info["instanceTerminationWaitTimeStarted"] as? Bool == true)
            let skipped = try await client.codeDeploy(
                "SkipWaitTimeForInstanceTermination", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(skipped.status == 200, "\(skipped.text)")
            info = try await client.deploymentInfo(id, as: admin)
            #expect(info["status"] as? String == "Succeeded")
            #expect((info["deploymentStatusMessages"] as? [String])?.first?.contains("blue-1") == true)
            let retired = try await client.codeDeploy(
                "GetOnPremisesInstance", #"{"instanceName":"blue-1"}"#, as: admin)
            #expect((retired.json?["instanceInfo"] as? [String: Any])?["deregisterTime"] != nil, "\(retired.text)")

            // The next blue/green deployment replaces the hosts that won this one.
            let registered = try await client.codeDeploy(
                "RegisterOnPremisesInstance", #"{"instanceName":"green-2","iamUserArn":"\#(Self.arn("green-2"))"}"#,
                as: admin)
            #expect(registered.status == 200, "\(registered.text)")
            _ = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances",
                #"{"instanceNames":["green-2"],"tags":[{"Key":"release","Value":"v3"}]}"#, as: admin)
            let next = try await Self.createDeployment(client, as: admin, greenTag: "v3")
            let nextId = try #require(next.json?["deploymentId"] as? String, "\(next.text)")
            #expect(try await Self.targets(nextId, label: "Blue", client, as: admin) == ["green-1"])
            #expect(try await Self.targets(nextId, label: "Green", client, as: admin) == ["green-2"])
        }
    }

    @Test("a stop in Ready stops the deployment without touching the original instances")
    func stopInReady() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.prepare(client, as: admin, configuration: Self.waitForContinue)
            let green = try await server.key(.agent, instanceName: "green-1")
            let created = try await Self.createDeployment(client, as: admin)
            let id = try #require(created.json?["deploymentId"] as? String, "\(created.text)")
            _ = try await Self.runCommands(of: "green-1", client, as: green)
            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(stop.status == 200, "\(stop.text)")
            let info = try await client.deploymentInfo(id, as: admin)
            #expect(info["status"] as? String == "Stopped")
            #expect(try await Self.targets(id, label: "Blue", client, as: admin) == ["blue-1"])
            let target = try await client.codeDeploy(
                "GetDeploymentTarget", #"{"deploymentId":"\#(id)","targetId":"blue-1"}"#, as: admin)
            let instance = (target.json?["deploymentTarget"] as? [String: Any])?["instanceTarget"] as? [String: Any]
            #expect(instance?["status"] as? String == "Skipped")
        }
    }

    @Test("CreateDeployment refuses what a blue/green deployment cannot use, saying what to give instead")
    func createRefusals() async throws {
        try await TestServer.withAdmin { _, client, admin in
            try await Self.prepare(client, as: admin, configuration: Self.waitForContinue)
            let base =
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":\#(TestServer.Client.appZip)"#
            let cases: [(String, String)] = [
                (base + "}", "InvalidTargetInstancesException"),
                (base + #","targetInstances":{"autoScalingGroups":["asg"]}}"#, "InvalidTargetInstancesException"),
                (
                    base + #","targetInstances":{"tagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]}}"#,
                    "InvalidTargetInstancesException"
                ),
                (
                    base + #","targetInstances":{"tagFilters":[{"Key":"a","Type":"SOMETIMES"}]}}"#,
                    "ValidationException"
                ),
                (base + #","targetInstances":{"tagFilters":[{"Type":"KEY_ONLY"}]}}"#, "InvalidTagFilterException"),
                (
                    base + #","targetInstances":{"tagFilters":["#
                        + Array(repeating: #"{"Key":"k","Value":"v"}"#, count: 11).joined(separator: ",") + "]}}",
                    "InvalidTargetInstancesException"
                ),
                (
                    base + #","targetInstances":{"tagFilters":[{"Key":"release\u0000","Value":"v2"}]}}"#,
                    "ValidationException"
                ),
                (base + #","targetInstances":{"tagFilters":[{"Key":"nobody","Value":"v9"}]}}"#, ""),
            ]
            for (body, error) in cases {
                let answer = try await client.codeDeploy("CreateDeployment", body, as: admin)
                if error.isEmpty {
                    // Tags that match no instance: the deployment fails with NO_INSTANCES.
                    let id = try #require(answer.json?["deploymentId"] as? String, "\(answer.text)")
                    let info = try await client.deploymentInfo(id, as: admin)
                    #expect((info["errorInformation"] as? [String: Any])?["code"] as? String == "NO_INSTANCES")
                } else {
                    #expect(answer.errorType == error, "\(body): \(answer.text)")
                }
            }
        }
    }

    @Test("CreateDeploymentGroup checks a Server blue/green configuration and fills in its defaults")
    func groupConfiguration() async throws {
        try await TestServer.withAdmin { _, client, admin in
            _ = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
            let refused: [(String, String, String)] = [
                (
                    #"{"greenFleetProvisioningOption":{"action":"COPY_AUTO_SCALING_GROUP"}}"#, "BLUE_GREEN",
                    "WITH_TRAFFIC_CONTROL"
                ),
                (
                    #"{"deploymentReadyOption":{"actionOnTimeout":"STOP_DEPLOYMENT","waitTimeInMinutes":2881}}"#,
                    "BLUE_GREEN", "WITH_TRAFFIC_CONTROL"
                ),
                (
                    #"{"deploymentReadyOption":{"actionOnTimeout":"STOP_DEPLOYMENT","waitTimeInMinutes":-1}}"#,
                    "BLUE_GREEN", "WITH_TRAFFIC_CONTROL"
                ),
                (
                    #"{"deploymentReadyOption":{"actionOnTimeout":"STOP_DEPLOYMENT","waitTimeInMinutes":0}}"#,
                    "BLUE_GREEN", "WITH_TRAFFIC_CONTROL"
                ),
                (
                    #"{"terminateBlueInstancesOnDeploymentSuccess":{"action":"TERMINATE","terminationWaitTimeInMinutes":9223372036854775807}}"#,
                    "BLUE_GREEN", "WITH_TRAFFIC_CONTROL"
                ),
                (
                    #"{"terminateBlueInstancesOnDeploymentSuccess":{"action":"EXPLODE"}}"#, "BLUE_GREEN",
                    "WITH_TRAFFIC_CONTROL"
                ),
                ("{}", "BLUE_GREEN", "WITHOUT_TRAFFIC_CONTROL"),
            ]
            for (configuration, style, option) in refused {
                let answer = try await client.codeDeploy(
                    "CreateDeploymentGroup", Self.group(configuration, style: style, option: option), as: admin)
                #expect(answer.status == 400, "\(configuration) \(option): \(answer.text)")
                // Wrong types and unknown values are refused by the input schema, the rest by the group's checks.
                #expect(
                    answer.errorType?.hasPrefix("Invalid") == true || answer.errorType == "ValidationException"
                        || answer.errorType == "SerializationException", "\(answer.text)")
                #expect((answer.json?["message"] as? String)?.isEmpty == false)
            }
            let created = try await client.codeDeploy("CreateDeploymentGroup", Self.group("{}"), as: admin)
            #expect(created.status == 200, "\(created.text)")
            let group = try await client.codeDeploy(
                "GetDeploymentGroup", #"{"applicationName":"web","deploymentGroupName":"prod"}"#, as: admin)
            let configuration =
                (group.json?["deploymentGroupInfo"] as? [String: Any])?["blueGreenDeploymentConfiguration"]
                as? [String: Any]
            #expect(
                (configuration?["greenFleetProvisioningOption"] as? [String: Any])?["action"] as? String
                    == "DISCOVER_EXISTING")
            #expect(
                (configuration?["deploymentReadyOption"] as? [String: Any])?["actionOnTimeout"] as? String
                    == "CONTINUE_DEPLOYMENT")
            #expect(
                (configuration?["terminateBlueInstancesOnDeploymentSuccess"] as? [String: Any])?["action"] as? String
                    == "KEEP_ALIVE")
        }
    }

    @Test("ContinueDeployment refuses an in-place deployment, an unknown wait type and a deployment that is not there")
    func continueRefusals() async throws {
        try await TestServer.withAdmin { _, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let cases: [(String, String)] = [
                (#"{"deploymentId":"\#(id)"}"#, "UnsupportedActionForDeploymentTypeException"),
                (
                    #"{"deploymentId":"\#(id)","deploymentWaitType":"COFFEE_WAIT"}"#,
                    "InvalidDeploymentWaitTypeException"
                ),
                (#"{"deploymentId":"d-AAAAAAAAA"}"#, "DeploymentDoesNotExistException"),
                (#"{"deploymentId":"d-../../etc"}"#, "InvalidDeploymentIdException"),
                (#"{"deploymentId":42}"#, "SerializationException"),
            ]
            for (body, error) in cases {
                let answer = try await client.codeDeploy("ContinueDeployment", body, as: admin)
                #expect(answer.errorType == error, "\(body): \(answer.text)")
            }
            let skip = try await client.codeDeploy(
                "SkipWaitTimeForInstanceTermination", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(skip.errorType == "UnsupportedActionForDeploymentTypeException", "\(skip.text)")
            let filter = try await client.codeDeploy(
                "ListDeploymentTargets", #"{"deploymentId":"\#(id)","targetFilters":{"Colour":["Blue"]}}"#, as: admin)
            #expect(filter.status == 400, "\(filter.text)")
        }
    }

    static func pairGroup(_ pair: String, style: String = "BLUE_GREEN") -> String {
        #"{"applicationName":"web","deploymentGroupName":"split","serviceRoleArn":"arn:aws:iam::0:role/r","#
            + #""onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}],"#
            + #""loadBalancerInfo":{"targetGroupPairInfoList":[\#(pair)]},"#
            + #""deploymentStyle":{"deploymentType":"\#(style)","deploymentOption":"WITH_TRAFFIC_CONTROL"}}"#
    }

    @Test("a Server group's traffic split names two HAProxy backends and the absolute path of their map")
    func trafficSplitValidation() async throws {
        try await TestServer.withAdmin { _, client, admin in
            _ = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
            func pair(_ groups: [String], _ listeners: [String]) -> String {
                let names = groups.map { #"{"name":"\#($0)"}"# }.joined(separator: ",")
                let arns = listeners.map { #""\#($0)""# }.joined(separator: ",")
                return #"{"targetGroups":[\#(names)],"prodTrafficRoute":{"listenerArns":[\#(arns)]}}"#
            }
            let refused = [
                Self.pairGroup(pair(["app-a", "app-b"], ["/etc/haproxy/app.map"]), style: "IN_PLACE"),
                Self.pairGroup(pair(["app-a"], ["/etc/haproxy/app.map"])),
                Self.pairGroup(pair(["app-a", "app-a"], ["/etc/haproxy/app.map"])),
                Self.pairGroup(pair(["app a", "app-b"], ["/etc/haproxy/app.map"])),
                Self.pairGroup(pair(["app-a;show", "app-b"], ["/etc/haproxy/app.map"])),
                Self.pairGroup(pair(["app-a", "app-b"], ["etc/haproxy/app.map"])),
                Self.pairGroup(pair(["app-a", "app-b"], ["/etc/haproxy/../shadow"])),
                Self.pairGroup(pair(["app-a", "app-b"], ["/etc/haproxy/app.map;shutdown sessions"])),
                Self.pairGroup(pair(["app-a", "app-b"], ["/etc/haproxy/app.map<<"])),
                Self.pairGroup(pair(["app-a", "app-b"], ["/a.map", "/b.map"])),
                Self.pairGroup(pair(["app-a", "app-b"], ["/" + String(repeating: "m", count: 2000)])),
                Self.pairGroup(pair(["app-a", "app-b"], ["/a.map"]) + "," + pair(["app-c", "app-d"], ["/b.map"])),
            ]
            for body in refused {
                let answer = try await client.codeDeploy("CreateDeploymentGroup", body, as: admin)
                #expect(answer.status == 400, "\(body): \(answer.text)")
                #expect(answer.errorType == "InvalidTargetGroupPairException", "\(body): \(answer.text)")
            }
            let accepted = try await client.codeDeploy(
                "CreateDeploymentGroup", Self.pairGroup(pair(["app-a", "app-b"], ["/etc/haproxy/app.map"])), as: admin)
            #expect(accepted.status == 200, "\(accepted.text)")
        }
    }

    @Test("a canary configuration for Server deploys only to a blue/green group with a traffic split")
    func canaryNeedsASplit() async throws {
        try await TestServer.withAdmin { _, client, admin in
            try await Self.prepare(client, as: admin, configuration: "{}")
            let config = try await client.codeDeploy(
                "CreateDeploymentConfig",
                #"{"deploymentConfigName":"canary","computePlatform":"Server","#
                    + #""minimumHealthyHosts":{"type":"HOST_COUNT","value":0},"#
                    + #""trafficRoutingConfig":{"type":"TimeBasedCanary","#
                    + #""timeBasedCanary":{"canaryPercentage":10,"canaryInterval":5}}}"#, as: admin)
            #expect(config.status == 200, "\(config.text)")
            let answer = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","deploymentConfigName":"canary","#
                    + #""revision":\#(TestServer.Client.appZip),"#
                    + #""targetInstances":{"tagFilters":[{"Key":"release","Value":"v2"}]}}"#, as: admin)
            #expect(answer.errorType == "InvalidDeploymentConfigNameException", "\(answer.text)")
            #expect((answer.json?["message"] as? String)?.contains("targetGroupPairInfoList") == true)
            let inPlace = try await client.codeDeploy(
                "CreateDeploymentGroup",
                #"{"applicationName":"web","deploymentGroupName":"in-place","serviceRoleArn":"arn:aws:iam::0:role/r","#
                    + #""onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]}"#,
                as: admin)
            #expect(inPlace.status == 200, "\(inPlace.text)")
            let refused = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"in-place","deploymentConfigName":"canary","#
                    + #""revision":\#(TestServer.Client.appZip)}"#, as: admin)
            #expect(refused.errorType == "InvalidDeploymentConfigNameException", "\(refused.text)")
        }
    }

    @Test("load balancer names that HAProxy would not take as backend names are refused when the group is created")
    func backendNames() async throws {
        try await TestServer.withAdmin { _, client, admin in
            _ = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
            for name in ["web lb", "web;show info", "", String(repeating: "w", count: 101), "web\\u0007"] {
                let body =
                    #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r","#
                    + #""deploymentStyle":{"deploymentType":"IN_PLACE","deploymentOption":"WITH_TRAFFIC_CONTROL"},"#
                    + #""loadBalancerInfo":{"targetGroupInfoList":[{"name":"\#(name)"}]}}"#
                let answer = try await client.codeDeploy("CreateDeploymentGroup", body, as: admin)
                #expect(answer.status == 400, "\(name.debugDescription): \(answer.text)")
            }
        }
    }
}
