import Foundation
import SigV4
import Testing

@testable import Server

/// CreateDeployment, GetDeployment, ListDeployments, the deployment-target operations and StopDeployment through
/// the whole application in-process, with the host's agent played by the test through the command API.
@Suite("Deployments: create, follow, list and stop")
struct DeploymentHandlerTests {
    /// The `targetId: status` of every target BatchGetDeploymentTargets answers, and the first target's events as
    /// `name: status`.
    static func target(_ id: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> [String: Any]
    {
        let answer = try await client.codeDeploy(
            "BatchGetDeploymentTargets", #"{"deploymentId":"\#(id)","targetIds":["gpu-01"]}"#, as: admin)
        #expect(answer.status == 200, "BatchGetDeploymentTargets: \(answer.text)")
        let targets = try #require(answer.json?["deploymentTargets"] as? [[String: Any]], "\(answer.text)")
        #expect(targets.count == 1)
        #expect(targets.first?["deploymentTargetType"] as? String == "InstanceTarget")
        return try #require(targets.first?["instanceTarget"] as? [String: Any], "\(answer.text)")
    }

    static func events(_ target: [String: Any]) -> [String] {
        (target["lifecycleEvents"] as? [[String: Any]] ?? []).map {
            "\($0["lifecycleEventName"] as? String ?? "?"): \($0["status"] as? String ?? "?")"
        }
    }

    /// The deployment ids ListDeployments answers for `body`.
    static func listed(_ body: String, _ client: TestServer.Client, _ admin: Credentials) async throws -> [String]? {
        let answer = try await client.codeDeploy("ListDeployments", body, as: admin)
        #expect(answer.status == 200, "ListDeployments \(body): \(answer.text)")
        return answer.json?["deployments"] as? [String]
    }

    @Test("a new deployment is InProgress with what was asked for, and Succeeded once its host ran every event")
    func createThenFollow() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            #expect(id.hasPrefix("d-"))

            let info = try await client.deploymentInfo(id, as: admin)
            #expect(info["deploymentId"] as? String == id)
            #expect(info["status"] as? String == "InProgress")
            #expect(info["applicationName"] as? String == "web")
            #expect(info["deploymentGroupName"] as? String == "prod")
            #expect(info["deploymentConfigName"] as? String == "CodeDeployDefault.OneAtATime")
            #expect(info["creator"] as? String == "user")
            let s3 = (info["revision"] as? [String: Any])?["s3Location"] as? [String: Any]
            #expect(s3?["bucket"] as? String == "releases" && s3?["key"] as? String == "app.zip")
            #expect(info["completeTime"] == nil)

            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let ran = try await client.runEveryCommand(as: agent)
            #expect(ran.first == "ApplicationStop" && ran.last == "ValidateService", "\(ran)")

            let done = try await client.deploymentInfo(id, as: admin)
            #expect(done["status"] as? String == "Succeeded")
            #expect(done["completeTime"] != nil)
            let overview = done["deploymentOverview"] as? [String: Any]
            #expect((overview?["Succeeded"] as? NSNumber)?.intValue == 1, "\(String(describing: overview))")
        }
    }

    @Test("GetDeployment of an id no deployment has answers DeploymentDoesNotExistException")
    func unknownDeployment() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let answer = try await client.codeDeploy("GetDeployment", #"{"deploymentId":"d-AAAAAAAAA"}"#, as: admin)
            #expect(answer.status == 400)
            #expect(answer.errorType == "DeploymentDoesNotExistException", "\(answer.text)")
            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"d-AAAAAAAAA"}"#, as: admin)
            #expect(stop.errorType == "DeploymentDoesNotExistException", "\(stop.text)")
            let malformed = try await client.codeDeploy("GetDeployment", #"{"deploymentId":"web-1"}"#, as: admin)
            #expect(malformed.errorType == "InvalidDeploymentIdException", "\(malformed.text)")
        }
    }

    @Test("BatchGetDeployments answers the deployments that exist and leaves out ids that match none")
    func batchGetDeployments() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let answer = try await client.codeDeploy(
                "BatchGetDeployments", #"{"deploymentIds":["d-AAAAAAAAA","\#(id)"]}"#, as: admin)
            #expect(answer.status == 200, "\(answer.text)")
            let infos = answer.json?["deploymentsInfo"] as? [[String: Any]] ?? []
            #expect(infos.map { $0["deploymentId"] as? String } == [id])
            #expect(infos.first?["status"] as? String == "InProgress")
        }
    }

    @Test("BatchGetDeploymentTargets shows the host's lifecycle events as its agent runs them")
    func deploymentTargets() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let targets = try await client.codeDeploy("ListDeploymentTargets", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(targets.status == 200, "\(targets.text)")
            #expect(targets.json?["targetIds"] as? [String] == ["gpu-01"])

            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let first = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(first.id, as: agent).status == 200)
            let running = try await Self.target(id, client, admin)
            #expect(running["targetId"] as? String == "gpu-01")
            #expect(running["status"] as? String == "InProgress")
            #expect(
                Self.events(running) == [
                    "ApplicationStop: InProgress", "DownloadBundle: Pending", "BeforeInstall: Pending",
                    "Install: Pending", "AfterInstall: Pending", "ApplicationStart: Pending",
                    "ValidateService: Pending",
                ])

            #expect(try await client.complete(first.id, as: agent).status == 200)
            let next = try await Self.target(id, client, admin)
            #expect(Array(Self.events(next).prefix(2)) == ["ApplicationStop: Succeeded", "DownloadBundle: InProgress"])

            let succeeded = try await client.codeDeploy(
                "ListDeploymentTargets", #"{"deploymentId":"\#(id)","targetFilters":{"TargetStatus":["Succeeded"]}}"#,
                as: admin)
            #expect(succeeded.json?["targetIds"] as? [String] == [], "the host has not finished: \(succeeded.text)")
            let inProgress = try await client.codeDeploy(
                "ListDeploymentTargets", #"{"deploymentId":"\#(id)","targetFilters":{"TargetStatus":["InProgress"]}}"#,
                as: admin)
            #expect(inProgress.json?["targetIds"] as? [String] == ["gpu-01"], "\(inProgress.text)")

            let unknown = try await client.codeDeploy(
                "BatchGetDeploymentTargets", #"{"deploymentId":"\#(id)","targetIds":["gpu-99"]}"#, as: admin)
            #expect(unknown.errorType == "DeploymentTargetDoesNotExistException", "\(unknown.text)")
        }
    }

    @Test("StopDeployment while the host runs a command answers Pending; the deployment is Stopped when it ends")
    func stopRunningDeployment() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let command = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(command.id, as: agent).status == 200)

            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(stop.status == 200, "\(stop.text)")
            #expect(stop.json?["status"] as? String == "Pending", "the running event may finish: \(stop.text)")
            #expect(try await client.deploymentStatus(id, as: admin) == "InProgress", "still stopping")

            #expect(try await client.complete(command.id, as: agent).status == 200)
            let info = try await client.deploymentInfo(id, as: admin)
            #expect(info["status"] as? String == "Stopped")
            #expect((info["errorInformation"] as? [String: Any])?["code"] as? String == "MANUAL_STOP")
            #expect(try await client.poll(as: agent).hostCommand == nil, "no event after the stop")
            let target = try await Self.target(id, client, admin)
            #expect(Self.events(target).first == "ApplicationStop: Succeeded")
            #expect(Self.events(target).dropFirst().allSatisfy { $0.hasSuffix(": Skipped") }, "\(Self.events(target))")
        }
    }

    @Test("StopDeployment before the host acknowledged its command stops the deployment at once")
    func stopBeforeAcknowledgement() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(stop.status == 200, "\(stop.text)")
            #expect(stop.json?["status"] as? String == "Succeeded", "nothing ran: \(stop.text)")
            #expect(try await client.deploymentStatus(id, as: admin) == "Stopped")
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            #expect(try await client.poll(as: agent).hostCommand == nil, "the offered command was withdrawn")
        }
    }

    @Test("StopDeployment of a deployment that has ended answers DeploymentAlreadyCompletedException")
    func stopEndedDeployment() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let id = try await client.createDeployment(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            _ = try await client.runEveryCommand(as: agent)
            #expect(try await client.deploymentStatus(id, as: admin) == "Succeeded")

            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(stop.status == 400)
            #expect(stop.errorType == "DeploymentAlreadyCompletedException", "\(stop.text)")
            #expect(try await client.deploymentStatus(id, as: admin) == "Succeeded", "the deployment is unchanged")
        }
    }

    /// CodeDeploy runs one deployment per group and refuses another while it runs ("The Deployment Group …
    /// already has an active Deployment"); Slipway's handler does the same rather than queueing it.
    @Test("a second deployment to a group with one in progress is refused, and accepted once the first has ended")
    func oneDeploymentPerGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let first = try await client.createDeployment(as: admin)
            let second = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":\#(TestServer.Client.appZip)}"#,
                as: admin)
            #expect(second.status == 400)
            #expect(second.errorType == "DeploymentLimitExceededException", "\(second.text)")
            #expect(
                (second.json?["message"] as? String)?.contains(first) == true, "the refusal names the active one")

            let agent = try await server.key(.agent, instanceName: "gpu-01")
            _ = try await client.runEveryCommand(as: agent)
            #expect(try await client.deploymentStatus(first, as: admin) == "Succeeded")

            let third = try await client.createDeployment(as: admin)
            #expect(third != first)
            #expect(try await client.deploymentStatus(third, as: admin) == "InProgress")
            #expect(try await client.takeCommand(as: agent).name == "ApplicationStop", "the host gets the new one")
        }
    }

    /// A group's deployments are queued under its id, which renames do not change: renaming the application or the
    /// group while a deployment runs neither lets a second one start nor loses the first one's result.
    @Test(
        "a group whose application was renamed while it deploys still refuses a second deployment until the first ends")
    func renameKeepsOneDeploymentPerGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let first = try await client.createDeployment(as: admin)
            let renamed = try await client.codeDeploy(
                "UpdateApplication", #"{"applicationName":"web","newApplicationName":"site"}"#, as: admin)
            #expect(renamed.status == 200, "\(renamed.text)")
            let second = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"site","deploymentGroupName":"prod","revision":\#(TestServer.Client.appZip)}"#,
                as: admin)
            #expect(second.errorType == "DeploymentLimitExceededException", "\(second.text)")
            #expect(try await client.deploymentStatus(first, as: admin) == "InProgress")

            let agent = try await server.key(.agent, instanceName: "gpu-01")
            _ = try await client.runEveryCommand(as: agent)
            #expect(try await client.deploymentStatus(first, as: admin) == "Succeeded")
            let group = try await client.codeDeploy(
                "GetDeploymentGroup", #"{"applicationName":"site","deploymentGroupName":"prod"}"#, as: admin)
            let info = group.json?["deploymentGroupInfo"] as? [String: Any]
            let last = info?["lastSuccessfulDeployment"] as? [String: Any]
            #expect(last?["deploymentId"] as? String == first, "the renamed group records the deployment's end")
            let third = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"site","deploymentGroupName":"prod","revision":\#(TestServer.Client.appZip)}"#,
                as: admin)
            #expect(third.status == 200, "\(third.text)")
        }
    }

    @Test(
        "a group renamed while it deploys still refuses a second deployment until the first ends")
    func groupRenameKeepsOneDeploymentPerGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            let first = try await client.createDeployment(as: admin)
            let renamed = try await client.codeDeploy(
                "UpdateDeploymentGroup",
                #"{"applicationName":"web","currentDeploymentGroupName":"prod","newDeploymentGroupName":"live"}"#,
                as: admin)
            #expect(renamed.status == 200, "\(renamed.text)")
            let second = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"live","revision":\#(TestServer.Client.appZip)}"#,
                as: admin)
            #expect(second.errorType == "DeploymentLimitExceededException", "\(second.text)")
            #expect(try await client.deploymentStatus(first, as: admin) == "InProgress")
        }
    }

    @Test("ListDeployments lists a group's deployments newest first, and filters them by status")
    func listDeployments() async throws {
        let clock = ManualClock()
        try await TestServer.withAdmin(clock: clock) { server, client, admin in
            try await client.prepareFleet(as: admin)
            let first = try await client.createDeployment(as: admin)
            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"\#(first)"}"#, as: admin)
            #expect(stop.status == 200, "\(stop.text)")
            clock.advance(by: 5)
            let second = try await client.createDeployment(as: admin)

            let group = #""applicationName":"web","deploymentGroupName":"prod""#
            #expect(try await Self.listed("{\(group)}", client, admin) == [second, first])
            #expect(try await Self.listed("{}", client, admin) == [second, first])
            #expect(try await Self.listed(#"{\#(group),"includeOnlyStatuses":["Stopped"]}"#, client, admin) == [first])
            #expect(
                try await Self.listed(#"{\#(group),"includeOnlyStatuses":["InProgress"]}"#, client, admin) == [second])
            #expect(try await Self.listed(#"{\#(group),"includeOnlyStatuses":["Failed"]}"#, client, admin) == [])

            let other = try await client.codeDeploy(
                "CreateDeploymentGroup",
                #"{"applicationName":"web","deploymentGroupName":"canary","serviceRoleArn":"arn:aws:iam::0:role/r"}"#,
                as: admin)
            #expect(other.status == 200, "\(other.text)")
            #expect(
                try await Self.listed(#"{"applicationName":"web","deploymentGroupName":"canary"}"#, client, admin)
                    == [],
                "another group's list holds none of them")
        }
    }
}
