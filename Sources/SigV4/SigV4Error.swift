/// Why a request failed SigV4 authentication, with the names AWS uses on the wire.
///
/// The server picks the protocol it is answering in (``WireProtocol``) and renders ``wireCode(for:)``,
/// ``httpStatus(for:)`` and ``message``. For a signature mismatch the canonical request and string to sign
/// the server computed are attached, as S3 does in its error body, so a client author can diff them.
public struct SigV4Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, independent of protocol.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// Neither an `Authorization` header nor presigned query parameters.
        case missingAuthentication
        /// Both an `Authorization` header and presigned query parameters.
        case conflictingAuthentication
        /// The `Authorization` header or the presigned parameters cannot be parsed.
        case malformedAuthorization
        /// An algorithm other than `AWS4-HMAC-SHA256` (SigV2, SigV4a, ...).
        case unsupportedAlgorithm
        /// No usable `X-Amz-Date` (or `Date`) to sign with.
        case missingDate
        /// The access key id is not known to the server (decided by the caller).
        case unknownAccessKey
        /// The credential scope names another region.
        case wrongRegion
        /// The credential scope names another service.
        case wrongService
        /// The credential scope's day differs from the request timestamp's day.
        case credentialDateMismatch
        /// The request time is too far from the server clock.
        case requestTimeTooSkewed
        /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
        case presignedURLExpired
        /// A presigned URL dated in the future beyond the allowed skew.
        case presignedURLNotYetValid
        /// Headers that must be signed (`host`, `x-amz-*`) are not in `SignedHeaders`.
        case headersNotSigned
        /// `x-amz-content-sha256` is neither a keyword nor a SHA-256 hex digest.
        case invalidPayloadHash
        /// A payload mode this module cannot verify (SigV4a streaming), or one the endpoint does not accept
        /// (anything but a SHA-256 of the body for the JSON and query protocols; see ``SigningRequirements``).
        case unsupportedPayload
        /// No payload hash: no body hash given and no `x-amz-content-sha256` header.
        case missingPayloadHash
        /// The signature computed by the server differs from the one sent.
        case signatureMismatch
        /// The body's SHA-256 differs from the signed `x-amz-content-sha256`.
        case payloadHashMismatch
    }

    /// The error dialect a response is rendered in.
    public enum WireProtocol: Sendable, Hashable, CaseIterable {
        /// AWS JSON 1.0/1.1 services (CodeDeploy, the agent command API): `__type` codes ending in `Exception`.
        case json
        /// AWS query services (IAM, STS): `<Error><Code>` names without the suffix.
        case query
        /// S3 REST XML.
        case s3
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence for the response's message field.
    public var message: String
    /// Whether the request used presigned query parameters (S3 names some errors differently then).
    public var viaQueryParameters: Bool
    /// The canonical request the server computed, for signature mismatches.
    public var canonicalRequest: String?
    /// The string to sign the server computed, for signature mismatches.
    public var stringToSign: String?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, viaQueryParameters: Bool = false, canonicalRequest: String? = nil,
        stringToSign: String? = nil
    ) {
        self.code = code
        self.message = message
        self.viaQueryParameters = viaQueryParameters
        self.canonicalRequest = canonicalRequest
        self.stringToSign = stringToSign
    }

    /// The error for an access key id the server does not know; the lookup is the caller's.
    public static func unknownAccessKey(_ accessKeyId: String, viaQueryParameters: Bool = false) -> SigV4Error {
        SigV4Error(
            .unknownAccessKey,
            "The access key id '\(accessKeyId)' is not known to this server; the security token included in the "
                + "request is invalid.",
            viaQueryParameters: viaQueryParameters)
    }

    /// The error code name AWS uses for this failure in `wireProtocol`.
    public func wireCode(for wireProtocol: WireProtocol) -> String {
        switch wireProtocol {
        case .json: jsonCode
        case .query: queryCode
        case .s3: s3Code
        }
    }

    /// The HTTP status AWS answers this failure with in `wireProtocol`.
    public func httpStatus(for wireProtocol: WireProtocol) -> Int {
        switch wireProtocol {
        case .json:
            return 400
        case .query:
            switch code {
            case .conflictingAuthentication, .malformedAuthorization, .unsupportedAlgorithm, .missingDate,
                .missingPayloadHash:
                return 400
            default:
                return 403
            }
        case .s3:
            switch s3Code {
            case "AccessDenied", "SignatureDoesNotMatch", "RequestTimeTooSkewed", "InvalidAccessKeyId": return 403
            case "NotImplemented": return 501
            default: return 400
            }
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }

    private var jsonCode: String {
        switch code {
        case .missingAuthentication: "MissingAuthenticationTokenException"
        case .conflictingAuthentication, .malformedAuthorization, .unsupportedAlgorithm, .missingDate,
            .missingPayloadHash:
            "IncompleteSignatureException"
        case .unknownAccessKey: "UnrecognizedClientException"
        default: "InvalidSignatureException"
        }
    }

    private var queryCode: String {
        switch code {
        case .missingAuthentication: "MissingAuthenticationToken"
        case .conflictingAuthentication, .malformedAuthorization, .unsupportedAlgorithm, .missingDate,
            .missingPayloadHash:
            "IncompleteSignature"
        case .unknownAccessKey: "InvalidClientTokenId"
        default: "SignatureDoesNotMatch"
        }
    }

    private var s3Code: String {
        let malformed = viaQueryParameters ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed"
        return switch code {
        case .missingAuthentication, .missingDate, .presignedURLExpired, .presignedURLNotYetValid, .headersNotSigned:
            "AccessDenied"
        case .conflictingAuthentication, .invalidPayloadHash: "InvalidArgument"
        case .malformedAuthorization, .wrongRegion, .wrongService, .credentialDateMismatch: malformed
        case .unsupportedAlgorithm, .missingPayloadHash: "InvalidRequest"
        case .unknownAccessKey: "InvalidAccessKeyId"
        case .requestTimeTooSkewed: "RequestTimeTooSkewed"
        case .unsupportedPayload: "NotImplemented"
        case .signatureMismatch: "SignatureDoesNotMatch"
        case .payloadHashMismatch: "XAmzContentSHA256Mismatch"
        }
    }
}
