import Foundation

/// How the path of a request becomes the canonical URI.
public enum PathCanonicalization: Sendable, Hashable {
    /// S3's rule: the path as sent, not normalised (`//`, `.` and `..` are significant), with each segment
    /// encoded exactly once. A segment is percent-decoded and re-encoded, so `/test$file.text` and
    /// `/test%24file.text` both become `/test%24file.text`, and an encoded slash `%2F` stays encoded.
    case s3
    /// Every other service: dot segments and empty segments are removed, then the raw path is URI-encoded
    /// again, so an already-encoded `%20` becomes `%2520` (this is what AWS SDKs sign).
    case normalized

    /// The rule AWS applies for a service signing name: ``s3`` for S3 and its variants, else ``normalized``.
    public static func forService(_ service: String) -> PathCanonicalization {
        service == "s3" || service == "s3express" || service.hasPrefix("s3-") ? .s3 : .normalized
    }
}

/// RFC 3986 encoding as SigV4 defines it: everything but `A-Z a-z 0-9 - . _ ~` becomes `%XX` (uppercase hex).
public enum URIEncoding {
    private static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Encodes `text` (as UTF-8); `/` is kept when `keepSlash` is true, as for object keys in a path.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        encode(text.utf8, keepSlash: keepSlash, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (malformed escapes stay literal); `+` becomes a space when `plusAsSpace`.
    public static func decode(_ text: Substring, plusAsSpace: Bool) -> String {
        String(decoding: decode(Array(text.utf8), plusAsSpace: plusAsSpace), as: UTF8.self)
    }

    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: true
        default: false
        }
    }

    static func encode<S: Sequence>(_ bytes: S, keepSlash: Bool, into out: inout [UInt8]) where S.Element == UInt8 {
        for byte in bytes {
            if isUnreserved(byte) || (keepSlash && byte == 0x2F) {
                out.append(byte)
            } else {
                out.append(0x25)
                out.append(upperHex[Int(byte >> 4)])
                out.append(upperHex[Int(byte & 0x0F)])
            }
        }
    }

    static func decode<C: Collection>(_ bytes: C, plusAsSpace: Bool) -> [UInt8]
    where C.Element == UInt8, C.Index == Int {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 0x25, index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
                continue
            }
            out.append(plusAsSpace && byte == 0x2B ? 0x20 : byte)
            index += 1
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

/// The pieces of the SigV4 canonical request, each built from the raw request as it travelled.
enum Canonical {
    static let algorithm = "AWS4-HMAC-SHA256"

    /// Headers a signer leaves out because proxies and HTTP stacks add, drop or rewrite them.
    static let unsignableHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    // MARK: Path

    static func uri(path: String, rule: PathCanonicalization) -> String {
        switch rule {
        case .s3: s3URI(path)
        case .normalized: normalizedURI(path)
        }
    }

    private static func s3URI(_ path: String) -> String {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { return "/" }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var first = true
        for segment in bytes.split(separator: 0x2F, omittingEmptySubsequences: false) {
            if !first { out.append(0x2F) }
            first = false
            URIEncoding.encode(URIEncoding.decode(segment, plusAsSpace: false), keepSlash: false, into: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func normalizedURI(_ path: String) -> String {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { return "/" }
        var kept: [ArraySlice<UInt8>] = []
        for segment in bytes.split(separator: 0x2F, omittingEmptySubsequences: true) {
            if segment.count == 1, segment.first == 0x2E { continue }
            if segment.count == 2, segment.first == 0x2E, segment.last == 0x2E {
                if !kept.isEmpty { kept.removeLast() }
                continue
            }
            kept.append(segment)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        if bytes.first == 0x2F { out.append(0x2F) }
        for (index, segment) in kept.enumerated() {
            if index > 0 { out.append(0x2F) }
            URIEncoding.encode(segment, keepSlash: false, into: &out)
        }
        if bytes.last == 0x2F, !kept.isEmpty { out.append(0x2F) }
        return out.isEmpty ? "/" : String(decoding: out, as: UTF8.self)
    }

    // MARK: Query

    /// Splits a raw query into decoded `(name, value)` pairs; `+` reads as a space, a bare name has value "".
    static func queryParameters(_ rawQuery: String) -> [(name: String, value: String)] {
        guard !rawQuery.isEmpty else { return [] }
        var result: [(name: String, value: String)] = []
        for pair in rawQuery.utf8.split(separator: 0x26, omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: 0x3D)
            let rawName = pair[pair.startIndex..<(equals ?? pair.endIndex)]
            let rawValue = equals.map { pair[pair.index(after: $0)...] } ?? pair[pair.endIndex...]
            result.append(
                (
                    String(decoding: URIEncoding.decode(Array(rawName), plusAsSpace: true), as: UTF8.self),
                    String(decoding: URIEncoding.decode(Array(rawValue), plusAsSpace: true), as: UTF8.self)
                ))
        }
        return result
    }

    /// The canonical query: every parameter decoded then re-encoded, sorted by name then value (bytewise).
    static func query(_ rawQuery: String, excluding excludedName: String? = nil) -> String {
        guard !rawQuery.isEmpty else { return "" }
        var encoded: [(name: [UInt8], value: [UInt8])] = []
        for pair in rawQuery.utf8.split(separator: 0x26, omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: 0x3D)
            let rawName = Array(pair[pair.startIndex..<(equals ?? pair.endIndex)])
            let rawValue = equals.map { Array(pair[pair.index(after: $0)...]) } ?? []
            let name = URIEncoding.decode(rawName, plusAsSpace: true)
            if let excludedName, name.elementsEqual(excludedName.utf8) { continue }
            var encodedName: [UInt8] = []
            var encodedValue: [UInt8] = []
            URIEncoding.encode(name, keepSlash: false, into: &encodedName)
            URIEncoding.encode(URIEncoding.decode(rawValue, plusAsSpace: true), keepSlash: false, into: &encodedValue)
            encoded.append((encodedName, encodedValue))
        }
        encoded.sort { lhs, rhs in
            if lhs.name != rhs.name { return lhs.name.lexicographicallyPrecedes(rhs.name) }
            return lhs.value.lexicographicallyPrecedes(rhs.value)
        }
        var out: [UInt8] = []
        for (index, pair) in encoded.enumerated() {
            if index > 0 { out.append(0x26) }
            out.append(contentsOf: pair.name)
            out.append(0x3D)
            out.append(contentsOf: pair.value)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Headers

    /// Trims a header value and folds every run of whitespace (space, tab, CR, LF, VT, FF) into one space.
    static func foldWhitespace(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        appendFolded(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `value` trimmed and with its whitespace runs folded, as ``foldWhitespace(_:)`` returns it.
    private static func appendFolded(_ value: String, to out: inout [UInt8]) {
        var pendingSpace = false
        var wroteAny = false
        for byte in value.utf8 {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
                pendingSpace = wroteAny
            default:
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                wroteAny = true
                out.append(byte)
            }
        }
    }

    /// `name:value` lines for `signedNames` (lowercase, in the order given), repeated headers joined by commas.
    /// Returns the names that were signed but are absent from `headers` as the second element.
    ///
    /// Written into one byte buffer: every signed request, made or verified, builds this block.
    static func headerBlock(_ headers: [HTTPHeader], signedNames: [String]) -> (block: String, missing: [String]) {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        var missing: [String] = []
        for name in signedNames {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: ":"))
            var found = false
            for header in headers where Bytes.equalsIgnoringASCIICase(header.name, name) {
                if found { out.append(UInt8(ascii: ",")) }
                found = true
                appendFolded(header.value, to: &out)
            }
            if !found { missing.append(name) }
            out.append(UInt8(ascii: "\n"))
        }
        return (String(decoding: out, as: UTF8.self), missing)
    }

    /// The sorted, lowercase, de-duplicated names a signer signs from `headers`.
    static func signableNames(_ headers: [HTTPHeader]) -> [String] {
        var names = Set<String>()
        for header in headers {
            let name = Bytes.asciiLowercased(header.name)
            if !unsignableHeaders.contains(name) { names.insert(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: Assembly

    static func request(
        method: String, uri: String, query: String, headerBlock: String, signedHeaders: String, payload: String
    ) -> String {
        var text = ""
        text.reserveCapacity(method.utf8.count + uri.utf8.count + query.utf8.count + headerBlock.utf8.count + 200)
        text += method
        text += "\n"
        text += uri
        text += "\n"
        text += query
        text += "\n"
        text += headerBlock
        text += "\n"
        text += signedHeaders
        text += "\n"
        text += payload
        return text
    }

    static func stringToSign(timestamp: String, scope: CredentialScope, canonicalRequest: String) -> String {
        "\(algorithm)\n\(timestamp)\n\(scope)\n\(Bytes.sha256Hex(canonicalRequest))"
    }
}
