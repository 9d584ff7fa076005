import Foundation
import SigV4
import Testing

@testable import Server

/// The steps the handler suites script their requests with: a server whose idle polls end quickly, a deployment whose
/// id the test keeps, and the agent's side of a command (poll, acknowledge, complete).
extension TestServer {
    /// A server whose idle `PollHostCommand` is answered `{}` after 50 ms instead of CodeDeploy's 50 s, so that a
    /// test can ask "is there a command now?" without waiting.
    static func withShortPolls() throws -> TestServer {
        var server = try TestServer()
        server.configuration.pollHold = 0.05
        return server
    }

    /// Runs `body` against a new server with short polls (on `clock` when given) and a key of the admin role, then
    /// removes the server's data directory.
    static func withAdmin(
        clock: ManualClock? = nil, _ body: @escaping @Sendable (TestServer, Client, Credentials) async throws -> Void
    ) async throws {
        let server = try withShortPolls()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run(clock: clock) { client in try await body(server, client, admin) }
    }
}

extension TestServer.Client.Answer {
    /// The body as text, for failure messages.
    var text: String { String(decoding: body, as: UTF8.self) }

    /// The `HostCommand` of a poll's answer; nil when the poll got none.
    var hostCommand: [String: Any]? { json?["HostCommand"] as? [String: Any] }

    /// The `CommandStatus` of an acknowledgement's or an update's answer.
    var commandStatus: String? { json?["CommandStatus"] as? String }
}

extension TestServer.Client {
    /// The revision of ``prepareFleet(as:)`` as a request names it.
    static let appZip = #"{"revisionType":"S3","s3Location":{"bucket":"releases","key":"app.zip","bundleType":"zip"}}"#

    /// CreateDeployment of `s3://releases/app.zip` to `web/prod`, which must succeed; the deployment's id.
    func createDeployment(as admin: Credentials) async throws -> String {
        let answer = try await codeDeploy(
            "CreateDeployment",
            #"{"applicationName":"web","deploymentGroupName":"prod","revision":\#(Self.appZip)}"#, as: admin)
        #expect(answer.status == 200, "CreateDeployment: \(answer.text)")
        return try #require(answer.json?["deploymentId"] as? String, "CreateDeployment: \(answer.text)")
    }

    /// GetDeployment's `deploymentInfo` of deployment `id`, which must exist.
    func deploymentInfo(_ id: String, as admin: Credentials) async throws -> [String: Any] {
        let answer = try await codeDeploy("GetDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
        #expect(answer.status == 200, "GetDeployment: \(answer.text)")
        return try #require(answer.json?["deploymentInfo"] as? [String: Any], "GetDeployment: \(answer.text)")
    }

    /// The `status` GetDeployment shows for deployment `id`.
    func deploymentStatus(_ id: String, as admin: Credentials) async throws -> String? {
        try await deploymentInfo(id, as: admin)["status"] as? String
    }

    /// PollHostCommand for `host` (the instance of ``prepareFleet(as:)`` unless named).
    func poll(as agent: Credentials, host: String = hostARN) async throws -> Answer {
        try await command("PollHostCommand", #"{"HostIdentifier":"\#(host)"}"#, as: agent)
    }

    /// PollHostCommand, which must hand out a command; its `HostCommandIdentifier` and `CommandName`.
    func takeCommand(as agent: Credentials) async throws -> (id: String, name: String) {
        let answer = try await poll(as: agent)
        #expect(answer.status == 200, "PollHostCommand: \(answer.text)")
        let command = try #require(answer.hostCommand, "the poll got no command: \(answer.text)")
        return (
            try #require(command["HostCommandIdentifier"] as? String), try #require(command["CommandName"] as? String)
        )
    }

    /// PutHostCommandAcknowledgement of command `id`.
    func acknowledge(_ id: String, as agent: Credentials) async throws -> Answer {
        try await command("PutHostCommandAcknowledgement", #"{"HostCommandIdentifier":"\#(id)"}"#, as: agent)
    }

    /// PutHostCommandComplete of command `id` with `status`, as the stock agent reports it.
    func complete(_ id: String, _ status: String = "Succeeded", as agent: Credentials) async throws -> Answer {
        let diagnostics = #"{\"error_code\":0,\"script_name\":\"\",\"message\":\"Succeeded\",\"log\":\"\"}"#
        return try await command(
            "PutHostCommandComplete",
            #"{"HostCommandIdentifier":"\#(id)","CommandStatus":"\#(status)","#
                + #""Diagnostics":{"Format":"JSON","Payload":"\#(diagnostics)"}}"#, as: agent)
    }

    /// Takes, acknowledges and completes every command the host is offered until a poll gets none; the names of the
    /// lifecycle events run, in order.
    func runEveryCommand(as agent: Credentials) async throws -> [String] {
        var names: [String] = []
        while let command = try await poll(as: agent).hostCommand {
            let id = try #require(command["HostCommandIdentifier"] as? String)
            names.append(try #require(command["CommandName"] as? String))
            #expect(try await acknowledge(id, as: agent).status == 200)
            #expect(try await complete(id, as: agent).status == 200)
            if names.count > 20 { break }
        }
        return names
    }
}

extension TestServer {
    /// The key of an agent for the on-premises instance `name`, which `admin` registers first.
    func registeredAgentKey(_ name: String, client: Client, admin: Credentials) async throws -> Credentials {
        let registered = try await client.codeDeploy(
            "RegisterOnPremisesInstance",
            #"{"instanceName":"\#(name)","iamUserArn":"arn:aws:iam::000000000000:user/\#(name)"}"#, as: admin)
        #expect(registered.status == 200, "\(registered.text)")
        return try await key(.agent, instanceName: name)
    }
}
