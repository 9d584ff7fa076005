import Foundation

/// An AWS-style access key pair, optionally with a session token.
public struct Credentials: Sendable, Hashable {
    /// The public half, sent in the `Credential` field (e.g. `AKIAIOSFODNN7EXAMPLE`).
    public var accessKeyId: String
    /// The secret half; never sent, only used to derive signing keys.
    public var secretAccessKey: String
    /// A temporary-credential token, sent as `X-Amz-Security-Token` when present.
    public var sessionToken: String?

    /// Creates credentials from their parts.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

extension Credentials: CustomStringConvertible {
    /// Names the access key only; the secret and token are never printed.
    public var description: String { "Credentials(\(accessKeyId), secret: <redacted>)" }
}

/// The credential scope `<yyyyMMdd>/<region>/<service>/aws4_request` a signature is bound to.
public struct CredentialScope: Sendable, Hashable, CustomStringConvertible {
    /// The fixed terminator of every SigV4 scope.
    public static let terminator = "aws4_request"

    /// The UTC day, `yyyyMMdd`.
    public var date: String
    /// The region name, e.g. `us-east-1`.
    public var region: String
    /// The signing name of the service, e.g. `codedeploy`, `s3`, `iam`.
    public var service: String

    /// Creates a scope from a `yyyyMMdd` day, a region and a service signing name.
    public init(date: String, region: String, service: String) {
        self.date = date
        self.region = region
        self.service = service
    }

    /// Creates the scope for the UTC day of `date`.
    public init(date: Date, region: String, service: String) {
        self.init(date: String(AmzDate.timestamp(from: date).prefix(8)), region: region, service: service)
    }

    /// The scope as it appears in the string to sign: `20150830/us-east-1/iam/aws4_request`.
    public var description: String { "\(date)/\(region)/\(service)/\(Self.terminator)" }
}
