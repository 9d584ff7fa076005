import Foundation
import Testing

/// `hostile.py` against real processes: a `slipway server --dev` attacked through every protocol on its port, and
/// `slipway local` fed hostile archives. The script prints a line per check; a failure is a 5xx, a dropped
/// connection, an undocumented error, an invalid request accepted, a crash, or a write outside the deployment root.
/// `HOSTILE_SEED` and `HOSTILE_ITERATIONS` change the random part; `scripts/hostile-pass.sh` runs longer passes.
@Suite("Hostile input against a real server and slipway local", .serialized)
struct HostileInputIntegrationTests {
    static let script = SlipwayBinary.repositoryRoot.appendingPathComponent(
        "Tests/SlipwayCLITests/Python/hostile.py")

    @Test("every protocol answers hostile requests with its documented errors, and the server stays up")
    func server() throws {
        // A short poll hold: a PollHostCommand that passes validation is answered within a second.
        let server = try DevServer(arguments: ["--poll-hold", "1"])
        defer { server.stop() }
        var environment = server.clientEnvironment
        environment["SLIPWAY_SERVER_PID"] = String(server.process.processIdentifier)
        let run = try runClient(["python3", Self.script.path, "--parts", "server"], environment: environment)
        #expect(run.status == 0, "hostile.py found failures:\n\(Self.failures(of: run))")
        #expect(run.stdout.contains(" passed, 0 failed"), "\(Self.failures(of: run))")
        #expect(server.process.isRunning, "the server process survived every part")
        #expect(server.stop() == 0, "and it stops cleanly on SIGTERM afterwards")
    }

    @Test("slipway local refuses hostile archives by name, without a crash or a write outside its root")
    func archives() throws {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        let run = try runClient(["python3", Self.script.path, "--parts", "archives"], environment: environment)
        #expect(run.status == 0, "hostile.py found failures:\n\(Self.failures(of: run))")
        #expect(run.stdout.contains(" passed, 0 failed"), "\(Self.failures(of: run))")
    }

    /// The `FAIL:` lines with their request and answer lines, the script's last lines and its standard error: the
    /// thousands of `ok:` lines would bury them.
    static func failures(of run: ClientRun) -> String {
        var kept: [Substring] = []
        var inFailure = false
        for line in run.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("FAIL:") {
                inFailure = true
            } else if !line.hasPrefix("    ") {
                inFailure = false
            }
            if inFailure { kept.append(line) }
        }
        let tail = run.stdout.split(separator: "\n").suffix(3)
        return (kept + ["..."] + tail).joined(separator: "\n") + "\n" + run.stderr.suffix(4000)
    }
}
