import AsyncHTTPClient
import Foundation
import NIOCore
import SigV4
import SlipwayModel
import X509

/// What `slipway-agent --check` finds: each part of the set-up the agent needs, checked the way the agent will use
/// it, with what to do when it is wrong.
public struct AgentCheck: Sendable {
    public enum Outcome: String, Sendable {
        case ok, warning, failed
    }

    public struct Finding: Sendable, CustomStringConvertible {
        public var subject: String
        public var outcome: Outcome
        public var detail: String

        public var description: String {
            let label = ["ok": "ok", "warning": "warn", "failed": "FAIL"][outcome.rawValue] ?? outcome.rawValue
            return "\(label.padding(toLength: 5, withPad: " ", startingAt: 0)) "
                + "\(subject.padding(toLength: 14, withPad: " ", startingAt: 0)) \(detail)"
        }
    }

    /// The findings in order, and whether the agent can run (no failure).
    public private(set) var findings: [Finding] = []
    public var passed: Bool { !findings.contains { $0.outcome == .failed } }

    /// How long the server probe may take.
    let timeout: TimeAmount
    let now: Date

    public init(timeout: TimeAmount = .seconds(15), now: Date = Date()) {
        self.timeout = timeout
        self.now = now
    }

    private mutating func record(_ subject: String, _ outcome: Outcome, _ detail: String) {
        findings.append(Finding(subject: subject, outcome: outcome, detail: detail))
    }

    /// Checks `configuration` (already read from `source`, or the error reading it) and everything it names.
    public mutating func run(configuration loaded: Result<AgentConfiguration, any Error>, source: String) async {
        let configuration: AgentConfiguration
        switch loaded {
        case .failure(let error):
            return record("configuration", .failed, "\(error)")
        case .success(let value):
            configuration = value
            let exists = FileManager.default.fileExists(atPath: source)
            record(
                "configuration", exists ? .ok : .warning,
                exists ? source : "\(source) does not exist: the stock agent's defaults apply")
        }
        let endpoint = checkEndpoint(configuration)
        let onPremises = checkInstance(configuration)
        checkRoot(configuration)
        let trusted = checkTrust(configuration)
        guard let endpoint, let onPremises else {
            return record("server", .failed, "not checked: the endpoint or the instance's identity is missing")
        }
        await checkServer(endpoint: endpoint, onPremises: onPremises, configuration: configuration, trusted: trusted)
    }

    private mutating func checkEndpoint(_ configuration: AgentConfiguration) -> URL? {
        guard let text = configuration.deployControlEndpoint, let url = URL(string: text), url.host != nil else {
            record(
                "endpoint", .failed,
                "no :deploy_control_endpoint: in codedeployagent.yml: set it to the Slipway server's address "
                    + "(https://host:port), or give --server")
            return nil
        }
        if url.scheme == "http" {
            record("endpoint", .warning, "\(text): plain HTTP; the stock agent refuses it, and keys travel unencrypted")
        } else {
            record("endpoint", .ok, text)
        }
        return url
    }

    private mutating func checkInstance(_ configuration: AgentConfiguration) -> OnPremisesConfiguration? {
        let onPremises: OnPremisesConfiguration
        do {
            onPremises = try OnPremisesConfiguration.load(from: configuration.onPremisesConfigFile)
        } catch {
            record("instance", .failed, "\(error)")
            return nil
        }
        do {
            let credentials = try CredentialSource(onPremises.identity).current()
            record(
                "instance", .ok,
                "\(onPremises.hostIdentifier) in \(onPremises.region), key \(credentials.accessKeyId.prefix(8))…")
        } catch {
            record("instance", .failed, "\(onPremises.hostIdentifier): its credentials cannot be read: \(error)")
            return nil
        }
        return onPremises
    }

    private mutating func checkRoot(_ configuration: AgentConfiguration) {
        let root = configuration.rootDirectory.path
        var info = stat()
        if stat(root, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                return record("root", .failed, "\(root) is not a directory (:root_dir: in codedeployagent.yml)")
            }
            guard access(root, W_OK | X_OK) == 0 else {
                return record("root", .failed, "\(root) is not writable by this user (uid \(geteuid()))")
            }
            if info.st_uid == geteuid() && info.st_mode & 0o066 != 0 {
                return record(
                    "root", .warning,
                    "\(root) is mode 0\(String(info.st_mode & 0o7777, radix: 8)); the agent makes it 0700 when it starts"
                )
            }
            record("root", .ok, "\(root)")
        } else if AgentConfiguration.isUsable(root) {
            record("root", .ok, "\(root) (created when the agent starts)")
        } else {
            record("root", .failed, "\(root) does not exist and cannot be created by this user (uid \(geteuid()))")
        }
    }

    private mutating func checkTrust(_ configuration: AgentConfiguration) -> Bool {
        let signers: [Certificate]
        do {
            signers = try AgentHost.trustedSigners(configuration: configuration)
        } catch {
            record("trust", .failed, "\(error)")
            return false
        }
        let file = configuration.caFile?.path ?? ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"] ?? "?"
        let expired = signers.filter { $0.notValidAfter < now }
        guard expired.count < signers.count else {
            record("trust", .failed, "\(file): every certificate has expired")
            return false
        }
        let soonest = signers.map(\.notValidAfter).filter { $0 >= now }.min() ?? now
        let days = Int(soonest.timeIntervalSince(now) / 86_400)
        let summary =
            "\(file): \(signers.count) certificate\(signers.count == 1 ? "" : "s")"
            + (expired.isEmpty ? "" : ", \(expired.count) expired") + "; the first to expire does in \(days) days"
        record("trust", expired.isEmpty && days >= 30 ? .ok : .warning, summary)
        return true
    }

    /// Sends a signed `GetDeploymentSpecification` for an execution that cannot exist: it proves TLS trust, the
    /// signature, and that the key may act for this host, and changes nothing on the server. Any answer but
    /// `ClientException` (the execution id refused after authentication and authorisation) is a failure.
    private mutating func checkServer(
        endpoint: URL, onPremises: OnPremisesConfiguration, configuration: AgentConfiguration, trusted: Bool
    ) async {
        let http: HTTPClient
        do {
            http = try AgentHost.makeHTTPClient(configuration: configuration)
        } catch {
            return record("server", .failed, "\(error)")
        }
        let client = HTTPCommandClient(
            http: http, endpoint: endpoint, region: onPremises.region,
            credentials: CredentialSource(onPremises.identity), secure: configuration.enableAuthPolicy,
            agentVersion: AgentHost.version, readTimeout: timeout)
        let started = ContinuousClock.now
        let answer: Result<Void, any Error>
        do {
            _ = try await client.getDeploymentSpecification(
                executionID: "Slipway/check/none/d-CHECK0000", hostIdentifier: onPremises.hostIdentifier)
            answer = .success(())
        } catch {
            answer = .failure(error)
        }
        try? await http.shutdown()
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        switch answer {
        case .failure(let error as CommandServiceError) where error.type == "ClientException":
            record(
                "server", .ok,
                "\(endpoint.absoluteString) answered in \(milliseconds) ms and accepted this host's key"
                    + (trusted ? "" : " (TLS trusted, but specifications cannot be verified: see trust)"))
        case .failure(let error as CommandServiceError) where error.type == "AccessDeniedException":
            record(
                "server", .failed,
                "the server refused this key for \(onPremises.hostIdentifier): create one with "
                    + "`slipway keys create --role agent --instance-name NAME` for this instance (\(error))")
        case .failure(let error as CommandServiceError)
        where ["UnrecognizedClientException", "InvalidSignatureException"].contains(error.type ?? ""):
            record(
                "server", .failed,
                "the server does not know this key or its secret is wrong: check aws_access_key_id and "
                    + "aws_secret_access_key in \(configuration.onPremisesConfigFile.path) (\(error))")
        case .failure(let error as CommandServiceError) where error.status == nil:
            let text = "\(error)"
            let tls = ["certificate", "TLS", "SSL", "handshake"].contains { text.contains($0) }
            record(
                "server", .failed,
                tls
                    ? "\(text): the server's certificate is not trusted; give its CA with --ca-file or "
                        + ":slipway_ca_file:"
                    : "\(text): is the server running and reachable from this host?")
        case .failure(let error):
            record("server", .failed, "\(error)")
        case .success:
            record("server", .failed, "\(endpoint.absoluteString) answered a probe no Slipway server accepts")
        }
    }
}
