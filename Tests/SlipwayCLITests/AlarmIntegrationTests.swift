import Foundation
import Testing

/// Alarms through the AWS CLI and boto3 against a real server, with scripted agents (`Python/alarms.py`).
@Suite("Alarms", .serialized)
struct AlarmIntegrationTests {
    private func script(_ scenario: String, server: DevServer, environment extra: [String: String] = [:]) throws
        -> ClientRun
    {
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/alarms.py")
        var environment = server.clientEnvironment.merging(extra) { $1 }
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        environment["SLIPWAY_DATA_DIR"] = server.dataDirectory.path
        return try runClient(["python3", path.path, scenario], environment: environment)
    }

    @Test(
        "aws cloudwatch set-alarm-state ALARM stops a deployment with ALARM_ACTIVE and rolls it back; overrides and bake times work"
    )
    func cloudWatchAlarmStopsADeployment() throws {
        let server = try DevServer(arguments: ["--poll-hold", "1", "--alarm-poll-interval", "1"])
        defer { server.stop() }
        let run = try script("cloudwatch", server: server)
        #expect(run.status == 0, "the alarm checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("alarm checks passed"))
    }

    @Test("an alarm source that cannot be read stops deployments unless their group ignores poll failures")
    func unreadableAlarmSource() throws {
        let server = try DevServer(arguments: [
            "--poll-hold", "1", "--alarm-poll-interval", "1", "--prometheus", "http://127.0.0.1:9",
        ])
        defer { server.stop() }
        let run = try script("poll-failure", server: server)
        #expect(run.status == 0, "the poll failure checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("poll failure checks passed"))
    }

    @Test(
        "a real Prometheus alert on the error rate v2 raises stops the deployment with ALARM_ACTIVE, and the rollback brings v1 back"
    )
    func prometheusAlertStopsADeployment() throws {
        // A loopback port nothing listens on, for the Prometheus the script starts.
        let probe = try runClient(
            [
                "python3", "-c",
                "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
            ],
            environment: ProcessInfo.processInfo.environment)
        let port = try #require(Int(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let server = try DevServer(arguments: [
            "--poll-hold", "1", "--alarm-poll-interval", "1", "--prometheus", "http://127.0.0.1:\(port)",
        ])
        defer { server.stop() }
        let run = try script("prometheus", server: server, environment: ["PROMETHEUS_PORT": "\(port)"])
        #expect(run.status == 0, "the Prometheus checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("prometheus checks passed"))
    }
}
