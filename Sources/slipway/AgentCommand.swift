import Agent
import ArgumentParser
@preconcurrency import Dispatch
import Foundation
import Hummingbird
import Logging
import Server

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the host agent: poll for commands, download revisions, install files, run lifecycle hooks.",
        discussion: """
            The agent reads the stock CodeDeploy agent's files from --config-dir: codedeployagent.yml \
            (:deploy_control_endpoint:, :root_dir:, …) and codedeploy.onpremises.yml (region, iam_user_arn and an \
            access key). Flags override the files. `slipway agent register` writes both.
            """,
        subcommands: [Run.self, Register.self],
        defaultSubcommand: Run.self
    )

    /// Options shared by running and registering.
    struct Locations: ParsableArguments {
        @Option(help: "The directory of codedeployagent.yml and codedeploy.onpremises.yml.")
        var configDir: String = AgentConfiguration.defaultConfigDirectory

        @Option(help: "A PEM file of certificates to trust for TLS and for deployment specification signatures.")
        var caFile: String?

        var configDirectory: URL {
            URL(fileURLWithPath: NSString(string: configDir).expandingTildeInPath, isDirectory: true)
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Run the agent in the foreground (the default).")

        @OptionGroup var locations: Locations

        @Option(help: "The agent configuration file. (default: <config-dir>/codedeployagent.yml)")
        var config: String?

        @OptionGroup var overrides: AgentOverrideOptions

        @Option(
            help: ArgumentHelp(
                "Serve the agent's metrics in Prometheus' format at http://HOST:PORT/metrics.",
                discussion: "Without authentication: keep it on loopback or a private network."))
        var metricsListen: String?

        func run() async throws {
            var metricsAddress: (host: String, port: Int)?
            if let metricsListen {
                do {
                    metricsAddress = try ServerConfiguration.parseListenAddress(metricsListen)
                } catch {
                    throw ValidationError("--metrics-listen: \(error)")
                }
            }
            var configuration: AgentConfiguration
            do {
                configuration = try AgentConfiguration.load(
                    configDirectory: locations.configDirectory, file: config.map { URL(fileURLWithPath: $0) })
            } catch {
                throw ValidationError("\(error)")
            }
            overrides.apply(to: &configuration)
            if let caFile = locations.caFile { configuration.caFile = URL(fileURLWithPath: caFile) }
            let onPremises: OnPremisesConfiguration
            do {
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
                let metrics = try MetricsListener(address: metricsAddress, logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await metrics.run() }
                    try await host.run(until: stop)
                    group.cancelAll()
                }
            } catch let error as AgentConfigurationError {
                throw ValidationError(error.description)
            }
        }
    }
}

/// SIGTERM and SIGINT ask the agent to stop: it takes no new command and lets the running one finish (bounded by
/// :kill_agent_max_wait_time_seconds:).
/// (`@unchecked Sendable`: the sources are set in `init` and only cancelled in `deinit`.)
final class SignalHandlers: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(stop: StopSignal) {
        // A parent may have started this process with the signals blocked (Foundation's Process does): unblock them.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGTERM)
        sigaddset(&unblock, SIGINT)
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.stop() }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}

/// `GET /metrics` of `slipway agent --metrics-listen`: the agent's series (polls, commands and their durations) in
/// Prometheus' format, from a registry bootstrapped for this process.
struct MetricsListener: Sendable {
    let application: Application<RouterResponder<BasicRequestContext>>

    init(address: (host: String, port: Int), logger: Logger) throws {
        let registry = bootstrapMetrics()
        let router = Router()
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        application = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "slipway-agent"),
            logger: logger)
    }

    /// Serves until cancelled.
    func run() async throws {
        try await application.runService(gracefulShutdownSignals: [])
    }
}
