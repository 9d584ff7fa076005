import ArtifactStore
import Crypto
import Foundation
import Hummingbird
import SigV4
import SlipwayModel
import Store

/// Verifies the SigV4 signature of every API request against the access keys in the store.
struct Authenticator: Sendable {
    let store: any Store
    let region: String
    let accountID: String
    let verifier: Verifier
    /// Principals already loaded; `store` must be an ``InvalidatingStore`` over this cache (or the only writer of
    /// keys and users must invalidate it) for changes to keys and users to take effect at once.
    let principals: PrincipalCache

    init(
        store: any Store, region: String, accountID: String, maximumClockSkew: TimeInterval,
        principals: PrincipalCache = PrincipalCache()
    ) {
        self.store = store
        self.region = region
        self.accountID = accountID
        self.verifier = Verifier(maxSkew: maximumClockSkew)
        self.principals = principals
    }

    /// A request whose signature names an active key, before its body is read: what it signed and who signed it.
    /// Nobody without a key makes the server read (up to 4 MiB of) a body; the signature itself covers the body and
    /// is checked once the body is there.
    struct Admission: Sendable {
        fileprivate var signed: VerificationRequest
        fileprivate let authorization: Authorization
        fileprivate let key: AccessKeyRecord
        let principal: Principal
    }

    /// The admission of a request of an AWS JSON protocol, or an `AWSJSONError` (HTTP 403).
    func admit(_ request: Request) async throws -> Admission {
        do {
            return try await admission(request)
        } catch let error as SigV4Error {
            throw AWSJSONError(type: error.wireCode(for: .json), message: error.message, status: 403)
        }
    }

    /// The admission of an IAM request, or an ``IAMError`` in the query protocol's terms.
    func admitIAM(_ request: Request) async throws -> Admission {
        do {
            return try await admission(request)
        } catch let error as SigV4Error {
            throw IAMError(
                code: error.wireCode(for: .query), message: error.message, status: error.httpStatus(for: .query))
        }
    }

    /// The principal of an admitted request of an AWS JSON protocol once its signature over `body` is verified, or an
    /// `AWSJSONError` (HTTP 403) that says what is wrong with the signature. `service` is the signing name the
    /// endpoint expects. `X-Amz-Target` and the body's SHA-256 must be signed (``SigningRequirements/awsJSON``).
    func authenticate(_ admission: Admission, body: Data, service: String, now: Date) throws -> Principal {
        do {
            return try verify(
                admission, body: body, service: service, regions: [region], requirements: .awsJSON, now: now)
        } catch let error as SigV4Error {
            throw AWSJSONError(type: error.wireCode(for: .json), message: error.message, status: 403)
        }
    }

    /// ``admit(_:)`` and ``authenticate(_:body:service:now:)`` in one, for a body already read.
    func authenticate(_ request: Request, body: Data, service: String, now: Date) async throws -> Principal {
        try authenticate(try await admit(request), body: body, service: service, now: now)
    }

    /// The principal of an admitted IAM request once its signature over `body` is verified, or an ``IAMError``.
    ///
    /// IAM signs for `us-east-1`; the AWS SDKs, given a custom endpoint, sign for the client's region instead, so
    /// the server's own region is accepted too.
    func authenticateIAM(_ admission: Admission, body: Data, now: Date) throws -> Principal {
        try authenticateQuery(admission, body: body, service: "iam", regions: ["us-east-1", region], now: now)
    }

    /// The principal of an admitted query-protocol request (IAM, SNS) signed for `service` in one of `regions`, or
    /// the protocol's XML error.
    func authenticateQuery(_ admission: Admission, body: Data, service: String, regions: [String], now: Date) throws
        -> Principal
    {
        do {
            return try verify(
                admission, body: body, service: service, regions: regions, requirements: .awsQuery, now: now)
        } catch let error as SigV4Error {
            throw IAMError(
                code: error.wireCode(for: .query), message: error.message, status: error.httpStatus(for: .query))
        }
    }

    /// ``admitIAM(_:)`` and ``authenticateIAM(_:body:now:)`` in one, for a body already read.
    func authenticateIAM(_ request: Request, body: Data, now: Date) async throws -> Principal {
        try authenticateIAM(try await admitIAM(request), body: body, now: now)
    }

    private func admission(_ request: Request) async throws -> Admission {
        // HTTP/1 `Host` arrives as the request's authority (swift-http-types keeps it apart from the fields), yet
        // clients sign it as a header.
        var headers = request.headers.map { HTTPHeader($0.name.rawName, $0.value) }
        if let authority = request.head.authority { headers.append(HTTPHeader("host", authority)) }
        let signed = VerificationRequest(
            method: request.method.rawValue, target: request.head.path ?? "/", headers: headers, bodySHA256: nil)
        let authorization = try Authorization.parse(signed)
        guard let (key, principal) = try await principal(accessKeyId: authorization.accessKeyId) else {
            throw SigV4Error.unknownAccessKey(authorization.accessKeyId)
        }
        return Admission(signed: signed, authorization: authorization, key: key, principal: principal)
    }

    /// `requirements`: the JSON protocols need `X-Amz-Target` and the body's SHA-256 signed, the query protocol the
    /// body's SHA-256, so that a captured request cannot be replayed as another operation.
    private func verify(
        _ admission: Admission, body: Data, service: String, regions: [String], requirements: SigningRequirements,
        now: Date
    ) throws -> Principal {
        var signed = admission.signed
        signed.bodySHA256 = Self.sha256Hex(body)
        let region = regions.first { $0 == admission.authorization.scope.region } ?? regions[0]
        _ = try verifier.verify(
            signed, authorization: admission.authorization, secretAccessKey: admission.key.secretAccessKey, now: now,
            expectedRegion: region, expectedService: service, requirements: requirements)
        return admission.principal
    }

    /// The active key `accessKeyId` and its principal, from ``principals`` or one read of the store: the key and, for
    /// an IAM user's key, the user with its policies. Nil for an unknown or inactive key, or a key whose user is gone.
    func principal(accessKeyId: String) async throws -> (AccessKeyRecord, Principal)? {
        if let cached = principals.lookup(accessKeyId) { return cached }
        let generation = principals.generation
        guard let (key, principal) = try await loadPrincipal(accessKeyId: accessKeyId) else { return nil }
        principals.insert(accessKeyId, key: key, principal: principal, generation: generation)
        return (key, principal)
    }

    private func loadPrincipal(accessKeyId: String) async throws -> (AccessKeyRecord, Principal)? {
        let loaded = try await store.read { tx -> (AccessKeyRecord, IAMUserRecord?)? in
            guard let key = try tx.get(AccessKeyRecord.self, .accessKey, name: accessKeyId), key.status == "Active"
            else { return nil }
            return (key, try key.userName.flatMap { try tx.iamUser($0) })
        }
        guard let (key, user) = loaded else { return nil }
        if key.userName != nil {
            guard let user else { return nil }
            let arn = user.arn(accountID: accountID)
            return (
                key,
                Principal(
                    accessKeyId: key.accessKeyId, arn: arn, userName: user.userName, role: nil, instanceName: nil,
                    permissions: user.permissions, instanceHost: user.instanceName == nil ? nil : arn)
            )
        }
        let role = key.role ?? .agent
        let arn = key.principalARN(accountID: accountID)
        return (
            key,
            Principal(
                accessKeyId: key.accessKeyId, arn: arn, userName: nil, role: role, instanceName: key.instanceName,
                permissions: role.permissions, instanceHost: role == .agent ? key.principalArn : nil)
        )
    }

    static func sha256Hex(_ body: Data) -> String? {
        if case .sha256(let hex) = PayloadHash.of(body) { return hex }
        return nil
    }
}

/// Who signed an S3 request, and what the signature says about its body.
struct S3Authentication: Sendable {
    let principal: Principal
    /// The payload line that was signed (`UNSIGNED-PAYLOAD` for presigned URLs).
    let payload: PayloadHash
    /// For signed aws-chunked bodies: the chain seeded with the request signature.
    let chunkSigner: ChunkSigner?
}

extension Authenticator {
    /// The principal of a signed S3 request and what its signature covers (for checking the body as it streams).
    ///
    /// S3 bodies are not read before authentication: the payload line is the `x-amz-content-sha256` value the
    /// request signed (`UNSIGNED-PAYLOAD` for presigned URLs), and a declared SHA-256 is checked by the body
    /// receiver as the bytes stream in. Presigned URLs of the older query form (`AWSAccessKeyId`, `Signature`,
    /// `Expires`), which `aws s3 presign` and boto3 make by default for a custom endpoint, are accepted too.
    /// Failures are S3 errors (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, …).
    func authenticateS3(_ request: Request, now: Date) async throws -> S3Authentication {
        var headers = request.headers.map { HTTPHeader($0.name.rawName, $0.value) }
        if let authority = request.head.authority { headers.append(HTTPHeader("host", authority)) }
        let signed = VerificationRequest(
            method: request.method.rawValue, target: request.head.path ?? "/", headers: headers, bodySHA256: nil)
        if let legacy = try await authenticateS3QueryV2(signed, now: now) { return legacy }
        do {
            let authorization = try Authorization.parse(signed)
            guard let (key, principal) = try await principal(accessKeyId: authorization.accessKeyId) else {
                throw SigV4Error.unknownAccessKey(
                    authorization.accessKeyId, viaQueryParameters: authorization.isPresigned)
            }
            let verified = try verifier.verify(
                signed, authorization: authorization, secretAccessKey: key.secretAccessKey, now: now,
                expectedRegion: region, expectedService: "s3")
            return S3Authentication(
                principal: principal, payload: verified.payload, chunkSigner: verified.chunkSigner())
        } catch let error as SigV4Error {
            var details: [(String, String)] = []
            if let accessKey = try? Authorization.parse(signed).accessKeyId {
                details.append(("AWSAccessKeyId", accessKey))
            }
            if let stringToSign = error.stringToSign { details.append(("StringToSign", stringToSign)) }
            if let canonicalRequest = error.canonicalRequest { details.append(("CanonicalRequest", canonicalRequest)) }
            throw S3Error(
                error.wireCode(for: .s3), error.message, status: error.httpStatus(for: .s3), details: details)
        }
    }

    /// The sub-resources that S3's query-string signatures (version 2) cover, in the order they are signed.
    static let signedSubresources: Set<String> = [
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
        "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent",
        "uploadId", "uploads", "versionId", "versioning", "versions", "website",
    ]

    /// The longest a version-2 presigned URL may still be valid for, as for SigV4's `X-Amz-Expires`: seven days.
    static let maximumQueryV2Lifetime = 604_800

    /// Checks a version-2 `Expires`: whole seconds since 1970 in digits only (no sign, fraction, exponent, `inf` or
    /// `nan`), not passed, and at most ``maximumQueryV2Lifetime`` seconds after `now`.
    static func checkQueryV2Expiry(_ text: String, now: Date) throws(S3Error) {
        let digits = text.utf8
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw S3Error(
                "AuthorizationQueryParametersError",
                "Expires must be the time the URL expires as a whole number of seconds since 1970, digits only; got "
                    + "'\(text)'.",
                status: 400)
        }
        let current = Int64(now.timeIntervalSince1970.rounded(.down))
        // More than 18 digits is beyond any Int64 and so beyond the longest lifetime as well.
        guard digits.count <= 18, let expires = Int64(text),
            expires - current <= Int64(maximumQueryV2Lifetime)
        else {
            throw S3Error(
                "AuthorizationQueryParametersError",
                "Expires must be at most \(maximumQueryV2Lifetime) seconds (7 days) after the current time; presign "
                    + "the URL again with a shorter lifetime.",
                status: 400)
        }
        guard current <= expires else { throw S3Error.accessDenied("Request has expired") }
    }

    /// Verifies a version-2 presigned URL (`?AWSAccessKeyId=…&Expires=…&Signature=…`); nil if the request is not one.
    ///
    /// The string to sign is the method, `Content-MD5`, `Content-Type`, `Expires`, the `x-amz-*` headers and the
    /// resource (raw path plus signed sub-resources), newline-separated; the signature is its HMAC-SHA1 in base64.
    private func authenticateS3QueryV2(_ request: VerificationRequest, now: Date) async throws -> S3Authentication? {
        var parameters: [(name: String, value: String)] = []
        for pair in request.query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            parameters.append((name, value))
        }
        func value(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
        guard let accessKeyID = value("AWSAccessKeyId"), let signature = value("Signature"),
            let expiresText = value("Expires")
        else { return nil }
        try Self.checkQueryV2Expiry(expiresText, now: now)
        guard let (key, principal) = try await principal(accessKeyId: accessKeyID) else {
            throw S3Error(
                "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                status: 403, details: [("AWSAccessKeyId", accessKeyID)])
        }
        var amzHeaders: [String: [String]] = [:]
        for header in request.headers {
            let name = header.name.lowercased()
            if name.hasPrefix("x-amz-") { amzHeaders[name, default: []].append(header.value) }
        }
        let subresources = parameters.filter { Self.signedSubresources.contains($0.name) }
            .sorted { $0.name < $1.name }
            .map { $0.value.isEmpty && !request.query.contains("\($0.name)=") ? $0.name : "\($0.name)=\($0.value)" }
        let resource = request.path + (subresources.isEmpty ? "" : "?" + subresources.joined(separator: "&"))
        let stringToSign =
            [
                request.method, request.headers.first(named: "Content-MD5") ?? "",
                request.headers.first(named: "Content-Type") ?? "", expiresText,
            ].joined(separator: "\n") + "\n"
            + amzHeaders.keys.sorted().map { "\($0):\(amzHeaders[$0]!.joined(separator: ","))\n" }.joined()
            + resource
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data(stringToSign.utf8), using: SymmetricKey(data: Data(key.secretAccessKey.utf8)))
        let expected = Data(mac).base64EncodedString()
        guard expected.utf8.count == signature.utf8.count,
            zip(expected.utf8, signature.utf8).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0
        else {
            throw S3Error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and "
                    + "signing method.",
                status: 403, details: [("AWSAccessKeyId", accessKeyID), ("StringToSign", stringToSign)])
        }
        return S3Authentication(principal: principal, payload: .unsigned, chunkSigner: nil)
    }
}
