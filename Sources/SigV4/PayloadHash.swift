import Foundation

/// What a request declares about its body: the last line of the canonical request.
///
/// Clients send it in `x-amz-content-sha256` (S3 always; other services rarely). Signed streaming variants
/// mean the body is `aws-chunked` with per-chunk signatures (see ``ChunkSigner``); the ECDSA variants belong to
/// SigV4a and are recognised but not supported.
public enum PayloadHash: Sendable, Hashable {
    /// The lowercase hex SHA-256 of the whole body.
    case sha256(String)
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    case unsigned
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body, each chunk HMAC-signed.
    case streamingSigned
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks followed by a signed trailer.
    case streamingSignedWithTrailer
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks with a trailing checksum.
    case streamingUnsignedWithTrailer
    /// `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD` (SigV4a): recognised, not supported.
    case streamingECDSA
    /// `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER` (SigV4a): recognised, not supported.
    case streamingECDSAWithTrailer

    /// The SHA-256 of an empty body.
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The hash of an empty body.
    public static var empty: PayloadHash { .sha256(emptySHA256) }

    /// The hash of `body`.
    public static func of<D: DataProtocol>(_ body: D) -> PayloadHash {
        .sha256(Bytes.sha256Hex(body))
    }

    /// Reads an `x-amz-content-sha256` value; nil if it is neither a known keyword nor 64 hex digits.
    public init?(headerValue: String) {
        switch headerValue {
        case "UNSIGNED-PAYLOAD": self = .unsigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD": self = .streamingSigned
        case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER": self = .streamingSignedWithTrailer
        case "STREAMING-UNSIGNED-PAYLOAD-TRAILER": self = .streamingUnsignedWithTrailer
        case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD": self = .streamingECDSA
        case "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER": self = .streamingECDSAWithTrailer
        default:
            guard Bytes.isSHA256Hex(headerValue) else { return nil }
            self = .sha256(headerValue)
        }
    }

    /// The value as sent in `x-amz-content-sha256` and as written in the canonical request.
    public var headerValue: String {
        switch self {
        case .sha256(let hex): hex
        case .unsigned: "UNSIGNED-PAYLOAD"
        case .streamingSigned: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        case .streamingSignedWithTrailer: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        case .streamingUnsignedWithTrailer: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        case .streamingECDSA: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
        case .streamingECDSAWithTrailer: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
        }
    }

    /// Whether the body is `aws-chunked`.
    public var isStreaming: Bool {
        switch self {
        case .sha256, .unsigned: false
        default: true
        }
    }

    /// Whether each chunk carries an HMAC signature chained from the request signature.
    public var hasSignedChunks: Bool {
        self == .streamingSigned || self == .streamingSignedWithTrailer
    }

    /// Whether a trailer section follows the last chunk.
    public var hasTrailer: Bool {
        switch self {
        case .streamingSignedWithTrailer, .streamingUnsignedWithTrailer, .streamingECDSAWithTrailer: true
        default: false
        }
    }

    /// Whether this module can verify requests that declare this payload (everything but SigV4a).
    public var isSupported: Bool {
        self != .streamingECDSA && self != .streamingECDSAWithTrailer
    }
}
