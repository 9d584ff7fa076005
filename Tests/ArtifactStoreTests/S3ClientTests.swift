import AsyncHTTPClient
import Foundation
import NIOHTTP1
import S3Transfer
import SigV4
import Testing

@testable import ArtifactStore

/// A `slipway server --plain-http` process built next to this test bundle, with an admin key.
final class PlainServer: @unchecked Sendable {
    static var binary: URL {
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("slipway")
    }

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: binary.path) }

    let process = Process()
    let directory: URL
    let endpoint: String
    let credentials: Credentials

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("s3client-\(UUID().uuidString)")
        process.executableURL = Self.binary
        process.arguments = ["server", "--plain-http", "--data-dir", directory.path, "--listen", "127.0.0.1:0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) == nil {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty && !process.isRunning { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else {
            process.terminate()
            throw S3ClientError("the server did not start: \(text)")
        }
        endpoint = String(text[range])
        let keys = Process()
        keys.executableURL = Self.binary
        keys.arguments = ["keys", "create", "--role", "admin", "--json", "--data-dir", directory.path]
        let keyOutput = Pipe()
        keys.standardOutput = keyOutput
        try keys.run()
        let data = keyOutput.fileHandleForReading.readDataToEndOfFile()
        keys.waitUntilExit()
        let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
        credentials = Credentials(
            accessKeyId: object?["AccessKey"]?["AccessKeyId"] as? String ?? "",
            secretAccessKey: object?["AccessKey"]?["SecretAccessKey"] as? String ?? "")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

@Suite("The S3 client against a real Slipway server", .enabled(if: PlainServer.isAvailable), .serialized)
struct S3ClientTests {
    /// Sends a signed request with a body through the client's own signed client, for setting up objects.
    func send(_ client: S3Client, method: HTTPMethod, bucket: String, key: String? = nil, body: [UInt8]) async throws
        -> Int
    {
        let response = try await client.client.send(.s3(method, bucket: bucket, key: key, body: .bytes(Data(body))))
        return Int(response.status.code)
    }

    @Test("HEAD finds an object's ETag, a missing key is nil, and a download checks the ETag")
    func headAndDownload() async throws {
        let server = try PlainServer()
        defer { server.stop() }
        let client = S3Client(
            endpoint: S3Endpoint(url: server.endpoint, region: "us-east-1", credentials: server.credentials))
        #expect(try await send(client, method: .PUT, bucket: "revisions", body: []) == 200)
        let content = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        #expect(try await send(client, method: .PUT, bucket: "revisions", key: "app/bundle.zip", body: content) == 200)

        let found = try await client.head(bucket: "revisions", key: "app/bundle.zip", version: nil)
        #expect(found?.eTag == md5Hex(content))
        #expect(found?.size == Int64(content.count))
        #expect(try await client.head(bucket: "revisions", key: "app/missing.zip", version: nil) == nil)

        let destination = server.directory.appendingPathComponent("downloaded.zip")
        let downloaded = try await client.download(
            bucket: "revisions", key: "app/bundle.zip", version: nil, expectedETag: "\"\(md5Hex(content))\"",
            to: destination)
        #expect(downloaded.size == Int64(content.count))
        #expect(try Data(contentsOf: destination) == Data(content))

        await #expect(throws: S3ClientError.self) {
            try await client.download(
                bucket: "revisions", key: "app/bundle.zip", version: nil,
                expectedETag: String(repeating: "0", count: 32),
                to: server.directory.appendingPathComponent("other.zip"))
        }
        #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("other.zip").path))
    }

    /// A server with bucket `revisions` holding `content` as `model.zip`, and a client for it.
    func serverWithObject(_ content: [UInt8]) async throws -> (PlainServer, S3Client) {
        let server = try PlainServer()
        let client = S3Client(
            endpoint: S3Endpoint(url: server.endpoint, region: "us-east-1", credentials: server.credentials))
        #expect(try await send(client, method: .PUT, bucket: "revisions", body: []) == 200)
        #expect(try await send(client, method: .PUT, bucket: "revisions", key: "model.zip", body: content) == 200)
        return (server, client)
    }

    @Test(
        "a ranged read returns exactly its bytes; another ETag is refused at once; a read beyond the limit is never sent"
    )
    func rangedRead() async throws {
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let (server, client) = try await serverWithObject(content)
        defer { server.stop() }
        let eTag = md5Hex(content)
        let tail = try await client.fetch(
            bucket: "revisions", key: "model.zip", version: nil, eTag: eTag, range: 199_000...199_999)
        #expect(tail == Array(content[199_000...]))
        let changed = await #expect(throws: S3ClientError.self) {
            try await client.fetch(
                bucket: "revisions", key: "model.zip", version: nil, eTag: String(repeating: "0", count: 32),
                range: 0...9)
        }
        #expect(changed?.status == 412)
        for range: ClosedRange<Int64> in [0...(64 << 20), -5...10, 0...Int64.max - 1, -1...Int64.max, Int64.min...0] {
            let refused = await #expect(throws: S3ClientError.self) {
                try await client.fetch(bucket: "revisions", key: "model.zip", version: nil, eTag: eTag, range: range)
            }
            #expect(refused?.status == nil, "\(range) reached the server")
        }
    }

    @Test("ranges download into a file at their offsets and nothing else is written; a consumer's error is final")
    func rangesAndConsumerErrors() async throws {
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ 3) }
        let (server, client) = try await serverWithObject(content)
        defer { server.stop() }
        let eTag = md5Hex(content)
        let file = server.directory.appendingPathComponent("sparse")
        let fd = open(file.path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(content.count)) == 0)
        let received = try await client.download(
            bucket: "revisions", key: "model.zip", version: nil, eTag: eTag, ranges: [0...999, 250_000...299_999],
            into: fd)
        close(fd)
        #expect(received == 51_000)
        let written = [UInt8](try Data(contentsOf: file))
        #expect(Array(written[0..<1000]) == Array(content[0..<1000]))
        #expect(Array(written[250_000...]) == Array(content[250_000...]))
        #expect(written[1000..<250_000].allSatisfy { $0 == 0 })

        struct Full: Error {}
        let calls = Counter()
        await #expect(throws: Full.self) {
            try await client.stream(bucket: "revisions", key: "model.zip", version: nil, expectedETag: eTag) { _ in
                calls.increment()
                throw Full()
            }
        }
        #expect(calls.value == 1, "a consumer's failure was retried")
        // Streamed whole, the bytes arrive once each, in order, and the MD5 is checked against the ETag.
        let collected = Collected()
        let object = try await client.stream(
            bucket: "revisions", key: "model.zip", version: nil, expectedETag: eTag
        ) { collected.append(Array($0.readableBytesView)) }
        #expect(object.size == Int64(content.count) && collected.bytes == content)
    }
}

/// Counts calls from a `@Sendable` closure.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

/// Bytes gathered from a `@Sendable` closure.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var gathered: [UInt8] = []
    var bytes: [UInt8] { lock.withLock { gathered } }
    func append(_ more: [UInt8]) { lock.withLock { gathered += more } }
}
