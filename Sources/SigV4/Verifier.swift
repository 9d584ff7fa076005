import Foundation

/// Checks SigV4 signatures on incoming requests.
///
/// A server typically calls ``authenticate(_:now:expectedRegion:expectedService:secretForAccessKey:)``, which
/// parses the authorization, asks for the secret of its access key id and verifies. The steps are also
/// available separately: ``Authorization/parse(_:)``, then
/// ``verify(_:authorization:secretAccessKey:now:expectedRegion:expectedService:)``.
public struct Verifier: Sendable {
    /// How far a header-signed request's time may be from `now`, either way. AWS allows 15 minutes.
    public var maxSkew: TimeInterval
    /// Where derived keys are kept between requests; nil derives one per request.
    public var keyCache: SigningKeyCache?

    /// Creates a verifier with AWS's 15-minute skew and a fresh key cache.
    public init(maxSkew: TimeInterval = 15 * 60, keyCache: SigningKeyCache? = SigningKeyCache()) {
        self.maxSkew = maxSkew
        self.keyCache = keyCache
    }

    /// Parses, looks up the secret and verifies in one go.
    ///
    /// `secretForAccessKey` returns nil for an unknown key, which becomes ``SigV4Error/Code/unknownAccessKey``.
    public func authenticate(
        _ request: VerificationRequest, now: Date, expectedRegion: String? = nil, expectedService: String? = nil,
        requirements: SigningRequirements = .none, secretForAccessKey: (String) -> String?
    ) throws(SigV4Error) -> VerifiedRequest {
        let authorization = try Authorization.parse(request)
        guard let secret = secretForAccessKey(authorization.accessKeyId) else {
            throw SigV4Error.unknownAccessKey(
                authorization.accessKeyId, viaQueryParameters: authorization.isPresigned)
        }
        return try verify(
            request, authorization: authorization, secretAccessKey: secret, now: now, expectedRegion: expectedRegion,
            expectedService: expectedService, requirements: requirements)
    }

    /// Verifies `request` against its parsed `authorization` and the secret of its access key.
    ///
    /// Checks, in order: region and service of the scope (when expected values are given), that the scope's day
    /// is the timestamp's day, the time window (skew for headers, expiry for presigned URLs), that `host` and
    /// the security token and, for S3, every `x-amz-*` header are signed, the payload hash, what `requirements`
    /// demand, the signature, and finally that a body hash declared in `x-amz-content-sha256` matches
    /// ``VerificationRequest/bodySHA256``.
    public func verify(
        _ request: VerificationRequest, authorization: Authorization, secretAccessKey: String, now: Date,
        expectedRegion: String? = nil, expectedService: String? = nil, requirements: SigningRequirements = .none
    ) throws(SigV4Error) -> VerifiedRequest {
        let scope = authorization.scope
        let viaQuery = authorization.isPresigned
        if let expectedRegion, scope.region != expectedRegion {
            throw SigV4Error(
                .wrongRegion,
                "Credential should be scoped to a valid region: the request is signed for '\(scope.region)' but this "
                    + "endpoint expects '\(expectedRegion)'.",
                viaQueryParameters: viaQuery)
        }
        if let expectedService, scope.service != expectedService {
            throw SigV4Error(
                .wrongService,
                "Credential should be scoped to the correct service: the request is signed for '\(scope.service)' "
                    + "but this endpoint expects '\(expectedService)'.",
                viaQueryParameters: viaQuery)
        }
        guard authorization.timestamp.hasPrefix(scope.date) else {
            throw SigV4Error(
                .credentialDateMismatch,
                "The credential scope's date \(scope.date) is not the day of the request timestamp "
                    + "\(authorization.timestamp).",
                viaQueryParameters: viaQuery)
        }
        try checkTime(authorization, now: now)
        let rule = PathCanonicalization.forService(scope.service)
        try checkSignedHeaders(request.headers, authorization: authorization, s3: rule == .s3)
        let payload = try payloadHash(request, authorization: authorization, s3: rule == .s3)
        try check(requirements, authorization: authorization, payload: payload)

        let (headerBlock, missing) = Canonical.headerBlock(request.headers, signedNames: authorization.signedHeaders)
        let canonicalRequest = Canonical.request(
            method: request.method, uri: Canonical.uri(path: request.path, rule: rule),
            query: Canonical.query(request.query, excluding: viaQuery ? "X-Amz-Signature" : nil),
            headerBlock: headerBlock, signedHeaders: authorization.signedHeaders.joined(separator: ";"),
            payload: payload.headerValue)
        let stringToSign = Canonical.stringToSign(
            timestamp: authorization.timestamp, scope: scope, canonicalRequest: canonicalRequest)
        let key =
            keyCache?.key(secretAccessKey: secretAccessKey, scope: scope)
            ?? SigningKey(secretAccessKey: secretAccessKey, scope: scope)
        guard Bytes.constantTimeEqualIgnoringCase(key.signature(for: stringToSign), authorization.signature) else {
            var message =
                "The signature does not match: the server computed a different signature for this request with the "
                + "secret of '\(authorization.accessKeyId)'. Check the secret access key and how the request was "
                + "signed (method, path, query, signed headers, payload hash)."
            if !missing.isEmpty {
                message += " Signed headers absent from the request: \(missing.joined(separator: ", "))."
            }
            throw SigV4Error(
                .signatureMismatch, message, viaQueryParameters: viaQuery, canonicalRequest: canonicalRequest,
                stringToSign: stringToSign)
        }
        if case .sha256(let declared) = payload, let actual = request.bodySHA256,
            !Bytes.equalsIgnoringASCIICase(declared, actual)
        {
            throw SigV4Error(
                .payloadHashMismatch,
                "The body's SHA-256 (\(actual)) is not the x-amz-content-sha256 the request signed (\(declared)).",
                viaQueryParameters: viaQuery)
        }
        return VerifiedRequest(authorization: authorization, payload: payload, signingKey: key)
    }

    private func checkTime(_ authorization: Authorization, now: Date) throws(SigV4Error) {
        let signedAt = authorization.date
        // Formatted only for a refusal's message: a request in time needs none of them.
        var nowStamp: String { AmzDate.timestamp(from: now) }
        var earliest: String { AmzDate.timestamp(from: now.addingTimeInterval(-maxSkew)) }
        var latest: String { AmzDate.timestamp(from: now.addingTimeInterval(maxSkew)) }
        switch authorization.location {
        case .header:
            let minutes = Int(maxSkew / 60)
            if signedAt < now.addingTimeInterval(-maxSkew) {
                throw SigV4Error(
                    .requestTimeTooSkewed,
                    "Signature expired: \(authorization.timestamp) is now earlier than "
                        + "\(earliest) (\(nowStamp) - \(minutes) min.); "
                        + "the request time is too far from the server time, check the client clock.")
            }
            if signedAt > now.addingTimeInterval(maxSkew) {
                throw SigV4Error(
                    .requestTimeTooSkewed,
                    "Signature not yet current: \(authorization.timestamp) is still later than "
                        + "\(latest) (\(nowStamp) + \(minutes) min.); "
                        + "the request time is too far from the server time, check the client clock.")
            }
        case .query(let expires):
            if signedAt > now.addingTimeInterval(maxSkew) {
                throw SigV4Error(
                    .presignedURLNotYetValid,
                    "Request is not valid yet: the URL was signed for \(authorization.timestamp), later than the "
                        + "server time \(nowStamp).",
                    viaQueryParameters: true)
            }
            if now > signedAt.addingTimeInterval(TimeInterval(expires)) {
                throw SigV4Error(
                    .presignedURLExpired,
                    "Request has expired: the URL signed at \(authorization.timestamp) was valid for \(expires) "
                        + "seconds and the server time is \(nowStamp).",
                    viaQueryParameters: true)
            }
        }
    }

    private func checkSignedHeaders(_ headers: [HTTPHeader], authorization: Authorization, s3: Bool)
        throws(SigV4Error)
    {
        let signed = Set(authorization.signedHeaders)
        var unsigned: [String] = []
        if !signed.contains("host") && !signed.contains(":authority") { unsigned.append("host") }
        for header in headers {
            let name = Bytes.asciiLowercased(header.name)
            guard !signed.contains(name), !unsigned.contains(name) else { continue }
            // S3 reads its operation from `x-amz-*` headers (`x-amz-copy-source` turns a PUT into a copy), so each
            // one must be signed, in a presigned URL as much as in a header signature: otherwise whoever holds a
            // URL could add one and change what the request does.
            if name == "x-amz-security-token" || (s3 && name.hasPrefix("x-amz-")) {
                unsigned.append(name)
            }
        }
        guard unsigned.isEmpty else {
            throw SigV4Error(
                .headersNotSigned,
                "There were headers present in the request which were not signed: \(unsigned.joined(separator: ", ")).",
                viaQueryParameters: authorization.isPresigned)
        }
    }

    private func check(_ requirements: SigningRequirements, authorization: Authorization, payload: PayloadHash)
        throws(SigV4Error)
    {
        let unsigned = requirements.signedHeaders.filter { !authorization.signedHeaders.contains($0) }
        guard unsigned.isEmpty else {
            throw SigV4Error(
                .headersNotSigned,
                "There were headers present in the request which were not signed: \(unsigned.joined(separator: ", ")) "
                    + "must be in SignedHeaders for this endpoint (AWS SDKs sign it).",
                viaQueryParameters: authorization.isPresigned)
        }
        if requirements.signedPayload, case .sha256 = payload {
        } else if requirements.signedPayload {
            throw SigV4Error(
                .unsupportedPayload,
                "This endpoint needs the request body signed as its SHA-256; x-amz-content-sha256 "
                    + "'\(payload.headerValue)' is not accepted here (send the hex SHA-256 of the body, or no "
                    + "x-amz-content-sha256 header).",
                viaQueryParameters: authorization.isPresigned)
        }
    }

    private func payloadHash(_ request: VerificationRequest, authorization: Authorization, s3: Bool)
        throws(SigV4Error) -> PayloadHash
    {
        if let declared = request.headers.first(named: "x-amz-content-sha256") {
            guard let payload = PayloadHash(headerValue: declared) else {
                throw SigV4Error(
                    .invalidPayloadHash,
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* mode or a SHA-256 in hex; got "
                        + "'\(declared)'.",
                    viaQueryParameters: authorization.isPresigned)
            }
            guard payload.isSupported else {
                throw SigV4Error(
                    .unsupportedPayload,
                    "x-amz-content-sha256 '\(declared)' (SigV4a streaming) is not supported by this server.",
                    viaQueryParameters: authorization.isPresigned)
            }
            return payload
        }
        if authorization.isPresigned && s3 { return .unsigned }
        guard let body = request.bodySHA256 else {
            throw SigV4Error(
                .missingPayloadHash,
                "Missing required header for this request: x-amz-content-sha256 (the payload hash to verify against).",
                viaQueryParameters: authorization.isPresigned)
        }
        return .sha256(body)
    }
}

/// A request whose signature checked out.
public struct VerifiedRequest: Sendable, Hashable {
    /// The authorization that was verified; its access key id is the caller's identity.
    public var authorization: Authorization
    /// The payload line that was signed. For ``PayloadHash/sha256(_:)`` the body has been checked too when the
    /// server supplied its hash; ``PayloadHash/unsigned`` means the body is not covered; streaming modes need
    /// their chunks checked with ``chunkSigner()``.
    public var payload: PayloadHash
    /// The key that verified, for checking chunk signatures.
    public var signingKey: SigningKey

    /// A chunk signer seeded with the request signature, for bodies with signed chunks; nil otherwise.
    public func chunkSigner() -> ChunkSigner? {
        guard payload.hasSignedChunks else { return nil }
        return ChunkSigner(
            signingKey: signingKey, timestamp: authorization.timestamp, seedSignature: authorization.signature)
    }
}
