import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import X509

/// Everything `slipway agent` runs, assembled from the configuration files: the HTTP client (trusting the
/// configured CA), the command client, the executor and the loop.
public struct AgentHost: Sendable {
    public static let version = "SLIPWAY_0.1.0"

    public let configuration: AgentConfiguration
    public let onPremises: OnPremisesConfiguration
    let logger: Logger

    public init(configuration: AgentConfiguration, onPremises: OnPremisesConfiguration, logger: Logger) {
        self.configuration = configuration
        self.onPremises = onPremises
        self.logger = logger
    }

    /// An HTTP client that trusts the configured CA file (or `AWS_CA_BUNDLE`), else the system's roots, and goes
    /// through the configured proxy.
    public static func makeHTTPClient(configuration: AgentConfiguration) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        let caFile = configuration.caFile?.path ?? ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"]
        if let caFile {
            guard FileManager.default.fileExists(atPath: caFile) else {
                throw AgentConfigurationError("the CA file \(caFile) does not exist")
            }
            tls.trustRoots = .file(caFile)
        }
        var http = HTTPClient.Configuration(tlsConfiguration: tls)
        http.timeout = .init(connect: .seconds(10), read: .seconds(Int64(configuration.httpReadTimeout)))
        if let proxy = configuration.proxyURI, let url = URL(string: proxy), let host = url.host {
            http.proxy = .server(host: host, port: url.port ?? 80)
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    /// The certificates deployment specifications must be signed under.
    public static func trustedSigners(configuration: AgentConfiguration) throws -> [Certificate] {
        let caFile =
            configuration.caFile
            ?? ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"].map {
                URL(fileURLWithPath: $0)
            }
        guard let caFile else {
            throw AgentConfigurationError(
                "no CA file to check deployment specifications against: give --ca-file (or :slipway_ca_file: in "
                    + "codedeployagent.yml) with the server's CA, e.g. <data-dir>/tls/ca.pem of a --dev server")
        }
        do {
            return try SpecificationVerifier.certificates(inPEMFile: caFile)
        } catch {
            throw AgentConfigurationError("\(error)")
        }
    }

    /// Runs the agent until `stop` is signalled.
    package func run(until stop: StopSignal) async throws {
        guard let endpointText = configuration.deployControlEndpoint, let endpoint = URL(string: endpointText) else {
            throw AgentConfigurationError(
                "no :deploy_control_endpoint: in codedeployagent.yml: set it to the Slipway server's address "
                    + "(https://host:port), or give --server")
        }
        let http = try Self.makeHTTPClient(configuration: configuration)
        do {
            try await run(http: http, endpoint: endpoint, endpointText: endpointText, until: stop)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try? await http.shutdown()
    }

    private func run(http: HTTPClient, endpoint: URL, endpointText: String, until stop: StopSignal) async throws {
        let credentials = CredentialSource(onPremises.identity)
        let client = HTTPCommandClient(
            http: http, endpoint: endpoint, region: onPremises.region, credentials: credentials,
            secure: configuration.enableAuthPolicy, agentVersion: Self.version,
            readTimeout: .seconds(Int64(configuration.httpReadTimeout)))
        let downloader = BundleDownloader(
            http: http,
            s3: configuration.effectiveS3Endpoint.map { ($0, onPremises.region, credentials) },
            gitHubAPI: configuration.gitHubAPI)
        let layout = DeploymentLayout(
            root: configuration.rootDirectory, trackingDirectoryName: configuration.ongoingDeploymentTracking)
        if let tightened = try layout.preparePrivateRoot() { logger.warning("\(tightened)") }
        var executor = CommandExecutor(
            layout: layout, maxRevisions: configuration.maxRevisions, downloader: downloader,
            hooks: HookExecutor(additionalVariables: configuration.hookEnvironment), logger: logger)
        executor.revisionDiskBudget = configuration.revisionDiskBudget
        let runner = AgentRunner(
            service: client, hostIdentifier: onPremises.hostIdentifier, executor: executor,
            verifier: SpecificationVerifier(trusted: try Self.trustedSigners(configuration: configuration)),
            waitBetweenRuns: .milliseconds(Int64(configuration.waitBetweenRuns * 1000)),
            heartbeatInterval: .milliseconds(Int64(configuration.heartbeatInterval * 1000)),
            stopGrace: .seconds(configuration.killAgentMaxWaitTimeSeconds), logger: logger)
        logger.info(
            "the agent is polling",
            metadata: [
                "endpoint": "\(endpointText)", "host": "\(onPremises.hostIdentifier)",
                "root": "\(layout.root.path)",
            ])
        await runner.run(until: stop)
    }
}
