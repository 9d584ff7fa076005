import Foundation
import NIOCore
import SigV4
import Store
import Testing

@testable import ArtifactStore

/// The store's quota and the expiry of incomplete multipart uploads.
@Suite("Storage limits")
struct StorageLimitsTests {
    static let start = Date(timeIntervalSince1970: 1_700_000_000)

    /// A store with `quota` bytes in a temporary directory and a bucket `bundles`.
    static func makeStore(quota: Int64?, directory: URL? = nil) async throws -> (LocalArtifactStore, URL) {
        let directory =
            directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("quota-\(UUID().uuidString)")
        let store = try SQLiteStore(path: directory.appendingPathComponent("db.sqlite").path)
        let artifacts = try LocalArtifactStore(
            store: store, directory: directory.appendingPathComponent("files"), region: "us-east-1", quota: quota)
        if try await artifacts.listBuckets().isEmpty {
            try await artifacts.createBucket("bundles", locationConstraint: nil, now: start)
        }
        return (artifacts, directory)
    }

    static func put(_ artifacts: LocalArtifactStore, _ key: String, size: Int, declareLength: Bool = true)
        async throws -> ObjectRecord
    {
        let body = [UInt8](repeating: 0x61, count: size)
        return try await artifacts.putObject(
            bucket: "bundles", key: key, headers: [:], metadata: [:], body: Pieces(body, pieceSize: 16),
            declaration: PayloadDeclaration(payload: .unsigned, contentLength: declareLength ? Int64(size) : nil),
            now: { start })
    }

    static func temporaryFiles(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("files/tmp").path)
    }

    static func isQuotaExceeded(_ error: any Error) -> Bool {
        (error as? S3Error)?.code == "QuotaExceeded" && (error as? S3Error)?.status == 403
    }

    @Test("a PUT of declared length that would pass the quota is refused before a byte is written")
    func declaredLengthIsRefusedUpFront() async throws {
        let (artifacts, directory) = try await Self.makeStore(quota: 100)
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await Self.put(artifacts, "a", size: 60)
        #expect(artifacts.files.usage.storedBytes == 60)
        /// A body that fails if it is ever read: the refusal must come first.
        struct Untouchable: AsyncSequence, Sendable {
            typealias Element = ByteBuffer
            struct AsyncIterator: AsyncIteratorProtocol {
                mutating func next() async throws -> ByteBuffer? {
                    Issue.record("the body was read although the quota refuses it")
                    return nil
                }
            }
            func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
        }
        await #expect {
            try await artifacts.putObject(
                bucket: "bundles", key: "b", headers: [:], metadata: [:], body: Untouchable(),
                declaration: PayloadDeclaration(payload: .unsigned, contentLength: 41), now: { Self.start })
        } throws: { Self.isQuotaExceeded($0) }
        #expect(try Self.temporaryFiles(directory).isEmpty)
        _ = try await Self.put(artifacts, "b", size: 40)  // exactly up to the quota
        #expect(artifacts.files.usage.storedBytes == 100)
    }

    @Test("a body of unknown length is stopped when it passes the quota, and its partial file is removed")
    func unknownLengthIsStoppedAndRemoved() async throws {
        let (artifacts, directory) = try await Self.makeStore(quota: 100)
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await Self.put(artifacts, "a", size: 60, declareLength: false)
        await #expect {
            try await Self.put(artifacts, "b", size: 500, declareLength: false)
        } throws: { Self.isQuotaExceeded($0) }
        #expect(try Self.temporaryFiles(directory).isEmpty)
        await #expect(throws: S3Error.self) { try await artifacts.object(bucket: "bundles", key: "b", versionID: nil) }
        #expect(artifacts.files.usage.storedBytes == 60, "the refused body holds no space")
    }

    @Test("deleting and overwriting give space back (an overwrite needs room for both); a reopened store recounts")
    func spaceIsGivenBackAndRecounted() async throws {
        let (artifacts, directory) = try await Self.makeStore(quota: 100)
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await Self.put(artifacts, "a", size: 50)
        _ = try await Self.put(artifacts, "a", size: 50)  // replaces: the old version's bytes go
        #expect(artifacts.files.usage.storedBytes == 50)
        await #expect {
            try await Self.put(artifacts, "a", size: 90)
        } throws: { Self.isQuotaExceeded($0) }
        _ = try await Self.put(artifacts, "a", size: 40)
        #expect(artifacts.files.usage.storedBytes == 40)
        _ = try await artifacts.deleteObject(bucket: "bundles", key: "a", versionID: nil, now: Self.start)
        #expect(artifacts.files.usage.storedBytes == 0)
        _ = try await Self.put(artifacts, "c", size: 70)
        let (reopened, _) = try await Self.makeStore(quota: 100, directory: directory)
        #expect(reopened.files.usage.storedBytes == 70)
        await #expect {
            try await Self.put(reopened, "d", size: 31)
        } throws: { Self.isQuotaExceeded($0) }
    }

    @Test("UploadPart and CopyObject are held to the quota too")
    func partsAndCopiesCount() async throws {
        let (artifacts, directory) = try await Self.makeStore(quota: 100)
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try await Self.put(artifacts, "a", size: 60)
        await #expect {
            try await artifacts.copyObject(
                from: ("bundles", "a", nil), to: "bundles", key: "copy", replacing: nil, now: Self.start)
        } throws: { Self.isQuotaExceeded($0) }
        let upload = try await artifacts.createMultipartUpload(
            bucket: "bundles", key: "big", headers: [:], metadata: [:], checksumAlgorithm: nil, now: Self.start)
        await #expect {
            try await artifacts.uploadPart(
                bucket: "bundles", key: "big", uploadID: upload.uploadID, partNumber: 1,
                body: Pieces([UInt8](repeating: 1, count: 50)),
                declaration: PayloadDeclaration(payload: .unsigned, contentLength: 50), now: { Self.start })
        } throws: { Self.isQuotaExceeded($0) }
        #expect(try Self.temporaryFiles(directory).isEmpty)
        #expect(artifacts.files.usage.storedBytes == 60)
    }

    @Test("incomplete uploads older than the expiry are aborted with their parts; younger ones are kept")
    func uploadsExpire() async throws {
        let (artifacts, directory) = try await Self.makeStore(quota: nil)
        defer { try? FileManager.default.removeItem(at: directory) }
        let day: TimeInterval = 86_400
        var uploads: [UploadRecord] = []
        for age in [8.0, 7.0, 1.0] {
            let upload = try await artifacts.createMultipartUpload(
                bucket: "bundles", key: "k\(Int(age))", headers: [:], metadata: [:], checksumAlgorithm: nil,
                now: Self.start.addingTimeInterval(-age * day))
            _ = try await artifacts.uploadPart(
                bucket: "bundles", key: upload.key, uploadID: upload.uploadID, partNumber: 1,
                body: Pieces([UInt8](repeating: 2, count: 10)),
                declaration: PayloadDeclaration(payload: .unsigned, contentLength: 10), now: { Self.start })
            uploads.append(upload)
        }
        #expect(artifacts.files.usage.storedBytes == 30)
        let aborted = try await artifacts.expireUploads(initiatedBefore: Self.start.addingTimeInterval(-7 * day))
        #expect(aborted.map(\.upload.uploadID) == [uploads[0].uploadID], "exactly 7 days old is not yet expired")
        #expect(artifacts.files.usage.storedBytes == 20)
        let left = try await artifacts.listUploads(bucket: "bundles", prefix: "").map(\.uploadID)
        #expect(Set(left) == [uploads[1].uploadID, uploads[2].uploadID])
        #expect(try await artifacts.expireUploads(initiatedBefore: Self.start.addingTimeInterval(-7 * day)).isEmpty)
    }

    @Test(
        "quota sizes are whole bytes with a binary unit; anything else is refused",
        arguments: [
            ("0", Int64?.some(0)), ("1048576", 1_048_576), ("50G", 50 << 30), ("512M", 512 << 20),
            ("512MiB", 512 << 20),
            ("2KB", 2048), ("1T", 1 << 40), ("8388607T", 8_388_607 << 40), ("9223372036854775807", Int64.max),
        ])
    func quotaSizes(text: String, bytes: Int64?) {
        #expect(StorageLimits.parseQuota(text) == .some(bytes))
    }

    @Test(
        "malformed or overflowing quota sizes are refused",
        arguments: [
            "", "-1", "+5", "1.5G", "1e9", "inf", "nan", "5g", "5 G", " 5G", "5GG", "G", "8388608T",
            "9223372036854775808",
            "99999999999999999999", "5\u{0}G", "５G", "5X", "5iB", "0x10",
        ])
    func badQuotaSizes(text: String) {
        #expect(StorageLimits.parseQuota(text) == nil)
    }

    @Test("upload expiries are whole numbers with an s, m, h or d unit; anything else is refused")
    func durations() {
        #expect(StorageLimits.parseDuration("7d") == TimeInterval(7 * 86_400))
        #expect(StorageLimits.parseDuration("36h") == TimeInterval(36 * 3600))
        #expect(StorageLimits.parseDuration("90m") == TimeInterval(5400))
        #expect(StorageLimits.parseDuration("3600") == TimeInterval(3600))
        #expect(StorageLimits.parseDuration("45s") == TimeInterval(45))
        for bad in [
            "", "d", "-1d", "+1d", "1.5d", "1e3", "inf", "nan", "7 d", "7D", "7w", "99999999999999d", "1\u{0}d",
        ] {
            #expect(StorageLimits.parseDuration(bad) == nil, "\(bad)")
        }
    }
}
