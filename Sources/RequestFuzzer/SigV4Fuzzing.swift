import Foundation
import SigV4

/// The secret the `authorization` parser verifies with: no input can know a signature under it, so a verification
/// that passes must be a bug.
private let verifierSecret = "fuzz/Secret+Key0123456789abcdefghijklmn"

/// The requirement sets an endpoint can set, one of which each verification runs under.
private let requirementSets: [SigningRequirements] = [.none, .awsJSON, .awsQuery]

// MARK: - authorization

/// Parses a request written as text:
///
///     METHOD TARGET
///     Name: value
///     ...
///     (blank line)
///     body
///
/// with `Authorization.parse` and, when it parses, checks the fields against what the parser promises and formats
/// them again (as a header and as presigned query parameters) to parse them back equal. Then it verifies the
/// request, which must fail: the input cannot know the secret.
func fuzzAuthorization(_ bytes: [UInt8]) {
    let request = verificationRequest(fromText: bytes)
    let authorization: Authorization
    do {
        authorization = try Authorization.parse(request)
    } catch {
        check(!error.message.isEmpty, "a parse refusal without a message: \(error.code)")
        return
    }
    checkParsedFields(authorization)
    reformatAndParse(authorization)

    let requirements = requirementSets[request.headers.count % requirementSets.count]
    do {
        let verified = try Verifier(keyCache: nil).verify(
            request, authorization: authorization, secretAccessKey: verifierSecret, now: authorization.date,
            requirements: requirements)
        check(false, "a request verified under a secret it cannot know: \(verified.authorization)")
    } catch {
        check(!error.message.isEmpty, "a verification refusal without a message: \(error.code)")
    }
}

/// Splits the text form of a request; anything missing is empty (a request line without a target, no headers).
private func verificationRequest(fromText bytes: [UInt8]) -> VerificationRequest {
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)[...]
    let requestLine = String(decoding: lines.popFirst() ?? [], as: UTF8.self)
    let method = requestLine.prefix { $0 != " " }
    let target = requestLine.dropFirst(method.count + 1)
    var headers: [HTTPHeader] = []
    while let line = lines.popFirst(), !line.isEmpty {
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
        var value = line[min(colon + 1, line.endIndex)...]
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        headers.append(HTTPHeader(name, String(decoding: value, as: UTF8.self)))
    }
    let body = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    guard case .sha256(let bodyHash) = PayloadHash.of(body) else { preconditionFailure("a body hash is SHA-256") }
    return VerificationRequest(
        method: String(method), target: String(target), headers: headers, bodySHA256: bodyHash)
}

/// What `Authorization.parse` promises about a result.
private func checkParsedFields(_ authorization: Authorization) {
    let scope = authorization.scope
    check(!authorization.accessKeyId.isEmpty && !authorization.accessKeyId.contains("/"), "access key id")
    check(
        scope.date.utf8.count == 8 && scope.date.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 },
        "scope date \(scope.date)")
    check(!scope.region.isEmpty && !scope.region.contains("/"), "region \(scope.region)")
    check(!scope.service.isEmpty && !scope.service.contains("/"), "service \(scope.service)")
    check(
        authorization.signature.utf8.count == 64 && authorization.signature.utf8.allSatisfy(\.isHexDigit),
        "signature \(authorization.signature)")
    check(!authorization.signedHeaders.isEmpty, "an empty SignedHeaders list")
    for name in authorization.signedHeaders {
        check(
            !name.isEmpty && !name.contains(";") && !name.utf8.contains { $0 >= 0x41 && $0 <= 0x5A },
            "signed header name '\(name)'")
    }
    if case .query(let expires) = authorization.location {
        check((1...Authorization.maximumExpires).contains(expires), "X-Amz-Expires \(expires)")
    }
    // The timestamp and the date describe the same second (a leap second, :60, reads as the next minute).
    let formatted = AmzDate.timestamp(from: authorization.date)
    check(
        formatted == authorization.timestamp || authorization.timestamp.hasSuffix("60Z"),
        "timestamp \(authorization.timestamp) read as \(authorization.date), which formats as \(formatted)")
    check(
        AmzDate.date(fromTimestamp: authorization.timestamp) == authorization.date,
        "timestamp \(authorization.timestamp) does not read as the date \(authorization.date) it was parsed with")
}

/// Formats the parsed fields again, as an `Authorization` header and as presigned query parameters, and parses
/// both back: the fields must come back equal.
private func reformatAndParse(_ authorization: Authorization) {
    let scope = authorization.scope
    let credential = "\(authorization.accessKeyId)/\(scope)"
    let signedHeaders = authorization.signedHeaders.joined(separator: ";")
    // A comma ends a field of the header form, so fields holding one (possible from a decoded query) only round
    // trip through the query form.
    if ![credential, signedHeaders].contains(where: { $0.contains(",") }) {
        let header =
            "AWS4-HMAC-SHA256 Credential=\(credential), SignedHeaders=\(signedHeaders), "
            + "Signature=\(authorization.signature)"
        do {
            let parsed = try AuthorizationHeader(parsing: header)
            check(
                parsed.accessKeyId == authorization.accessKeyId && parsed.scope == scope
                    && parsed.signedHeaders == authorization.signedHeaders
                    && parsed.signature == authorization.signature,
                "the header \(header) parses as \(parsed), not as \(authorization)")
        } catch {
            check(false, "the header \(header) formatted from a parsed authorization is refused: \(error)")
        }
    }

    var parameters = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", credential),
        ("X-Amz-Date", authorization.timestamp),
        ("X-Amz-Expires", "\(authorization.isPresigned ? expires(of: authorization) : 60)"),
        ("X-Amz-SignedHeaders", signedHeaders), ("X-Amz-Signature", authorization.signature),
    ]
    if let token = authorization.securityToken { parameters.append(("X-Amz-Security-Token", token)) }
    let query = parameters.map { "\(URIEncoding.encode($0.0))=\(URIEncoding.encode($0.1))" }.joined(separator: "&")
    let request = VerificationRequest(method: "GET", path: "/", query: query, headers: [], bodySHA256: nil)
    do {
        let parsed = try Authorization.parse(request)
        check(
            parsed.accessKeyId == authorization.accessKeyId && parsed.scope == scope
                && parsed.signedHeaders == authorization.signedHeaders && parsed.signature == authorization.signature
                && parsed.timestamp == authorization.timestamp
                && parsed.date == authorization.date
                && parsed.securityToken == authorization.securityToken,
            "the query \(query) parses as \(parsed), not as \(authorization)")
    } catch {
        check(false, "the query \(query) formatted from a parsed authorization is refused: \(error)")
    }
}

private func expires(of authorization: Authorization) -> Int {
    if case .query(let expires) = authorization.location { return expires }
    return 60
}

// MARK: - signing

/// Builds a request from the input (credentials, region, service, method, path, query, headers, body, time),
/// signs it in a header or as a presigned query, and checks that `Authorization.parse` gives back what was signed
/// and that `Verifier` accepts it, under the requirements it meets, and refuses it with another secret or body.
func fuzzSigning(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let flags = input.byte()
    let presigned = flags & 1 != 0
    let services = ["codedeploy", "s3", "iam", "codedeploy-commands-secure"]
    let service =
        flags >> 1 & 7 < services.count
        ? services[Int(flags >> 1 & 7)] : input.word(from: Alphabet.regionName, maximum: 24)
    let sessionToken = flags & 0x10 != 0 ? input.text(maximum: 64) : nil
    let unsignedPayload = flags & 0x20 != 0
    let credentials = Credentials(
        accessKeyId: input.word(from: Alphabet.upperAlphanumeric, maximum: 24),
        secretAccessKey: input.text(maximum: 48), sessionToken: sessionToken)
    let region = input.word(from: Alphabet.regionName, maximum: 24)
    let date = Date(timeIntervalSince1970: TimeInterval(input.number(bytes: 4)))
    let expires = Int(input.number(bytes: 3)) % Authorization.maximumExpires + 1
    let method = input.word(from: Alphabet.token, maximum: 12)
    let path = input.text(maximum: 96)
    let query = queryWithoutSigV4Parameters(input.field(maximum: 96))
    var headers = [HTTPHeader("Host", input.text(maximum: 48))]
    for _ in 0..<Int(input.byte() % 8) {
        let name = input.word(from: Alphabet.token, maximum: 24)
        let value = input.text(maximum: 64)
        // The signer replaces these (a fuzzed one would be a second, unsigned copy).
        let reserved = ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]
        if !reserved.contains(name.lowercased()) { headers.append(HTTPHeader(name, value)) }
    }
    let body = input.rest()
    guard case .sha256(let bodyHash) = PayloadHash.of(body) else { preconditionFailure("a body hash is SHA-256") }

    let signer = Signer(credentials: credentials, region: region, service: service)
    let request: VerificationRequest
    let expected: (signature: String, signedHeaders: String, payload: PayloadHash)
    if presigned {
        let result = signer.presign(
            method: method, path: path, query: query, headers: headers, expires: expires, date: date)
        request = VerificationRequest(
            method: method, path: path, query: result.query, headers: headers, bodySHA256: PayloadHash.emptySHA256)
        let s3 = PathCanonicalization.forService(service) == .s3
        expected = (result.signature, signedHeaderNames(headers), s3 ? .unsigned : .empty)
    } else {
        let payload: PayloadHash = unsignedPayload ? .unsigned : .sha256(bodyHash)
        // An unsigned payload must be declared in x-amz-content-sha256, or the verifier reads the body's hash.
        let signed = signer.sign(
            method: method, path: path, query: query, headers: headers, payload: payload, date: date,
            addContentSHA256Header: unsignedPayload ? true : nil)
        request = VerificationRequest(
            method: method, path: path, query: query, headers: signed.headers, bodySHA256: bodyHash)
        expected = (signed.signature, signed.signedHeaders, payload)
    }

    let authorization: Authorization
    do {
        authorization = try Authorization.parse(request)
    } catch {
        return check(false, "a request this module signed does not parse: \(error)\n\(request)")
    }
    let scope = CredentialScope(date: date, region: region, service: service)
    check(
        authorization.accessKeyId == credentials.accessKeyId && authorization.scope == scope
            && authorization.signature == expected.signature
            && authorization.signedHeaders.joined(separator: ";") == expected.signedHeaders
            && authorization.timestamp == AmzDate.timestamp(from: date) && authorization.date == date
            && authorization.securityToken == sessionToken && authorization.isPresigned == presigned,
        "the signed request parses as \(authorization)\n\(request)")
    if case .query(let parsedExpires) = authorization.location { check(parsedExpires == expires, "X-Amz-Expires") }
    checkParsedFields(authorization)

    // Verified under every requirement set it meets, refused under those it does not.
    let verifier = Verifier(keyCache: nil)
    for requirements in requirementSets {
        let meets =
            requirements.signedHeaders.allSatisfy(authorization.signedHeaders.contains)
            && (!requirements.signedPayload || expected.payload.isSHA256)
        do {
            let verified = try verifier.verify(
                request, authorization: authorization, secretAccessKey: credentials.secretAccessKey, now: date,
                expectedRegion: region, expectedService: service, requirements: requirements)
            check(meets, "verified despite not meeting \(requirements)")
            check(verified.payload == expected.payload, "verified payload \(verified.payload), not \(expected.payload)")
        } catch {
            check(!meets, "a request this module signed is refused under \(requirements): \(error)\n\(request)")
        }
    }

    // Another secret, or (when the body's hash is signed) another body, must be refused.
    refuse(
        request, authorization, secret: credentials.secretAccessKey + "x", now: date, expect: .signatureMismatch)
    if !presigned, !unsignedPayload {
        var tampered = request
        tampered.bodySHA256 =
            bodyHash == PayloadHash.emptySHA256 ? String(repeating: "0", count: 64) : PayloadHash.emptySHA256
        let s3 = PathCanonicalization.forService(service) == .s3
        // S3 declares the hash in x-amz-content-sha256 (checked against the body last); the others sign the body's
        // hash itself, so another body is another signature.
        refuse(
            tampered, authorization, secret: credentials.secretAccessKey, now: date,
            expect: s3 ? .payloadHashMismatch : .signatureMismatch)
    }
}

private func refuse(
    _ request: VerificationRequest, _ authorization: Authorization, secret: String, now: Date, expect: SigV4Error.Code
) {
    do {
        _ = try Verifier(keyCache: nil).verify(
            request, authorization: authorization, secretAccessKey: secret, now: now)
        check(false, "a tampered request verified (expected \(expect))\n\(request)")
    } catch {
        check(error.code == expect, "a tampered request is refused with \(error.code), not \(expect): \(error)")
    }
}

/// The raw query pairs of `bytes` whose decoded name is not one of SigV4's own `X-Amz-*` parameters (those would
/// make a header-signed request look presigned, or be read instead of the signer's).
private func queryWithoutSigV4Parameters(_ bytes: [UInt8]) -> String {
    let raw = String(decoding: bytes, as: UTF8.self)
    return raw.split(separator: "&", omittingEmptySubsequences: false).filter { pair in
        let name = pair.prefix { $0 != "=" }
        return !URIEncoding.decode(name, plusAsSpace: true).hasPrefix("X-Amz-")
    }.joined(separator: "&")
}

/// The `SignedHeaders` a signer writes for `headers`: lowercase, sorted bytewise, without duplicates and without
/// the headers it never signs.
private func signedHeaderNames(_ headers: [HTTPHeader]) -> String {
    let unsignable: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]
    let names = Set(headers.map { $0.name.lowercased() }).subtracting(unsignable)
    return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: ";")
}

// MARK: - values

/// Every line of the input through the value parsers, each checked against its formatter.
func fuzzValues(_ bytes: [UInt8]) {
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        let text = String(decoding: line, as: UTF8.self)

        if let payload = PayloadHash(headerValue: text) {
            check(payload.headerValue == text, "PayloadHash(\(text)) formats as \(payload.headerValue)")
            check(PayloadHash(headerValue: payload.headerValue) == payload, "PayloadHash round trip of \(text)")
        }

        if let date = AmzDate.date(fromTimestamp: text) {
            let formatted = AmzDate.timestamp(from: date)
            check(formatted == text || text.hasSuffix("60Z"), "timestamp \(text) formats back as \(formatted)")
            check(AmzDate.date(fromTimestamp: formatted) == date, "timestamp \(formatted) does not read back")
        }

        if let date = AmzDate.date(fromHTTPDate: text) {
            check(date.timeIntervalSince1970.rounded(.down) == date.timeIntervalSince1970, "a fractional HTTP date")
            let formatted = AmzDate.timestamp(from: date)
            check(
                AmzDate.date(fromTimestamp: formatted) == date,
                "HTTP date \(text) reads as \(date), whose timestamp \(formatted) reads back differently")
        }

        if let header = try? AuthorizationHeader(parsing: text) {
            check(
                header.signature.utf8.count == 64 && !header.signedHeaders.isEmpty && !header.accessKeyId.isEmpty,
                "AuthorizationHeader fields of \(text)")
        }

        for plusAsSpace in [false, true] {
            let decoded = URIEncoding.decode(Substring(text), plusAsSpace: plusAsSpace)
            for keepSlash in [false, true] {
                let encoded = URIEncoding.encode(decoded, keepSlash: keepSlash)
                check(
                    encoded.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "+") },
                    "URIEncoding.encode left \(encoded) unencoded")
                check(
                    URIEncoding.decode(Substring(encoded), plusAsSpace: plusAsSpace) == decoded,
                    "URIEncoding round trip of \(decoded)")
            }
        }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}

extension PayloadHash {
    fileprivate var isSHA256: Bool {
        if case .sha256 = self { return true }
        return false
    }
}
