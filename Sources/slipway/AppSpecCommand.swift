import AppSpec
import ArgumentParser
import Foundation

struct AppSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appspec",
        abstract: "Work with appspec.yml files.",
        subcommands: [Validate.self]
    )

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check an AppSpec file: print what it does, or every error with its line and column.",
            discussion: """
                Exits 0 when the file is valid (warnings included) and 1 when it has errors. Errors and warnings are \
                printed as `FILE:LINE:COLUMN: error: FIELD: MESSAGE`.
                """
        )

        @Argument(help: "Path of the AppSpec file (YAML or JSON).")
        var path: String

        @Option(help: "The deployment's compute platform. (default: told from the file)")
        var computePlatform: ComputePlatform?

        @Option(help: "The operating system of the hosts. (default: either)")
        var os: OperatingSystem?

        func run() throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                printToStandardError("slipway appspec validate: cannot read \(path)")
                throw ExitCode(2)
            }
            let options = AppSpecParseOptions(computePlatform: computePlatform, operatingSystem: os)
            let result = AppSpec.parse(bytes: data, options: options)
            for line in result.renderedDiagnostics(file: path) { print(line) }
            guard let appSpec = result.appSpec else {
                let count = result.errors.count
                print("\(path): invalid, \(count) error\(count == 1 ? "" : "s")")
                throw ExitCode(1)
            }
            print(appSpec.summary)
            print("\(path): valid" + (result.warnings.isEmpty ? "" : ", \(result.warnings.count) warning(s)"))
        }
    }
}

extension ComputePlatform: ExpressibleByArgument {}

extension OperatingSystem: ExpressibleByArgument {}
