import ArgumentParser

struct AppSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appspec",
        abstract: "Work with appspec.yml files.",
        subcommands: [Validate.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check an AppSpec file. (not built yet)")

        @Argument(help: "Path of the AppSpec file.")
        var path: String

        func run() throws {
            printToStandardError("slipway appspec validate: not built yet.")
            throw ExitCode(2)
        }
    }
}
