import ArtifactStore
import Foundation
import HTTPTypes
import Hummingbird
import SigV4

/// A request of the S3 API taken apart: path-style bucket and key, decoded query parameters, header access.
struct S3Request {
    let request: Request
    /// The bucket, or "" for the service (ListBuckets).
    let bucket: String
    /// The key, or "" for a bucket-level request.
    let key: String
    /// Decoded query parameters in order.
    let query: [(name: String, value: String)]
    /// The raw path, for `Resource` in errors.
    let resource: String

    init(_ request: Request) throws(S3Error) {
        self.request = request
        let target = request.head.path ?? "/"
        let rawPath: Substring
        let rawQuery: Substring
        if let question = target.firstIndex(of: "?") {
            rawPath = target[..<question]
            rawQuery = target[target.index(after: question)...]
        } else {
            rawPath = Substring(target)
            rawQuery = ""
        }
        guard rawPath.hasPrefix("/"), let path = String(rawPath).removingPercentEncoding else {
            throw S3Error("InvalidURI", "Couldn't parse the specified URI.", status: 400)
        }
        resource = path
        // The bucket ends at the first slash as sent; an encoded slash (`%2F`) belongs to the segment it is in, so
        // `/a%2Fb/k` names the bucket `a/b` (refused by the naming rules), never the bucket `a`.
        let trimmed = rawPath.dropFirst()
        let rawBucket: Substring
        let rawKey: Substring
        if let slash = trimmed.firstIndex(of: "/") {
            rawBucket = trimmed[..<slash]
            rawKey = trimmed[trimmed.index(after: slash)...]
        } else {
            rawBucket = trimmed
            rawKey = ""
        }
        guard let bucket = String(rawBucket).removingPercentEncoding, let key = String(rawKey).removingPercentEncoding
        else {
            throw S3Error("InvalidURI", "Couldn't parse the specified URI.", status: 400)
        }
        self.bucket = bucket
        self.key = key
        var query: [(String, String)] = []
        for pair in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) -> String? in
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else {
                throw S3Error("InvalidURI", "Couldn't parse the specified URI.", status: 400)
            }
            query.append((name, value))
        }
        self.query = query
    }

    func parameter(_ name: String) -> String? { query.first { $0.name == name }?.value }
    func has(_ name: String) -> Bool { query.contains { $0.name == name } }

    func header(_ name: String) -> String? {
        guard let field = HTTPField.Name(name) else { return nil }
        return request.headers[field]
    }

    /// Standard object headers kept with an object.
    static let storedHeaderNames = [
        "Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires",
    ]

    /// The headers stored with a new object (`aws-chunked` is a transfer detail, not part of Content-Encoding).
    var storedHeaders: [String: String] {
        var headers: [String: String] = [:]
        for name in Self.storedHeaderNames {
            guard var value = header(name) else { continue }
            if name == "Content-Encoding" {
                value = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { $0 != "aws-chunked" }.joined(separator: ",")
                if value.isEmpty { continue }
            }
            headers[name] = value
        }
        return headers
    }

    /// `x-amz-meta-*` headers, names lowercase without the prefix; at most 2 KB in all, as S3 allows.
    func userMetadata() throws(S3Error) -> [String: String] {
        var metadata: [String: String] = [:]
        var total = 0
        for field in request.headers {
            let name = field.name.canonicalName
            guard name.hasPrefix("x-amz-meta-") else { continue }
            let short = String(name.dropFirst("x-amz-meta-".count))
            total += short.utf8.count + field.value.utf8.count
            metadata[short] = metadata[short].map { "\($0),\(field.value)" } ?? field.value
        }
        guard total <= 2048 else {
            throw S3Error(
                "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", status: 400)
        }
        return metadata
    }

    /// What the request says about its body, for `PayloadDeclaration`.
    func payloadDeclaration(_ authentication: S3Authentication) throws(S3Error) -> PayloadDeclaration {
        let payload = authentication.payload
        var length: Int64?
        if payload.isStreaming {
            guard let decoded = header("x-amz-decoded-content-length") else {
                throw S3Error(
                    "MissingContentLength", "An aws-chunked body needs x-amz-decoded-content-length.", status: 411)
            }
            guard let value = Int64(decoded), value >= 0 else {
                throw S3Error.invalidArgument("x-amz-decoded-content-length must be a number of bytes.")
            }
            length = value
        } else if let text = header("Content-Length") {
            guard let value = Int64(text), value >= 0 else {
                throw S3Error.invalidArgument("Content-Length must be a number of bytes.")
            }
            length = value
        }
        var checksums: [ChecksumAlgorithm: String] = [:]
        for field in request.headers {
            if let algorithm = ChecksumAlgorithm(headerName: field.name.canonicalName) {
                checksums[algorithm] = field.value
            }
        }
        var trailing: [ChecksumAlgorithm] = []
        if let trailer = header("x-amz-trailer") {
            for name in trailer.split(separator: ",") {
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard let algorithm = ChecksumAlgorithm(headerName: trimmed) else {
                    throw S3Error.invalidArgument(
                        "x-amz-trailer names a trailer this server does not verify: \(trimmed).")
                }
                trailing.append(algorithm)
            }
            guard payload.hasTrailer else {
                throw S3Error.invalidRequest("x-amz-trailer needs a STREAMING-*-TRAILER x-amz-content-sha256.")
            }
        }
        return PayloadDeclaration(
            payload: payload, chunkSigner: authentication.chunkSigner, contentLength: length,
            contentMD5: header("Content-MD5"), checksums: checksums, trailingChecksums: trailing)
    }
}
