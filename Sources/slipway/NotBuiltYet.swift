import ArgumentParser

/// A subcommand whose capability is not built yet: it says so and exits with status 2, so no script mistakes it for
/// success. Each of these is replaced by a real command as its capability lands.
protocol NotBuiltYetCommand: ParsableCommand {
    /// What the command will do, in the words of the README's status table.
    static var capability: String { get }
}

extension NotBuiltYetCommand {
    func run() throws {
        let name = Self.configuration.commandName ?? "this command"
        printToStandardError(
            "slipway \(name): \(Self.capability) is not built yet in this version of Slipway. "
                + "See the status table in the README for what works today."
        )
        throw ExitCode(2)
    }
}
