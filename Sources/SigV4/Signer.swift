import Foundation

/// Signs requests with AWS Signature Version 4, in the `Authorization` header or as a presigned query.
///
/// Paths and queries are given raw, exactly as they will be sent (already percent-encoded); the signer builds
/// the canonical forms from them the same way ``Verifier`` does on the other side. The `Host` header must be
/// among `headers` for it to be signed (it always should be).
public struct Signer: Sendable {
    /// The keys to sign with.
    public var credentials: Credentials
    /// The region in the credential scope.
    public var region: String
    /// The service signing name in the credential scope.
    public var service: String
    /// How the path becomes the canonical URI (S3 or everyone else).
    public var pathCanonicalization: PathCanonicalization
    /// Where derived keys are kept between calls; nil derives a key per call.
    public var keyCache: SigningKeyCache?

    /// Creates a signer; the path rule defaults to the one AWS uses for `service`.
    public init(
        credentials: Credentials, region: String, service: String,
        pathCanonicalization: PathCanonicalization? = nil, keyCache: SigningKeyCache? = nil
    ) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.pathCanonicalization = pathCanonicalization ?? .forService(service)
        self.keyCache = keyCache
    }

    /// The result of header signing.
    public struct SignedRequest: Sendable, Hashable {
        /// The full header list to send: the input headers, minus the ones replaced, plus ``addedHeaders``.
        public var headers: [HTTPHeader]
        /// The headers the signer added: `X-Amz-Date`, `X-Amz-Security-Token`, `x-amz-content-sha256`
        /// (when asked) and `Authorization`.
        public var addedHeaders: [HTTPHeader]
        /// The `Authorization` header value.
        public var authorization: String
        /// The hex signature (the seed signature for a streaming upload).
        public var signature: String
        /// The `SignedHeaders` list.
        public var signedHeaders: String
        /// The signing timestamp.
        public var timestamp: String
        /// The key that signed (for chaining chunk signatures).
        public var signingKey: SigningKey
        /// The canonical request, for debugging.
        public var canonicalRequest: String
        /// The string to sign, for debugging.
        public var stringToSign: String

        /// A chunk signer seeded with this request's signature, for `aws-chunked` uploads.
        public func chunkSigner() -> ChunkSigner {
            ChunkSigner(signingKey: signingKey, timestamp: timestamp, seedSignature: signature)
        }
    }

    /// The result of presigning.
    public struct PresignedRequest: Sendable, Hashable {
        /// The complete query string to send (the original one plus the `X-Amz-*` parameters), without `?`.
        public var query: String
        /// The hex signature.
        public var signature: String
        /// The canonical request, for debugging.
        public var canonicalRequest: String
        /// The string to sign, for debugging.
        public var stringToSign: String
    }

    /// Signs a request in the `Authorization` header.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The raw path as it will be sent.
    ///   - query: The raw query string as it will be sent, without `?`.
    ///   - headers: The headers that will be sent, including `Host`. Hop-by-hop headers and `User-Agent` are
    ///     not signed. Any `Authorization`, `X-Amz-Date` (and, when replaced, `X-Amz-Security-Token` and
    ///     `x-amz-content-sha256`) already present are replaced.
    ///   - payload: The body hash, `UNSIGNED-PAYLOAD` or a streaming mode.
    ///   - date: The signing time; nothing here reads the clock.
    ///   - addContentSHA256Header: Whether to send `x-amz-content-sha256`; nil means "if the service is S3".
    public func sign(
        method: String, path: String, query: String = "", headers: [HTTPHeader], payload: PayloadHash, date: Date,
        addContentSHA256Header: Bool? = nil
    ) -> SignedRequest {
        let timestamp = AmzDate.timestamp(from: date)
        let scope = CredentialScope(date: String(timestamp.prefix(8)), region: region, service: service)
        var kept = headers.removing(named: "Authorization").removing(named: "X-Amz-Date")
        var added = [HTTPHeader("X-Amz-Date", timestamp)]
        if let token = credentials.sessionToken {
            kept = kept.removing(named: "X-Amz-Security-Token")
            added.append(HTTPHeader("X-Amz-Security-Token", token))
        }
        if addContentSHA256Header ?? (pathCanonicalization == .s3) {
            kept = kept.removing(named: "x-amz-content-sha256")
            added.append(HTTPHeader("x-amz-content-sha256", payload.headerValue))
        }
        let all = kept + added
        let names = Canonical.signableNames(all)
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = Canonical.request(
            method: method, uri: Canonical.uri(path: path, rule: pathCanonicalization),
            query: Canonical.query(query), headerBlock: Canonical.headerBlock(all, signedNames: names).block,
            signedHeaders: signedHeaders, payload: payload.headerValue)
        let stringToSign = Canonical.stringToSign(
            timestamp: timestamp, scope: scope, canonicalRequest: canonicalRequest)
        let key = signingKey(scope)
        let signature = key.signature(for: stringToSign)
        let authorization =
            "\(Canonical.algorithm) Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), "
            + "Signature=\(signature)"
        added.append(HTTPHeader("Authorization", authorization))
        return SignedRequest(
            headers: kept + added, addedHeaders: added, authorization: authorization, signature: signature,
            signedHeaders: signedHeaders, timestamp: timestamp, signingKey: key, canonicalRequest: canonicalRequest,
            stringToSign: stringToSign)
    }

    /// Presigns a request: returns the query string carrying the signature, valid for `expires` seconds.
    ///
    /// - Parameters:
    ///   - method: The HTTP method the URL is for.
    ///   - path: The raw path as it will be sent.
    ///   - query: Any raw query of the request itself, without `?`.
    ///   - headers: Headers the user of the URL must send, normally just `Host`.
    ///   - expires: Lifetime in seconds, at most ``Authorization/maximumExpires``.
    ///   - date: The signing time.
    ///   - payload: The payload line; nil means `UNSIGNED-PAYLOAD` for S3 and the empty-body hash otherwise.
    public func presign(
        method: String, path: String, query: String = "", headers: [HTTPHeader], expires: Int, date: Date,
        payload: PayloadHash? = nil
    ) -> PresignedRequest {
        let timestamp = AmzDate.timestamp(from: date)
        let scope = CredentialScope(date: String(timestamp.prefix(8)), region: region, service: service)
        let names = Canonical.signableNames(headers)
        let signedHeaders = names.joined(separator: ";")
        var parameters = [
            ("X-Amz-Algorithm", Canonical.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyId)/\(scope)"),
            ("X-Amz-Date", timestamp),
            ("X-Amz-Expires", String(expires)),
            ("X-Amz-SignedHeaders", signedHeaders),
        ]
        if let token = credentials.sessionToken { parameters.append(("X-Amz-Security-Token", token)) }
        let authQuery = parameters.map { "\(URIEncoding.encode($0.0))=\(URIEncoding.encode($0.1))" }
            .joined(separator: "&")
        let fullQuery = query.isEmpty ? authQuery : "\(query)&\(authQuery)"
        let payloadLine = (payload ?? (pathCanonicalization == .s3 ? .unsigned : .empty)).headerValue
        let canonicalRequest = Canonical.request(
            method: method, uri: Canonical.uri(path: path, rule: pathCanonicalization),
            query: Canonical.query(fullQuery), headerBlock: Canonical.headerBlock(headers, signedNames: names).block,
            signedHeaders: signedHeaders, payload: payloadLine)
        let stringToSign = Canonical.stringToSign(
            timestamp: timestamp, scope: scope, canonicalRequest: canonicalRequest)
        let signature = signingKey(scope).signature(for: stringToSign)
        return PresignedRequest(
            query: "\(fullQuery)&X-Amz-Signature=\(signature)", signature: signature,
            canonicalRequest: canonicalRequest, stringToSign: stringToSign)
    }

    private func signingKey(_ scope: CredentialScope) -> SigningKey {
        keyCache?.key(secretAccessKey: credentials.secretAccessKey, scope: scope)
            ?? SigningKey(secretAccessKey: credentials.secretAccessKey, scope: scope)
    }
}
