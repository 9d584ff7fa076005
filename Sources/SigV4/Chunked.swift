import Crypto
import Foundation

/// Computes the chained signatures of an `aws-chunked` body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`).
///
/// The chain starts at the request's own signature (the seed). Each chunk, including the final empty one, is
/// signed over `AWS4-HMAC-SHA256-PAYLOAD`, the timestamp, the scope, the previous signature, the hash of the
/// empty string and the chunk's hash; the trailer, if any, over `AWS4-HMAC-SHA256-TRAILER`, the timestamp,
/// the scope, the last chunk signature and the hash of the canonical trailer lines.
public struct ChunkSigner: Sendable, Hashable {
    /// The key of the request that started the chain.
    public let signingKey: SigningKey
    /// The request's signing timestamp.
    public let timestamp: String
    /// The signature the next chunk chains from (the seed, then each chunk's).
    public private(set) var previousSignature: String

    /// Starts a chain at `seedSignature`, the signature of the request carrying the body.
    public init(signingKey: SigningKey, timestamp: String, seedSignature: String) {
        self.signingKey = signingKey
        self.timestamp = timestamp
        self.previousSignature = seedSignature
    }

    /// Signs the next chunk given its SHA-256 (hex), advancing the chain.
    public mutating func sign(chunkSHA256: String) -> String {
        let stringToSign =
            "AWS4-HMAC-SHA256-PAYLOAD\n\(timestamp)\n\(signingKey.scope)\n\(previousSignature)\n"
            + "\(PayloadHash.emptySHA256)\n\(chunkSHA256)"
        previousSignature = signingKey.signature(for: stringToSign)
        return previousSignature
    }

    /// Signs the next chunk's bytes, advancing the chain.
    public mutating func sign<D: DataProtocol>(chunk: D) -> String {
        sign(chunkSHA256: Bytes.sha256Hex(chunk))
    }

    /// Checks the signature sent with the next chunk and advances the chain; false means the body is forged.
    public mutating func verify<D: DataProtocol>(chunk: D, signature: String) -> Bool {
        Bytes.constantTimeEqualIgnoringCase(sign(chunk: chunk), signature)
    }

    /// The signature of the trailer that follows the last (empty) chunk.
    ///
    /// `trailers` are the trailing headers in the order sent; they are written as lowercase `name:value` lines,
    /// each ending in `\n`, before hashing.
    public mutating func signTrailer(_ trailers: [HTTPHeader]) -> String {
        let canonical = trailers.map { "\(Bytes.asciiLowercased($0.name)):\(Canonical.foldWhitespace($0.value))\n" }
            .joined()
        let stringToSign =
            "AWS4-HMAC-SHA256-TRAILER\n\(timestamp)\n\(signingKey.scope)\n\(previousSignature)\n"
            + Bytes.sha256Hex(canonical)
        previousSignature = signingKey.signature(for: stringToSign)
        return previousSignature
    }

    /// Checks a trailer signature (`x-amz-trailer-signature`) and advances the chain.
    public mutating func verifyTrailer(_ trailers: [HTTPHeader], signature: String) -> Bool {
        Bytes.constantTimeEqualIgnoringCase(signTrailer(trailers), signature)
    }
}
