import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import S3Transfer
import SigV4

/// The few S3 calls `slipway deploy` makes against the server's built-in S3, on the same endpoint as the
/// CodeDeploy API: path-style addressing, SigV4 for the `s3` service.
extension APIClient {
    /// Whether the bucket exists (HEAD answers 200; 404 means it does not).
    func bucketExists(_ bucket: String) async throws -> Bool {
        let (status, body, _) = try await send(.s3(.HEAD, bucket: bucket), limit: 1 << 20)
        switch status {
        case 200: return true
        case 404: return false
        default: throw Self.s3Error(status: status, body: body, doing: "HEAD s3://\(bucket)")
        }
    }

    /// Creates the bucket; one that exists already and is ours is fine.
    func createBucket(_ bucket: String) async throws {
        let (status, body, _) = try await send(.s3(.PUT, bucket: bucket), limit: 1 << 20)
        let text = String(decoding: body, as: UTF8.self)
        guard status == 200 || text.contains("BucketAlreadyOwnedByYou") else {
            throw Self.s3Error(status: status, body: body, doing: "creating s3://\(bucket)")
        }
    }

    /// Uploads a file with a single PutObject, streamed from disk with its SHA-256 signed, and returns the ETag
    /// (without quotes).
    func putObject(bucket: String, key: String, file: URL, sha256: String) async throws -> String {
        let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int64 ?? 0
        let (status, body, headers) = try await send(
            .s3(
                .PUT, bucket: bucket, key: key, headers: [HTTPHeader("Content-Type", "application/zip")],
                body: .stream(.stream(FileChunks(url: file), length: .known(size)), payload: .sha256(sha256)),
                timeout: .hours(1)),
            limit: 1 << 20)
        guard status == 200 else {
            throw Self.s3Error(status: status, body: body, doing: "uploading s3://\(bucket)/\(key)")
        }
        return (headers.first(name: "ETag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    private static func s3Error(status: UInt, body: Data, doing what: String) -> APIError {
        let text = String(decoding: body, as: UTF8.self)
        let error = AWSErrorAnswer(xml: text)
        return APIError(code: error.code ?? "HTTP \(status)", message: error.message ?? "\(what) failed")
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
