import AgentCommandLine
import ArgumentParser

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the host agent: poll for commands, download revisions, install files, run lifecycle hooks.",
        discussion: """
            The same agent as the slipway-agent executable, which is what hosts should run: it carries no control \
            plane. The agent reads the stock CodeDeploy agent's files from --config-dir: codedeployagent.yml \
            (:deploy_control_endpoint:, :root_dir:, …) and codedeploy.onpremises.yml (region, iam_user_arn and an \
            access key). Flags override the files. `slipway agent register` writes both.
            """,
        subcommands: [Run.self, Check.self, Register.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Run the agent in the foreground (the default).")

        @OptionGroup var options: AgentRunOptions

        func run() async throws {
            try await options.run()
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check the configuration, credentials, TLS trust and the server's reachability (exit 0: ready).")

        @OptionGroup var options: AgentRunOptions

        func run() async throws {
            try await options.check()
        }
    }
}
