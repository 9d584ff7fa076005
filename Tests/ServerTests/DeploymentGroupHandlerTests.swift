import Foundation
import SigV4
import Testing

@testable import Server

/// Deployment groups (Create/Get/List/Update/DeleteDeploymentGroup) and deployment configurations
/// (Create/Get/List/DeleteDeploymentConfig) through the whole application in-process.
@Suite("Deployment groups and deployment configurations")
struct DeploymentGroupHandlerTests {
    static let role = "arn:aws:iam::000000000000:role/codedeploy"

    /// CreateApplication `web`, which must succeed.
    static func createApplication(_ client: TestServer.Client, _ admin: Credentials) async throws {
        let answer = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
        #expect(answer.status == 200, "CreateApplication: \(answer.text)")
    }

    /// CreateDeploymentGroup `name` of `web` with `extra` members (`,"member":value…`).
    static func createGroup(_ name: String, _ extra: String, _ client: TestServer.Client, _ admin: Credentials)
        async throws -> TestServer.Client.Answer
    {
        try await client.codeDeploy(
            "CreateDeploymentGroup",
            #"{"applicationName":"web","deploymentGroupName":"\#(name)","serviceRoleArn":"\#(role)"\#(extra)}"#,
            as: admin)
    }

    /// CreateDeploymentGroup `name` of `web` with only the members it needs.
    static func createGroup(_ name: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> TestServer.Client.Answer
    {
        try await createGroup(name, "", client, admin)
    }

    /// GetDeploymentGroup `web/name`.
    static func getGroup(_ name: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> TestServer.Client.Answer
    {
        try await client.codeDeploy(
            "GetDeploymentGroup", #"{"applicationName":"web","deploymentGroupName":"\#(name)"}"#, as: admin)
    }

    /// The names ListDeploymentGroups answers for `web`.
    static func groupNames(_ client: TestServer.Client, _ admin: Credentials) async throws -> [String]? {
        let answer = try await client.codeDeploy("ListDeploymentGroups", #"{"applicationName":"web"}"#, as: admin)
        #expect(answer.status == 200, "ListDeploymentGroups: \(answer.text)")
        return answer.json?["deploymentGroups"] as? [String]
    }

    /// The names ListDeploymentConfigs answers.
    static func configNames(_ client: TestServer.Client, _ admin: Credentials) async throws -> [String] {
        let answer = try await client.codeDeploy("ListDeploymentConfigs", "{}", as: admin)
        #expect(answer.status == 200, "ListDeploymentConfigs: \(answer.text)")
        return answer.json?["deploymentConfigsList"] as? [String] ?? []
    }

    // MARK: Deployment groups

    @Test("a new deployment group is read back with its tag filters and CodeDeploy's defaults filled in")
    func createThenGet() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let created = try await Self.createGroup(
                "prod", #","onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]"#,
                client, admin)
            #expect(created.status == 200, "\(created.text)")
            let id = try #require(created.json?["deploymentGroupId"] as? String)

            let answer = try await Self.getGroup("prod", client, admin)
            #expect(answer.status == 200, "\(answer.text)")
            let group = try #require(answer.json?["deploymentGroupInfo"] as? [String: Any])
            #expect(group["deploymentGroupId"] as? String == id)
            #expect(group["deploymentGroupName"] as? String == "prod")
            #expect(group["applicationName"] as? String == "web")
            #expect(group["serviceRoleArn"] as? String == Self.role)
            #expect(group["deploymentConfigName"] as? String == "CodeDeployDefault.OneAtATime", "CodeDeploy's default")
            #expect(group["computePlatform"] as? String == "Server")
            let style = group["deploymentStyle"] as? [String: Any]
            #expect(style?["deploymentType"] as? String == "IN_PLACE")
            #expect(style?["deploymentOption"] as? String == "WITHOUT_TRAFFIC_CONTROL")
            let filters = try #require(group["onPremisesInstanceTagFilters"] as? [[String: Any]])
            #expect(filters.count == 1)
            #expect(filters.first?["Key"] as? String == "env")
            #expect(filters.first?["Value"] as? String == "prod")
            #expect(filters.first?["Type"] as? String == "KEY_AND_VALUE")

            #expect(try await Self.groupNames(client, admin) == ["prod"])
        }
    }

    @Test("a deployment group name in use in the application is refused with DeploymentGroupAlreadyExistsException")
    func duplicateGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let first = try await Self.createGroup("prod", client, admin)
            let id = try #require(first.json?["deploymentGroupId"] as? String, "\(first.text)")
            let second = try await Self.createGroup(
                "prod", #","deploymentConfigName":"CodeDeployDefault.AllAtOnce""#, client, admin)
            #expect(second.status == 400)
            #expect(second.errorType == "DeploymentGroupAlreadyExistsException", "\(second.text)")
            let kept = try await Self.getGroup("prod", client, admin).json?["deploymentGroupInfo"] as? [String: Any]
            #expect(kept?["deploymentGroupId"] as? String == id)
            #expect(kept?["deploymentConfigName"] as? String == "CodeDeployDefault.OneAtATime")
        }
    }

    @Test("a group of an application that does not exist, or a group that does not exist, is refused by name")
    func missingGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let orphan = try await client.codeDeploy(
                "CreateDeploymentGroup",
                #"{"applicationName":"ghost","deploymentGroupName":"prod","serviceRoleArn":"\#(Self.role)"}"#,
                as: admin)
            #expect(orphan.errorType == "ApplicationDoesNotExistException", "\(orphan.text)")

            try await Self.createApplication(client, admin)
            let get = try await Self.getGroup("ghost", client, admin)
            #expect(get.status == 400)
            #expect(get.errorType == "DeploymentGroupDoesNotExistException", "\(get.text)")
            let update = try await client.codeDeploy(
                "UpdateDeploymentGroup",
                #"{"applicationName":"web","currentDeploymentGroupName":"ghost","newDeploymentGroupName":"spirit"}"#,
                as: admin)
            #expect(update.errorType == "DeploymentGroupDoesNotExistException", "\(update.text)")
            #expect(try await Self.groupNames(client, admin) == [], "a failed update creates nothing")
        }
    }

    @Test("UpdateDeploymentGroup renames a group and replaces its configuration and tag filters, keeping its id")
    func updateGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let created = try await Self.createGroup(
                "prod", #","onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]"#,
                client, admin)
            let id = try #require(created.json?["deploymentGroupId"] as? String, "\(created.text)")

            let updated = try await client.codeDeploy(
                "UpdateDeploymentGroup",
                #"{"applicationName":"web","currentDeploymentGroupName":"prod","newDeploymentGroupName":"production","#
                    + #""deploymentConfigName":"CodeDeployDefault.AllAtOnce","#
                    + #""onPremisesInstanceTagFilters":[{"Key":"tier","Type":"KEY_ONLY"}]}"#, as: admin)
            #expect(updated.status == 200, "\(updated.text)")

            let old = try await Self.getGroup("prod", client, admin)
            #expect(old.errorType == "DeploymentGroupDoesNotExistException", "the old name is gone: \(old.text)")
            let answer = try await Self.getGroup("production", client, admin)
            let group = try #require(answer.json?["deploymentGroupInfo"] as? [String: Any], "\(answer.text)")
            #expect(group["deploymentGroupId"] as? String == id)
            #expect(group["deploymentGroupName"] as? String == "production")
            #expect(group["deploymentConfigName"] as? String == "CodeDeployDefault.AllAtOnce")
            let filters = group["onPremisesInstanceTagFilters"] as? [[String: Any]]
            #expect(filters?.map { $0["Key"] as? String } == ["tier"])
            #expect(filters?.first?["Type"] as? String == "KEY_ONLY")
            #expect(group["serviceRoleArn"] as? String == Self.role, "a member not given is kept")
            #expect(try await Self.groupNames(client, admin) == ["production"])
        }
    }

    @Test("DeleteDeploymentGroup removes the group from Get and List, and deleting it again succeeds")
    func deleteGroup() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            for name in ["prod", "staging"] {
                #expect(try await Self.createGroup(name, client, admin).status == 200)
            }
            let body = #"{"applicationName":"web","deploymentGroupName":"prod"}"#
            let deleted = try await client.codeDeploy("DeleteDeploymentGroup", body, as: admin)
            #expect(deleted.status == 200, "\(deleted.text)")
            #expect(
                try await Self.getGroup("prod", client, admin).errorType == "DeploymentGroupDoesNotExistException")
            #expect(try await Self.groupNames(client, admin) == ["staging"])
            #expect(try await Self.getGroup("staging", client, admin).status == 200, "the other group stays")
            let again = try await client.codeDeploy("DeleteDeploymentGroup", body, as: admin)
            #expect(again.status == 200, "\(again.text)")
        }
    }

    @Test("BatchGetDeploymentGroups answers the groups that exist and names the ones that do not")
    func batchGetGroups() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            for name in ["prod", "staging"] { #expect(try await Self.createGroup(name, client, admin).status == 200) }
            let answer = try await client.codeDeploy(
                "BatchGetDeploymentGroups",
                #"{"applicationName":"web","deploymentGroupNames":["staging","ghost","prod"]}"#, as: admin)
            #expect(answer.status == 200, "\(answer.text)")
            let groups = answer.json?["deploymentGroupsInfo"] as? [[String: Any]] ?? []
            #expect(groups.map { $0["deploymentGroupName"] as? String } == ["staging", "prod"])
            let message = try #require(answer.json?["errorMessage"] as? String, "\(answer.text)")
            #expect(message.contains("ghost") && !message.contains("prod"), "\(message)")

            let complete = try await client.codeDeploy(
                "BatchGetDeploymentGroups", #"{"applicationName":"web","deploymentGroupNames":["prod"]}"#, as: admin)
            #expect(complete.json?["errorMessage"] == nil, "\(complete.text)")
        }
    }

    @Test("a group naming a deployment configuration that does not exist is refused, on create and on update")
    func unknownConfigRefused() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let created = try await Self.createGroup("prod", #","deploymentConfigName":"Ghost""#, client, admin)
            #expect(created.status == 400)
            #expect(created.errorType == "DeploymentConfigDoesNotExistException", "\(created.text)")
            #expect(try await Self.groupNames(client, admin) == [])

            #expect(try await Self.createGroup("prod", client, admin).status == 200)
            let updated = try await client.codeDeploy(
                "UpdateDeploymentGroup",
                #"{"applicationName":"web","currentDeploymentGroupName":"prod","deploymentConfigName":"Ghost"}"#,
                as: admin)
            #expect(updated.errorType == "DeploymentConfigDoesNotExistException", "\(updated.text)")
            let group = try await Self.getGroup("prod", client, admin).json?["deploymentGroupInfo"] as? [String: Any]
            #expect(
                group?["deploymentConfigName"] as? String == "CodeDeployDefault.OneAtATime", "the group is unchanged")
        }
    }

    @Test("an on-premises tag filter without the key or value its type needs is refused with InvalidTagException")
    func incompleteTagFilters() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            for filter in [
                #"{"Key":"env","Type":"KEY_AND_VALUE"}"#, #"{"Value":"prod","Type":"KEY_ONLY"}"#,
                #"{"Key":"env","Type":"VALUE_ONLY"}"#,
            ] {
                let answer = try await Self.createGroup(
                    "prod", #","onPremisesInstanceTagFilters":[\#(filter)]"#, client, admin)
                #expect(answer.status == 400, "\(filter)")
                #expect(answer.errorType == "InvalidTagException", "\(filter): \(answer.text)")
            }
            #expect(try await Self.groupNames(client, admin) == [])
        }
    }

    @Test("a deployment goes to the registered instances the group's on-premises tag filters match, and no others")
    func tagFiltersSelectInstances() async throws {
        try await TestServer.withAdmin { server, client, admin in
            for (name, tag) in [
                ("gpu-01", #"{"Key":"env","Value":"prod"}"#), ("gpu-02", #"{"Key":"env","Value":"staging"}"#),
                ("gpu-03", #"{"Key":"role","Value":"inference"}"#), ("gpu-04", #"{"Key":"owner","Value":"prod"}"#),
            ] {
                let registered = try await client.codeDeploy(
                    "RegisterOnPremisesInstance",
                    #"{"instanceName":"\#(name)","iamUserArn":"arn:aws:iam::000000000000:user/\#(name)"}"#, as: admin)
                #expect(registered.status == 200, "\(registered.text)")
                let tagged = try await client.codeDeploy(
                    "AddTagsToOnPremisesInstances", #"{"instanceNames":["\#(name)"],"tags":[\#(tag)]}"#, as: admin)
                #expect(tagged.status == 200, "\(tagged.text)")
            }
            try await Self.createApplication(client, admin)
            let filters =
                #"[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"},{"Key":"role","Type":"KEY_ONLY"}]"#
            #expect(
                try await Self.createGroup("prod", #","onPremisesInstanceTagFilters":\#(filters)"#, client, admin)
                    .status == 200)

            let created = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"GitHub","#
                    + #""gitHubLocation":{"repository":"acme/web","commitId":"abc123"}}}"#, as: admin)
            let id = try #require(created.json?["deploymentId"] as? String, "\(created.text)")
            let targets = try await client.codeDeploy("ListDeploymentTargets", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(targets.status == 200, "\(targets.text)")
            #expect(
                targets.json?["targetIds"] as? [String] == ["gpu-01", "gpu-03"],
                "env=prod matches gpu-01, the key role matches gpu-03; a value prod under another key matches none")
        }
    }

    // MARK: Deployment configurations

    @Test("a custom deployment configuration is created, read back, listed and deleted")
    func customConfig() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let created = try await client.codeDeploy(
                "CreateDeploymentConfig",
                #"{"deploymentConfigName":"ThreeQuarters","minimumHealthyHosts":{"type":"FLEET_PERCENT","value":75}}"#,
                as: admin)
            #expect(created.status == 200, "\(created.text)")
            let id = try #require(created.json?["deploymentConfigId"] as? String)

            let get = try await client.codeDeploy(
                "GetDeploymentConfig", #"{"deploymentConfigName":"ThreeQuarters"}"#, as: admin)
            #expect(get.status == 200, "\(get.text)")
            let config = try #require(get.json?["deploymentConfigInfo"] as? [String: Any])
            #expect(config["deploymentConfigId"] as? String == id)
            #expect(config["deploymentConfigName"] as? String == "ThreeQuarters")
            #expect(config["computePlatform"] as? String == "Server")
            let hosts = config["minimumHealthyHosts"] as? [String: Any]
            #expect(hosts?["type"] as? String == "FLEET_PERCENT")
            #expect((hosts?["value"] as? NSNumber)?.intValue == 75)

            let listed = try await Self.configNames(client, admin)
            #expect(listed.contains("ThreeQuarters"))
            #expect(listed.contains("CodeDeployDefault.OneAtATime"), "the predefined ones are listed too")

            let deleted = try await client.codeDeploy(
                "DeleteDeploymentConfig", #"{"deploymentConfigName":"ThreeQuarters"}"#, as: admin)
            #expect(deleted.status == 200, "\(deleted.text)")
            let gone = try await client.codeDeploy(
                "GetDeploymentConfig", #"{"deploymentConfigName":"ThreeQuarters"}"#, as: admin)
            #expect(gone.errorType == "DeploymentConfigDoesNotExistException", "\(gone.text)")
            #expect(!(try await Self.configNames(client, admin)).contains("ThreeQuarters"))
        }
    }

    @Test("a deployment configuration name in use is refused with DeploymentConfigAlreadyExistsException")
    func duplicateConfig() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let body =
                #"{"deploymentConfigName":"Pairs","minimumHealthyHosts":{"type":"HOST_COUNT","value":2}}"#
            #expect(try await client.codeDeploy("CreateDeploymentConfig", body, as: admin).status == 200)
            let again = try await client.codeDeploy("CreateDeploymentConfig", body, as: admin)
            #expect(again.status == 400)
            #expect(again.errorType == "DeploymentConfigAlreadyExistsException", "\(again.text)")
        }
    }

    @Test("the predefined CodeDeployDefault configurations cannot be deleted, nor their prefix taken")
    func predefinedConfigsProtected() async throws {
        try await TestServer.withAdmin { server, client, admin in
            for name in [
                "CodeDeployDefault.OneAtATime", "CodeDeployDefault.HalfAtATime", "CodeDeployDefault.AllAtOnce",
            ] {
                let deleted = try await client.codeDeploy(
                    "DeleteDeploymentConfig", #"{"deploymentConfigName":"\#(name)"}"#, as: admin)
                #expect(deleted.status == 400, "\(name)")
                #expect(deleted.errorType == "InvalidOperationException", "\(name): \(deleted.text)")
                let get = try await client.codeDeploy(
                    "GetDeploymentConfig", #"{"deploymentConfigName":"\#(name)"}"#, as: admin)
                #expect(get.status == 200, "\(name) is still there: \(get.text)")
            }
            let taken = try await client.codeDeploy(
                "CreateDeploymentConfig",
                #"{"deploymentConfigName":"CodeDeployDefault.Mine","minimumHealthyHosts":{"type":"HOST_COUNT","value":0}}"#,
                as: admin)
            #expect(taken.errorType == "InvalidDeploymentConfigNameException", "\(taken.text)")
        }
    }

    @Test("a deployment configuration that does not exist answers DeploymentConfigDoesNotExistException")
    func unknownConfig() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let answer = try await client.codeDeploy(
                "GetDeploymentConfig", #"{"deploymentConfigName":"Ghost"}"#, as: admin)
            #expect(answer.status == 400)
            #expect(answer.errorType == "DeploymentConfigDoesNotExistException", "\(answer.text)")
        }
    }

    @Test("a configuration a deployment group uses cannot be deleted until the group moves off it")
    func configInUse() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let body = #"{"deploymentConfigName":"Pairs","minimumHealthyHosts":{"type":"HOST_COUNT","value":2}}"#
            #expect(try await client.codeDeploy("CreateDeploymentConfig", body, as: admin).status == 200)
            try await Self.createApplication(client, admin)
            #expect(
                try await Self.createGroup("prod", #","deploymentConfigName":"Pairs""#, client, admin).status == 200)

            let refused = try await client.codeDeploy(
                "DeleteDeploymentConfig", #"{"deploymentConfigName":"Pairs"}"#, as: admin)
            #expect(refused.status == 400)
            #expect(refused.errorType == "DeploymentConfigInUseException", "\(refused.text)")
            #expect(
                try await client.codeDeploy("GetDeploymentConfig", #"{"deploymentConfigName":"Pairs"}"#, as: admin)
                    .status == 200)

            let moved = try await client.codeDeploy(
                "UpdateDeploymentGroup",
                #"{"applicationName":"web","currentDeploymentGroupName":"prod","#
                    + #""deploymentConfigName":"CodeDeployDefault.AllAtOnce"}"#, as: admin)
            #expect(moved.status == 200, "\(moved.text)")
            let deleted = try await client.codeDeploy(
                "DeleteDeploymentConfig", #"{"deploymentConfigName":"Pairs"}"#, as: admin)
            #expect(deleted.status == 200, "\(deleted.text)")
        }
    }
}
