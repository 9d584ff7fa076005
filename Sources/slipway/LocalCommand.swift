import Agent
import AgentCommandLine
import ArgumentParser
import Foundation
import Logging

struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Run a bundle's AppSpec on this host without a server, like codedeploy-local.",
        discussion: """
            Runs ApplicationStop, DownloadBundle, BeforeInstall, Install, AfterInstall, ApplicationStart and \
            ValidateService (or the --events given, with DownloadBundle and Install always included) and prints a \
            line per event and script. Exits 0 when every event succeeded, 1 otherwise.
            """
    )

    @Option(help: "The bundle: an archive file, or a directory with --type directory.")
    var bundleLocation: String

    @Option(help: "tgz, tar, zip or directory.")
    var type: String

    @Option(help: "DISALLOW, OVERWRITE or RETAIN for files that exist at a destination (default: DISALLOW).")
    var fileExistsBehavior: String?

    @Option(help: "The deployment group id; its previous local deployment's files are cleaned up first.")
    var deploymentGroup: String?

    @Option(help: "The deployment group name the scripts see.")
    var deploymentGroupName: String?

    @Option(help: "The application name the scripts see.")
    var applicationName: String?

    @Option(help: "Comma-separated lifecycle events to run.")
    var events: String?

    @Option(help: "The AppSpec file's path in the bundle.")
    var appspecFilename: String?

    @Option(help: "The agent configuration file, for :root_dir:.")
    var agentConfigurationFile: String?

    @OptionGroup var root: RootDirectoryOption

    func run() async throws {
        guard ["tgz", "tar", "zip", "directory"].contains(type) else {
            throw ValidationError("--type must be tgz, tar, zip or directory, not \(type)")
        }
        if let fileExistsBehavior, !["DISALLOW", "OVERWRITE", "RETAIN"].contains(fileExistsBehavior.uppercased()) {
            throw ValidationError("--file-exists-behavior must be DISALLOW, OVERWRITE or RETAIN")
        }
        guard !bundleLocation.hasPrefix("s3://") else {
            throw ValidationError(
                "slipway local takes a bundle on this host; for a bundle in S3, download it first "
                    + "(aws s3 cp \(bundleLocation) .) or deploy it through a server")
        }
        let bundle = URL(fileURLWithPath: NSString(string: bundleLocation).expandingTildeInPath).standardizedFileURL
        guard FileManager.default.fileExists(atPath: bundle.path) else {
            throw ValidationError("\(bundle.path) does not exist")
        }
        var configuration: AgentConfiguration
        do {
            let file = agentConfigurationFile.map { URL(fileURLWithPath: $0) }
            configuration = try AgentConfiguration.load(
                configDirectory: file?.deletingLastPathComponent()
                    ?? URL(fileURLWithPath: AgentConfiguration.defaultConfigDirectory),
                file: file)
        } catch {
            throw ValidationError("\(error)")
        }
        root.apply(to: &configuration)
        var logger = Logger(label: "slipway.local")
        logger.logLevel = .warning
        let deployment: LocalDeployment
        do {
            deployment = try LocalDeployment(
                bundle: bundle, type: type, groupID: deploymentGroup, groupName: deploymentGroupName,
                applicationName: applicationName, appSpecFilename: appspecFilename,
                fileExistsBehavior: fileExistsBehavior?.uppercased(),
                events: events.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } },
                layout: DeploymentLayout(root: configuration.rootDirectory), logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        print(
            "Deployment \(deployment.spec.deploymentID) of \(bundle.path) (group \(deployment.spec.deploymentGroupID))")
        let started = Date()
        let succeeded = await deployment.run { event, outcome in
            let scripts = deployment.scripts(for: event)
            let result =
                outcome.succeeded
                ? (scripts.isEmpty && !["DownloadBundle", "Install"].contains(event)
                    ? "skipped (no scripts)" : "succeeded") : "FAILED"
            print("\(event.padding(toLength: 18, withPad: " ", startingAt: 0)) \(result)")
            for script in scripts { print("    \(script)") }
            if !outcome.succeeded { print("    \(outcome.message)") }
        }
        let elapsed = String(format: "%.1f", Date().timeIntervalSince(started))
        let log = DeploymentLayout(root: configuration.rootDirectory).scriptsLog(deployment.spec).path
        if succeeded {
            print("Succeeded in \(elapsed) s. Script output: \(log)")
        } else {
            print("Failed after \(elapsed) s. Script output: \(log)")
            throw ExitCode(1)
        }
    }
}
