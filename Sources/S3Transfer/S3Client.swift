import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SigV4

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An S3-compatible endpoint that Slipway does not serve itself (AWS S3, MinIO, Ceph, Garage), addressed
/// path-style.
public struct S3Endpoint: Sendable, Hashable {
    /// `https://host[:port]`, without a path.
    public var url: String
    public var region: String
    public var credentials: Credentials

    public init(url: String, region: String, credentials: Credentials) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.region = region
        self.credentials = credentials
    }
}

/// What went wrong talking to an external endpoint.
public struct S3ClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The HTTP status, when the endpoint answered.
    public let status: Int?

    public init(_ description: String, status: Int? = nil) {
        self.description = description
        self.status = status
    }
}

/// A SigV4 S3 client for revisions in external buckets: HEAD for CreateDeployment, and a streaming GET to a file
/// that resumes with a ranged request after a dropped connection, retries with exponential backoff, and checks
/// the ETag. Used by the server and by agents; requests go through a ``SignedHTTPClient``.
public struct S3Client: Sendable {
    /// The client requests are signed and sent with; its endpoint is the S3 endpoint.
    public let client: SignedHTTPClient
    /// Attempts per download or HEAD, the first included.
    public var maximumAttempts = 5
    /// The first retry delay; doubled for every further attempt.
    public var initialBackoff: TimeAmount = .milliseconds(200)

    public init(client: SignedHTTPClient) {
        self.client = client
    }

    /// A client for `endpoint` with its fixed keys. An endpoint that is not a URL fails every request, naming it.
    public init(endpoint: S3Endpoint, http: HTTPClient = .shared) {
        self.init(
            client: SignedHTTPClient(
                endpoint: URL(string: endpoint.url) ?? URL(fileURLWithPath: endpoint.url), region: endpoint.region,
                credentials: endpoint.credentials, http: http))
    }

    /// The endpoint as error messages name it.
    var endpointText: String { client.endpoint.absoluteString }

    /// The object's ETag, version and size, or nil when the endpoint answers 404.
    public func head(bucket: String, key: String, version: String?) async throws -> RevisionObject? {
        try await retrying {
            let response = try await client.send(
                .s3(.HEAD, bucket: bucket, key: key, versionID: version, timeout: .seconds(30)))
            if response.status.code == 404 { return nil }
            guard response.status.code == 200 else {
                throw S3ClientError(
                    "HEAD s3://\(bucket)/\(key) at \(endpointText) answered \(response.status.code)",
                    status: Int(response.status.code))
            }
            return Self.object(from: response.headers, size: nil)
        }
    }

    static func object(from headers: HTTPHeaders, size: Int64?) -> RevisionObject {
        let eTag = (headers.first(name: "ETag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return RevisionObject(
            eTag: eTag, versionID: headers.first(name: "x-amz-version-id"),
            size: size ?? Int64(headers.first(name: "Content-Length") ?? "") ?? 0)
    }

    /// Downloads the object into `destination` (replaced only when the download is complete and checked).
    ///
    /// A dropped connection resumes where it stopped with `Range` and `If-Match` (so a changed object is not
    /// spliced). When `expectedETag` is given the object must have it; a single-part ETag is also checked
    /// against the MD5 of the bytes received.
    @discardableResult
    public func download(
        bucket: String, key: String, version: String?, expectedETag: String?, to destination: URL
    ) async throws -> RevisionObject {
        let partial = destination.appendingPathExtension("partial")
        do {
            return try await download(
                bucket: bucket, key: key, version: version, expectedETag: expectedETag, to: destination,
                partial: partial)
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
    }

    private func download(
        bucket: String, key: String, version: String?, expectedETag: String?, to destination: URL, partial: URL
    ) async throws -> RevisionObject {
        guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
            throw S3ClientError("cannot create \(partial.path)")
        }
        let handle = try FileHandle(forWritingTo: partial)
        defer { try? handle.close() }
        let object = try await stream(bucket: bucket, key: key, version: version, expectedETag: expectedETag) {
            buffer in try handle.write(contentsOf: Data(buffer.readableBytesView))
        }
        try handle.synchronize()
        _ = try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: partial, to: destination)
        return object
    }

    /// Hands the object's bytes to `consume` in order, exactly once each: a dropped connection resumes where it
    /// stopped with `Range` and `If-Match` (so a changed object is not spliced), and an endpoint that ignores the
    /// range has the bytes already consumed skipped. When `expectedETag` is given the object must have it; a
    /// single-part ETag is also checked against the MD5 of the bytes, after the last one was consumed, so a
    /// consumer that acts on the bytes as they come must undo its work when this throws.
    public func stream(
        bucket: String, key: String, version: String?, expectedETag: String?,
        consume: (ByteBuffer) async throws -> Void
    ) async throws -> RevisionObject {
        var received: Int64 = 0
        var md5 = Insecure.MD5()
        var object: RevisionObject?
        var attempt = 0
        while true {
            attempt += 1
            do {
                var headers: [HTTPHeader] = []
                if received > 0, let eTag = object?.eTag {
                    headers.append(HTTPHeader("Range", "bytes=\(received)-"))
                    headers.append(HTTPHeader("If-Match", "\"\(eTag)\""))
                }
                let response = try await client.send(
                    .s3(.GET, bucket: bucket, key: key, versionID: version, headers: headers, timeout: .hours(6)))
                let status = Int(response.status.code)
                guard status == 200 || status == 206 else {
                    throw S3ClientError(
                        "GET s3://\(bucket)/\(key) at \(endpointText) answered \(status)", status: status)
                }
                // The endpoint ignored the range: the bytes already consumed come again, and are skipped.
                var skip = status == 200 ? received : 0
                if object == nil {
                    let found = Self.object(from: response.headers, size: nil)
                    if let expectedETag,
                        found.eTag != expectedETag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    {
                        throw S3ClientError(
                            "s3://\(bucket)/\(key) has ETag \(found.eTag), the revision expects \(expectedETag)")
                    }
                    object = found
                }
                for try await var buffer in response.body {
                    if skip > 0 {
                        let dropped = Int(min(skip, Int64(buffer.readableBytes)))
                        buffer.moveReaderIndex(forwardBy: dropped)
                        skip -= Int64(dropped)
                        if buffer.readableBytes == 0 { continue }
                    }
                    buffer.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
                    received += Int64(buffer.readableBytes)
                    do {
                        try await consume(buffer)
                    } catch {
                        throw StreamConsumerError(underlying: error)
                    }
                }
                break
            } catch let error as StreamConsumerError {
                throw error.underlying
            } catch {
                // Retried, resuming after the bytes already consumed, unless final.
                guard !Self.isFinal(error), attempt < maximumAttempts else { throw error }
                try await Task.sleep(for: .nanoseconds(initialBackoff.nanoseconds << (attempt - 1)))
            }
        }
        guard var object else { throw S3ClientError("no response") }
        object.size = received
        if !object.eTag.contains("-") && object.eTag.count == 32 {
            let actual = md5.finalize().map { String(format: "%02x", $0) }.joined()
            guard actual == object.eTag.lowercased() else {
                throw S3ClientError("s3://\(bucket)/\(key): the MD5 of the download (\(actual)) is not its ETag")
            }
        }
        return object
    }

    /// The bytes of `range` of the object, which must still have `eTag` (`If-Match`): a small read, such as a zip's
    /// central directory. At most `limit` bytes.
    public func fetch(
        bucket: String, key: String, version: String?, eTag: String, range: ClosedRange<Int64>, limit: Int = 64 << 20
    ) async throws -> [UInt8] {
        // Checked in this order so that no range, however wide, overflows the length.
        guard range.lowerBound >= 0, range.upperBound - range.lowerBound < Int64(limit) else {
            throw S3ClientError("a ranged read of \(range) is outside the object or beyond the limit of \(limit) bytes")
        }
        let length = range.upperBound - range.lowerBound + 1
        return try await retrying {
            let response = try await rangedGET(
                bucket: bucket, key: key, version: version, eTag: eTag, range: range, timeout: .minutes(5))
            let body = try await response.body.collect(upTo: limit)
            guard Int64(body.readableBytes) == length else {
                throw S3ClientError("s3://\(bucket)/\(key): \(body.readableBytes) bytes of the \(length) asked for")
            }
            return Array(body.readableBytesView)
        }
    }

    /// Downloads `ranges` of the object (which must still have `eTag`) into `fd` at the same offsets, resuming each
    /// range after a dropped connection where it stopped. Returns the bytes received.
    public func download(
        bucket: String, key: String, version: String?, eTag: String, ranges: [ClosedRange<Int64>], into fd: Int32
    ) async throws -> Int64 {
        var total: Int64 = 0
        for range in ranges {
            var next = range.lowerBound
            var attempt = 0
            while next <= range.upperBound {
                attempt += 1
                do {
                    let response = try await rangedGET(
                        bucket: bucket, key: key, version: version, eTag: eTag, range: next...range.upperBound,
                        timeout: .hours(6))
                    for try await buffer in response.body {
                        guard Int64(buffer.readableBytes) <= range.upperBound - next + 1 else {
                            throw S3ClientError(
                                "s3://\(bucket)/\(key): more bytes than the range asked for", status: 400)
                        }
                        try buffer.withUnsafeReadableBytes { bytes in
                            var offset = 0
                            while offset < bytes.count {
                                let written = pwrite(
                                    fd, bytes.baseAddress! + offset, bytes.count - offset, off_t(next) + off_t(offset))
                                if written < 0 && errno == EINTR { continue }
                                guard written > 0 else {
                                    throw S3ClientError(
                                        "cannot write the download: \(String(cString: strerror(errno)))")
                                }
                                offset += written
                            }
                        }
                        next += Int64(buffer.readableBytes)
                        total += Int64(buffer.readableBytes)
                    }
                    guard next > range.upperBound else {
                        throw S3ClientError("s3://\(bucket)/\(key): the range ended early", status: 500)
                    }
                } catch {
                    guard !Self.isFinal(error), attempt < maximumAttempts else { throw error }
                    try await Task.sleep(for: .nanoseconds(initialBackoff.nanoseconds << (attempt - 1)))
                }
            }
        }
        return total
    }

    /// A GET of `range` of the object, which must still have `eTag`; anything but 206 is an error.
    private func rangedGET(
        bucket: String, key: String, version: String?, eTag: String, range: ClosedRange<Int64>, timeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        let response = try await client.send(
            .s3(
                .GET, bucket: bucket, key: key, versionID: version,
                headers: [
                    HTTPHeader("Range", "bytes=\(range.lowerBound)-\(range.upperBound)"),
                    HTTPHeader("If-Match", "\"\(eTag)\""),
                ], timeout: timeout))
        guard response.status.code == 206 else {
            throw S3ClientError(
                "GET s3://\(bucket)/\(key) bytes \(range.lowerBound)-\(range.upperBound) at \(endpointText) answered "
                    + "\(response.status.code)", status: Int(response.status.code))
        }
        return response
    }

    /// Whether a failed request is not worth repeating: a 4xx (a 412 means the object changed under a resumed
    /// download) or a failed check. A 5xx, 408, 429, a timeout or a dropped connection is retried.
    private static func isFinal(_ error: any Error) -> Bool {
        guard let clientError = error as? S3ClientError else { return false }
        return clientError.status.map { $0 < 500 && $0 != 408 && $0 != 429 } ?? true
    }

    private func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let error as S3ClientError where (error.status ?? 500) < 500 {
                throw error
            } catch {
                guard attempt < maximumAttempts else { throw error }
                try await Task.sleep(for: .nanoseconds(initialBackoff.nanoseconds << (attempt - 1)))
            }
        }
    }
}

/// A consumer's own failure, passed through a stream's retries untouched.
private struct StreamConsumerError: Error {
    let underlying: any Error
}

/// External buckets, by name or for every bucket the built-in store does not host.
public struct ExternalBuckets: Sendable {
    public var perBucket: [String: S3Endpoint]
    public var fallback: S3Endpoint?

    public init(perBucket: [String: S3Endpoint] = [:], fallback: S3Endpoint? = nil) {
        self.perBucket = perBucket
        self.fallback = fallback
    }

    public func endpoint(for bucket: String) -> S3Endpoint? { perBucket[bucket] ?? fallback }
}

/// What CreateDeployment needs to know about a revision's S3 object.
public struct RevisionObject: Sendable, Hashable {
    /// The ETag without quotes (`<md5>` or `<md5>-<parts>`).
    public var eTag: String
    /// The version id, nil for an object in a bucket that never had versioning.
    public var versionID: String?
    public var size: Int64

    public init(eTag: String, versionID: String?, size: Int64) {
        self.eTag = eTag
        self.versionID = versionID
        self.size = size
    }
}
