import Foundation

/// The SigV4 claims of a request: who signed it, for which scope and time, and over which headers.
///
/// Parse it first, look up the secret for ``accessKeyId`` (and check ``scope`` if wanted), then hand both to
/// ``Verifier/verify(_:authorization:secretAccessKey:now:expectedRegion:expectedService:)``.
public struct Authorization: Sendable, Hashable {
    /// Where the signature travelled.
    public enum Location: Sendable, Hashable {
        /// In the `Authorization` header.
        case header
        /// In presigned query parameters, valid for `expires` seconds from the timestamp.
        case query(expires: Int)
    }

    /// Header or presigned query.
    public var location: Location
    /// The access key id from the credential, e.g. `AKIAIOSFODNN7EXAMPLE`.
    public var accessKeyId: String
    /// The credential scope: day, region, service.
    public var scope: CredentialScope
    /// The lowercase names listed in `SignedHeaders`, in the order sent.
    public var signedHeaders: [String]
    /// The hex signature sent.
    public var signature: String
    /// The signing timestamp, `yyyyMMdd'T'HHmmss'Z'` (from `X-Amz-Date`, or converted from `Date`).
    public var timestamp: String
    /// ``timestamp`` as a `Date`.
    public var date: Date
    /// The `X-Amz-Security-Token` sent, if any.
    public var securityToken: String?

    /// Whether the signature came in the query string.
    public var isPresigned: Bool {
        if case .query = location { return true }
        return false
    }

    /// The longest lifetime of a presigned URL: seven days.
    public static let maximumExpires = 604_800

    /// Finds and parses the SigV4 authorization of `request`, from its `Authorization` header or its query.
    ///
    /// Throws ``SigV4Error/Code/missingAuthentication`` when there is neither,
    /// ``SigV4Error/Code/malformedAuthorization`` and friends when it cannot be read.
    public static func parse(_ request: VerificationRequest) throws(SigV4Error) -> Authorization {
        let headerValues = request.headers.values(named: "Authorization")
        let query = Canonical.queryParameters(request.query)
        let isPresigned = query.contains { $0.name == "X-Amz-Algorithm" }
        if !headerValues.isEmpty && isPresigned {
            throw SigV4Error(
                .conflictingAuthentication,
                "Only one authentication mechanism is allowed: send either the Authorization header or the "
                    + "X-Amz-* query parameters, not both.")
        }
        if isPresigned { return try parsePresigned(query) }
        guard let header = headerValues.first else {
            throw SigV4Error(
                .missingAuthentication,
                "The request is not signed: it has no Authorization header and no X-Amz-Signature query parameter.")
        }
        if headerValues.count > 1 {
            throw SigV4Error(.malformedAuthorization, "The request carries more than one Authorization header.")
        }
        let parts = try AuthorizationHeader(parsing: header)
        let (timestamp, date) = try signingTime(request.headers)
        return Authorization(
            location: .header, accessKeyId: parts.accessKeyId, scope: parts.scope, signedHeaders: parts.signedHeaders,
            signature: parts.signature, timestamp: timestamp, date: date,
            securityToken: request.headers.first(named: "X-Amz-Security-Token"))
    }

    private static func signingTime(_ headers: [HTTPHeader]) throws(SigV4Error) -> (String, Date) {
        if let amzDate = headers.first(named: "X-Amz-Date") {
            guard let date = AmzDate.date(fromTimestamp: amzDate) else {
                throw SigV4Error(
                    .malformedAuthorization,
                    "X-Amz-Date '\(amzDate)' is not an ISO 8601 basic UTC timestamp such as 20150830T123600Z.")
            }
            return (amzDate, date)
        }
        if let httpDate = headers.first(named: "Date") {
            guard let date = AmzDate.date(fromHTTPDate: httpDate) else {
                throw SigV4Error(
                    .missingDate,
                    "The Date header '\(httpDate)' is not an HTTP date such as 'Fri, 24 May 2013 00:00:00 GMT'; "
                        + "send X-Amz-Date instead.")
            }
            return (AmzDate.timestamp(from: date), date)
        }
        throw SigV4Error(
            .missingDate, "A signed request needs an X-Amz-Date header (or a Date header) giving the signing time.")
    }

    private static func parsePresigned(_ parameters: [(name: String, value: String)]) throws(SigV4Error)
        -> Authorization
    {
        func value(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
        let required = [
            "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
            "X-Amz-Expires",
        ]
        let absent = required.filter { value($0) == nil }
        guard absent.isEmpty else {
            throw SigV4Error(
                .malformedAuthorization,
                "A presigned request needs the query parameters \(required.joined(separator: ", ")); missing: "
                    + "\(absent.joined(separator: ", ")).",
                viaQueryParameters: true)
        }
        let algorithm = value("X-Amz-Algorithm")!
        guard algorithm == Canonical.algorithm else {
            throw SigV4Error(
                .unsupportedAlgorithm,
                "X-Amz-Algorithm '\(algorithm)' is not supported; only \(Canonical.algorithm) is.",
                viaQueryParameters: true)
        }
        let (accessKeyId, scope) = try AuthorizationHeader.credential(value("X-Amz-Credential")!, viaQuery: true)
        let signature = value("X-Amz-Signature")!
        try AuthorizationHeader.checkSignature(signature, viaQuery: true)
        let signedHeaders = try AuthorizationHeader.signedHeaderList(value("X-Amz-SignedHeaders")!, viaQuery: true)
        let timestamp = value("X-Amz-Date")!
        guard let date = AmzDate.date(fromTimestamp: timestamp) else {
            throw SigV4Error(
                .malformedAuthorization,
                "X-Amz-Date '\(timestamp)' is not an ISO 8601 basic UTC timestamp such as 20150830T123600Z.",
                viaQueryParameters: true)
        }
        let expiresText = value("X-Amz-Expires")!
        // Digits only: `Int` alone would take a sign (`+60`), and a count longer than seven digits cannot be in range.
        guard let expires = Bytes.decimal(expiresText, maximumDigits: 7), expires >= 1 else {
            throw SigV4Error(
                .malformedAuthorization,
                "X-Amz-Expires '\(expiresText)' must be a whole number of seconds from 1 to \(maximumExpires).",
                viaQueryParameters: true)
        }
        guard expires <= maximumExpires else {
            throw SigV4Error(
                .malformedAuthorization,
                "X-Amz-Expires must be at most a week (\(maximumExpires) seconds); got \(expires).",
                viaQueryParameters: true)
        }
        return Authorization(
            location: .query(expires: expires), accessKeyId: accessKeyId, scope: scope, signedHeaders: signedHeaders,
            signature: signature, timestamp: timestamp, date: date, securityToken: value("X-Amz-Security-Token"))
    }
}

/// The fields of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header.
public struct AuthorizationHeader: Sendable, Hashable {
    /// The access key id from `Credential`.
    public var accessKeyId: String
    /// The scope from `Credential`.
    public var scope: CredentialScope
    /// The names from `SignedHeaders`.
    public var signedHeaders: [String]
    /// The hex `Signature`.
    public var signature: String

    /// Parses a header value; throws ``SigV4Error`` with a message naming what is wrong.
    public init(parsing value: String) throws(SigV4Error) {
        // Byte-wise: every delimiter is ASCII, and every signed request is parsed here, so it is not worth walking
        // `Character`s (grapheme breaking).
        let bytes = Array(value.utf8)
        var start = 0
        while start < bytes.count, bytes[start] == 0x20 { start += 1 }
        let scheme = Self.schemePrefix
        guard bytes.count - start >= scheme.count, bytes[start..<(start + scheme.count)].elementsEqual(scheme) else {
            let trimmed = value.drop { $0 == " " }
            let scheme = trimmed.prefix { $0 != " " }
            throw SigV4Error(
                scheme.isEmpty || scheme.contains("=") ? .malformedAuthorization : .unsupportedAlgorithm,
                "Authorization scheme '\(scheme)' is not supported; sign requests with \(Canonical.algorithm).")
        }
        var credential: String?
        var signedHeaders: String?
        var signature: String?
        var segmentStart = start + scheme.count
        while segmentStart <= bytes.count {
            var segmentEnd = segmentStart
            while segmentEnd < bytes.count, bytes[segmentEnd] != 0x2C { segmentEnd += 1 }
            defer { segmentStart = segmentEnd + 1 }
            guard segmentEnd > segmentStart else { continue }  // empty parts (`,,`) are skipped
            var fieldStart = segmentStart
            while fieldStart < segmentEnd, bytes[fieldStart] == 0x20 { fieldStart += 1 }
            guard let equals = bytes[fieldStart..<segmentEnd].firstIndex(of: 0x3D) else {
                let field = String(decoding: bytes[fieldStart..<segmentEnd], as: UTF8.self)
                throw SigV4Error(
                    .malformedAuthorization, "Authorization header field '\(field)' is not of the form Name=value.")
            }
            var valueEnd = segmentEnd
            while valueEnd > equals + 1, bytes[valueEnd - 1] == 0x20 { valueEnd -= 1 }
            let name = bytes[fieldStart..<equals]
            let fieldValue = String(decoding: bytes[(equals + 1)..<valueEnd], as: UTF8.self)
            if name.elementsEqual("Credential".utf8) {
                credential = fieldValue
            } else if name.elementsEqual("SignedHeaders".utf8) {
                signedHeaders = fieldValue
            } else if name.elementsEqual("Signature".utf8) {
                signature = fieldValue
            }
        }
        guard let credential, let signedHeaders, let signature else {
            let absent = [("Credential", credential), ("SignedHeaders", signedHeaders), ("Signature", signature)]
                .filter { $0.1 == nil }.map(\.0)
            throw SigV4Error(
                .malformedAuthorization,
                "The Authorization header needs Credential, SignedHeaders and Signature; missing: "
                    + "\(absent.joined(separator: ", ")).")
        }
        (accessKeyId, scope) = try Self.credential(credential, viaQuery: false)
        self.signedHeaders = try Self.signedHeaderList(signedHeaders, viaQuery: false)
        self.signature = signature
        try Self.checkSignature(signature, viaQuery: false)
    }

    private static let schemePrefix = Array((Canonical.algorithm + " ").utf8)

    static func credential(_ text: String, viaQuery: Bool) throws(SigV4Error) -> (String, CredentialScope) {
        // Split on bytes, as the header is: `String.split` walks grapheme clusters.
        let parts = text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map {
            Substring($0)
        }
        guard parts.count == 5, !parts[0].isEmpty, !parts[2].isEmpty, !parts[3].isEmpty else {
            throw SigV4Error(
                .malformedAuthorization,
                "Credential '\(text)' must have five slash-separated parts: "
                    + "<access key id>/<yyyyMMdd>/<region>/<service>/aws4_request.",
                viaQueryParameters: viaQuery)
        }
        guard parts[4] == CredentialScope.terminator else {
            throw SigV4Error(
                .malformedAuthorization,
                "Credential scope must end in '\(CredentialScope.terminator)', not '\(parts[4])'.",
                viaQueryParameters: viaQuery)
        }
        guard parts[1].utf8.count == 8, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw SigV4Error(
                .malformedAuthorization, "Credential date '\(parts[1])' must be a yyyyMMdd day such as 20150830.",
                viaQueryParameters: viaQuery)
        }
        return (
            String(parts[0]),
            CredentialScope(date: String(parts[1]), region: String(parts[2]), service: String(parts[3]))
        )
    }

    static func signedHeaderList(_ text: String, viaQuery: Bool) throws(SigV4Error) -> [String] {
        let names = text.utf8.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map {
            String(Substring($0))
        }
        // Header names are HTTP tokens (RFC 9110): a name of other bytes could never match a header of the request.
        func isToken(_ name: String) -> Bool {
            !name.isEmpty
                && name.utf8.allSatisfy { byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                        || "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
        }
        guard !text.isEmpty, names.allSatisfy(isToken) else {
            throw SigV4Error(
                .malformedAuthorization,
                "SignedHeaders '\(text)' must be a semicolon-separated list of lowercase header names.",
                viaQueryParameters: viaQuery)
        }
        return names.map(Bytes.asciiLowercased)
    }

    static func checkSignature(_ signature: String, viaQuery: Bool) throws(SigV4Error) {
        guard Bytes.isSHA256Hex(signature) else {
            throw SigV4Error(
                .malformedAuthorization, "Signature '\(signature)' must be 64 hexadecimal digits.",
                viaQueryParameters: viaQuery)
        }
    }
}
