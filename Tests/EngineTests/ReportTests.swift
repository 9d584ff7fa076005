import Engine
import Foundation
import SlipwayModel
import Testing

@Suite("Late, duplicate and unknown agent reports")
struct ReportTests {
    @Test("a duplicate completion keeps the first report's diagnostics (the agent completes a failure twice)")
    func duplicateCompletion() throws {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .applicationStop)
        _ = deployment.run(id, failure(), now: clock.now)
        let settled = deployment
        let second = CommandReport.failure(.unknownError, message: "second report")
        #expect(deployment.commandCompleted(id, second, now: clock.now + 1) == [])
        #expect(deployment.commandCompleted(id, .success, now: clock.now + 2) == [])
        #expect(deployment == settled)
        #expect(deployment.host(named: "web-1")?.events[0].diagnostics?.errorCode == .scriptFailed)
        #expect(deployment.commandStatus(id) == .failed)
    }

    @Test("a duplicate success while the next command is offered changes nothing")
    func duplicateSuccessMidway() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .applicationStop)
        _ = deployment.run(id, now: clock.now)
        let before = deployment
        #expect(deployment.commandCompleted(id, .success, now: clock.now + 5) == [])
        #expect(deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now + 5) == [])
        #expect(deployment == before)
        #expect(deployment.commandStatus(id) == .succeeded)
    }

    @Test("a report for a command that timed out is answered Failed and changes nothing")
    func lateReportAfterTimeout() throws {
        var clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let id = command("web-1", .applicationStop)
        clock.advance(by: 301)
        _ = deployment.tick(now: clock.now)
        let failed = deployment
        #expect(deployment.commandAcknowledged(id, CommandAcknowledgement(isNoop: true), now: clock.now) == [])
        #expect(deployment.commandStatus(id) == .failed)
        #expect(deployment.commandCompleted(id, .success, now: clock.now) == [])
        #expect(deployment == failed)
        #expect(deployment.status == .failed)
    }

    @Test("reports for unknown commands, other deployments or other hosts never crash and change nothing")
    func unknownReports() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        _ = deployment.start(now: clock.now)
        let before = deployment
        let strangers = [
            HostCommandID(deploymentId: "d-OTHER0001", instanceName: "web-1", event: .applicationStop),
            HostCommandID(deploymentId: deploymentId, instanceName: "ghost", event: .applicationStop),
            command("web-1", .install),
            HostCommandID(deploymentId: deploymentId, instanceName: "web-1", event: .applicationStop, attempt: 2),
        ]
        for id in strangers {
            #expect(deployment.commandDelivered(id, now: clock.now) == [])
            #expect(deployment.commandAcknowledged(id, CommandAcknowledgement(), now: clock.now) == [])
            #expect(deployment.heartbeat(id, estimatedCompletion: nil, now: clock.now) == [])
            #expect(deployment.commandCompleted(id, failure(), now: clock.now) == [])
            #expect(deployment.trafficCompleted(id, .succeeded, now: clock.now) == [])
            #expect(deployment.commandStatus(id) == nil)
        }
        #expect(deployment == before)
    }

    @Test("an agent command cannot complete a traffic request, nor traffic an agent command")
    func crossedReports() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"], withLoadBalancer: true), now: clock.now)
        _ = deployment.start(now: clock.now)
        #expect(deployment.trafficCompleted(command("web-1", .beforeBlockTraffic), .succeeded, now: clock.now) == [])
        _ = deployment.run(command("web-1", .beforeBlockTraffic), now: clock.now)
        let before = deployment
        #expect(deployment.commandCompleted(command("web-1", .blockTraffic), .success, now: clock.now) == [])
        #expect(deployment == before)
    }

    @Test("events before start or after the end change nothing")
    func outOfPhase() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot(["web-1"]), now: clock.now)
        let created = deployment
        #expect(deployment.commandCompleted(command("web-1", .applicationStop), .success, now: clock.now) == [])
        #expect(deployment.tick(now: clock.now + 10_000) == [])
        #expect(deployment == created)
        _ = deployment.start(now: clock.now)
        #expect(deployment.start(now: clock.now) == [])
        _ = deployment.runHost("web-1", now: clock.now)
        let finished = deployment
        #expect(deployment.stop(autoRollbackEnabled: true, now: clock.now) == [])
        #expect(deployment.tick(now: clock.now + 100_000) == [])
        #expect(deployment == finished)
    }

    @Test("completion diagnostics: agent error codes 0…7 map to LifecycleErrorCode")
    func agentErrorCodes() {
        let expected: [CodeDeploy.LifecycleErrorCode] = [
            .success, .scriptMissing, .scriptNotExecutable, .scriptTimedOut, .scriptFailed, .unknownError,
            .scriptFailed, .unknownError,
        ]
        #expect((0...7).map(CommandReport.lifecycleErrorCode(agentCode:)) == expected)
        #expect(CommandReport.lifecycleErrorCode(agentCode: 42) == .unknownError)
    }

    @Test("completion diagnostics are read from the agent's JSON payload")
    func parseCompletion() throws {
        let payload =
            #"{"error_code":4,"script_name":"scripts/stop.sh","message":"failed with exit code 1","log":"[stdout]x"}"#
        let report = try #require(
            CommandReport(status: .failed, diagnostics: .init(format: "JSON", payload: payload)))
        #expect(!report.succeeded)
        #expect(
            report.diagnostics
                == CodeDeploy.Diagnostics(
                    errorCode: .scriptFailed, logTail: "[stdout]x", message: "failed with exit code 1",
                    scriptName: "scripts/stop.sh"))

        let success = try #require(
            CommandReport(
                status: .succeeded,
                diagnostics: .init(
                    format: "JSON", payload: #"{"error_code":0,"script_name":"","message":"Succeeded: ","log":""}"#)))
        #expect(success == .success)

        let bare = try #require(CommandReport(status: .failed, diagnostics: nil))
        #expect(bare.diagnostics.errorCode == .unknownError)
        #expect(bare.diagnostics.message == "The host reported the lifecycle event as failed.")
        #expect(
            CommandReport(status: .failed, diagnostics: .init(format: "JSON", payload: "{not json"))?.succeeded == false
        )
        #expect(CommandReport(status: .inProgress, diagnostics: nil) == nil)
        #expect(CommandReport(status: nil, diagnostics: nil) == nil)
    }

    @Test("acknowledgement diagnostics carry IsCommandNoop and an optional maximum duration")
    func parseAcknowledgement() {
        #expect(CommandAcknowledgement(diagnostics: .init(format: "JSON", payload: #"{"IsCommandNoop":true}"#)).isNoop)
        #expect(
            !CommandAcknowledgement(diagnostics: .init(format: "JSON", payload: #"{"IsCommandNoop":false}"#)).isNoop)
        #expect(CommandAcknowledgement(diagnostics: nil) == CommandAcknowledgement())
        #expect(CommandAcknowledgement(diagnostics: .init(format: "JSON", payload: "[]")) == CommandAcknowledgement())
        let stated = CommandAcknowledgement(
            diagnostics: .init(
                format: "JSON", payload: #"{"IsCommandNoop":false,"HostCommandMaxDurationInSeconds":900}"#))
        #expect(stated.maxDuration == 900)
    }
}
