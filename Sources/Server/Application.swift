import Alarms
import ArtifactStore
import AsyncHTTPClient
import Deployments
import Engine
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Notifications
import S3Transfer
import ServiceLifecycle
import SigV4
import Store
import Synchronization
import Traffic

/// The CodeDeploy API with every operation Slipway implements so far.
func makeCodeDeployAPI() -> CodeDeployAPI {
    var api = CodeDeployAPI()
    ApplicationHandlers.register(in: &api)
    DeploymentConfigHandlers.register(in: &api)
    DeploymentGroupHandlers.register(in: &api)
    RevisionHandlers.register(in: &api)
    InstanceHandlers.register(in: &api)
    TagHandlers.register(in: &api)
    DeploymentHandlers.register(in: &api)
    return api
}

/// Builds the server application; shared by `slipway server` and the tests.
public func buildApplication(
    configuration: ServerConfiguration,
    store: any Store,
    logger: Logger,
    clock: @escaping @Sendable () -> Date = { Date() },
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    try configuration.validate()
    // Every part of the server writes through this store, so that a change to keys or users reaches the cache of
    // principals before the write returns.
    // Access keys' secrets are sealed under the data directory's key before they reach the database.
    let principals = PrincipalCache()
    let sealer = try SecretSealer.loadOrCreate(dataDirectory: configuration.dataDirectory)
    let store = InvalidatingStore(base: SealingStore(base: store, sealer: sealer), cache: principals)
    let authenticator = Authenticator(
        store: store, region: configuration.region, accountID: configuration.accountID,
        maximumClockSkew: configuration.maximumClockSkew, principals: principals)
    let artifacts = try LocalArtifactStore(
        store: store, directory: configuration.dataDirectory.appendingPathComponent("artifacts"),
        region: configuration.region, quota: configuration.artifactLimits.quota)
    let signer = try SpecificationSigner.loadOrCreate(
        in: configuration.dataDirectory.appendingPathComponent("signing"),
        issuer: DevEnvironment(dataDirectory: configuration.dataDirectory).certificateAuthority())
    let deployments = DeploymentDriver(
        store: store, wakeups: HostWakeups(),
        settings: DeploymentSettings(
            region: configuration.region, accountID: configuration.accountID,
            timeouts: DeploymentTimeouts(pickup: configuration.commandPickupTimeout),
            deregisterInstance: { [accountID = configuration.accountID] tx, name, now in
                try InstanceHandlers.deregister(name, in: tx, accountID: accountID, now: now)
            }),
        logger: logger,
        traffic: HAProxyTrafficController(
            runtimes: configuration.haproxies.map { HAProxyRuntime(address: $0) }, timing: configuration.trafficTiming))
    let publicAddress = PublicAddress(configuration: configuration)
    let snsNames = SNSNames(region: configuration.region, accountID: configuration.accountID)
    let snsSigner = try SNSSigningKey.loadOrCreate(
        in: configuration.dataDirectory.appendingPathComponent("sns"),
        certificateURL: publicAddress.url + SNSAPI.certificatePath)
    // Notifications, alarms and another SNS are reached with one client, which trusts the configured CAs too.
    let outbound: HTTPClient
    if configuration.outboundTrust.isEmpty {
        outbound = .shared
    } else {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = configuration.outboundTrust.map { .file($0) }
        outbound = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
    }
    let notifications = NotificationService(
        store: store, names: snsNames, signer: snsSigner, publicURL: { publicAddress.url }, http: outbound,
        logger: logger, onAttempt: ServerMetrics.notificationAttempt(delivered:),
        forwarder: configuration.externalSNS.map {
            SNSForwarder(
                endpoint: $0.url,
                credentials: Credentials(accessKeyId: $0.accessKeyID, secretAccessKey: $0.secretAccessKey),
                http: outbound)
        })
    let codeDeploy = makeCodeDeployAPI()
    let revisions = makeRevisionLocator(artifacts: artifacts, configuration: configuration)
    let responder = SlipwayResponder(
        store: store, region: configuration.region, accountID: configuration.accountID,
        authenticator: authenticator,
        codeDeploy: codeDeploy,
        commands: CommandAPI(
            store: store, deployments: deployments, signer: signer,
            pollHold: .milliseconds(Int(configuration.pollHold * 1000))),
        revisions: revisions,
        s3: S3API(
            artifacts: artifacts, authenticator: authenticator, accountID: configuration.accountID, clock: clock,
            instanceScope: InstanceScope(store: store, readablePrefixes: configuration.agentReadablePrefixes)),
        sns: SNSAPI(
            store: store, authenticator: authenticator, names: snsNames, certificatePEM: snsSigner.certificatePEM,
            clock: clock),
        metrics: configuration.metricsRegistry.map { MetricsExport(registry: $0, token: configuration.metricsToken) },
        console: Console(
            store: store, sessions: ConsoleSessions(store: store, authenticator: authenticator), codeDeploy: codeDeploy,
            deployments: deployments, revisions: revisions, artifacts: artifacts, region: configuration.region,
            accountID: configuration.accountID, clock: clock),
        clock: clock)
    // S3 uploads send `Expect: 100-continue`; Hummingbird does not answer it by itself.
    let connections = ConnectionCounter()
    let limits = configuration.connectionLimits
    let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [
        ConnectionGuard(limits: limits, counter: connections, logger: logger), ExpectContinueHandler(),
    ])
    let server: HTTPServerBuilder
    switch configuration.transport {
    case .plainHTTP:
        server = .http1(configuration: http1)
    case .tls(let certificatePath, let keyPath):
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigurationError(
                "cannot read the TLS certificate '\(certificatePath)' or key '\(keyPath)' as PEM: \(error)")
        }
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        server = try .tls(.http1(configuration: http1), tlsConfiguration: tls)
    }
    return Application(
        responder: responder,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Slipway"),
        services: [
            DeploymentService(
                driver: deployments,
                alarms: AlarmWatcher(
                    driver: deployments,
                    sources: [LocalAlarmSource(store: store)]
                        + configuration.alertSources.map {
                            AlertSource(
                                $0.kind == .prometheus ? .prometheus : .alertmanager, base: $0.base, http: outbound)
                        }
                        + configuration.cloudWatch.map {
                            CloudWatchAlarmSource(
                                client: SignedHTTPClient(
                                    endpoint: $0.url, region: $0.region,
                                    credentials: Credentials(
                                        accessKeyId: $0.accessKeyID, secretAccessKey: $0.secretAccessKey),
                                    http: outbound))
                        }),
                alarmPollInterval: configuration.alarmPollInterval, notifications: notifications,
                outbound: outbound === HTTPClient.shared ? nil : outbound, clock: clock),
            UploadExpiryService(
                artifacts: artifacts, expiry: configuration.artifactLimits.uploadExpiry, clock: clock, logger: logger),
        ],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            publicAddress.serving(on: port)
            await onServerRunning(port)
        },
        logger: logger
    )
}

/// Runs deployments between requests: resumes what they waited for when the server stopped, fires their deadlines
/// (pickup and running timeouts), performs their traffic events, keeps the load balancers in the stored traffic
/// state, and reads the alarms the deployments watch.
struct DeploymentService: Service {
    let driver: DeploymentDriver
    /// Reads the alarms the deployments in progress watch.
    let alarms: AlarmWatcher
    let alarmPollInterval: Duration
    /// Sends the notifications of the outbox.
    let notifications: NotificationService
    /// The HTTP client of the notifications and alarm sources, when it is one of their own: shut down at the end.
    let outbound: HTTPClient?
    let clock: @Sendable () -> Date

    func run() async throws {
        try await driver.resume(now: clock())
        await withDiscardingTaskGroup { group in
            group.addTask { await driver.runTraffic(clock: clock) }
            await cancelWhenGracefulShutdown {
                await withDiscardingTaskGroup { loops in
                    loops.addTask { await driver.runTrafficConvergence() }
                    loops.addTask { await alarms.run(every: alarmPollInterval, clock: clock) }
                    loops.addTask { await notifications.run() }
                    await driver.runTimers(clock: clock)
                    loops.cancelAll()
                }
            }
            driver.stopTraffic()
        }
        await driver.wakeups.releaseAll()
        try? await outbound?.shutdown()
    }
}

/// The server's address as others reach it, known once it listens (a `:0` port is chosen then).
final class PublicAddress: Sendable {
    private let configured: String?
    private let scheme: String
    private let host: String
    private let port: Mutex<Int>

    init(configuration: ServerConfiguration) {
        configured = configuration.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        if case .plainHTTP = configuration.transport { scheme = "http" } else { scheme = "https" }
        let host = configuration.host
        self.host = ["0.0.0.0", "::", ""].contains(host) ? "localhost" : (host.contains(":") ? "[\(host)]" : host)
        port = Mutex(configuration.port)
    }

    func serving(on port: Int) { self.port.withLock { $0 = port } }

    var url: String { configured ?? "\(scheme)://\(host):\(port.withLock { $0 })" }
}
