import Foundation
import SigV4
import SlipwayModel
import Testing

@testable import Server

/// What an on-premises instance's key may read from the built-in store, through the whole application in-process.
@Suite("Instance keys read only the revision they are deploying")
struct InstanceScopeTests {
    /// Not before its host takes a command, not another object, not another version, no bucket listing.
    @Test("an agent key reads the revision of the deployment its host is running, and nothing else")
    func agentKeyReadsOnlyItsRevision() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        let hostARN = "arn:aws:iam::000000000000:user/gpu-01"
        try await server.run { client in
            func ok(_ answer: TestServer.Client.Answer, _ what: String) {
                #expect(answer.status == 200, "\(what): \(String(decoding: answer.body, as: UTF8.self))")
            }
            ok(try await client.s3(.put, "/releases", as: admin), "CreateBucket")
            ok(try await client.s3(.put, "/releases/app.zip", body: Data("v1".utf8), as: admin), "PutObject")
            ok(try await client.s3(.put, "/releases/other-team.zip", body: Data("x".utf8), as: admin), "PutObject")
            ok(
                try await client.codeDeploy(
                    "RegisterOnPremisesInstance", #"{"instanceName":"gpu-01","iamUserArn":"\#(hostARN)"}"#, as: admin),
                "RegisterOnPremisesInstance")
            ok(
                try await client.codeDeploy(
                    "AddTagsToOnPremisesInstances",
                    #"{"instanceNames":["gpu-01"],"tags":[{"Key":"env","Value":"prod"}]}"#, as: admin), "AddTags")
            ok(try await client.codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin), "CreateApp")
            ok(
                try await client.codeDeploy(
                    "CreateDeploymentGroup",
                    #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r","#
                        + #""onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]}"#,
                    as: admin), "CreateDeploymentGroup")
            let agent = try await server.key(.agent, instanceName: "gpu-01")

            let early = try await client.s3(.get, "/releases/app.zip", as: agent)
            #expect(early.status == 403, "no deployment runs on the host yet")

            ok(
                try await client.codeDeploy(
                    "CreateDeployment",
                    #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"S3","#
                        + #""s3Location":{"bucket":"releases","key":"app.zip","bundleType":"zip"}}}"#, as: admin),
                "CreateDeployment")
            let poll = try await client.json(
                target: "\(CodeDeployCommand.targetPrefix).PollHostCommand",
                body: Data(#"{"HostIdentifier":"\#(hostARN)"}"#.utf8), service: CodeDeployCommand.signingName,
                credentials: agent)
            ok(poll, "PollHostCommand")
            #expect((poll.json?["HostCommand"] as? [String: Any]) != nil, "the host got its first command")

            let revision = try await client.s3(.get, "/releases/app.zip", as: agent)
            #expect(revision.status == 200)
            #expect(String(decoding: revision.body, as: UTF8.self) == "v1")
            #expect(try await client.s3(.head, "/releases/app.zip", as: agent).status == 200)
            let other = try await client.s3(.get, "/releases/other-team.zip", as: agent)
            #expect(other.status == 403)
            #expect(String(decoding: other.body, as: UTF8.self).contains("--agent-read-prefix"))
            #expect(try await client.s3(.get, "/releases/app.zip?versionId=v0", as: agent).status == 403)
            #expect(try await client.s3(.get, "/releases?list-type=2", as: agent).status == 403)
            #expect(try await client.s3(.get, "/releases/other-team.zip", as: admin).status == 200)
        }
    }

    @Test("a server prefix widens what every instance may read, and only that")
    func readablePrefixWidens() async throws {
        var configured = try TestServer()
        configured.configuration.agentReadablePrefixes = ["shared/models/"]
        let server = configured
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            #expect(try await client.s3(.put, "/shared", as: admin).status == 200)
            #expect(try await client.s3(.put, "/shared/models/m.bin", body: Data("m".utf8), as: admin).status == 200)
            #expect(try await client.s3(.put, "/shared/secrets.txt", body: Data("s".utf8), as: admin).status == 200)
            #expect(
                try await client.codeDeploy(
                    "RegisterOnPremisesInstance",
                    #"{"instanceName":"h","iamUserArn":"arn:aws:iam::000000000000:user/h"}"#, as: admin
                ).status == 200)
            let agent = try await server.key(.agent, instanceName: "h")
            #expect(try await client.s3(.get, "/shared/models/m.bin", as: agent).status == 200)
            #expect(try await client.s3(.get, "/shared/secrets.txt", as: agent).status == 403)
            let listed = try await client.s3(.get, "/shared?list-type=2&prefix=models%2F", as: agent)
            #expect(listed.status == 200, "\(String(decoding: listed.body, as: UTF8.self))")
        }
    }

    @Test("an --agent-read-prefix must name a bucket", arguments: ["", "/", "models", "/models/", "b/\u{0}x"])
    func prefixIsValidated(_ prefix: String) throws {
        var configuration = ServerConfiguration(dataDirectory: URL(fileURLWithPath: "/nonexistent"))
        configuration.agentReadablePrefixes = [prefix]
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
    }
}
