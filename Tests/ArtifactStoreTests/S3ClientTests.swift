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
}
