import Agent
import ArgumentParser
import ArtifactStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Server
import SigV4
import Store
import Synchronization
import Traffic

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the control plane: the CodeDeploy API on one port, with SigV4 authentication.",
        discussion: """
            With --dev, Slipway creates under the data directory a local CA and a server certificate, an admin \
            access key written as the AWS profile 'slipway', and prints the lines that point the AWS CLI at it. \
            A second run reuses all of it.
            """
    )

    @Flag(help: "Zero set-up mode: TLS from a local CA, an admin key and an AWS profile under the data directory.")
    var dev = false

    @Option(help: "The address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:7443"

    @Option(help: "Where Slipway keeps its database, certificates and files. (default: ~/.slipway)")
    var dataDir: String?

    @Option(help: "The database: a SQLite file path. (default: <data-dir>/slipway.sqlite)")
    var database: String?

    @Option(help: "The AWS region the server answers for; clients must sign for it.")
    var region = "us-east-1"

    @Option(help: "The 12-digit account id used in ARNs.")
    var accountId = "000000000000"

    @Option(help: "A PEM certificate chain for HTTPS.")
    var tlsCert: String?

    @Option(help: "The PEM private key of --tls-cert.")
    var tlsKey: String?

    @Flag(help: "With --dev: do not run the agent that registers this machine as instance 'local'.")
    var noAgent = false

    @Flag(help: "Serve plain HTTP. The stock CodeDeploy agent refuses it; the AWS CLI and SDKs accept it.")
    var plainHttp = false

    @Option(
        help: ArgumentHelp(
            "An external S3-compatible endpoint for revisions, URL or BUCKET=URL (repeatable).",
            discussion: """
                A plain URL serves every bucket the built-in store does not host; BUCKET=URL serves one bucket. \
                Credentials come from SLIPWAY_S3_ACCESS_KEY_ID and SLIPWAY_S3_SECRET_ACCESS_KEY, the region from \
                --external-s3-region.
                """))
    var externalS3: [String] = []

    @Option(help: "The region to sign external S3 requests for. (default: --region)")
    var externalS3Region: String?

    @Option(help: "Seconds a host command may wait for its agent to pick it up before the host fails.")
    var pickupTimeout: Double = 300

    @Option(help: "Seconds an idle PollHostCommand is held before it is answered empty (below the agents' 80 s).")
    var pollHold: Double = 50

    @Option(
        help: "The most connections open at once; more are closed when accepted (keep the open-files limit above it).")
    var maxConnections: Int = ConnectionLimits().maximumConnections

    @Option(
        help: ArgumentHelp(
            "BUCKET/ or BUCKET/PREFIX whose objects every on-premises instance may read (repeatable).",
            discussion: "By default an instance reads only the revision of the deployment it is running."))
    var agentReadPrefix: [String] = []

    @Option(help: "The most bytes the built-in artifact store holds: BYTES, or with K, M, G, T (binary), or unlimited.")
    var artifactQuota: String = "50G"

    @Option(help: "How long an incomplete multipart upload lives before it is aborted: SECONDS, or with m, h, d.")
    var uploadExpiry: String = "7d"

    @Option(
        help: ArgumentHelp(
            "The runtime API of an HAProxy whose backends traffic events change: a socket path or HOST:PORT "
                + "(repeatable: every HAProxy given gets the same changes).",
            discussion: """
                A deployment group's load balancer names backends; a host is the server named after its instance \
                (or the value of its slipway:load-balancer-server tag). The socket needs `level admin`.
                """))
    var haproxy: [String] = []

    @Option(
        help: ArgumentHelp(
            "A Prometheus server whose firing alerts put deployment groups' alarms in ALARM: http(s)://HOST:PORT "
                + "(repeatable).",
            discussion: """
                An alarm name matches the alerts of that alertname, or with labels: \
                HighErrorRate{deployment_group="web"}. Pending alerts do not count.
                """))
    var prometheus: [String] = []

    @Option(help: "An Alertmanager whose active (not silenced or inhibited) alerts put alarms in ALARM (repeatable).")
    var alertmanager: [String] = []

    @Option(
        help: ArgumentHelp(
            "The address SNS endpoints reach this server at, for the links of the messages it sends them "
                + "(default: the listening address, localhost for a wildcard one)."))
    var publicUrl: String?

    @Option(
        help: ArgumentHelp(
            "A PEM file of certificate authorities trusted, besides the system's, for the server's outbound HTTPS: "
                + "notification endpoints, --sns-endpoint, --cloudwatch, --prometheus, --alertmanager (repeatable)."))
    var outboundCa: [String] = []

    @Option(
        help: ArgumentHelp(
            "An SNS endpoint (AWS SNS, or another Slipway) where triggers naming topics of another region or account "
                + "are published.",
            discussion: "Credentials come from SLIPWAY_SNS_ACCESS_KEY_ID and SLIPWAY_SNS_SECRET_ACCESS_KEY."))
    var snsEndpoint: String?

    @Option(
        help: ArgumentHelp(
            "A CloudWatch endpoint (AWS CloudWatch, or another Slipway) whose alarms deployment groups may name "
                + "(repeatable).",
            discussion:
                "Credentials come from SLIPWAY_CLOUDWATCH_ACCESS_KEY_ID and SLIPWAY_CLOUDWATCH_SECRET_ACCESS_KEY."))
    var cloudwatch: [String] = []

    @Option(help: "The region signed for at --cloudwatch endpoints (default: --region).")
    var cloudwatchRegion: String?

    @Option(
        help: ArgumentHelp(
            "A file holding the token Prometheus sends as Authorization: Bearer to scrape GET /metrics.",
            discussion: "Without it (or --metrics-public) /metrics answers 403."))
    var metricsTokenFile: String?

    @Flag(help: "Let anyone scrape GET /metrics, without a token.")
    var metricsPublic = false

    @Option(help: "Seconds between two reads of the alarms of the deployments in progress.")
    var alarmPollInterval: Int = 2

    @Option(help: "Seconds BlockTraffic waits for a server's sessions to end before it closes them.")
    var drainTimeout: Int = 300

    @Option(help: "Seconds AllowTraffic waits for a server's health checks to pass before it fails the host.")
    var healthTimeout: Int = 120

    @Option(help: "Seconds a new connection has for its TLS handshake and first request head.")
    var headerTimeout: Int = 30

    @Option(help: "Seconds a kept-alive connection may sit idle, or a request body pause, before it is closed.")
    var idleTimeout: Int = 120

    func run() async throws {
        // Tasks run on the server's event loops instead of hopping to Swift's own thread pool and back for every
        // request: the hop takes two thread wake-ups per API call (see docs/benchmarks.md).
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let dataDirectory = URL(
            fileURLWithPath: (dataDir.map { NSString(string: $0).expandingTildeInPath })
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".slipway").path)
        let (host, port) = try ServerConfiguration.parseListenAddress(listen)
        let dev = DevEnvironment(dataDirectory: dataDirectory)
        let logger = {
            var logger = Logger(label: "slipway.server")
            logger.logLevel = .info
            return logger
        }()
        // Before anything is written into it: certificates, keys and the database are private to this user.
        if let tightened = try DataDirectory.prepare(dataDirectory) { logger.notice("\(tightened)") }

        let transport: ServerConfiguration.Transport
        switch (tlsCert, tlsKey, plainHttp) {
        case (let cert?, let key?, false):
            transport = .tls(certificatePath: cert, keyPath: key)
        case (nil, nil, true):
            transport = .plainHTTP
        case (nil, nil, false) where self.dev:
            try dev.ensureCertificates()
            transport = .tls(certificatePath: dev.serverCertificate.path, keyPath: dev.serverKey.path)
        case (nil, nil, false):
            throw ValidationError(
                "give --tls-cert and --tls-key for HTTPS, or --plain-http (or use --dev for a local CA)")
        case (_, _, true):
            throw ValidationError("--plain-http cannot be combined with --tls-cert/--tls-key")
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }

        var configuration = ServerConfiguration(
            host: host, port: port, dataDirectory: dataDirectory, database: database, region: region,
            accountID: accountId, transport: transport)
        configuration.externalS3 = try externalEndpoints()
        configuration.commandPickupTimeout = pickupTimeout
        configuration.pollHold = pollHold
        configuration.agentReadablePrefixes = agentReadPrefix
        guard let quota = StorageLimits.parseQuota(artifactQuota) else {
            throw ValidationError("--artifact-quota must be a size such as 50G, 512M or 1073741824, or unlimited")
        }
        guard let expiry = StorageLimits.parseDuration(uploadExpiry) else {
            throw ValidationError("--upload-expiry must be a duration such as 7d, 36h, 90m or 3600")
        }
        configuration.artifactLimits = StorageLimits(quota: quota, uploadExpiry: expiry)
        do {
            configuration.haproxies = try haproxy.map { try HAProxyAddress(parsing: $0) }
        } catch {
            throw ValidationError("--haproxy: \(error)")
        }
        do {
            configuration.alertSources =
                try prometheus.map { try AlertSourceAddress(.prometheus, parsing: $0) }
                + alertmanager.map { try AlertSourceAddress(.alertmanager, parsing: $0) }
        } catch {
            throw ValidationError("--prometheus/--alertmanager: \(error)")
        }
        if let publicUrl {
            guard let url = URL(string: publicUrl), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                url.host?.isEmpty == false, url.query == nil
            else { throw ValidationError("--public-url must be an http(s)://host[:port] address") }
            configuration.publicURL = publicUrl
        }
        for file in outboundCa where !FileManager.default.isReadableFile(atPath: file) {
            throw ValidationError("--outbound-ca: cannot read \(file)")
        }
        configuration.outboundTrust = outboundCa
        if let snsEndpoint {
            configuration.externalSNS = try outboundEndpoint(
                snsEndpoint, option: "--sns-endpoint", keys: "SLIPWAY_SNS", region: self.region)
        }
        let cloudWatchRegion = cloudwatchRegion ?? self.region
        configuration.cloudWatch = try cloudwatch.map {
            try outboundEndpoint($0, option: "--cloudwatch", keys: "SLIPWAY_CLOUDWATCH", region: cloudWatchRegion)
        }
        if metricsPublic && metricsTokenFile != nil {
            throw ValidationError("--metrics-public and --metrics-token-file exclude each other")
        }
        if let metricsTokenFile {
            guard let text = try? String(contentsOfFile: metricsTokenFile, encoding: .utf8),
                case let token = text.trimmingCharacters(in: .whitespacesAndNewlines), token.count >= 16,
                token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
            else {
                throw ValidationError(
                    "--metrics-token-file must hold a token of at least 16 printable characters, without spaces")
            }
            configuration.metricsToken = token
        }
        if metricsPublic || metricsTokenFile != nil {
            // swift-metrics has one backend per process: the registry /metrics exports. Without an export nothing
            // is bootstrapped, and recording costs nothing.
            configuration.metricsRegistry = bootstrapMetrics()
        }
        guard (1...3600).contains(alarmPollInterval) else {
            throw ValidationError("--alarm-poll-interval must be between 1 and 3600 seconds")
        }
        configuration.alarmPollInterval = .seconds(alarmPollInterval)
        guard (1...86_400).contains(drainTimeout), (1...86_400).contains(healthTimeout) else {
            throw ValidationError("--drain-timeout and --health-timeout must be between 1 and 86400 seconds")
        }
        configuration.trafficTiming = HAProxyTrafficController.Timing(
            drainTimeout: .seconds(drainTimeout), healthTimeout: .seconds(healthTimeout))
        // Bounded here, so that the conversions to durations cannot overflow; validate() says which range.
        configuration.connectionLimits = ConnectionLimits(
            maximumConnections: maxConnections, requestHeadTimeout: .seconds(min(max(headerTimeout, 0), 1 << 30)),
            idleTimeout: .seconds(min(max(idleTimeout, 0), 1 << 30)))
        try configuration.validate()
        let databaseFile = URL(fileURLWithPath: configuration.database)
        try FileManager.default.createDirectory(
            at: databaseFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        for file in try DataDirectory.prepareDatabase(at: databaseFile.path) {
            logger.notice("made \(file) private to its owner (mode 600)")
        }
        let store = try SQLiteStore(path: configuration.database)
        configuration.database = store.path
        let sealed = SealingStore(base: store, sealer: try SecretSealer.loadOrCreate(dataDirectory: dataDirectory))
        let newlySealed = try await sealed.sealPlaintextSecrets()
        if newlySealed > 0 {
            logger.notice("sealed \(newlySealed) access key secrets stored in plaintext by an earlier version")
        }
        let scheme = transport == .plainHTTP ? "http" : "https"
        let isDev = self.dev
        let region = self.region
        let devKey: AccessKeyRecord? = isDev ? try await Self.devAdminKey(dev, store: sealed) : nil
        let agentStop = StopSignal()
        let agentTask = Mutex<Task<Void, Never>?>(nil)
        let runAgent = isDev && !noAgent
        let app = try buildApplication(
            configuration: configuration, store: store, logger: logger,
            onServerRunning: { boundPort in
                let endpointHost = host == "0.0.0.0" ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
                let endpoint = "\(scheme)://\(endpointHost):\(boundPort)"
                guard isDev, let devKey else {
                    printToStandardOutput(
                        "Slipway is serving the CodeDeploy API at \(endpoint) (region \(region)); its console is at "
                            + "\(endpoint)/ui/.")
                    return
                }
                do {
                    try dev.writeProfile(key: devKey, region: region, endpoint: endpoint)
                } catch {
                    logger.error("cannot write the AWS profile: \(error)")
                }
                if runAgent {
                    var agentLogger = Logger(label: "slipway.agent")
                    agentLogger.logLevel = .info
                    let agent = DevAgent(
                        dataDirectory: dataDirectory, endpoint: endpoint, region: region, caFile: dev.caCertificate,
                        adminCredentials: Credentials(
                            accessKeyId: devKey.accessKeyId, secretAccessKey: devKey.secretAccessKey),
                        logger: agentLogger)
                    agentTask.withLock { $0 = Task { await agent.run(until: agentStop) } }
                }
                printToStandardOutput(
                    """
                    Slipway is running at \(endpoint) (region \(region), data in \(dataDirectory.path)).

                    Point the AWS CLI and boto3 at it:

                    \(dev.exportLines(endpoint: endpoint, region: region, tls: scheme == "https").map { "  " + $0 }.joined(separator: "\n"))

                    Watch and steer deployments in the console: \(endpoint)/ui/
                    (sign in with the access key id and secret of the profile, in \(dev.credentialsFile.path)).

                    \(runAgent ? Self.agentLines : "")Then try:

                      aws deploy create-application --application-name my-app
                      aws deploy list-applications

                    """)
            })
        try await app.runService()
        agentStop.stop()
        await agentTask.withLock { $0 }?.value
    }

    /// What the banner says about the agent `--dev` runs.
    static let agentLines = """
        This machine is the on-premises instance 'local' (tag env=dev); its agent runs in this process. Deploy the
        example model (Examples/ml-inference/README.md), or any directory with an appspec.yml:

          slipway deploy DIR --application my-app --deployment-group dev --create-missing


        """

    /// `--external-s3` values with the credentials from the environment.
    /// An outbound endpoint from its option's value and the `<keys>_ACCESS_KEY_ID`/`<keys>_SECRET_ACCESS_KEY` variables.
    func outboundEndpoint(_ value: String, option: String, keys: String, region: String) throws -> OutboundEndpoint {
        guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host?.isEmpty == false
        else { throw ValidationError("\(option) '\(value)' must be an http(s)://host[:port] URL") }
        let environment = ProcessInfo.processInfo.environment
        guard let keyID = environment["\(keys)_ACCESS_KEY_ID"], let secret = environment["\(keys)_SECRET_ACCESS_KEY"]
        else {
            throw ValidationError(
                "\(option) needs \(keys)_ACCESS_KEY_ID and \(keys)_SECRET_ACCESS_KEY in the environment")
        }
        return OutboundEndpoint(url: url, region: region, accessKeyID: keyID, secretAccessKey: secret)
    }

    func externalEndpoints() throws -> [ServerConfiguration.ExternalS3Endpoint] {
        guard !externalS3.isEmpty else { return [] }
        let environment = ProcessInfo.processInfo.environment
        guard let keyID = environment["SLIPWAY_S3_ACCESS_KEY_ID"],
            let secret = environment["SLIPWAY_S3_SECRET_ACCESS_KEY"]
        else {
            throw ValidationError(
                "--external-s3 needs SLIPWAY_S3_ACCESS_KEY_ID and SLIPWAY_S3_SECRET_ACCESS_KEY in the environment")
        }
        return try externalS3.map { value in
            var bucket: String?
            var url = value
            if !value.contains("://"), let equals = value.firstIndex(of: "=") {
                bucket = String(value[..<equals])
                url = String(value[value.index(after: equals)...])
            }
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), URL(string: url)?.host != nil else {
                throw ValidationError("--external-s3 '\(value)' must be an http(s) URL or BUCKET=URL")
            }
            return ServerConfiguration.ExternalS3Endpoint(
                url: url, region: externalS3Region ?? region, accessKeyID: keyID, secretAccessKey: secret,
                buckets: bucket.map { [$0] } ?? [])
        }
    }

    /// The admin key of the dev profile: the one already written if the store still has it, else a new one.
    static func devAdminKey(_ dev: DevEnvironment, store: any Store) async throws -> AccessKeyRecord {
        if let id = dev.profileAccessKeyID(),
            let key = try await AccessKeys.list(in: store).first(where: { $0.accessKeyId == id && $0.role == .admin })
        {
            return key
        }
        return try await AccessKeys.create(in: store, role: .admin, instanceName: nil)
    }
}
