import Foundation
import Testing

/// The console in Debian's Chromium, driven by Selenium, against a real `slipway server --dev` and three real
/// `slipway-agent` processes (`Python/console_e2e.py`). Screenshots of each page are left in
/// `.build/console-screenshots`.
@Suite("The console in a real browser", .serialized)
struct ConsoleBrowserTests {
    @Test(
        "sign in; watch three hosts move without a reload; a failing hook's log while it runs; stop with rollback from the page; deploy a revision; a forged and a read-only stop refused; hostile names as text; no script error"
    )
    func console() throws {
        let server = try DevServer(arguments: ["--pickup-timeout", "20", "--poll-hold", "5"])
        defer { server.stop() }
        let root = SlipwayBinary.repositoryRoot
        let artifacts = root.appendingPathComponent(".build/console-screenshots")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        var environment = server.clientEnvironment
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        environment["SLIPWAY_DATA_DIR"] = server.dataDirectory.path
        environment["SLIPWAY_ARTIFACTS"] = artifacts.path
        let script = root.appendingPathComponent("Tests/SlipwayCLITests/Python/console_e2e.py")
        let run = try runClient(["python3", script.path], environment: environment)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("console checks passed"))
    }
}
