import Foundation
import NIOCore
import Synchronization
import Testing

@testable import Agent

/// tar and tgz bundles unpacked while they arrive (the agent's S3 downloads): the same tree as from a file, in any
/// chunking; nothing left when the download or the bundle fails; the download stopped when the unpack fails.
@Suite("Unpacking while downloading")
struct StreamingUnpackTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Feeds `data` in chunks of `size` bytes (the last one shorter), then optionally fails.
    static func feed(_ data: Data, chunk size: Int, failAtEnd: (any Error)? = nil, sent: Counter? = nil)
        -> @Sendable (ChunkPipe) async throws -> Void
    {
        let bytes = [UInt8](data)
        return { pipe in
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + size)
                guard await pipe.send(ByteBuffer(bytes: bytes[offset..<end])) else { throw CancellationError() }
                sent?.value.add(end - offset, ordering: .relaxed)
                offset = end
            }
            if let failAtEnd { throw failAtEnd }
        }
    }

    func source(_ sandbox: BundleSandbox) throws -> (URL, [String: Data]) {
        let source = sandbox.work.appendingPathComponent("source")
        try FileManager.default.createDirectory(
            at: source.appendingPathComponent("model"), withIntermediateDirectories: true)
        var expected: [String: Data] = [:]
        for index in 0..<12 {
            let data = Data((0..<(index * 50_000 + 7)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ index) })
            try data.write(to: source.appendingPathComponent("model/part\(index).bin"))
            expected["model/part\(index).bin"] = data
        }
        try Data("version: 0.0\nos: linux\n".utf8).write(to: source.appendingPathComponent("appspec.yml"))
        return (source, expected)
    }

    @Test(
        "tar and tgz streamed in chunks of 1 byte to 1 MiB unpack to the same tree; a gzipped .tar is detected",
        arguments: [1, 7, 4096, 1 << 20])
    func roundTrip(chunk: Int) async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let (source, expected) = try source(sandbox)
        let tgz = sandbox.work.appendingPathComponent("bundle.tgz")
        let tar = sandbox.work.appendingPathComponent("bundle.tar")
        try runTool("tar", "-czf", tgz.path, "-C", source.path, ".")
        try runTool("tar", "-cf", tar.path, "-C", source.path, ".")
        // One-byte chunks of a large archive take long: that case gets the tgz only.
        let cases: [(URL, BundleType)] =
            chunk == 1 ? [(tgz, .tar)] : [(tgz, .tgz), (tar, .tar), (tgz, .tar)]
        for (archive, type) in cases {
            let summary = try await BundleUnpacker().unpack(
                streaming: type, into: sandbox.target, feed: Self.feed(try Data(contentsOf: archive), chunk: chunk))
            #expect(summary.bytes == Int64(expected.values.map(\.count).reduce(0, +) + 23))
            for (name, data) in expected {
                #expect(try Data(contentsOf: sandbox.target.appendingPathComponent(name)) == data, "\(name)")
            }
            try FileManager.default.removeItem(at: sandbox.target)
        }
    }

    struct ChecksumMismatch: Error {}

    @Test("a download that fails after its last byte (an MD5 that is not the ETag) leaves nothing unpacked")
    func failureAfterTheEnd() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let (source, _) = try source(sandbox)
        let tgz = sandbox.work.appendingPathComponent("bundle.tgz")
        try runTool("tar", "-czf", tgz.path, "-C", source.path, ".")
        await #expect(throws: ChecksumMismatch.self) {
            try await BundleUnpacker().unpack(
                streaming: .tgz, into: sandbox.target,
                feed: Self.feed(try Data(contentsOf: tgz), chunk: 65_536, failAtEnd: ChecksumMismatch()))
        }
        try sandbox.expectNothingLeft()
    }

    @Test("a hostile entry early in the stream stops the unpack with its error, and stops the download")
    func hostileStopsDownload() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        var entries = [BundleEntrySpec.file("../escape", "x")]
        // Then about 20 MB the download would otherwise have to deliver.
        for index in 0..<20 {
            entries.append(.file("filler\(index)", String(repeating: "\(index)", count: 1 << 20)))
        }
        let archive = try sandbox.archive("tar", entries)
        let data = try Data(contentsOf: archive)
        let sent = Counter()
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(
                streaming: .tar, into: sandbox.target, feed: Self.feed(data, chunk: 65_536, sent: sent))
        }
        #expect(error?.entry == "../escape")
        #expect(sent.value.load(ordering: .relaxed) < data.count / 2, "the download went on after the unpack failed")
        try sandbox.expectNothingLeft()
    }

    @Test("a stream cut short is a truncated archive; an empty one and garbage are refused", arguments: [0, 1, 3])
    func truncatedAndGarbage(kind: Int) async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let (source, _) = try source(sandbox)
        let tgz = sandbox.work.appendingPathComponent("bundle.tgz")
        try runTool("tar", "-czf", tgz.path, "-C", source.path, ".")
        let whole = try Data(contentsOf: tgz)
        let data: Data =
            switch kind {
            case 0: whole.prefix(whole.count / 2)
            case 1: Data()
            default: Data(repeating: 0x1f, count: 5000)
            }
        await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(
                streaming: .tgz, into: sandbox.target, feed: Self.feed(data, chunk: 4096))
        }
        try sandbox.expectNothingLeft()
    }

    @Test("zip and directory bundles are not streamed")
    func onlyTar() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        for type in [BundleType.zip, .directory] {
            await #expect(throws: BundleError.self) {
                try await BundleUnpacker().unpack(streaming: type, into: sandbox.target, feed: { _ in })
            }
        }
    }
}
