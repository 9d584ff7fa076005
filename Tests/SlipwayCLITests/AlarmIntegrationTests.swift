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
        "a real Prometheus alert on the error rate v2 raises stops the deployment with ALARM_ACTIVE, and the rollback brings v1 back",
        arguments: [false, true])
    func prometheusAlertStopsADeployment(throughAlertmanager: Bool) throws {
        let ports = try freePorts(2)
        let source =
            throughAlertmanager
            ? ["--alertmanager", "http://127.0.0.1:\(ports[1])"] : ["--prometheus", "http://127.0.0.1:\(ports[0])"]
        // The same Prometheus scrapes the server's /metrics with a token.
        let token = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-token-\(UUID())")
        try Data("scrape-token-\(UUID().uuidString)".utf8).write(to: token)
        defer { try? FileManager.default.removeItem(at: token) }
        let server = try DevServer(
            arguments: ["--poll-hold", "1", "--alarm-poll-interval", "1", "--metrics-token-file", token.path] + source)
        defer { server.stop() }
        var environment = ["PROMETHEUS_PORT": "\(ports[0])", "METRICS_TOKEN_FILE": token.path]
        if throughAlertmanager { environment["ALERTMANAGER_PORT"] = "\(ports[1])" }
        let run = try script("prometheus", server: server, environment: environment)
        #expect(run.status == 0, "the Prometheus checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("prometheus checks passed"))
    }

    /// `count` loopback ports nothing listens on now, for the services the script starts.
    private func freePorts(_ count: Int) throws -> [Int] {
        let probe = try runClient(
            [
                "python3", "-c",
                "import socket\nsockets = [socket.socket() for _ in range(\(count))]\n"
                    + "[s.bind(('127.0.0.1', 0)) for s in sockets]\nprint(*[s.getsockname()[1] for s in sockets])",
            ], environment: ProcessInfo.processInfo.environment)
        let ports = probe.stdout.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard ports.count == count else { throw ProbeFailed(output: probe.stdout + probe.stderr) }
        return ports
    }

    private struct ProbeFailed: Error {
        var output: String
    }
}
