import Agent
import ArgumentParser
import Foundation

extension AgentRunOptions {
    /// `--check`: prints one line per finding and exits 0 when the agent can run, 1 when it cannot.
    public func check() async throws {
        let source = config ?? locations.configDirectory.appendingPathComponent("codedeployagent.yml").path
        var check = AgentCheck()
        await check.run(configuration: Result { try agentConfiguration() }, source: source)
        for finding in check.findings { print(finding) }
        print(check.passed ? "The agent can run." : "The agent cannot run until the failures above are fixed.")
        if !check.passed { throw ExitCode(1) }
    }
}
