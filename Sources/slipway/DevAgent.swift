import Agent
import Foundation
import Logging
import SigV4

/// The agent `slipway server --dev` runs in its own process: it registers this machine as the on-premises instance
/// `local` (tag `env=dev`) the first time, with its files under `<data-dir>/agent/`, and reuses them afterwards.
struct DevAgent {
    static let instanceName = "local"
    let dataDirectory: URL
    let endpoint: String
    let region: String
    let caFile: URL
    let adminCredentials: Credentials
    let logger: Logger

    var configDirectory: URL { dataDirectory.appendingPathComponent("agent", isDirectory: true) }

    /// Registers when needed, then polls until `stop`. Problems are logged, never fatal to the server.
    func run(until stop: StopSignal) async {
        do {
            try await prepare()
            var configuration = try AgentConfiguration.load(configDirectory: configDirectory)
            configuration.deployControlEndpoint = endpoint
            configuration.caFile = caFile
            // The server waits for its agent when it stops: keep that short.
            configuration.killAgentMaxWaitTimeSeconds = 10
            let onPremises = try OnPremisesConfiguration.load(from: configuration.onPremisesConfigFile)
            try await AgentHost(configuration: configuration, onPremises: onPremises, logger: logger).run(until: stop)
        } catch {
            logger.error(
                "the dev agent did not start; deployments to instance 'local' will wait for an agent",
                metadata: ["error": "\(error)"])
        }
    }

    private func prepare() async throws {
        let onPremisesFile = configDirectory.appendingPathComponent("codedeploy.onpremises.yml")
        guard !FileManager.default.fileExists(atPath: onPremisesFile.path) else { return }
        let profile = ClientProfile(
            endpoint: URL(string: endpoint)!, region: region, credentials: adminCredentials, caBundle: caFile.path)
        let client = try APIClient(profile: profile)
        do {
            try await register(client: client, profile: profile, onPremisesFile: onPremisesFile)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    private func register(client: APIClient, profile: ClientProfile, onPremisesFile: URL) async throws {
        let registration = HostRegistration(
            instanceName: Self.instanceName, tags: [("env", "dev")], configDirectory: configDirectory,
            rootDirectory: configDirectory.appendingPathComponent("deployment-root", isDirectory: true))
        do {
            let arn = try await registration.register(client: client, profile: profile)
            logger.info("registered this machine as on-premises instance 'local'", metadata: ["arn": "\(arn)"])
        } catch let error as APIError where error.code == "EntityAlreadyExists" {
            throw ClientError(
                "the IAM user 'local' exists but \(onPremisesFile.path) is gone: remove the user and instance "
                    + "(aws deploy deregister --instance-name local) and restart, or restore the file")
        }
    }
}
