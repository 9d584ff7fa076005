import Foundation
import Yams

/// What the agent reads from the stock CodeDeploy agent's `codedeployagent.yml`, with Slipway's few additions.
///
/// The stock file uses Ruby symbol keys (`:root_dir: '/opt/…'`); plain keys (`root_dir:`) are accepted too. Keys the
/// agent does not know are ignored, as the stock agent ignores them, so one file serves both agents.
public struct AgentConfiguration: Sendable, Hashable {
    /// The stock agent's configuration directory.
    public static let defaultConfigDirectory = "/etc/codedeploy-agent/conf"
    static let stockRootDirectory = "/opt/codedeploy-agent/deployment-root"
    static let stockLogDirectory = "/var/log/aws/codedeploy-agent"
    static let stockPIDDirectory = "/opt/codedeploy-agent/state/.pid"

    /// Where deployments live: `<root>/<group-id>/<deployment-id>/…`, `deployment-instructions/`, `ongoing-deployment/`.
    public var rootDirectory: URL
    public var logDirectory: URL
    public var pidDirectory: URL
    /// Seconds between an answered poll and the next one (the stock file ships 1).
    public var waitBetweenRuns: Double = 1
    /// Revisions kept per deployment group besides the current one; the last successful one is never deleted.
    public var maxRevisions: Int = 5
    /// `:slipway_revision_disk_budget:`: the most the kept revisions of a group may take on disk (files shared
    /// between revisions counted once); nil: no budget, only `maxRevisions`.
    public var revisionDiskBudget: Int64?
    public var proxyURI: String?
    /// The command API's endpoint (`https://host:port`); for Slipway, the server's address.
    public var deployControlEndpoint: String?
    /// Where revisions in S3 are downloaded from; for Slipway the server's address (it defaults to
    /// ``deployControlEndpoint`` when that is set).
    public var s3EndpointOverride: String?
    /// Seconds the agent waits for an answer; polls are held by the server for less than this.
    public var httpReadTimeout: Double = 80
    public var onPremisesConfigFile: URL
    /// Use the `-secure` flavour of the command API (signing name `codedeploy-commands-secure`).
    public var enableAuthPolicy = false
    /// How long a graceful stop waits for the running command, in seconds.
    public var killAgentMaxWaitTimeSeconds: Double = 7200
    public var verbose = false
    /// Slipway: a PEM file of certificates trusted for TLS and for deployment specification signatures.
    public var caFile: URL?
    /// Slipway: seconds between heartbeats while a command runs. The agent tells the server to give up on the host
    /// after three missed ones.
    public var heartbeatInterval: Double = 30
    /// Slipway: the GitHub API that GitHub revisions are fetched from (GitHub Enterprise: `https://host/api/v3`).
    public var gitHubAPI = "https://api.github.com"
    /// Slipway: the name of the crash-tracking directory under the root.
    public var ongoingDeploymentTracking = "ongoing-deployment"
    /// Slipway: variables of the agent's environment that hook scripts get besides the allow-listed ones
    /// (`:slipway_hook_environment: NAME OTHER_NAME`, separated by spaces or commas). The operator names them; nothing
    /// else of the agent's environment reaches scripts.
    public var hookEnvironment: [String] = []

    /// The configuration of an agent whose files live in `configDirectory`: the stock agent's locations when they
    /// are writable (as root on a real host), otherwise directories under `configDirectory`, so that several agents
    /// run side by side as an unprivileged user.
    public init(configDirectory: URL) {
        func place(_ stock: String, _ local: String) -> URL {
            Self.isUsable(stock) ? URL(fileURLWithPath: stock) : configDirectory.appendingPathComponent(local)
        }
        rootDirectory = place(Self.stockRootDirectory, "deployment-root")
        logDirectory = place(Self.stockLogDirectory, "log")
        pidDirectory = place(Self.stockPIDDirectory, "pid")
        onPremisesConfigFile = configDirectory.appendingPathComponent("codedeploy.onpremises.yml")
    }

    /// Reads `codedeployagent.yml` from `configDirectory` (or `file` when given); a missing file means defaults.
    public static func load(configDirectory: URL, file: URL? = nil) throws -> AgentConfiguration {
        var configuration = AgentConfiguration(configDirectory: configDirectory)
        let url = file ?? configDirectory.appendingPathComponent("codedeployagent.yml")
        guard FileManager.default.fileExists(atPath: url.path) else {
            if file != nil { throw AgentConfigurationError("\(url.path) does not exist") }
            return configuration
        }
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw AgentConfigurationError("cannot read \(url.path): \(error.localizedDescription)")
        }
        try configuration.apply(yaml: text, source: url.path, relativeTo: url.deletingLastPathComponent())
        return configuration
    }

    /// Applies the keys of a `codedeployagent.yml` document.
    public mutating func apply(yaml text: String, source: String, relativeTo base: URL) throws {
        let values = try YAMLKeys(text, source: source)
        func path(_ key: String) throws -> URL? {
            try values.string(key).map { text in
                let expanded = NSString(string: text).expandingTildeInPath
                return expanded.hasPrefix("/")
                    ? URL(fileURLWithPath: expanded) : base.appendingPathComponent(expanded).standardizedFileURL
            }
        }
        if let url = try path("root_dir") { rootDirectory = url }
        if let url = try path("log_dir") { logDirectory = url }
        if let url = try path("pid_dir") { pidDirectory = url }
        if let url = try path("on_premises_config_file") { onPremisesConfigFile = url }
        if let url = try path("slipway_ca_file") { caFile = url }
        if let value = try values.number("wait_between_runs") { waitBetweenRuns = max(0, value) }
        if let value = try values.number("http_read_timeout") { httpReadTimeout = value }
        if let value = try values.number("slipway_heartbeat_interval") {
            guard value >= 1 else {
                throw AgentConfigurationError("\(source): slipway_heartbeat_interval must be at least 1 second")
            }
            heartbeatInterval = value
        }
        if let value = try values.number("kill_agent_max_wait_time_seconds") { killAgentMaxWaitTimeSeconds = value }
        if let value = try values.number("max_revisions") {
            guard value >= 1, value == value.rounded() else {
                throw AgentConfigurationError(
                    "\(source): max_revisions must be a whole number of at least 1, not \(value)")
            }
            maxRevisions = Int(value)
        }
        if let text = try values.string("slipway_revision_disk_budget") {
            guard let bytes = Self.parseSize(text) else {
                throw AgentConfigurationError(
                    "\(source): slipway_revision_disk_budget must be a size such as 20GiB, 500MiB or a number of "
                        + "bytes (at least 1 MiB), not '\(text.prefix(64))'")
            }
            revisionDiskBudget = bytes
        }
        if let value = try values.bool("enable_auth_policy") { enableAuthPolicy = value }
        if let value = try values.bool("verbose") { verbose = value }
        proxyURI = try values.string("proxy_uri") ?? proxyURI
        deployControlEndpoint = try values.string("deploy_control_endpoint") ?? deployControlEndpoint
        s3EndpointOverride = try values.string("s3_endpoint_override") ?? s3EndpointOverride
        ongoingDeploymentTracking = try values.string("ongoing_deployment_tracking") ?? ongoingDeploymentTracking
        gitHubAPI = try values.string("slipway_github_api") ?? gitHubAPI
        if let text = try values.string("slipway_hook_environment") {
            let names = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
            for name in names where !Self.isVariableName(name) {
                throw AgentConfigurationError(
                    "\(source): slipway_hook_environment: \"\(name.prefix(64))\" is not a variable name (letters, "
                        + "digits and _, not starting with a digit)")
            }
            hookEnvironment = names
        }
        for endpoint in [deployControlEndpoint, s3EndpointOverride, gitHubAPI].compactMap({ $0 }) {
            guard let url = URL(string: endpoint), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw AgentConfigurationError("\(source): \(endpoint) is not an http:// or https:// endpoint")
            }
        }
    }

    /// A portable environment variable name: ASCII letters, digits and `_`, not starting with a digit.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        }
    }

    /// The S3 endpoint revisions are downloaded from.
    public var effectiveS3Endpoint: String? { s3EndpointOverride ?? deployControlEndpoint }

    /// `20GiB`, `500MiB`, `64KiB`, `2TiB` (or `G`, `M`, `K`, `T`, powers of 1024) or a number of bytes; at least 1 MiB
    /// and at most 1 EiB. Nil for anything else.
    static func parseSize(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 19, let number = Int64(digits) else { return nil }
        let shifts: [String: Int64] = [
            "": 0, "B": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30, "T": 40, "TiB": 40,
        ]
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        guard let shift = shifts[unit] else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: Int64(1) << shift)
        guard !overflow, bytes >= 1 << 20, bytes <= 1 << 60 else { return nil }
        return bytes
    }

    /// Whether `path` exists as a writable directory or could be created (its nearest existing ancestor is writable).
    package static func isUsable(_ path: String) -> Bool {
        var candidate = URL(fileURLWithPath: path)
        while !FileManager.default.fileExists(atPath: candidate.path) {
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path { return false }
            candidate = parent
        }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory)
            && isDirectory.boolValue
            && FileManager.default.isWritableFile(atPath: candidate.path)
    }
}

/// A configuration file that cannot be used, with the file and the reason.
public struct AgentConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The top-level keys of a small YAML mapping, with the leading `:` of Ruby symbol keys removed.
struct YAMLKeys {
    private let values: [String: Any]
    private let source: String

    init(_ text: String, source: String) throws {
        self.source = source
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw AgentConfigurationError("\(source) is not valid YAML: \(error)")
        }
        guard let loaded else {
            values = [:]
            return
        }
        guard let mapping = loaded as? [AnyHashable: Any] else {
            throw AgentConfigurationError("\(source) must be a mapping of keys to values")
        }
        var values: [String: Any] = [:]
        for (key, value) in mapping {
            var name = "\(key)"
            if name.hasPrefix(":") { name.removeFirst() }
            values[name] = value
        }
        self.values = values
    }

    func string(_ key: String) throws -> String? {
        switch values[key] {
        case nil, is NSNull: return nil
        case let text as String: return text.isEmpty ? nil : text
        case let number as Int: return String(number)
        case let other: throw AgentConfigurationError("\(source): \(key) must be text, not \(other)")
        }
    }

    func number(_ key: String) throws -> Double? {
        switch values[key] {
        case nil, is NSNull: return nil
        case let number as Int: return Double(number)
        case let number as Double: return number
        case let text as String:
            guard let number = Double(text) else {
                throw AgentConfigurationError("\(source): \(key) must be a number, not '\(text)'")
            }
            return number
        case let other: throw AgentConfigurationError("\(source): \(key) must be a number, not \(other)")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        switch values[key] {
        case nil, is NSNull: return nil
        case let value as Bool: return value
        case let text as String where ["true", "false"].contains(text.lowercased()): return text.lowercased() == "true"
        case let other: throw AgentConfigurationError("\(source): \(key) must be true or false, not \(other)")
        }
    }
}
