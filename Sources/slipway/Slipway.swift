import ArgumentParser
import SlipwayModel

@main
struct Slipway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway",
        abstract: "A self-hosted deployment service that speaks AWS CodeDeploy's protocols.",
        version: SlipwayVersion.current,
        subcommands: [
            ServerCommand.self, AgentCommand.self, LocalCommand.self, DeployCommand.self, AppSpecCommand.self,
            KeysCommand.self, VersionCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print Slipway's version.")

    func run() {
        print("slipway \(SlipwayVersion.current)")
    }
}
