import Foundation
import SigV4
import SlipwayModel
import Testing

@testable import Server

/// The agent command API through the whole application in-process.
@Suite("The agent command API")
struct CommandAPITests {
    static let hostARN = "arn:aws:iam::000000000000:user/gpu-01"

    @Test("the execution id a poll hands out fetches its deployment's signed specification; one naming none is refused")
    func executionIdFetchesSpecification() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            try await Self.deploy(with: client, as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let poll = try await Self.command(
                client, "PollHostCommand", #"{"HostIdentifier":"\#(Self.hostARN)"}"#, agent)
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

    /// A registered instance `gpu-01` tagged `env=prod`, the group `web/prod` targeting it, and a deployment of
    /// `s3://releases/app.zip` to it.
    static func deploy(with client: TestServer.Client, as admin: Credentials) async throws {
        func ok(_ answer: TestServer.Client.Answer, _ what: String) {
            #expect(answer.status == 200, "\(what): \(String(decoding: answer.body, as: UTF8.self))")
        }
        ok(try await client.s3(.put, "/releases", as: admin), "CreateBucket")
        ok(try await client.s3(.put, "/releases/app.zip", body: Data("v1".utf8), as: admin), "PutObject")
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
        ok(
            try await client.codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"S3","#
                    + #""s3Location":{"bucket":"releases","key":"app.zip","bundleType":"zip"}}}"#, as: admin),
            "CreateDeployment")
    }

    static func command(_ client: TestServer.Client, _ operation: String, _ body: String, _ key: Credentials)
        async throws -> TestServer.Client.Answer
    {
        try await client.json(
            target: "\(CodeDeployCommand.targetPrefix).\(operation)", body: Data(body.utf8),
            service: CodeDeployCommand.signingName, credentials: key)
    }

    static func specification(_ client: TestServer.Client, _ execution: String, _ key: Credentials) async throws
        -> TestServer.Client.Answer
    {
        try await command(
            client, "GetDeploymentSpecification",
            #"{"DeploymentExecutionId":"\#(execution)","HostIdentifier":"\#(hostARN)"}"#, key)
    }
}
