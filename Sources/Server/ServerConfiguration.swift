import ArtifactStore
import Foundation
import Prometheus
import SlipwayModel
import Traffic

/// Everything `slipway server` is told on its command line.
public struct ServerConfiguration: Sendable {
    /// Where TLS material comes from.
    public enum Transport: Sendable, Equatable {
        /// Plain HTTP. The stock CodeDeploy agent refuses it; AWS CLI and SDK clients accept it.
        case plainHTTP
        /// HTTPS with a PEM certificate chain and private key.
        case tls(certificatePath: String, keyPath: String)
    }

    public var host: String
    public var port: Int
    public var dataDirectory: URL
    /// A SQLite file path, or (later) a `postgres://` URL.
    public var database: String
    public var region: String
    public var accountID: String
    public var transport: Transport
    /// How far a request's signing time may be from the server's clock.
    public var maximumClockSkew: TimeInterval = 15 * 60
    /// How long a host command may wait for its agent to pick it up before the host fails (CodeDeploy: 5 minutes).
    public var commandPickupTimeout: TimeInterval = 300
    /// How long an idle `PollHostCommand` is held before it is answered empty.
    public var pollHold: TimeInterval = 50
    /// Open connections, and how long one may take to send a request head, sit idle or pause a body.
    public var connectionLimits = ConnectionLimits()
    /// `bucket/` or `bucket/prefix`: objects every on-premises instance may read, besides the revision of the
    /// deployment it is running (``InstanceScope``).
    public var agentReadablePrefixes: [String] = []
    /// External S3-compatible endpoints for revisions in buckets the built-in store does not host.
    public var externalS3: [ExternalS3Endpoint] = []
    /// The built-in store's quota and the expiry of its incomplete multipart uploads.
    public var artifactLimits = StorageLimits()
    /// The runtime APIs of the HAProxies whose backends the traffic events change (all of them: an HA pair gets the
    /// same changes); none: traffic events change nothing and say so.
    public var haproxies: [HAProxyAddress] = []
    /// The address endpoints reach the server at, for the links in the SNS messages it sends them
    /// (`SubscribeURL`, `UnsubscribeURL`, `SigningCertURL`); `nil`: `https://` (or `http://`) and the listening
    /// address, `localhost` for a wildcard one.
    public var publicURL: String?
    /// PEM files of certificate authorities trusted, besides the system's, for the server's outbound HTTPS:
    /// notification endpoints, another SNS, CloudWatch, Prometheus and Alertmanager.
    public var outboundTrust: [String] = []
    /// Where triggers naming topics of another SNS (another region or account) are published; nil: they are
    /// dropped with an error in the log.
    public var externalSNS: OutboundEndpoint?
    /// CloudWatch `DescribeAlarms` endpoints whose alarms deployment groups may name.
    public var cloudWatch: [OutboundEndpoint] = []
    /// The registry `GET /metrics` exports (the one the process bootstrapped swift-metrics with); nil: no export.
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// The bearer token a scrape must present; nil with a registry: the export is public (`--metrics-public`).
    public var metricsToken: String?
    /// Where alarm states are read besides Slipway's own CloudWatch alarms: Prometheus and Alertmanager servers.
    public var alertSources: [AlertSourceAddress] = []
    /// How often the alarms of the deployments in progress are read.
    public var alarmPollInterval: Duration = .seconds(2)
    /// How long BlockTraffic waits for a server's sessions to end, and AllowTraffic for its health checks to pass.
    public var trafficTiming = HAProxyTrafficController.Timing()

    /// An S3-compatible endpoint (AWS S3, MinIO, Ceph, Garage) that holds revisions, addressed path-style.
    public struct ExternalS3Endpoint: Sendable, Equatable {
        /// `https://host[:port]`.
        public var url: String
        /// The region to sign for.
        public var region: String
        public var accessKeyID: String
        public var secretAccessKey: String
        /// The buckets it serves; empty means every bucket the built-in store does not host.
        public var buckets: [String]

        public init(url: String, region: String, accessKeyID: String, secretAccessKey: String, buckets: [String]) {
            self.url = url
            self.region = region
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.buckets = buckets
        }
    }

    public init(
        host: String = "127.0.0.1",
        port: Int = 7443,
        dataDirectory: URL,
        database: String? = nil,
        region: String = "us-east-1",
        accountID: String = "000000000000",
        transport: Transport = .plainHTTP
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.database = database ?? dataDirectory.appendingPathComponent("slipway.sqlite").path
        self.region = region
        self.accountID = accountID
        self.transport = transport
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT`.
    public static func parseListenAddress(_ text: String) throws -> (host: String, port: Int) {
        do {
            let address = try ListenAddress(parsing: text, option: "--listen")
            return (address.host, address.port)
        } catch {
            throw ConfigurationError(error.description)
        }
    }

    /// Checks the values that clients will see in ARNs and signatures.
    public func validate() throws {
        guard accountID.count == 12, accountID.allSatisfy(\.isASCIIDigit) else {
            throw ConfigurationError("--account-id must be exactly 12 digits, not '\(accountID)'")
        }
        let regionCharacters = region.unicodeScalars.allSatisfy {
            CharacterSet.lowercaseLetters.contains($0) || CharacterSet.decimalDigits.contains($0) || $0 == "-"
        }
        guard !region.isEmpty, regionCharacters else {
            throw ConfigurationError(
                "--region must look like an AWS region name (for example us-east-1), not '\(region)'")
        }
        // Ranges are checked with `contains`, which NaN never satisfies.
        guard (1...604_800).contains(commandPickupTimeout) else {
            throw ConfigurationError(
                "--pickup-timeout must be from 1 second to 7 days (604800), not \(commandPickupTimeout)")
        }
        guard artifactLimits.uploadExpiry >= StorageLimits.minimumUploadExpiry else {
            throw ConfigurationError("--upload-expiry must be at least a minute, not \(artifactLimits.uploadExpiry) s")
        }
        guard (0...70).contains(pollHold) else {
            throw ConfigurationError(
                "--poll-hold must be between 0 and 70 seconds (agents give up on a poll after 80 s), not \(pollHold)")
        }
        guard (1...1_000_000).contains(connectionLimits.maximumConnections) else {
            throw ConfigurationError(
                "--max-connections must be from 1 to 1000000, not \(connectionLimits.maximumConnections)")
        }
        guard (Duration.seconds(1)...Duration.seconds(3600)).contains(connectionLimits.requestHeadTimeout) else {
            throw ConfigurationError("--header-timeout must be from 1 to 3600 seconds")
        }
        guard (Duration.seconds(1)...Duration.seconds(86_400)).contains(connectionLimits.idleTimeout) else {
            throw ConfigurationError("--idle-timeout must be from 1 to 86400 seconds")
        }
        for prefix in agentReadablePrefixes {
            guard let slash = prefix.firstIndex(of: "/"), slash != prefix.startIndex,
                prefix.firstControlCharacter == nil
            else {
                throw ConfigurationError(
                    "--agent-read-prefix must be BUCKET/ or BUCKET/PREFIX (for example releases/models/), not '\(prefix)'"
                )
            }
        }
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            throw ConfigurationError(
                "--database: PostgreSQL is not supported yet in this version of Slipway; give a SQLite file path")
        }
    }
}

/// A configuration problem, reported to the user as it is.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A Prometheus or Alertmanager server whose firing alerts put alarms in ALARM.
public struct AlertSourceAddress: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case prometheus
        case alertmanager
    }

    public let kind: Kind
    public let base: URL

    /// `text` as an `http(s)://host[:port][/prefix]` address; throws ``ConfigurationError`` otherwise.
    public init(_ kind: Kind, parsing text: String) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
        else {
            throw ConfigurationError("'\(text)' is not an http(s)://host[:port][/path] address")
        }
        self.kind = kind
        self.base = url
    }
}

/// An AWS-protocol endpoint the server calls, with the keys it signs for it.
public struct OutboundEndpoint: Sendable, Hashable {
    public var url: URL
    /// The region signed for, where the request does not decide it (CloudWatch).
    public var region: String
    public var accessKeyID: String
    public var secretAccessKey: String

    public init(url: URL, region: String, accessKeyID: String, secretAccessKey: String) {
        self.url = url
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }
}
