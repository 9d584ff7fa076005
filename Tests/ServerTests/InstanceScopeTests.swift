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
        try await server.run { client in
            try await client.prepareFleet(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")

            let early = try await client.s3(.get, "/releases/app.zip", as: agent)
            #expect(early.status == 403, "no deployment runs on the host yet")

            try await client.deployRevision(as: admin)
            let poll = try await client.command(
                "PollHostCommand", #"{"HostIdentifier":"\#(TestServer.Client.hostARN)"}"#, as: agent)
            #expect(poll.status == 200)
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
