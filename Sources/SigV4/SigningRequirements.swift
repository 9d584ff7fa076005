/// What an endpoint demands of a signature beyond its being valid: headers that must be among `SignedHeaders`, and
/// whether the payload line must be the body's SHA-256.
///
/// The AWS JSON protocols choose the operation by `X-Amz-Target` and the query protocol by the body, so a signature
/// that covers neither could be replayed as another operation within the skew window. AWS SDKs (botocore, the Ruby
/// SDK the CodeDeploy agent uses) sign both, so these endpoints can insist.
public struct SigningRequirements: Sendable, Hashable {
    /// Lowercase header names that `SignedHeaders` must list.
    public var signedHeaders: [String]
    /// Whether the payload line must be a SHA-256 of the body (no `UNSIGNED-PAYLOAD`, no `STREAMING-*` mode).
    public var signedPayload: Bool

    public init(signedHeaders: [String] = [], signedPayload: Bool = false) {
        self.signedHeaders = signedHeaders
        self.signedPayload = signedPayload
    }

    /// Nothing beyond SigV4 itself (S3, whose own rules are built into ``Verifier``).
    public static let none = SigningRequirements()
    /// AWS JSON 1.0/1.1 (CodeDeploy, the agent command API): `x-amz-target` signed, the body's SHA-256 signed.
    public static let awsJSON = SigningRequirements(signedHeaders: ["x-amz-target"], signedPayload: true)
    /// AWS query (IAM): the body, which names the action, signed as its SHA-256.
    public static let awsQuery = SigningRequirements(signedPayload: true)
}
