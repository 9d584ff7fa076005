import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigV4

/// The few S3 calls `slipway deploy` makes against the server's built-in S3, on the same endpoint as the
/// CodeDeploy API: path-style addressing, SigV4 for the `s3` service.
extension SignedClient {
    /// Whether the bucket exists (HEAD answers 200; 404 means it does not).
    func bucketExists(_ bucket: String) async throws -> Bool {
        let (status, body, _) = try await s3(method: .HEAD, bucket: bucket, key: nil, payload: .empty)
        switch status {
        case 200: return true
        case 404: return false
        default: throw Self.s3Error(status: status, body: body, doing: "HEAD s3://\(bucket)")
        }
    }

    /// Creates the bucket; one that exists already and is ours is fine.
    func createBucket(_ bucket: String) async throws {
        let (status, body, _) = try await s3(method: .PUT, bucket: bucket, key: nil, payload: .empty)
        let text = String(decoding: body, as: UTF8.self)
        guard status == 200 || text.contains("BucketAlreadyOwnedByYou") else {
            throw Self.s3Error(status: status, body: body, doing: "creating s3://\(bucket)")
        }
    }

    /// Uploads a file with a single PutObject, streamed from disk with its SHA-256 signed, and returns the ETag
    /// (without quotes).
    func putObject(bucket: String, key: String, file: URL, sha256: String) async throws -> String {
        let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int64 ?? 0
        let (status, body, headers) = try await s3(
            method: .PUT, bucket: bucket, key: key, payload: .sha256(sha256),
            extraHeaders: [HTTPHeader("Content-Type", "application/zip")],
            body: .stream(FileChunks(url: file), length: .known(size)), timeout: .hours(1))
        guard status == 200 else {
            throw Self.s3Error(status: status, body: body, doing: "uploading s3://\(bucket)/\(key)")
        }
        return (headers.first(name: "ETag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    private func s3(
        method: HTTPMethod, bucket: String, key: String?, payload: PayloadHash, extraHeaders: [HTTPHeader] = [],
        body: HTTPClientRequest.Body? = nil, timeout: TimeAmount = .seconds(60)
    ) async throws -> (UInt, Data, HTTPHeaders) {
        let endpoint = profile.endpoint
        let host = endpoint.port.map { "\(endpoint.host ?? ""):\($0)" } ?? (endpoint.host ?? "")
        let path =
            "/\(URIEncoding.encode(bucket))" + (key.map { "/" + URIEncoding.encode($0, keepSlash: true) } ?? "")
        let signer = Signer(credentials: profile.credentials, region: profile.region, service: "s3")
        let signed = signer.sign(
            method: method.rawValue, path: path, headers: [HTTPHeader("Host", host)] + extraHeaders,
            payload: payload, date: Date())
        var request = HTTPClientRequest(url: "\(endpoint.scheme ?? "https")://\(host)\(path)")
        request.method = method
        for header in signed.headers where header.name.lowercased() != "host" {
            request.headers.add(name: header.name, value: header.value)
        }
        if let body { request.body = body }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw ClientError("cannot reach \(endpoint.absoluteString): \(error)")
        }
        let answer = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, Data(answer.readableBytesView), response.headers)
    }

    private static func s3Error(status: UInt, body: Data, doing what: String) -> APIError {
        let text = String(decoding: body, as: UTF8.self)
        return APIError(
            code: element("Code", in: text) ?? "HTTP \(status)",
            message: element("Message", in: text) ?? "\(what) failed")
    }
}

/// A file read in 1 MiB chunks, as an upload body that never holds the whole file in memory.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let url: URL

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?

        mutating func next() async throws -> ByteBuffer? {
            guard let handle, let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else {
                try? handle?.close()
                return nil
            }
            return ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: try? FileHandle(forReadingFrom: url))
    }
}
