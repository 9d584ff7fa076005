import Foundation
import SigV4
import SlipwayModel
import Testing

@testable import Server

/// The agent command API through the whole application in-process.
@Suite("The agent command API")
struct CommandAPITests {
    @Test("the execution id a poll hands out fetches its deployment's signed specification; one naming none is refused")
    func executionIdFetchesSpecification() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            try await client.prepareFleet(as: admin)
            try await client.deployRevision(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let poll = try await client.command(
                "PollHostCommand", #"{"HostIdentifier":"\#(TestServer.Client.hostARN)"}"#, as: agent)
            let command = try #require(poll.json?["HostCommand"] as? [String: Any])
            let execution = try #require(command["DeploymentExecutionId"] as? String)
            #expect(execution.hasPrefix("Slipway/us-east-1/"))

            let fetched = try await Self.specification(client, execution, agent)
            #expect(fetched.status == 200, "\(String(decoding: fetched.body, as: UTF8.self))")
            let envelope = (fetched.json?["DeploymentSpecification"] as? [String: Any])?["GenericEnvelope"]
            #expect((envelope as? [String: Any])?["Format"] as? String == "PKCS7/JSON")

            let truncated = try await Self.specification(client, String(execution.dropLast(11)), agent)
            #expect(truncated.status == 400)
            #expect(truncated.errorType == "ClientException")
            let unknown = try await Self.specification(client, "Slipway/us-east-1/g/d-NOSUCH000", agent)
            #expect(unknown.errorType == "ClientException")
        }
    }

    static func specification(_ client: TestServer.Client, _ execution: String, _ key: Credentials) async throws
        -> TestServer.Client.Answer
    {
        try await client.command(
            "GetDeploymentSpecification",
            #"{"DeploymentExecutionId":"\#(execution)","HostIdentifier":"\#(TestServer.Client.hostARN)"}"#, as: key)
    }
}
