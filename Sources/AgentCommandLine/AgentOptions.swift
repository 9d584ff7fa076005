import Agent
import ArgumentParser
import Foundation
import Logging
import SlipwayModel

/// Where the agent's configuration files are: shared by running, checking and registering.
public struct AgentLocations: ParsableArguments {
    @Option(help: "The directory of codedeployagent.yml and codedeploy.onpremises.yml.")
    public var configDir: String = AgentConfiguration.defaultConfigDirectory

    @Option(help: "A PEM file of certificates to trust for TLS and for deployment specification signatures.")
    public var caFile: String?

    public init() {}

    public var configDirectory: URL {
        URL(fileURLWithPath: NSString(string: configDir).expandingTildeInPath, isDirectory: true)
    }
}

/// Where deployments run on this host are kept, for the commands that run them (`agent`, `local`).
public struct RootDirectoryOption: ParsableArguments {
    @Option(help: "Where deployments are kept, overriding :root_dir:.")
    public var rootDir: String?

    public init() {}

    public func apply(to configuration: inout AgentConfiguration) {
        if let rootDir { configuration.rootDirectory = URL(fileURLWithPath: rootDir, isDirectory: true) }
    }
}

/// Flags of a running agent that override `codedeployagent.yml`.
public struct AgentOverrideOptions: ParsableArguments {
    @Option(help: "The server's address, overriding :deploy_control_endpoint:.")
    public var server: String?

    @OptionGroup public var root: RootDirectoryOption

    @Flag(help: "Log debug messages.")
    public var verbose = false

    public init() {}

    public func apply(to configuration: inout AgentConfiguration) {
        if let server { configuration.deployControlEndpoint = server }
        root.apply(to: &configuration)
        if verbose { configuration.verbose = true }
    }
}

/// Everything that says how to run the agent: the files, the flags that override them, the metrics address. The
/// same options serve `slipway-agent` and `slipway agent`.
public struct AgentRunOptions: ParsableArguments {
    @OptionGroup public var locations: AgentLocations

    @Option(help: "The agent configuration file. (default: <config-dir>/codedeployagent.yml)")
    public var config: String?

    @OptionGroup public var overrides: AgentOverrideOptions

    @Option(
        help: ArgumentHelp(
            "Serve the agent's metrics in Prometheus' format at http://HOST:PORT/metrics.",
            discussion: "Without authentication: keep it on loopback or a private network."))
    public var metricsListen: String?

    public init() {}

    public func validate() throws {
        _ = try metricsAddress()
    }

    func metricsAddress() throws -> ListenAddress? {
        guard let metricsListen else { return nil }
        do {
            return try ListenAddress(parsing: metricsListen, option: "--metrics-listen")
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// `codedeployagent.yml` with the flags applied.
    func agentConfiguration() throws -> AgentConfiguration {
        var configuration = try AgentConfiguration.load(
            configDirectory: locations.configDirectory, file: config.map { URL(fileURLWithPath: $0) })
        overrides.apply(to: &configuration)
        if let caFile = locations.caFile { configuration.caFile = URL(fileURLWithPath: caFile) }
        return configuration
    }

    /// Runs the agent in the foreground until SIGTERM or SIGINT, and serves its metrics when asked to.
    public func run() async throws {
        let metricsAddress = try metricsAddress()
        let configuration: AgentConfiguration
        let onPremises: OnPremisesConfiguration
        do {
            configuration = try agentConfiguration()
            onPremises = try OnPremisesConfiguration.load(from: configuration.onPremisesConfigFile)
        } catch {
            throw ValidationError("\(error)")
        }
        var logger = Logger(label: "slipway.agent")
        logger.logLevel = configuration.verbose ? .debug : .info
        let stop = StopSignal()
        let signals = SignalHandlers(stop: stop)
        defer { withExtendedLifetime(signals) {} }
        let host = AgentHost(configuration: configuration, onPremises: onPremises, logger: logger)
        do {
            guard let metricsAddress else { return try await host.run(until: stop) }
            let metrics = try await MetricsListener.start(at: metricsAddress, logger: logger)
            do {
                try await host.run(until: stop)
            } catch {
                await metrics.stop()
                throw error
            }
            await metrics.stop()
        } catch let error as AgentConfigurationError {
            throw ValidationError(error.description)
        }
    }
}
