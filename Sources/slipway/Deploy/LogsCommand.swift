import ArgumentParser
import Foundation

extension DeployCommand {
    /// `slipway deploy logs d-… --instance NAME`: the full logs that agents uploaded, which the API cuts to 4 KB.
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the full script output of a deployment's lifecycle events on one host.",
            discussion: """
                `slipway agent` uploads each event's whole log (CodeDeploy's API keeps only the last 4 KB); this \
                prints them, event by event, or one event with --event. Events without scripts, or run by an agent \
                that does not upload logs (the stock one), have none. Exits 0, or 3 when nothing can be read.
                """)

        @Argument(help: "The deployment id (d-XXXXXXXXX).")
        var deploymentId: String

        @Option(help: "The instance (on-premises instance name).")
        var instance: String

        @Option(help: "Only this lifecycle event (e.g. ValidateService).")
        var event: String?

        @OptionGroup var connection: DeployConnectionOptions

        func run() async throws {
            do {
                let printed = try await connection.withClient { client in
                    var events = [String]()
                    if let event {
                        events = [event]
                    } else {
                        let target = try await client.codeDeploy(
                            "GetDeploymentTarget", ["deploymentId": deploymentId, "targetId": instance])
                        let info = (target["deploymentTarget"] as? [String: Any])?["instanceTarget"] as? [String: Any]
                        events = (info?["lifecycleEvents"] as? [[String: Any]] ?? []).compactMap {
                            $0["lifecycleEventName"] as? String
                        }
                    }
                    var printed = 0
                    for name in events {
                        do {
                            let answer = try await client.extension(
                                "GetLifecycleEventLog",
                                ["deploymentId": deploymentId, "targetId": instance, "lifecycleEventName": name])
                            printToStandardOutput("==> \(name) on \(instance)")
                            printToStandardOutput((answer["log"] as? String ?? "").trimmingCharacters(in: .newlines))
                            printed += 1
                        } catch let error as APIError where error.code == "ResourceNotFoundException" && event == nil {
                            continue  // no scripts ran for this event
                        }
                    }
                    return printed
                }
                if printed == 0 { printToStandardError("no event of \(deploymentId) on \(instance) has a log") }
            } catch {
                printToStandardError("slipway deploy logs: \(error)")
                throw ExitCode(DeployExit.usage)
            }
        }
    }
}

extension APIClient {
    /// A Slipway-only JSON operation (`Slipway_20261127.<operation>`), signed as CodeDeploy requests are.
    func `extension`(_ operation: String, _ input: [String: Any]) async throws -> [String: Any] {
        try await codeDeploy(operation, input, targetPrefix: "Slipway_20261127")
    }
}
