import Agent
import AgentCommandLine
import ArgumentParser
import Foundation

extension AgentCommand {
    /// Onboards this host through the server's APIs, as `aws deploy register` does, and writes the agent's two
    /// configuration files, ready to start.
    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register this host as an on-premises instance and write the agent's configuration.",
            discussion: """
                Creates the IAM user NAME with an access key and a policy that lets it read revisions, registers the \
                on-premises instance NAME with that user's ARN and tags, then writes codedeploy.onpremises.yml \
                (mode 0600) and codedeployagent.yml into --config-dir. Authenticates with an admin key found as the \
                AWS CLI finds one (AWS_* variables, AWS_PROFILE and its files). Undo with \
                `aws deploy deregister --instance-name NAME`.
                """
        )

        @OptionGroup var locations: AgentLocations

        @OptionGroup var connection: ServerOptions

        @Option(help: "The on-premises instance name (letters, digits and +=,.@_-; at most 100 characters).")
        var instanceName: String

        @Option(help: "Tags for the instance: key=value pairs, comma-separated.")
        var tags: String?

        @Option(help: "The AWS profile with the admin key. (default: AWS_PROFILE or default)")
        var profile: String?

        @Option(
            help: "Where deployments will be kept (:root_dir:). (default: the stock agent's, or under --config-dir)")
        var rootDir: String?

        func validate() throws {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "+=,.@_-"))
            guard !instanceName.isEmpty, instanceName.count <= 100,
                instanceName.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }),
                !instanceName.hasPrefix("i-")
            else {
                throw ValidationError(
                    "--instance-name must be 1-100 characters of letters, digits and +=,.@_- and not start with i-")
            }
            _ = try parsedTags()
        }

        func parsedTags() throws -> [(key: String, value: String)] {
            guard let tags, !tags.isEmpty else { return [] }
            let pairs = try tags.split(separator: ",").map { pair -> (key: String, value: String) in
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--tags takes key=value pairs separated by commas, not '\(pair)'")
                }
                return (parts[0], parts[1])
            }
            guard pairs.count <= 10 else { throw ValidationError("an instance takes at most 10 tags") }
            return pairs
        }

        func run() async throws {
            let profile: ClientProfile
            do {
                profile = try connection.resolve(profile: self.profile, caBundle: locations.caFile)
            } catch {
                throw ValidationError("\(error)")
            }
            let client = try APIClient(profile: profile)
            do {
                try await register(client: client, profile: profile)
            } catch {
                await client.shutdown()
                if let error = error as? ValidationError { throw error }
                printToStandardError("slipway agent register: \(error)")
                throw ExitCode(1)
            }
            await client.shutdown()
        }

        private func register(client: APIClient, profile: ClientProfile) async throws {
            let registration = HostRegistration(
                instanceName: instanceName, tags: try parsedTags(), configDirectory: locations.configDirectory,
                rootDirectory: rootDir.map { URL(fileURLWithPath: $0).standardizedFileURL })
            let arn = try await registration.register(client: client, profile: profile)
            print("Registered \(instanceName) (\(arn)).")
            print(
                "Wrote \(locations.configDirectory.appendingPathComponent("codedeploy.onpremises.yml").path) and "
                    + "codedeployagent.yml.")
            let directory = locations.configDirectory.path
            print("Check the set-up with: slipway-agent --config-dir \(directory) --check")
            print("Start the agent with:  slipway-agent --config-dir \(directory)")
            print("(or `slipway agent --config-dir \(directory)` where the slipway command is installed)")
        }
    }
}
