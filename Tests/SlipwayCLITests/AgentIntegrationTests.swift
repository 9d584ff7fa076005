import Foundation
import Testing

/// Real `slipway-agent` processes against a real `slipway server --dev`: boto3 creates the deployments, the agents
/// download, install and run real hook scripts (`Python/agent_e2e.py`).
@Suite("slipway-agent against a real server", .serialized)
struct AgentIntegrationTests {
    private func scenario(_ name: String) throws -> ClientRun {
        let server = try DevServer(arguments: ["--pickup-timeout", "20", "--poll-hold", "5"])
        defer { server.stop() }
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/agent_e2e.py")
        var environment = server.clientEnvironment
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        environment["SLIPWAY_DATA_DIR"] = server.dataDirectory.path
        return try runClient(["python3", path.path, name], environment: environment)
    }

    @Test(
        "an agent installs two revisions in turn: files, cleanup, hooks with their environment, the previous revision's ApplicationStop, a failing validation, the stock layout, no descriptor or child left behind"
    )
    func deployments() throws {
        let run = try scenario("deploy")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("agent deployment checks passed"))
    }

    @Test("a GitHub revision is fetched from the configured API base, following its redirect, top directory stripped")
    func gitHubRevision() throws {
        let run = try scenario("github")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("agent github checks passed"))
    }

    @Test("an agent killed in the middle of a hook fails its host as soon as it is restarted")
    func restartMidHook() throws {
        let run = try scenario("restart")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("agent restart checks passed"))
    }

    @Test(
        "slipway-agent --check passes a registered host, and names an unreachable server, untrusted TLS, a wrong secret, another instance's key, a broken file and an unusable root"
    )
    func check() throws {
        let run = try scenario("check")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("agent check checks passed"))
    }

    @Test("a revision already on the host is linked into a redeployment, not downloaded again; no archive copy is kept")
    func reuse() throws {
        let run = try scenario("reuse")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("agent reuse checks passed"))
    }

    @Test("a revision download cut in the middle resumes where it stopped, and the deployment succeeds")
    func resume() throws {
        let run = try scenario("resume")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("agent resume checks passed"))
    }
}
