import ArtifactStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SigV4

/// The S3 API of Slipway's built-in artifact store: a thin adapter that authenticates a request, routes it to an
/// operation of ``LocalArtifactStore``, streams bodies both ways and renders answers and errors as S3 does.
struct S3API: Sendable {
    let artifacts: LocalArtifactStore
    let authenticator: Authenticator
    let accountID: String
    let clock: @Sendable () -> Date
    /// What on-premises instances may read besides what their policies say.
    let instanceScope: InstanceScope

    func respond(to request: Request, requestID: String, logger: Logger) async -> Response {
        var resource = request.head.path ?? "/"
        do {
            let s3 = try S3Request(request)
            resource = s3.resource
            let authentication = try await authenticator.authenticateS3(request, now: clock())
            let operation = try S3Operation(s3)
            try authentication.principal.authorizeS3(operation, bucket: s3.bucket, key: s3.key)
            if let host = authentication.principal.instanceHost {
                try await instanceScope.authorize(
                    operation, bucket: s3.bucket, key: s3.key, host: host, principalARN: authentication.principal.arn)
            }
            var response = try await route(operation, s3, authentication: authentication, logger: logger)
            response.headers[.amzS3RequestID] = requestID
            return response
        } catch let error as S3Error {
            if error.status >= 500 && error.status != 501 {
                logger.error("S3 request failed", metadata: ["error": .string(error.description)])
            } else {
                logger.info("S3 request refused", metadata: ["error": .string(error.code)])
            }
            return Self.errorResponse(error, method: request.method, resource: resource, requestID: requestID)
        } catch {
            logger.error("S3 internal error", metadata: ["error": .string(String(describing: error))])
            return Self.errorResponse(
                .internalError(requestID), method: request.method, resource: resource, requestID: requestID)
        }
    }

    static func errorResponse(_ error: S3Error, method: HTTPRequest.Method, resource: String, requestID: String)
        -> Response
    {
        var headers: HTTPFields = [.amzS3RequestID: requestID]
        for (name, value) in error.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if method == .head {
            headers[.contentLength] = "0"
            return Response(status: .init(code: error.status), headers: headers)
        }
        headers[.contentType] = "application/xml"
        return Response(
            status: .init(code: error.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: error.xml(resource: resource, requestID: requestID))))
    }

    static func xml(_ document: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/xml"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    // MARK: Routing

    /// Serves `operation`, the one ``S3Operation`` made of `s3` and authorised.
    private func route(
        _ operation: S3Operation, _ s3: S3Request, authentication: S3Authentication, logger: Logger
    ) async throws -> Response {
        switch operation {
        case .listBuckets:
            let buckets = try await artifacts.listBuckets()
            return Self.xml(S3XML.listBuckets(buckets, ownerID: accountID))
        case .createBucket:
            return try await createBucket(s3)
        case .putBucketVersioning:
            return try await putBucketVersioning(s3)
        case .getBucketVersioning:
            return Self.xml(S3XML.versioning(try await artifacts.bucket(s3.bucket).versioning))
        case .getBucketLocation:
            _ = try await artifacts.bucket(s3.bucket)
            return Self.xml(S3XML.location(artifacts.region))
        case .listMultipartUploads:
            let prefix = s3.parameter("prefix") ?? ""
            let uploads = try await artifacts.listUploads(bucket: s3.bucket, prefix: prefix)
            return Self.xml(S3XML.listUploads(bucket: s3.bucket, prefix: prefix, uploads: uploads, ownerID: accountID))
        case .listObjects(let version2):
            return try await listObjects(s3, version2: version2)
        case .headBucket:
            _ = try await artifacts.bucket(s3.bucket)
            return Response(status: .ok, headers: [.contentLength: "0", .amzBucketRegion: artifacts.region])
        case .deleteBucket:
            try await artifacts.deleteBucket(s3.bucket)
            return Response(status: .noContent)
        case .deleteObjects:
            return try await deleteObjects(s3, principal: authentication.principal)
        case .putObject:
            return try await putObject(s3, authentication: authentication)
        case .copyObject(let source):
            return try await copyObject(s3, source: source)
        case .getObject(let versionID):
            return try await getObject(s3, versionID: versionID, headOnly: false)
        case .headObject(let versionID):
            return try await getObject(s3, versionID: versionID, headOnly: true)
        case .deleteObject(let versionID):
            let deletion = try await artifacts.deleteObject(
                bucket: s3.bucket, key: s3.key, versionID: versionID, now: clock())
            var headers: HTTPFields = [:]
            if let versionID = deletion.versionID { headers[.amzVersionID] = versionID }
            if deletion.deleteMarker { headers[.amzDeleteMarker] = "true" }
            return Response(status: .noContent, headers: headers)
        case .createMultipartUpload:
            return try await createMultipartUpload(s3)
        case .uploadPart(let uploadID, let partNumber):
            return try await uploadPart(s3, uploadID: uploadID, partNumber: partNumber, authentication: authentication)
        case .uploadPartCopy:
            throw S3Error.notImplemented("UploadPartCopy")
        case .listParts(let uploadID):
            return try await listParts(s3, uploadID)
        case .completeMultipartUpload(let uploadID):
            return try await completeMultipartUpload(s3, uploadID)
        case .abortMultipartUpload(let uploadID):
            try await artifacts.abortMultipartUpload(bucket: s3.bucket, key: s3.key, uploadID: uploadID)
            return Response(status: .noContent)
        }
    }

    // MARK: Buckets

    private func createBucket(_ s3: S3Request) async throws -> Response {
        let body = try await smallBody(s3)
        var constraint: String?
        if !body.isEmpty {
            let document = try XMLRequestParser.parse(body)
            guard document.name == "CreateBucketConfiguration" else {
                throw S3Error.malformedXML("the root element must be CreateBucketConfiguration")
            }
            constraint = document.child("LocationConstraint")?.text
        }
        try await artifacts.createBucket(s3.bucket, locationConstraint: constraint, now: clock())
        return Response(status: .ok, headers: [.location: "/\(s3.bucket)", .contentLength: "0"])
    }

    private func putBucketVersioning(_ s3: S3Request) async throws -> Response {
        let document = try XMLRequestParser.parse(try await smallBody(s3))
        guard document.name == "VersioningConfiguration", let status = document.child("Status")?.text else {
            throw S3Error.malformedXML("expected VersioningConfiguration with a Status")
        }
        try await artifacts.setVersioning(s3.bucket, status: status)
        return Response(status: .ok, headers: [.contentLength: "0"])
    }

    private func listObjects(_ s3: S3Request, version2: Bool) async throws -> Response {
        var maxKeys = 1000
        if let text = s3.parameter("max-keys") {
            // Any count of digits is a valid request; past 1,000 it means 1,000.
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw S3Error.invalidArgument(
                    "Provided max-keys not an integer or within integer range", name: "max-keys", value: text)
            }
            maxKeys = S3Names.decimal(text, maximumDigits: 4).map { min($0, 1000) } ?? 1000
        }
        if let encoding = s3.parameter("encoding-type"), encoding != "url" {
            throw S3Error.invalidArgument("Invalid Encoding Method specified in Request", name: "encoding-type")
        }
        var request = S3XML.ListRequest(
            prefix: s3.parameter("prefix") ?? "",
            delimiter: s3.parameter("delimiter").flatMap { $0.isEmpty ? nil : $0 },
            maxKeys: maxKeys, urlEncoded: s3.parameter("encoding-type") == "url")
        var after: String?
        if version2 {
            request.startAfter = s3.parameter("start-after")
            request.continuationToken = s3.parameter("continuation-token")
            after = try request.continuationToken.map(ContinuationToken.read) ?? request.startAfter
        } else {
            request.marker = s3.parameter("marker")
            after = request.marker
        }
        if let after, after.isEmpty { request.marker = request.marker ?? "" }
        let listing = try await artifacts.list(
            bucket: s3.bucket, prefix: request.prefix, delimiter: request.delimiter,
            after: after.flatMap { $0.isEmpty ? nil : $0 }, maxKeys: maxKeys)
        return Self.xml(
            S3XML.listObjects(
                bucket: s3.bucket, request: request, listing: listing, version2: version2, ownerID: accountID))
    }

    /// DeleteObjects: each key is authorised (`s3:DeleteObject`, or `s3:DeleteObjectVersion` with a version) before
    /// it is deleted, and a refused key is reported as `AccessDenied` in the result, as S3 does.
    private func deleteObjects(_ s3: S3Request, principal: Principal) async throws -> Response {
        let document = try XMLRequestParser.parse(try await smallBody(s3))
        guard document.name == "Delete" else { throw S3Error.malformedXML("the root element must be Delete") }
        let objects = document.children(named: "Object")
        guard !objects.isEmpty, objects.count <= 1000 else {
            throw S3Error.malformedXML("Delete lists 1 to 1000 Object elements")
        }
        let quiet = document.child("Quiet")?.text.lowercased() == "true"
        var outcomes: [S3XML.DeleteOutcome] = []
        for object in objects {
            guard let key = object.child("Key")?.text else { throw S3Error.malformedXML("an Object without a Key") }
            let versionID = object.child("VersionId")?.text
            do {
                let (action, resource) = S3Operation.deleteAuthorization(
                    bucket: s3.bucket, key: key, versionID: versionID)
                do {
                    try principal.authorize(action, resources: [resource])
                } catch {
                    throw error.s3
                }
                let deletion = try await artifacts.deleteObject(
                    bucket: s3.bucket, key: key, versionID: versionID, now: clock())
                outcomes.append(.deleted(key: key, versionID: versionID, deletion: deletion))
            } catch let error as S3Error where error.code == "NoSuchBucket" {
                throw error
            } catch let error as S3Error {
                outcomes.append(.failed(key: key, versionID: versionID, error: error))
            }
        }
        return Self.xml(S3XML.deleteResult(outcomes, quiet: quiet))
    }

    // MARK: Objects

    private func putObject(_ s3: S3Request, authentication: S3Authentication) async throws -> Response {
        let record = try await artifacts.putObject(
            bucket: s3.bucket, key: s3.key, headers: s3.storedHeaders, metadata: try s3.userMetadata(),
            body: s3.request.body, declaration: try s3.payloadDeclaration(authentication), now: clock)
        Counter(label: ServerMetrics.artifactBytesIn).increment(by: record.size)
        var headers: HTTPFields = [.eTag: record.quotedETag, .contentLength: "0"]
        if let versionID = record.versionID { headers[.amzVersionID] = versionID }
        for (algorithm, value) in record.checksums {
            if let field = HTTPField.Name("x-amz-checksum-\(algorithm.lowercased())") { headers[field] = value }
        }
        return Response(status: .ok, headers: headers)
    }

    private func copyObject(_ s3: S3Request, source: S3CopySource) async throws -> Response {
        var replacing: (headers: [String: String], metadata: [String: String])?
        if s3.header("x-amz-metadata-directive")?.uppercased() == "REPLACE" {
            replacing = (s3.storedHeaders, try s3.userMetadata())
        }
        let (record, sourceVersion) = try await artifacts.copyObject(
            from: (source.bucket, source.key, source.versionID), to: s3.bucket, key: s3.key, replacing: replacing,
            now: clock())
        var headers: HTTPFields = [:]
        if let versionID = record.versionID { headers[.amzVersionID] = versionID }
        if let sourceVersion { headers[.amzCopySourceVersionID] = sourceVersion }
        return Self.xml(S3XML.copyResult(record), headers: headers)
    }

    private func getObject(_ s3: S3Request, versionID: String?, headOnly: Bool) async throws -> Response {
        var record = try await artifacts.object(bucket: s3.bucket, key: s3.key, versionID: versionID)
        // Open the content before answering: an overwrite between the lookup and the open removes the old blob,
        // so look the key up once more in that case.
        let reader: BlobReader?
        if headOnly {
            reader = nil
        } else if let opened = try? await artifacts.open(record) {
            reader = opened
        } else {
            record = try await artifacts.object(bucket: s3.bucket, key: s3.key, versionID: versionID)
            reader = try await artifacts.open(record)
        }
        var headers = Self.objectHeaders(record)
        if let notModified = try Self.checkConditions(s3, record: record, headers: headers) { return notModified }
        for (parameter, header) in [
            ("response-content-type", HTTPField.Name.contentType),
            ("response-content-disposition", HTTPField.Name.contentDisposition),
            ("response-content-encoding", HTTPField.Name.contentEncoding),
            ("response-content-language", HTTPField.Name.contentLanguage),
            ("response-cache-control", HTTPField.Name.cacheControl), ("response-expires", HTTPField.Name.expires),
        ] {
            if let value = s3.parameter(parameter) { headers[header] = value }
        }
        var status = HTTPResponse.Status.ok
        var range: ClosedRange<Int64>?
        if let rangeHeader = s3.header("Range") {
            range = try ByteRange.parse(rangeHeader, size: record.size)
            if let range {
                status = .partialContent
                headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(record.size)"
            }
        }
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? record.size
        headers[.contentLength] = String(length)
        guard let reader else { return Response(status: status, headers: headers) }
        Counter(label: ServerMetrics.artifactBytesOut).increment(by: length)
        let start = range?.lowerBound ?? 0
        let body = ResponseBody(contentLength: Int(length)) { writer in
            var offset = start
            let end = start + length
            while offset < end {
                let count = Int(min(Int64(BlobReader.chunkSize), end - offset))
                let buffer = try await reader.read(offset: offset, count: count)
                guard buffer.readableBytes > 0 else {
                    throw S3Error("InternalError", "The object's file is shorter than its recorded size.", status: 500)
                }
                offset += Int64(buffer.readableBytes)
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    static func objectHeaders(_ record: ObjectRecord) -> HTTPFields {
        var headers: HTTPFields = [
            .eTag: record.quotedETag, .lastModified: S3Dates.rfc1123(record.lastModified), .acceptRanges: "bytes",
            .contentType: record.headers["Content-Type"] ?? "binary/octet-stream",
        ]
        for (name, value) in record.headers where name != "Content-Type" {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        for (name, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name("x-amz-meta-\(name)") { headers[field] = value }
        }
        if let versionID = record.versionID { headers[.amzVersionID] = versionID }
        return headers
    }

    /// If-Match / If-Unmodified-Since fail with 412; If-None-Match / If-Modified-Since answer 304.
    static func checkConditions(_ s3: S3Request, record: ObjectRecord, headers: HTTPFields) throws(S3Error)
        -> Response?
    {
        let lastModified = Date(timeIntervalSince1970: record.lastModified.timeIntervalSince1970.rounded(.down))
        func matches(_ list: String) -> Bool {
            list.split(separator: ",").contains {
                let tag = $0.trimmingCharacters(in: .whitespaces)
                return tag == "*" || tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) == record.eTag
            }
        }
        if let ifMatch = s3.header("If-Match") {
            if !matches(ifMatch) { throw S3Error.preconditionFailed("If-Match") }
        } else if let since = s3.header("If-Unmodified-Since").flatMap(S3Dates.parseHTTPDate), lastModified > since {
            throw S3Error.preconditionFailed("If-Unmodified-Since")
        }
        var notModified = false
        if let ifNoneMatch = s3.header("If-None-Match") {
            notModified = matches(ifNoneMatch)
        } else if let since = s3.header("If-Modified-Since").flatMap(S3Dates.parseHTTPDate) {
            notModified = lastModified <= since
        }
        guard notModified else { return nil }
        var kept: HTTPFields = [:]
        for name in [HTTPField.Name.eTag, .lastModified, .amzVersionID] {
            if let value = headers[name] { kept[name] = value }
        }
        return Response(status: .notModified, headers: kept)
    }

    // MARK: Multipart uploads

    private func createMultipartUpload(_ s3: S3Request) async throws -> Response {
        let algorithm = s3.header("x-amz-checksum-algorithm")?.uppercased()
        let upload = try await artifacts.createMultipartUpload(
            bucket: s3.bucket, key: s3.key, headers: s3.storedHeaders, metadata: try s3.userMetadata(),
            checksumAlgorithm: algorithm, now: clock())
        var headers: HTTPFields = [:]
        if let algorithm { headers[.amzChecksumAlgorithm] = algorithm }
        return Self.xml(S3XML.initiateMultipartUpload(bucket: s3.bucket, upload: upload), headers: headers)
    }

    private func uploadPart(
        _ s3: S3Request, uploadID: String, partNumber: Int, authentication: S3Authentication
    ) async throws -> Response {
        let part = try await artifacts.uploadPart(
            bucket: s3.bucket, key: s3.key, uploadID: uploadID, partNumber: partNumber, body: s3.request.body,
            declaration: try s3.payloadDeclaration(authentication), now: clock)
        Counter(label: ServerMetrics.artifactBytesIn).increment(by: part.size)
        var headers: HTTPFields = [.eTag: "\"\(part.eTag)\"", .contentLength: "0"]
        for (algorithm, value) in part.checksums {
            if let field = HTTPField.Name("x-amz-checksum-\(algorithm.lowercased())") { headers[field] = value }
        }
        return Response(status: .ok, headers: headers)
    }

    private func completeMultipartUpload(_ s3: S3Request, _ uploadID: String) async throws -> Response {
        let document = try XMLRequestParser.parse(try await smallBody(s3))
        guard document.name == "CompleteMultipartUpload" else {
            throw S3Error.malformedXML("the root element must be CompleteMultipartUpload")
        }
        var parts: [(number: Int, eTag: String)] = []
        for part in document.children(named: "Part") {
            guard let number = part.child("PartNumber").flatMap({ Int($0.text.trimmingCharacters(in: .whitespaces)) }),
                let eTag = part.child("ETag")?.text
            else { throw S3Error.malformedXML("every Part needs a PartNumber and an ETag") }
            parts.append((number, eTag))
        }
        let record = try await artifacts.completeMultipartUpload(
            bucket: s3.bucket, key: s3.key, uploadID: uploadID, parts: parts, now: clock())
        var headers: HTTPFields = [:]
        if let versionID = record.versionID { headers[.amzVersionID] = versionID }
        let host = s3.request.head.authority ?? "localhost"
        let location = "/\(s3.bucket)/\(URLEncoding.encodeKey(s3.key))"
        return Self.xml(
            S3XML.completeMultipartUpload(bucket: s3.bucket, record: record, location: "//\(host)\(location)"),
            headers: headers)
    }

    private func listParts(_ s3: S3Request, _ uploadID: String) async throws -> Response {
        var marker = 0
        if let text = s3.parameter("part-number-marker") {
            guard let value = S3Names.decimal(text, maximumDigits: 5) else {
                throw S3Error.invalidArgument(
                    "part-number-marker must be a part number from 0 to 10000", name: "part-number-marker", value: text)
            }
            marker = value
        }
        var maxParts = 1000
        if let text = s3.parameter("max-parts") {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw S3Error.invalidArgument(
                    "max-parts must be a whole number of parts", name: "max-parts", value: text)
            }
            maxParts = S3Names.decimal(text, maximumDigits: 4).map { min($0, 1000) } ?? 1000
        }
        let (upload, parts, truncated) = try await artifacts.listParts(
            bucket: s3.bucket, key: s3.key, uploadID: uploadID, after: marker, maxParts: maxParts)
        return Self.xml(
            S3XML.listParts(
                bucket: s3.bucket, upload: upload, parts: parts, marker: marker, maxParts: maxParts,
                isTruncated: truncated, ownerID: accountID))
    }

    /// The whole body of a request that carries an XML document (at most 2 MiB). Signed bodies are checked
    /// against their declared SHA-256.
    private func smallBody(_ s3: S3Request) async throws -> [UInt8] {
        let buffer: ByteBuffer
        do {
            buffer = try await s3.request.body.collect(upTo: XMLRequestParser.maximumSize)
        } catch {
            throw S3Error.malformedXML("the body is larger than \(XMLRequestParser.maximumSize) bytes")
        }
        let bytes = Array(buffer.readableBytesView)
        if let declared = s3.header("x-amz-content-sha256"),
            case .sha256(let hex)? = PayloadHash(headerValue: declared),
            case .sha256(let actual) = PayloadHash.of(bytes), hex.lowercased() != actual
        {
            throw S3Error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                status: 400)
        }
        return bytes
    }
}

/// The single byte range of a `Range: bytes=…` header.
enum ByteRange {
    /// The range to send, nil to send the whole object (a header S3 ignores), or `InvalidRange`.
    static func parse(_ header: String, size: Int64) throws(S3Error) -> ClosedRange<Int64>? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("bytes="), !text.contains(",") else { return nil }
        let spec = text.dropFirst(6)
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int64(last), suffix >= 0 else { return nil }
            guard suffix > 0, size > 0 else { throw S3Error.invalidRange(objectSize: size) }
            return max(0, size - suffix)...(size - 1)
        }
        guard let start = Int64(first), start >= 0 else { return nil }
        guard start < size else { throw S3Error.invalidRange(objectSize: size) }
        if last.isEmpty { return start...(size - 1) }
        guard let end = Int64(last), end >= start else { return nil }
        return start...min(end, size - 1)
    }
}

extension HTTPField.Name {
    static let amzS3RequestID = Self("x-amz-request-id")!
    static let amzVersionID = Self("x-amz-version-id")!
    static let amzDeleteMarker = Self("x-amz-delete-marker")!
    static let amzBucketRegion = Self("x-amz-bucket-region")!
    static let amzCopySourceVersionID = Self("x-amz-copy-source-version-id")!
    static let amzChecksumAlgorithm = Self("x-amz-checksum-algorithm")!
}
