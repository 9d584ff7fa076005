import Foundation
import Testing

/// The ML example released blue/green with a canary: a real server driving a real HAProxy, four real agents running
/// the example's hook scripts, the AWS CLI, and predictions through HAProxy the whole time
/// (`Python/blue_green_e2e.py`).
@Suite(
    "End to end: the ML example blue/green with a canary", .serialized,
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"),
        "needs Debian's haproxy (.ci/run installs it)"))
struct BlueGreenEndToEndTests {
    @Test(
        "v2-broken fails before any traffic moves; v2 takes 10 % for a minute, survives a server SIGKILL, then takes all; v2-broken on the former originals is rolled back by moving traffic only; no prediction fails"
    )
    func canaryRelease() throws {
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent(
            "Tests/SlipwayCLITests/Python/blue_green_e2e.py")
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        let run = try runClient(["python3", path.path], environment: environment)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("blue/green end-to-end checks passed"))
    }
}
