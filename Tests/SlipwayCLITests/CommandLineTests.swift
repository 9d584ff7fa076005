import Foundation
import Testing

@Suite("The slipway command line")
struct CommandLineTests {
    @Test("slipway --help lists every subcommand")
    func helpListsSubcommands() throws {
        let run = try runClient([SlipwayBinary.url.path, "--help"], environment: ProcessInfo.processInfo.environment)
        #expect(run.status == 0)
        for name in ["server", "agent", "local", "deploy", "appspec", "keys", "version"] {
            #expect(run.stdout.contains("  \(name) "), "missing \(name) in:\n\(run.stdout)")
        }
    }

    @Test("slipway agent on a host that is not registered refuses to start and says how to register")
    func agentNeedsRegistration() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runClient(
            [SlipwayBinary.url.path, "agent", "--config-dir", directory.path],
            environment: ProcessInfo.processInfo.environment)
        #expect(run.status != 0)
        #expect(run.stderr.contains("slipway agent register"), "\(run.stderr)")
    }

    /// `slipway-agent`, built next to `slipway`.
    private var agentBinary: String {
        SlipwayBinary.url.deletingLastPathComponent().appendingPathComponent("slipway-agent").path
    }

    @Test("slipway-agent prints its version and its options, --check among them")
    func agentExecutable() throws {
        let environment = ProcessInfo.processInfo.environment
        let version = try runClient([agentBinary, "--version"], environment: environment)
        let slipway = try runClient([SlipwayBinary.url.path, "--version"], environment: environment)
        #expect(version.status == 0)
        #expect(!version.stdout.isEmpty && version.stdout == slipway.stdout, "\(version.stdout) \(slipway.stdout)")
        let help = try runClient([agentBinary, "--help"], environment: environment)
        #expect(help.status == 0)
        for option in ["--config-dir", "--ca-file", "--server", "--root-dir", "--metrics-listen", "--check"] {
            #expect(help.stdout.contains(option), "missing \(option) in:\n\(help.stdout)")
        }
    }

    @Test("slipway-agent on a host that is not registered refuses to start and says how to register")
    func agentExecutableNeedsRegistration() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runClient(
            [agentBinary, "--config-dir", directory.path], environment: ProcessInfo.processInfo.environment)
        #expect(run.status != 0)
        #expect(run.stderr.contains("slipway agent register"), "\(run.stderr)")
    }

    @Test(
        "slipway-agent refuses a metrics address that is not HOST:PORT, before reading any file",
        arguments: [
            "7443", "127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:1e3", "bad host:80", "127.0.0.1:\u{1}80",
            "127.0.0.1:" + String(repeating: "9", count: 400),
        ])
    func agentMetricsAddress(_ address: String) throws {
        let run = try runClient(
            [agentBinary, "--config-dir", "/nonexistent", "--metrics-listen", address],
            environment: ProcessInfo.processInfo.environment)
        #expect(run.status == 64, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("--metrics-listen"), "\(run.stderr)")
    }

    @Test("slipway local runs a directory bundle's events with a line per event and script; a failing hook exits 1")
    func localDeployment() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-local-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let bundle = work.appendingPathComponent("bundle")
        try FileManager.default.createDirectory(
            at: bundle.appendingPathComponent("site"), withIntermediateDirectories: true)
        try "hello".write(to: bundle.appendingPathComponent("site/index.html"), atomically: true, encoding: .utf8)
        func write(exit code: Int) throws {
            try """
            version: 0.0
            os: linux
            files:
              - source: site
                destination: \(work.appendingPathComponent("www").path)
            file_exists_behavior: OVERWRITE
            hooks:
              ApplicationStart:
                - location: start.sh
            """.write(to: bundle.appendingPathComponent("appspec.yml"), atomically: true, encoding: .utf8)
            try "#!/bin/sh\necho \"start $LIFECYCLE_EVENT\"\nexit \(code)\n".write(
                to: bundle.appendingPathComponent("start.sh"), atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: bundle.appendingPathComponent("start.sh").path)
        }
        let arguments = [
            SlipwayBinary.url.path, "local", "--bundle-location", bundle.path, "--type", "directory", "--root-dir",
            work.appendingPathComponent("root").path, "--deployment-group", "local-test",
        ]
        try write(exit: 0)
        let run = try runClient(arguments, environment: ProcessInfo.processInfo.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("ApplicationStop    skipped (no scripts)"))
        #expect(run.stdout.contains("ApplicationStart   succeeded\n    start.sh"), "\(run.stdout)")
        let installed = try String(
            contentsOf: work.appendingPathComponent("www/index.html"), encoding: .utf8)
        #expect(installed == "hello")

        try write(exit: 7)
        let failed = try runClient(arguments, environment: ProcessInfo.processInfo.environment)
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("ApplicationStart   FAILED"), "\(failed.stdout)")
        #expect(failed.stdout.contains("failed with exit code 7"), "\(failed.stdout)")
    }

    @Test("slipway server without TLS material or --plain-http refuses to start and says what to give")
    func serverNeedsTransport() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-\(UUID().uuidString)")
        let run = try runClient(
            [SlipwayBinary.url.path, "server", "--data-dir", directory.path, "--listen", "127.0.0.1:0"],
            environment: ProcessInfo.processInfo.environment)
        #expect(run.status != 0)
        #expect(run.stderr.contains("--tls-cert"))
    }

    @Test("slipway server rejects an account id that is not 12 digits")
    func accountIDIsChecked() throws {
        let run = try runClient(
            [SlipwayBinary.url.path, "server", "--plain-http", "--account-id", "123", "--data-dir", "/nonexistent/x"],
            environment: ProcessInfo.processInfo.environment)
        #expect(run.status != 0)
        #expect(run.stderr.contains("12 digits"))
    }
}
