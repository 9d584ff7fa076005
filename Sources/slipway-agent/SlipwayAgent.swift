import AgentCommandLine
import ArgumentParser
import SlipwayModel

/// The host agent on its own: what a host runs, without the control plane.
@main
struct SlipwayAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway-agent",
        abstract: "Slipway's host agent: poll for commands, download revisions, install files, run lifecycle hooks.",
        discussion: """
            Reads the stock CodeDeploy agent's files from --config-dir: codedeployagent.yml \
            (:deploy_control_endpoint:, :root_dir:, …) and codedeploy.onpremises.yml (region, iam_user_arn and an \
            access key). Flags override the files. `slipway agent register` (on any machine with the slipway \
            command) writes both. SIGTERM: no new command; the running one finishes.
            """,
        version: SlipwayVersion.current
    )

    @OptionGroup var options: AgentRunOptions

    @Flag(help: "Check the configuration, credentials, TLS trust and the server's reachability, then exit (0: ready).")
    var check = false

    func run() async throws {
        if check { return try await options.check() }
        try await options.run()
    }
}
