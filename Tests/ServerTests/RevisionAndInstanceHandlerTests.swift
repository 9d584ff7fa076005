import Foundation
import SigV4
import Testing

@testable import Server

/// Application revisions (Register/Get/ListApplicationRevisions) and on-premises instances
/// (Register/Get/List/DeregisterOnPremisesInstance, Add/RemoveTagsToOnPremisesInstances) through the whole
/// application in-process.
@Suite("Application revisions and on-premises instances")
struct RevisionAndInstanceHandlerTests {
    static let gitHub = #"{"revisionType":"GitHub","gitHubLocation":{"repository":"acme/web","commitId":"abc123"}}"#

    static func s3(_ bucket: String, _ key: String) -> String {
        #"{"revisionType":"S3","s3Location":{"bucket":"\#(bucket)","key":"\#(key)","bundleType":"zip"}}"#
    }

    /// CreateApplication `web`, which must succeed.
    static func createApplication(_ client: TestServer.Client, _ admin: Credentials) async throws {
        let answer = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
        #expect(answer.status == 200, "CreateApplication: \(answer.text)")
    }

    /// The S3 keys (or GitHub commits) of the revisions ListApplicationRevisions answers for `web` with `filters`.
    static func listed(_ filters: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> Set<String>
    {
        let answer = try await client.codeDeploy(
            "ListApplicationRevisions", #"{"applicationName":"web"\#(filters)}"#, as: admin)
        #expect(answer.status == 200, "ListApplicationRevisions \(filters): \(answer.text)")
        let revisions = answer.json?["revisions"] as? [[String: Any]] ?? []
        return Set(
            revisions.compactMap { revision in
                ((revision["s3Location"] as? [String: Any])?["key"]
                    ?? (revision["gitHubLocation"] as? [String: Any])?["commitId"]) as? String
            })
    }

    /// RegisterOnPremisesInstance `name` with the IAM user of the same name.
    static func register(_ name: String, user: String? = nil, _ client: TestServer.Client, _ admin: Credentials)
        async throws -> TestServer.Client.Answer
    {
        try await client.codeDeploy(
            "RegisterOnPremisesInstance",
            #"{"instanceName":"\#(name)","iamUserArn":"arn:aws:iam::000000000000:user/\#(user ?? name)"}"#, as: admin)
    }

    /// GetOnPremisesInstance's `instanceInfo` of `name`, which must be known.
    static func instance(_ name: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> [String: Any]
    {
        let answer = try await client.codeDeploy("GetOnPremisesInstance", #"{"instanceName":"\#(name)"}"#, as: admin)
        #expect(answer.status == 200, "GetOnPremisesInstance \(name): \(answer.text)")
        return try #require(answer.json?["instanceInfo"] as? [String: Any], "\(answer.text)")
    }

    /// The tags of `info` as `key=value`.
    static func tags(_ info: [String: Any]) -> [String] {
        (info["tags"] as? [[String: Any]] ?? []).map { "\($0["Key"] as? String ?? "")=\($0["Value"] as? String ?? "")" }
    }

    /// The names ListOnPremisesInstances answers for `body`.
    static func instanceNames(_ body: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> [String]?
    {
        let answer = try await client.codeDeploy("ListOnPremisesInstances", body, as: admin)
        #expect(answer.status == 200, "ListOnPremisesInstances \(body): \(answer.text)")
        return answer.json?["instanceNames"] as? [String]
    }

    // MARK: Revisions

    @Test("a registered revision is read back with its description, its register time and no deployment yet")
    func registerThenGet() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let registered = try await client.codeDeploy(
                "RegisterApplicationRevision",
                #"{"applicationName":"web","revision":\#(Self.gitHub),"description":"first cut"}"#, as: admin)
            #expect(registered.status == 200, "\(registered.text)")

            let answer = try await client.codeDeploy(
                "GetApplicationRevision", #"{"applicationName":"web","revision":\#(Self.gitHub)}"#, as: admin)
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.json?["applicationName"] as? String == "web")
            let location = answer.json?["revision"] as? [String: Any]
            #expect(location?["revisionType"] as? String == "GitHub")
            #expect((location?["gitHubLocation"] as? [String: Any])?["commitId"] as? String == "abc123")
            let info = try #require(answer.json?["revisionInfo"] as? [String: Any])
            #expect(info["description"] as? String == "first cut")
            #expect(info["registerTime"] != nil)
            #expect(info["firstUsedTime"] == nil, "never deployed")
            #expect((info["deploymentGroups"] as? [String] ?? []).isEmpty)

            let again = try await client.codeDeploy(
                "RegisterApplicationRevision",
                #"{"applicationName":"web","revision":\#(Self.gitHub),"description":"second look"}"#, as: admin)
            #expect(again.status == 200, "\(again.text)")
            let updated = try await client.codeDeploy(
                "GetApplicationRevision", #"{"applicationName":"web","revision":\#(Self.gitHub)}"#, as: admin)
            #expect((updated.json?["revisionInfo"] as? [String: Any])?["description"] as? String == "second look")
            #expect(try await Self.listed("", client, admin) == ["abc123"], "registered twice, listed once")
        }
    }

    @Test("a revision never registered, or an application that does not exist, is refused by name")
    func missingRevision() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let get = try await client.codeDeploy(
                "GetApplicationRevision", #"{"applicationName":"web","revision":\#(Self.s3("releases", "x.zip"))}"#,
                as: admin)
            #expect(get.status == 400)
            #expect(get.errorType == "RevisionDoesNotExistException", "\(get.text)")
            let orphan = try await client.codeDeploy(
                "RegisterApplicationRevision", #"{"applicationName":"ghost","revision":\#(Self.gitHub)}"#, as: admin)
            #expect(orphan.errorType == "ApplicationDoesNotExistException", "\(orphan.text)")
            let noBundle = try await client.codeDeploy(
                "RegisterApplicationRevision",
                #"{"applicationName":"web","revision":{"revisionType":"S3","s3Location":{"bucket":"b","key":"k"}}}"#,
                as: admin)
            #expect(noBundle.errorType == "InvalidRevisionException", "\(noBundle.text)")
            #expect(try await Self.listed("", client, admin) == [])
        }
    }

    @Test("ListApplicationRevisions lists the registered revisions, filtered by bucket and key prefix")
    func listRevisions() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            for (bucket, key) in [("releases", "app-1.zip"), ("releases", "app-2.zip"), ("other", "app-3.zip")] {
                let answer = try await client.codeDeploy(
                    "RegisterApplicationRevision", #"{"applicationName":"web","revision":\#(Self.s3(bucket, key))}"#,
                    as: admin)
                #expect(answer.status == 200, "\(key): \(answer.text)")
            }
            #expect(try await Self.listed("", client, admin) == ["app-1.zip", "app-2.zip", "app-3.zip"])
            #expect(try await Self.listed(#","s3Bucket":"releases""#, client, admin) == ["app-1.zip", "app-2.zip"])
            #expect(
                try await Self.listed(#","s3Bucket":"releases","s3KeyPrefix":"app-2""#, client, admin) == ["app-2.zip"])
            let noBucket = try await client.codeDeploy(
                "ListApplicationRevisions", #"{"applicationName":"web","s3KeyPrefix":"app"}"#, as: admin)
            #expect(noBucket.errorType == "BucketNameFilterRequiredException", "\(noBucket.text)")
        }
    }

    @Test("a revision CreateDeployment used is shown as deployed, with the group it went to")
    func deployedRevision() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await Self.createApplication(client, admin)
            let group = try await client.codeDeploy(
                "CreateDeploymentGroup",
                #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r"}"#,
                as: admin)
            #expect(group.status == 200, "\(group.text)")
            #expect(
                try await client.codeDeploy(
                    "RegisterApplicationRevision",
                    #"{"applicationName":"web","revision":\#(Self.s3("releases", "unused.zip"))}"#, as: admin
                ).status == 200)
            let created = try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":\#(Self.gitHub)}"#, as: admin)
            #expect(created.status == 200, "\(created.text)")

            let answer = try await client.codeDeploy(
                "GetApplicationRevision", #"{"applicationName":"web","revision":\#(Self.gitHub)}"#, as: admin)
            #expect(answer.status == 200, "a deployed revision is registered by the deployment: \(answer.text)")
            let info = answer.json?["revisionInfo"] as? [String: Any]
            #expect(info?["deploymentGroups"] as? [String] == ["prod"])
            #expect(info?["firstUsedTime"] != nil)
            #expect(info?["lastUsedTime"] != nil)
            #expect(try await Self.listed(#","deployed":"include""#, client, admin) == ["abc123"])
            #expect(try await Self.listed(#","deployed":"exclude""#, client, admin) == ["unused.zip"])
        }
    }

    // MARK: On-premises instances

    @Test("a registered instance is read back with its IAM user and ARN, and listed as Registered")
    func registerThenGetInstance() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let registered = try await Self.register("gpu-01", client, admin)
            #expect(registered.status == 200, "\(registered.text)")
            let info = try await Self.instance("gpu-01", client, admin)
            #expect(info["instanceName"] as? String == "gpu-01")
            #expect(info["iamUserArn"] as? String == "arn:aws:iam::000000000000:user/gpu-01")
            #expect(info["instanceArn"] as? String == "arn:aws:codedeploy:us-east-1:000000000000:instance/gpu-01")
            #expect(info["registerTime"] != nil)
            #expect(info["deregisterTime"] == nil)
            #expect(try await Self.instanceNames("{}", client, admin) == ["gpu-01"])
            #expect(try await Self.instanceNames(#"{"registrationStatus":"Registered"}"#, client, admin) == ["gpu-01"])
            #expect(try await Self.instanceNames(#"{"registrationStatus":"Deregistered"}"#, client, admin) == [])
        }
    }

    @Test("an instance name or IAM user already registered is refused, naming which")
    func duplicateInstance() async throws {
        try await TestServer.withAdmin { server, client, admin in
            #expect(try await Self.register("gpu-01", client, admin).status == 200)
            let sameName = try await Self.register("gpu-01", user: "someone-else", client, admin)
            #expect(sameName.status == 400)
            #expect(sameName.errorType == "InstanceNameAlreadyRegisteredException", "\(sameName.text)")
            let sameUser = try await Self.register("gpu-02", user: "gpu-01", client, admin)
            #expect(sameUser.errorType == "IamUserArnAlreadyRegisteredException", "\(sameUser.text)")
            #expect(try await Self.instanceNames("{}", client, admin) == ["gpu-01"])
            let kept = try await Self.instance("gpu-01", client, admin)
            #expect(kept["iamUserArn"] as? String == "arn:aws:iam::000000000000:user/gpu-01")
        }
    }

    @Test("an instance never registered answers InstanceNotRegisteredException")
    func unknownInstance() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let get = try await client.codeDeploy("GetOnPremisesInstance", #"{"instanceName":"ghost"}"#, as: admin)
            #expect(get.status == 400)
            #expect(get.errorType == "InstanceNotRegisteredException", "\(get.text)")
            let tag = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances", #"{"instanceNames":["ghost"],"tags":[{"Key":"a","Value":"b"}]}"#,
                as: admin)
            #expect(tag.errorType == "InstanceNotRegisteredException", "\(tag.text)")
        }
    }

    @Test("a deregistered instance keeps its record with a deregister time, and its name can be registered again")
    func deregister() async throws {
        try await TestServer.withAdmin { server, client, admin in
            #expect(try await Self.register("gpu-01", client, admin).status == 200)
            let deregistered = try await client.codeDeploy(
                "DeregisterOnPremisesInstance", #"{"instanceName":"gpu-01"}"#, as: admin)
            #expect(deregistered.status == 200, "\(deregistered.text)")
            let info = try await Self.instance("gpu-01", client, admin)
            #expect(info["deregisterTime"] != nil)
            #expect(try await Self.instanceNames(#"{"registrationStatus":"Registered"}"#, client, admin) == [])
            #expect(
                try await Self.instanceNames(#"{"registrationStatus":"Deregistered"}"#, client, admin) == ["gpu-01"])
            let tag = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances", #"{"instanceNames":["gpu-01"],"tags":[{"Key":"a","Value":"b"}]}"#,
                as: admin)
            #expect(tag.errorType == "InstanceNotRegisteredException", "a deregistered instance takes no tags")

            let again = try await Self.register("gpu-01", client, admin)
            #expect(again.status == 200, "\(again.text)")
            #expect(try await Self.instance("gpu-01", client, admin)["deregisterTime"] == nil)
            #expect(try await Self.instanceNames(#"{"registrationStatus":"Registered"}"#, client, admin) == ["gpu-01"])
        }
    }

    @Test("tags added to an instance are shown and select it in ListOnPremisesInstances; removed ones no longer do")
    func instanceTags() async throws {
        try await TestServer.withAdmin { server, client, admin in
            for name in ["gpu-01", "gpu-02"] { #expect(try await Self.register(name, client, admin).status == 200) }
            let added = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances",
                #"{"instanceNames":["gpu-01"],"tags":[{"Key":"env","Value":"staging"},{"Key":"team","Value":"ml"}]}"#,
                as: admin)
            #expect(added.status == 200, "\(added.text)")
            let replaced = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances",
                #"{"instanceNames":["gpu-01"],"tags":[{"Key":"env","Value":"prod"}]}"#, as: admin)
            #expect(replaced.status == 200, "\(replaced.text)")
            #expect(
                Self.tags(try await Self.instance("gpu-01", client, admin)) == ["env=prod", "team=ml"],
                "a tag with a key the instance has replaces its value")
            #expect(Self.tags(try await Self.instance("gpu-02", client, admin)) == [])

            let prod = #"{"tagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]}"#
            #expect(try await Self.instanceNames(prod, client, admin) == ["gpu-01"])

            let removed = try await client.codeDeploy(
                "RemoveTagsFromOnPremisesInstances",
                #"{"instanceNames":["gpu-01"],"tags":[{"Key":"env","Value":"prod"}]}"#, as: admin)
            #expect(removed.status == 200, "\(removed.text)")
            #expect(Self.tags(try await Self.instance("gpu-01", client, admin)) == ["team=ml"])
            #expect(try await Self.instanceNames(prod, client, admin) == [])
        }
    }

    @Test("an instance holds at most 10 tags: the 11th is refused with TagLimitExceededException")
    func tagLimit() async throws {
        try await TestServer.withAdmin { server, client, admin in
            #expect(try await Self.register("gpu-01", client, admin).status == 200)
            let ten = (1...10).map { #"{"Key":"k\#($0)","Value":"v"}"# }.joined(separator: ",")
            let added = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances", #"{"instanceNames":["gpu-01"],"tags":[\#(ten)]}"#, as: admin)
            #expect(added.status == 200, "\(added.text)")
            let eleventh = try await client.codeDeploy(
                "AddTagsToOnPremisesInstances",
                #"{"instanceNames":["gpu-01"],"tags":[{"Key":"k11","Value":"v"}]}"#, as: admin)
            #expect(eleventh.status == 400)
            #expect(eleventh.errorType == "TagLimitExceededException", "\(eleventh.text)")
            #expect(Self.tags(try await Self.instance("gpu-01", client, admin)).count == 10)
        }
    }
}
