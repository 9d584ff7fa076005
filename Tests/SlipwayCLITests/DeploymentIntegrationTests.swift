import Foundation
import Testing

/// In-place deployments on a real `slipway server --dev` process: boto3 drives the CodeDeploy API and scripted agents
/// (`Python/scripted_agent.py`) speak the command protocol over HTTPS, as agents on hosts do.
@Suite("Deployments through boto3 and scripted agents", .serialized)
struct DeploymentIntegrationTests {
    /// Short timeouts, so that a host that never polls fails within the test.
    static let serverArguments = ["--pickup-timeout", "8", "--poll-hold", "1"]

    private func script(_ arguments: [String], server: DevServer) throws -> ClientRun {
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/deployments.py")
        var environment = server.clientEnvironment
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        environment["SLIPWAY_DATA_DIR"] = server.dataDirectory.path
        return try runClient(["python3", path.path] + arguments, environment: environment)
    }

    @Test(
        "deployments succeed one host at a time, fail with an automatic rollback, stop on request and time out hosts whose agent never polls"
    )
    func lifecycle() throws {
        let server = try DevServer(arguments: Self.serverArguments)
        defer { server.stop() }
        let run = try script(["lifecycle"], server: server)
        #expect(run.status == 0, "the deployment checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("deployment checks passed"))
    }

    @Test(
        "a server killed with SIGKILL mid-deployment carries the deployment on after a restart, handing out no command twice"
    )
    func restartSafety() throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-restart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let state = dataDirectory.appendingPathComponent("scenario.json")

        let first = try DevServer(dataDirectory: dataDirectory, arguments: Self.serverArguments)
        let before = try script(["restart-before", state.path], server: first)
        first.kill()
        #expect(before.status == 0, "starting the deployment failed:\n\(before.stdout)\n\(before.stderr)")

        let second = try DevServer(dataDirectory: dataDirectory, arguments: Self.serverArguments)
        defer { second.stop() }
        let after = try script(["restart-after", state.path], server: second)
        #expect(after.status == 0, "the deployment did not resume:\n\(after.stdout)\n\(after.stderr)")
        #expect(after.stdout.contains("deployment resumed"))
    }

    @Test("SIGTERM answers held polls at once and the server exits, instead of waiting out the 50-second hold")
    func shutdownReleasesHeldPolls() throws {
        let server = try DevServer()
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/deployments.py")
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", path.path, "held-poll"]
        client.environment = server.clientEnvironment
        let output = Pipe()
        client.standardOutput = output
        client.standardError = output
        try client.run()
        Thread.sleep(forTimeInterval: 3)  // the poll is held by now
        let stopping = Date()
        server.stop()
        let stopped = Date().timeIntervalSince(stopping)
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(stopped < 10, "the server took \(stopped) s to stop")
        #expect(client.terminationStatus == 0, "\(printed)")
        #expect(printed.contains("poll answered empty"))
    }

    @Test(
        "a revision in an external S3-compatible endpoint is checked at CreateDeployment and handed to agents with its eTag"
    )
    func externalS3Revision() throws {
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/external_s3.py")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        let run = try runClient(["python3", path.path], environment: environment)
        #expect(run.status == 0, "the external S3 checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("external S3 checks passed"))
    }
}
