import Foundation
import SigV4
import Testing

@testable import Server

/// CreateApplication, GetApplication, BatchGetApplications, ListApplications, UpdateApplication and
/// DeleteApplication through the whole application in-process, as the AWS CLI would send them.
@Suite("Applications: create, read, list, rename and delete")
struct ApplicationHandlerTests {
    /// The `application` GetApplication answers for `name`, which must exist.
    static func application(_ name: String, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> [String: Any]
    {
        let answer = try await client.codeDeploy("GetApplication", #"{"applicationName":"\#(name)"}"#, as: admin)
        #expect(answer.status == 200, "GetApplication \(name): \(answer.text)")
        return try #require(answer.json?["application"] as? [String: Any], "GetApplication \(name): \(answer.text)")
    }

    /// The names ListApplications answers on one page (after `token`), and its next token.
    static func listPage(_ token: String?, _ client: TestServer.Client, _ admin: Credentials) async throws
        -> (names: [String], next: String?)
    {
        let body = token.map { #"{"nextToken":"\#($0)"}"# } ?? "{}"
        let answer = try await client.codeDeploy("ListApplications", body, as: admin)
        #expect(answer.status == 200, "ListApplications: \(answer.text)")
        return (answer.json?["applications"] as? [String] ?? [], answer.json?["nextToken"] as? String)
    }

    @Test("a new application is found by GetApplication with the id CreateApplication gave and the Server platform")
    func createThenGet() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let created = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
            #expect(created.status == 200, "\(created.text)")
            let id = try #require(created.json?["applicationId"] as? String)
            #expect(!id.isEmpty)

            let web = try await Self.application("web", client, admin)
            #expect(web["applicationName"] as? String == "web")
            #expect(web["applicationId"] as? String == id)
            #expect(web["computePlatform"] as? String == "Server", "no platform named: Server, as in CodeDeploy")
            #expect(web["createTime"] != nil)

            let lambda = try await client.codeDeploy(
                "CreateApplication", #"{"applicationName":"fn","computePlatform":"Lambda"}"#, as: admin)
            #expect(lambda.status == 200, "\(lambda.text)")
            #expect(try await Self.application("fn", client, admin)["computePlatform"] as? String == "Lambda")
        }
    }

    @Test("a second application with a name in use is refused with ApplicationAlreadyExistsException")
    func duplicateName() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let first = try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin)
            let id = try #require(first.json?["applicationId"] as? String)
            let second = try await client.codeDeploy(
                "CreateApplication", #"{"applicationName":"web","computePlatform":"Lambda"}"#, as: admin)
            #expect(second.status == 400)
            #expect(second.errorType == "ApplicationAlreadyExistsException", "\(second.text)")
            let kept = try await Self.application("web", client, admin)
            #expect(kept["applicationId"] as? String == id, "the first application is untouched")
            #expect(kept["computePlatform"] as? String == "Server")
        }
    }

    @Test("an application that does not exist answers ApplicationDoesNotExistException to Get, BatchGet and Update")
    func missingApplication() async throws {
        try await TestServer.withAdmin { server, client, admin in
            #expect(
                try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin).status == 200
            )
            let get = try await client.codeDeploy("GetApplication", #"{"applicationName":"ghost"}"#, as: admin)
            #expect(get.status == 400)
            #expect(get.errorType == "ApplicationDoesNotExistException", "\(get.text)")
            let batch = try await client.codeDeploy(
                "BatchGetApplications", #"{"applicationNames":["web","ghost"]}"#, as: admin)
            #expect(batch.errorType == "ApplicationDoesNotExistException", "\(batch.text)")
            let rename = try await client.codeDeploy(
                "UpdateApplication", #"{"applicationName":"ghost","newApplicationName":"spirit"}"#, as: admin)
            #expect(rename.errorType == "ApplicationDoesNotExistException", "\(rename.text)")
            let listed = try await Self.listPage(nil, client, admin)
            #expect(listed.names == ["web"], "a failed rename creates nothing")
        }
    }

    @Test("BatchGetApplications answers every application named, in the order named")
    func batchGet() async throws {
        try await TestServer.withAdmin { server, client, admin in
            for name in ["api", "web", "worker"] {
                #expect(
                    try await client.codeDeploy("CreateApplication", #"{"applicationName":"\#(name)"}"#, as: admin)
                        .status == 200)
            }
            let answer = try await client.codeDeploy(
                "BatchGetApplications", #"{"applicationNames":["worker","api"]}"#, as: admin)
            #expect(answer.status == 200, "\(answer.text)")
            let infos = try #require(answer.json?["applicationsInfo"] as? [[String: Any]])
            #expect(infos.map { $0["applicationName"] as? String } == ["worker", "api"])
            let empty = try await client.codeDeploy("BatchGetApplications", #"{"applicationNames":[]}"#, as: admin)
            #expect(empty.errorType == "ApplicationNameRequiredException", "\(empty.text)")
        }
    }

    @Test("ListApplications lists every application by name, and none once they are deleted")
    func listApplications() async throws {
        try await TestServer.withAdmin { server, client, admin in
            #expect(try await Self.listPage(nil, client, admin).names == [])
            for name in ["web", "api", "worker"] {
                #expect(
                    try await client.codeDeploy("CreateApplication", #"{"applicationName":"\#(name)"}"#, as: admin)
                        .status == 200)
            }
            let listed = try await Self.listPage(nil, client, admin)
            #expect(listed.names == ["api", "web", "worker"])
            #expect(listed.next == nil)
            for name in ["web", "api", "worker"] {
                #expect(
                    try await client.codeDeploy("DeleteApplication", #"{"applicationName":"\#(name)"}"#, as: admin)
                        .status == 200)
            }
            #expect(try await Self.listPage(nil, client, admin).names == [])
        }
    }

    @Test("ListApplications answers 100 names a page, and its next token leads to the rest")
    func listApplicationsPages() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let names = (0..<101).map { "app-" + String(format: "%03d", $0) }
            for name in names {
                let created = try await client.codeDeploy(
                    "CreateApplication", #"{"applicationName":"\#(name)"}"#, as: admin)
                #expect(created.status == 200, "\(name): \(created.text)")
            }
            let first = try await Self.listPage(nil, client, admin)
            #expect(first.names.count == 100)
            let token = try #require(first.next, "a full page has a next token")
            let second = try await Self.listPage(token, client, admin)
            #expect(second.names.count == 1)
            #expect(second.next == nil, "the last page has no next token")
            #expect(first.names + second.names == names, "every application once, in order")

            let bad = try await client.codeDeploy("ListApplications", #"{"nextToken":"not a token!"}"#, as: admin)
            #expect(bad.status == 400)
            #expect(bad.errorType == "InvalidNextTokenException", "\(bad.text)")
        }
    }

    @Test("UpdateApplication renames an application: its id, deployment groups and tags answer under the new name")
    func rename() async throws {
        try await TestServer.withAdmin { server, client, admin in
            let created = try await client.codeDeploy(
                "CreateApplication", #"{"applicationName":"web","tags":[{"Key":"team","Value":"edge"}]}"#, as: admin)
            let id = try #require(created.json?["applicationId"] as? String, "\(created.text)")
            let group = try await client.codeDeploy(
                "CreateDeploymentGroup",
                #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r"}"#,
                as: admin)
            #expect(group.status == 200, "\(group.text)")

            let renamed = try await client.codeDeploy(
                "UpdateApplication", #"{"applicationName":"web","newApplicationName":"site"}"#, as: admin)
            #expect(renamed.status == 200, "\(renamed.text)")

            let old = try await client.codeDeploy("GetApplication", #"{"applicationName":"web"}"#, as: admin)
            #expect(old.errorType == "ApplicationDoesNotExistException", "the old name is gone: \(old.text)")
            let site = try await Self.application("site", client, admin)
            #expect(site["applicationName"] as? String == "site")
            #expect(site["applicationId"] as? String == id, "a rename keeps the application's id")
            #expect(try await Self.listPage(nil, client, admin).names == ["site"])

            let moved = try await client.codeDeploy(
                "GetDeploymentGroup", #"{"applicationName":"site","deploymentGroupName":"prod"}"#, as: admin)
            #expect(moved.status == 200, "\(moved.text)")
            let info = moved.json?["deploymentGroupInfo"] as? [String: Any]
            #expect(info?["applicationName"] as? String == "site")

            let tags = try await client.codeDeploy(
                "ListTagsForResource",
                #"{"ResourceArn":"arn:aws:codedeploy:us-east-1:000000000000:application:site"}"#, as: admin)
            #expect(tags.status == 200, "\(tags.text)")
            let listed = (tags.json?["Tags"] as? [[String: Any]])?.map { $0["Key"] as? String }
            #expect(listed == ["team"], "the tags moved with the application")
        }
    }

    @Test("renaming an application to a name in use is refused with ApplicationAlreadyExistsException")
    func renameOntoExisting() async throws {
        try await TestServer.withAdmin { server, client, admin in
            for name in ["web", "api"] {
                #expect(
                    try await client.codeDeploy("CreateApplication", #"{"applicationName":"\#(name)"}"#, as: admin)
                        .status == 200)
            }
            let answer = try await client.codeDeploy(
                "UpdateApplication", #"{"applicationName":"web","newApplicationName":"api"}"#, as: admin)
            #expect(answer.status == 400)
            #expect(answer.errorType == "ApplicationAlreadyExistsException", "\(answer.text)")
            #expect(try await Self.listPage(nil, client, admin).names == ["api", "web"], "both keep their names")
        }
    }

    @Test("DeleteApplication removes the application with its deployment groups, and deleting it again succeeds")
    func delete() async throws {
        try await TestServer.withAdmin { server, client, admin in
            #expect(
                try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin).status == 200
            )
            let group = try await client.codeDeploy(
                "CreateDeploymentGroup",
                #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r"}"#,
                as: admin)
            #expect(group.status == 200, "\(group.text)")

            let deleted = try await client.codeDeploy("DeleteApplication", #"{"applicationName":"web"}"#, as: admin)
            #expect(deleted.status == 200, "\(deleted.text)")
            let gone = try await client.codeDeploy("GetApplication", #"{"applicationName":"web"}"#, as: admin)
            #expect(gone.errorType == "ApplicationDoesNotExistException", "\(gone.text)")
            let again = try await client.codeDeploy("DeleteApplication", #"{"applicationName":"web"}"#, as: admin)
            #expect(again.status == 200, "deleting a missing application succeeds, as in CodeDeploy: \(again.text)")

            #expect(
                try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin).status == 200
            )
            let oldGroup = try await client.codeDeploy(
                "GetDeploymentGroup", #"{"applicationName":"web","deploymentGroupName":"prod"}"#, as: admin)
            #expect(
                oldGroup.errorType == "DeploymentGroupDoesNotExistException",
                "a new application of the same name does not inherit the deleted one's groups: \(oldGroup.text)")
        }
    }
}
