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
