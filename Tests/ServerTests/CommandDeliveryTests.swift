import Foundation
import SigV4
import Testing

@testable import Server

/// How the agent command API hands a host its commands, on a server whose clock the test moves: one command at a
/// time, handed out again only when it was lost (not acknowledged within 30 seconds), and never once acknowledged.
@Suite("Command delivery to a host's agent")
struct CommandDeliveryTests {
    /// The lifecycle events of an in-place deployment without a load balancer, in the order the host runs them.
    static let events = [
        "ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
        "ValidateService",
    ]

    /// A server with the fleet of ``TestServer/Client/prepareFleet(as:)`` and one deployment to it, on `clock`;
    /// `body` gets the client, the admin and agent keys and the deployment's id.
    static func withDeployment(
        clock: ManualClock,
        _ body: @escaping @Sendable (TestServer.Client, Credentials, Credentials, String) async throws -> Void
    ) async throws {
        try await TestServer.withAdmin(clock: clock) { server, client, admin in
            try await client.prepareFleet(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let id = try await client.createDeployment(as: admin)
            try await body(client, admin, agent, id)
        }
    }

    /// Whether a poll's answer is CodeDeploy's "nothing for you": `{}` without a `HostCommand`.
    static func isEmpty(_ answer: TestServer.Client.Answer) -> Bool {
        answer.status == 200 && answer.json?.isEmpty == true
    }

    @Test("a poll hands out the host's first lifecycle event of the deployment, for that host")
    func firstPoll() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, _, agent, id in
            let answer = try await client.poll(as: agent)
            #expect(answer.status == 200, "\(answer.text)")
            let command = try #require(answer.hostCommand, "\(answer.text)")
            #expect(command["CommandName"] as? String == "ApplicationStop")
            #expect(command["HostIdentifier"] as? String == TestServer.Client.hostARN)
            let commandId = try #require(command["HostCommandIdentifier"] as? String)
            #expect(commandId.hasPrefix("\(id):gpu-01:ApplicationStop:"), "\(commandId)")
            #expect((command["DeploymentExecutionId"] as? String)?.hasSuffix(id) == true)
        }
    }

    @Test("a second poll while the host holds an unacknowledged command gets nothing within the 30-second grace")
    func heldCommandNotRepeated() async throws {
        let clock = ManualClock()
        try await Self.withDeployment(clock: clock) { client, _, agent, _ in
            let first = try await client.poll(as: agent)
            #expect(first.hostCommand != nil, "\(first.text)")
            let second = try await client.poll(as: agent)
            #expect(Self.isEmpty(second), "the host still holds its command: \(second.text)")
            clock.advance(by: 29)
            let later = try await client.poll(as: agent)
            #expect(Self.isEmpty(later), "29 s is inside the grace: \(later.text)")
        }
    }

    @Test("a command handed out but never acknowledged is handed out again once 30 seconds have passed")
    func lostCommandRedelivered() async throws {
        let clock = ManualClock()
        try await Self.withDeployment(clock: clock) { client, _, agent, _ in
            let first = try await client.takeCommand(as: agent)
            clock.advance(by: 29)
            #expect(Self.isEmpty(try await client.poll(as: agent)))
            clock.advance(by: 2)
            let again = try await client.poll(as: agent)
            let command = try #require(again.hostCommand, "31 s after it was handed out: \(again.text)")
            #expect(command["HostCommandIdentifier"] as? String == first.id, "the same command, not the next")
            #expect(command["CommandName"] as? String == "ApplicationStop")
            let right = try await client.poll(as: agent)
            #expect(Self.isEmpty(right), "handing it out again starts a new grace: \(right.text)")
            #expect(try await client.acknowledge(first.id, as: agent).commandStatus == "InProgress")
        }
    }

    @Test("an acknowledged command is never handed out again, however long the host keeps polling")
    func acknowledgedNotRedelivered() async throws {
        let clock = ManualClock()
        try await Self.withDeployment(clock: clock) { client, _, agent, _ in
            let command = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(command.id, as: agent).status == 200)
            for _ in 0..<4 {
                clock.advance(by: 31)
                let poll = try await client.poll(as: agent)
                #expect(Self.isEmpty(poll), "the agent runs it: \(poll.text)")
            }
        }
    }

    @Test("acknowledging a command answers InProgress, and Succeeded once it has completed")
    func acknowledgementAnswers() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, _, agent, _ in
            let command = try await client.takeCommand(as: agent)
            let acknowledged = try await client.acknowledge(command.id, as: agent)
            #expect(acknowledged.status == 200, "\(acknowledged.text)")
            #expect(acknowledged.commandStatus == "InProgress", "\(acknowledged.text)")
            #expect(try await client.complete(command.id, as: agent).status == 200)
            let late = try await client.acknowledge(command.id, as: agent)
            #expect(late.commandStatus == "Succeeded", "a repeated acknowledgement learns the outcome: \(late.text)")
        }
    }

    @Test("completing a command releases the host: the next poll gets the next lifecycle event")
    func completionReleasesHost() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, _, agent, _ in
            let first = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(first.id, as: agent).status == 200)
            #expect(Self.isEmpty(try await client.poll(as: agent)), "not before it completes")
            let completed = try await client.complete(first.id, as: agent)
            #expect(completed.status == 200, "\(completed.text)")
            let next = try await client.takeCommand(as: agent)
            #expect(next.name == "DownloadBundle")
            #expect(next.id != first.id)
        }
    }

    @Test("a completion with a status other than Succeeded or Failed is refused with ClientException")
    func completionStatusMustBeFinal() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, _, agent, _ in
            let command = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(command.id, as: agent).status == 200)
            for status in ["InProgress", "Pending"] {
                let answer = try await client.complete(command.id, status, as: agent)
                #expect(answer.status == 400, "\(status)")
                #expect(answer.errorType == "ClientException", "\(status): \(answer.text)")
            }
            let update = try await client.command(
                "PostHostCommandUpdate", #"{"HostCommandIdentifier":"\#(command.id)"}"#, as: agent)
            #expect(update.commandStatus == "InProgress", "the command still runs: \(update.text)")
            #expect(Self.isEmpty(try await client.poll(as: agent)), "and the host still holds it")
        }
    }

    @Test("an agent key acts only for its own instance: another instance's key is refused with AccessDeniedException")
    func otherInstanceKeyRefused() async throws {
        let server = try TestServer.withShortPolls()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run(clock: ManualClock()) { client in
            try await client.prepareFleet(as: admin)
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            let registered = try await client.codeDeploy(
                "RegisterOnPremisesInstance",
                #"{"instanceName":"gpu-02","iamUserArn":"arn:aws:iam::000000000000:user/gpu-02"}"#, as: admin)
            #expect(registered.status == 200, "\(registered.text)")
            let other = try await server.key(.agent, instanceName: "gpu-02")
            _ = try await client.createDeployment(as: admin)

            let poll = try await client.poll(as: other)
            #expect(poll.status == 403)
            #expect(poll.errorType == "AccessDeniedException", "\(poll.text)")

            let command = try await client.takeCommand(as: agent)
            let acknowledged = try await client.acknowledge(command.id, as: other)
            #expect(acknowledged.errorType == "AccessDeniedException", "\(acknowledged.text)")
            let completed = try await client.complete(command.id, "Failed", as: other)
            #expect(completed.errorType == "AccessDeniedException", "\(completed.text)")
            let update = try await client.command(
                "PostHostCommandUpdate", #"{"HostCommandIdentifier":"\#(command.id)"}"#, as: other)
            #expect(update.errorType == "AccessDeniedException", "\(update.text)")

            #expect(
                try await client.acknowledge(command.id, as: agent).commandStatus == "InProgress",
                "the refused requests changed nothing")
        }
    }

    @Test("an unknown HostCommandIdentifier is refused with ClientException")
    func unknownCommandRefused() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, _, agent, id in
            for unknown in ["not-a-command", "d-AAAAAAAAA:gpu-01:Install:1", "\(id):gpu-99:Install:1"] {
                let acknowledged = try await client.acknowledge(unknown, as: agent)
                #expect(acknowledged.status == 400, "\(unknown)")
                #expect(acknowledged.errorType == "ClientException", "\(unknown): \(acknowledged.text)")
                let completed = try await client.complete(unknown, as: agent)
                #expect(completed.errorType == "ClientException", "\(unknown): \(completed.text)")
                let update = try await client.command(
                    "PostHostCommandUpdate", #"{"HostCommandIdentifier":"\#(unknown)"}"#, as: agent)
                #expect(update.errorType == "ClientException", "\(unknown): \(update.text)")
            }
        }
    }

    @Test("PostHostCommandUpdate answers InProgress for a running command, and its outcome once it ended")
    func updateAnswers() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, _, agent, _ in
            let command = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(command.id, as: agent).status == 200)
            let body = #"{"HostCommandIdentifier":"\#(command.id)"}"#
            let running = try await client.command("PostHostCommandUpdate", body, as: agent)
            #expect(running.status == 200, "\(running.text)")
            #expect(running.commandStatus == "InProgress", "\(running.text)")
            #expect(try await client.complete(command.id, "Failed", as: agent).status == 200)
            let ended = try await client.command("PostHostCommandUpdate", body, as: agent)
            #expect(ended.commandStatus == "Failed", "\(ended.text)")
        }
    }

    @Test("a command withdrawn by StopDeployment answers Failed to a late acknowledgement")
    func withdrawnCommandFails() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, admin, agent, id in
            let command = try await client.takeCommand(as: agent)
            let stop = try await client.codeDeploy("StopDeployment", #"{"deploymentId":"\#(id)"}"#, as: admin)
            #expect(stop.status == 200, "\(stop.text)")
            let late = try await client.acknowledge(command.id, as: agent)
            #expect(late.status == 200, "\(late.text)")
            #expect(late.commandStatus == "Failed", "the agent must not run it: \(late.text)")
            #expect(Self.isEmpty(try await client.poll(as: agent)), "nothing else is handed out")
            #expect(try await client.deploymentStatus(id, as: admin) == "Stopped")
        }
    }

    @Test("a host that runs every lifecycle event to Succeeded ends the deployment Succeeded")
    func fullRunSucceeds() async throws {
        let clock = ManualClock()
        try await Self.withDeployment(clock: clock) { client, admin, agent, id in
            var ran: [String] = []
            for _ in Self.events {
                let command = try await client.takeCommand(as: agent)
                ran.append(command.name)
                #expect(try await client.acknowledge(command.id, as: agent).commandStatus == "InProgress")
                clock.advance(by: 1)
                #expect(try await client.complete(command.id, as: agent).status == 200)
                if ran.count < Self.events.count {
                    #expect(try await client.deploymentStatus(id, as: admin) == "InProgress", "after \(command.name)")
                }
            }
            #expect(ran == Self.events)
            #expect(Self.isEmpty(try await client.poll(as: agent)), "nothing after ValidateService")
            let info = try await client.deploymentInfo(id, as: admin)
            #expect(info["status"] as? String == "Succeeded")
            let start = try #require(info["startTime"] as? NSNumber)
            let end = try #require(info["completeTime"] as? NSNumber)
            #expect(end.doubleValue - start.doubleValue >= 6.5, "the deployment ran on the server's clock")
        }
    }

    @Test("a failed lifecycle event fails the deployment, and the host is handed none of the later events")
    func failedEventFailsDeployment() async throws {
        try await Self.withDeployment(clock: ManualClock()) { client, admin, agent, id in
            let first = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(first.id, as: agent).status == 200)
            #expect(try await client.complete(first.id, as: agent).status == 200)
            let download = try await client.takeCommand(as: agent)
            #expect(download.name == "DownloadBundle")
            #expect(try await client.acknowledge(download.id, as: agent).status == 200)
            #expect(try await client.complete(download.id, "Failed", as: agent).status == 200)
            #expect(Self.isEmpty(try await client.poll(as: agent)))
            #expect(try await client.deploymentStatus(id, as: admin) == "Failed")
        }
    }

    @Test("the full log an agent uploads for a lifecycle event is read back whole, stamped with the server's time")
    func eventLogRoundTrip() async throws {
        let clock = ManualClock()
        try await Self.withDeployment(clock: clock) { client, admin, agent, id in
            let command = try await client.takeCommand(as: agent)
            #expect(try await client.acknowledge(command.id, as: agent).status == 200)
            clock.advance(by: 60)
            let uploadedAt = clock.now
            let log = (1...500).map { "line \($0) of the ApplicationStop script" }.joined(separator: "\\n")
            let uploaded = try await client.command(
                "PutHostCommandLog", #"{"HostCommandIdentifier":"\#(command.id)","Log":"\#(log)"}"#, as: agent)
            #expect(uploaded.status == 200, "\(uploaded.text)")

            func read(_ event: String) async throws -> TestServer.Client.Answer {
                try await client.json(
                    target: "Slipway_20261127.GetLifecycleEventLog",
                    body: Data(
                        #"{"deploymentId":"\#(id)","targetId":"gpu-01","lifecycleEventName":"\#(event)"}"#.utf8),
                    service: "codedeploy", credentials: admin)
            }
            let answer = try await read("ApplicationStop")
            #expect(answer.status == 200, "\(answer.text)")
            let text = try #require(answer.json?["log"] as? String, "\(answer.text)")
            #expect(text.count > 4096, "more than the 4 KB tail of the diagnostics")
            #expect(text.hasPrefix("line 1 of") && text.hasSuffix("line 500 of the ApplicationStop script"))
            #expect(text.split(separator: "\n").count == 500)
            let time = try #require(answer.json?["uploadTime"] as? NSNumber)
            #expect(
                abs(time.doubleValue - uploadedAt.timeIntervalSince1970) < 0.01, "the server's clock, not the wall's")

            let none = try await read("DownloadBundle")
            #expect(none.errorType == "ResourceNotFoundException", "\(none.text)")
        }
    }

    @Test("a command no poll acknowledges within the 5-minute pickup timeout fails the deployment")
    func pickupTimeout() async throws {
        let clock = ManualClock()
        try await Self.withDeployment(clock: clock) { client, admin, agent, id in
            _ = try await client.takeCommand(as: agent)
            clock.advance(by: 299)
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await client.deploymentStatus(id, as: admin) == "InProgress", "299 s is within the timeout")
            clock.advance(by: 2)
            var status: String?
            for _ in 0..<50 {
                status = try await client.deploymentStatus(id, as: admin)
                if status != "InProgress" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == "Failed", "the server's timer fired on its clock")
        }
    }
}
