import Foundation
import S3Transfer
import SigV4
import Synchronization

/// The host's identity from `codedeploy.onpremises.yml`, as `aws deploy register` (or `slipway agent register`)
/// writes it: a region and either an IAM user with its access key, or an IAM session whose temporary credentials
/// live in a separate file that something else refreshes.
public struct OnPremisesConfiguration: Sendable, Hashable {
    public enum Identity: Sendable, Hashable {
        /// `iam_user_arn` with `aws_access_key_id` and `aws_secret_access_key`.
        case user(arn: String, credentials: Credentials)
        /// `iam_session_arn` with `aws_credentials_file` (an AWS credentials file, profile `default`).
        case session(arn: String, credentialsFile: URL)
    }

    public var region: String
    public var identity: Identity

    /// The host identifier the agent polls with: the registered IAM ARN.
    public var hostIdentifier: String {
        switch identity {
        case .user(let arn, _), .session(let arn, _): arn
        }
    }

    public init(region: String, identity: Identity) {
        self.region = region
        self.identity = identity
    }

    public static func load(from url: URL) throws -> OnPremisesConfiguration {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw AgentConfigurationError(
                "cannot read the on-premises configuration \(url.path): register this host first "
                    + "(slipway agent register --server URL --instance-name NAME, or aws deploy register)")
        }
        return try parse(text, source: url.path, relativeTo: url.deletingLastPathComponent())
    }

    static func parse(_ text: String, source: String, relativeTo base: URL) throws -> OnPremisesConfiguration {
        let keys = try YAMLKeys(text, source: source)
        guard let region = try keys.string("region") else {
            throw AgentConfigurationError("\(source) names no region")
        }
        let userARN = try keys.string("iam_user_arn")
        let sessionARN = try keys.string("iam_session_arn")
        switch (userARN, sessionARN) {
        case (let arn?, nil):
            guard let id = try keys.string("aws_access_key_id"), let secret = try keys.string("aws_secret_access_key")
            else {
                throw AgentConfigurationError(
                    "\(source): iam_user_arn needs aws_access_key_id and aws_secret_access_key")
            }
            return OnPremisesConfiguration(
                region: region,
                identity: .user(arn: arn, credentials: Credentials(accessKeyId: id, secretAccessKey: secret)))
        case (nil, let arn?):
            guard let file = try keys.string("aws_credentials_file") else {
                throw AgentConfigurationError("\(source): iam_session_arn needs aws_credentials_file")
            }
            let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : base.appendingPathComponent(file)
            return OnPremisesConfiguration(region: region, identity: .session(arn: arn, credentialsFile: url))
        case (.some, .some):
            throw AgentConfigurationError("\(source) names both iam_user_arn and iam_session_arn: keep one")
        case (nil, nil):
            throw AgentConfigurationError("\(source) names neither iam_user_arn nor iam_session_arn")
        }
    }
}

/// Credentials for signing, re-read from the session credentials file whenever it changes (its refresher rewrites
/// it at least hourly; the stock agent re-reads every 30 minutes, which can sign with expired credentials).
public final class CredentialSource: CredentialsProvider {
    private let identity: OnPremisesConfiguration.Identity
    private let cache = Mutex<(modified: Date, credentials: Credentials)?>(nil)

    public init(_ identity: OnPremisesConfiguration.Identity) {
        self.identity = identity
    }

    public func current() throws -> Credentials {
        switch identity {
        case .user(_, let credentials):
            return credentials
        case .session(_, let file):
            let modified =
                (try? FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date) ?? nil
            if let modified, let cached = cache.withLock({ $0 }), cached.modified == modified {
                return cached.credentials
            }
            let credentials = try Self.readCredentialsFile(file)
            if let modified { cache.withLock { $0 = (modified, credentials) } }
            return credentials
        }
    }

    /// The `[default]` profile of an AWS credentials file.
    static func readCredentialsFile(_ url: URL) throws -> Credentials {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw AgentConfigurationError("cannot read the session credentials file \(url.path)")
        }
        let profile = INIFile(text).sections["default"] ?? [:]
        guard let id = profile["aws_access_key_id"], let secret = profile["aws_secret_access_key"] else {
            throw AgentConfigurationError(
                "\(url.path) has no [default] profile with aws_access_key_id and aws_secret_access_key")
        }
        return Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: profile["aws_session_token"])
    }
}

/// The sections of an AWS-style INI file (`~/.aws/credentials`, `~/.aws/config`): `[name]` headers and
/// `key = value` lines; `#` and `;` start comments. Enough for credentials and profiles; not a general INI reader.
public struct INIFile: Sendable {
    public var sections: [String: [String: String]] = [:]

    public init(_ text: String) {
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
    }
}
