import Crypto
import Foundation
import NIOCore
import S3Transfer
import SigV4
import Store
import Testing

@testable import ArtifactStore

/// A body as a sequence of buffers, cut into pieces of `pieceSize` to exercise boundaries.
struct Pieces: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    let pieceSize: Int

    init(_ bytes: [UInt8], pieceSize: Int = 7) {
        self.bytes = bytes
        self.pieceSize = pieceSize
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        let pieceSize: Int
        var offset = 0
        mutating func next() async throws -> ByteBuffer? {
            guard offset < bytes.count else { return nil }
            let end = Swift.min(bytes.count, offset + pieceSize)
            defer { offset = end }
            return ByteBuffer(bytes: bytes[offset..<end])
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, pieceSize: pieceSize) }
}

func md5Hex(_ bytes: [UInt8]) -> String { Hex.encode(Insecure.MD5.hash(data: bytes)) }

func makeStore() throws -> (LocalArtifactStore, URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("artifacts-\(UUID().uuidString)")
    let store = try SQLiteStore(path: directory.appendingPathComponent("db.sqlite").path)
    let artifacts = try LocalArtifactStore(
        store: store, directory: directory.appendingPathComponent("files"), region: "us-east-1")
    return (artifacts, directory)
}

let clock: @Sendable () -> Date = { Date(timeIntervalSince1970: 1_700_000_000) }

@Suite("Checksums")
struct ChecksumTests {
    @Test("CRC32, CRC32C and CRC64/NVME of the standard check input match their published check values")
    func checkValues() {
        let input = Array("123456789".utf8)
        func value(_ algorithm: ChecksumAlgorithm) -> String {
            var checksum = Checksum(algorithm)
            input.withUnsafeBytes { checksum.update($0) }
            return checksum.value
        }
        #expect(value(.crc32) == Data([0xCB, 0xF4, 0x39, 0x26]).base64EncodedString())
        #expect(value(.crc32c) == Data([0xE3, 0x06, 0x92, 0x83]).base64EncodedString())
        #expect(value(.crc64nvme) == Data([0xAE, 0x8B, 0x14, 0x86, 0x0A, 0x79, 0x98, 0x88]).base64EncodedString())
    }

    @Test("a checksum fed in pieces equals one fed at once")
    func incremental() {
        let input = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var whole = Checksum(.crc32)
        input.withUnsafeBytes { whole.update($0) }
        var pieces = Checksum(.crc32)
        for start in stride(from: 0, to: input.count, by: 333) {
            input[start..<min(input.count, start + 333)].withUnsafeBytes { pieces.update($0) }
        }
        #expect(whole.value == pieces.value)
    }
}

@Suite("aws-chunked decoding")
struct AWSChunkedDecoderTests {
    func decode(_ wire: [UInt8], payload: PayloadHash, signer: ChunkSigner?, pieceSize: Int) throws -> (
        [UInt8], AWSChunkedDecoder
    ) {
        var decoder = AWSChunkedDecoder(payload: payload, signer: signer)
        var output: [UInt8] = []
        for start in stride(from: 0, to: wire.count, by: pieceSize) {
            try wire[start..<min(wire.count, start + pieceSize)].withUnsafeBytes { bytes in
                try decoder.feed(bytes) { output.append(contentsOf: $0) }
            }
        }
        try decoder.finish()
        return (output, decoder)
    }

    @Test("an unsigned body with a trailing checksum, as botocore sends over HTTPS, decodes in any piece size")
    func unsignedTrailer() throws {
        let wire = Array("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n".utf8)
        for size in [1, 2, 5, 64] {
            let (output, decoder) = try decode(
                wire, payload: .streamingUnsignedWithTrailer, signer: nil, pieceSize: size)
            #expect(output == Array("hello world".utf8))
            #expect(decoder.trailers == [HTTPHeader("x-amz-checksum-crc32", "DUoRhQ==")])
        }
    }

    func signedWire(_ chunks: [[UInt8]], tamper: Bool = false) -> ([UInt8], ChunkSigner) {
        let signer = Signer(
            credentials: Credentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret"), region: "us-east-1",
            service: "s3")
        let signed = signer.sign(
            method: "PUT", path: "/b/k", headers: [HTTPHeader("Host", "localhost")], payload: .streamingSigned,
            date: Date(timeIntervalSince1970: 1_700_000_000))
        var chain = signed.chunkSigner()
        var wire: [UInt8] = []
        for chunk in chunks + [[]] {
            let signature = chain.sign(chunk: chunk)
            wire += Array("\(String(chunk.count, radix: 16));chunk-signature=\(signature)\r\n".utf8)
            wire += tamper && !chunk.isEmpty ? chunk.dropLast() + [0x58] : chunk
            wire += Array("\r\n".utf8)
        }
        return (wire, signed.chunkSigner())
    }

    @Test("signed chunks verify against the chain seeded by the request signature")
    func signedChunks() throws {
        let chunks = [[UInt8](repeating: 0x61, count: 65536), [UInt8](repeating: 0x62, count: 1000)]
        let (wire, seed) = signedWire(chunks)
        let (output, _) = try decode(wire, payload: .streamingSigned, signer: seed, pieceSize: 4096)
        #expect(output == chunks.flatMap { $0 })
    }

    @Test("a chunk altered in transit is SignatureDoesNotMatch")
    func tamperedChunk() {
        let (wire, seed) = signedWire([[UInt8](repeating: 0x61, count: 100)], tamper: true)
        #expect(throws: S3Error.self) { try decode(wire, payload: .streamingSigned, signer: seed, pieceSize: 50) }
        do {
            _ = try decode(wire, payload: .streamingSigned, signer: seed, pieceSize: 50)
        } catch let error as S3Error {
            #expect(error.code == "SignatureDoesNotMatch")
        } catch {}
    }

    @Test("a body that stops before its final chunk is IncompleteBody; garbage sizes are refused")
    func truncatedAndMalformed() {
        #expect(throws: S3Error.self) {
            try decode(Array("5\r\nhello\r\n".utf8), payload: .streamingUnsignedWithTrailer, signer: nil, pieceSize: 3)
        }
        #expect(throws: S3Error.self) {
            try decode(Array("zz\r\nhello\r\n".utf8), payload: .streamingUnsignedWithTrailer, signer: nil, pieceSize: 3)
        }
        #expect(throws: S3Error.self) {
            try decode(Array("2\r\nhello\r\n".utf8), payload: .streamingUnsignedWithTrailer, signer: nil, pieceSize: 3)
        }
    }
}

@Suite("XML")
struct XMLTests {
    @Test("a Delete request parses, with namespaces, entities and whitespace")
    func parseDelete() throws {
        let text = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b &lt;c&gt;</Key></Object>
            <Object><Key>d</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>
            """
        let document = try XMLRequestParser.parse(Array(text.utf8))
        #expect(document.name == "Delete")
        #expect(document.children(named: "Object").compactMap { $0.child("Key")?.text } == ["a&b <c>", "d"])
        #expect(document.child("Quiet")?.text == "true")
    }

    @Test("DTDs, unclosed and mismatched elements are MalformedXML")
    func refusals() {
        for text in [
            "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", "<a><b></a>", "<a>", "", "<a></a><b/>", "<a>&unknown;</a>",
        ] {
            #expect(throws: S3Error.self, "\(text)") { try XMLRequestParser.parse(Array(text.utf8)) }
        }
    }

    @Test("text is escaped in responses")
    func escaping() {
        #expect(XMLWriter.escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&apos;")
    }

    @Test("characters XML 1.0 cannot carry become U+FFFD, so an error echoing a hostile name still parses")
    func forbiddenCharacters() throws {
        #expect(XMLWriter.escape("victim\u{0}x\u{1B}[31m\u{FFFE}") == "victim\u{FFFD}x\u{FFFD}[31m\u{FFFD}")
        #expect(XMLWriter.escape("a\tb\nc\rd\u{7F}é") == "a&#9;b&#10;c&#13;d\u{7F}é")
        var writer = XMLWriter()
        writer.element("Key", "k\u{0}\u{1}")
        _ = try XMLRequestParser.parse(Array(writer.document.utf8))
    }
}

@Suite("Names")
struct NameTests {
    @Test(
        "names S3 reserves are refused",
        arguments: [
            "xn--abc", "sthree-abc", "amzn-s3-demo-bucket", "bucket-s3alias", "abc--ol-s3", "abc.mrap",
            "abc--x-s3", "abc--table-s3",
        ])
    func reservedBucketNames(_ name: String) {
        #expect(throws: S3Error.self) { try BucketName.validate(name) }
    }

    @Test("bucket names follow S3's rules")
    func bucketNames() {
        for good in ["abc", "my-bucket.v2", String(repeating: "a", count: 63)] {
            #expect(throws: Never.self) { try BucketName.validate(good) }
        }
        for bad in [
            "ab", "Upper", "under_score", "-start", "end-", "a..b", "192.168.1.1", String(repeating: "a", count: 64),
        ] {
            #expect(throws: S3Error.self, "\(bad)") { try BucketName.validate(bad) }
        }
    }
}

@Suite("The local artifact store")
struct LocalArtifactStoreTests {
    @Test("a put object reads back with the MD5 ETag; keys never become file paths")
    func putAndGet() async throws {
        let (artifacts, directory) = try makeStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await artifacts.createBucket("bundles", locationConstraint: nil, now: clock())
        let body = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0) }
        let key = "../../etc/passwd"
        let record = try await artifacts.putObject(
            bucket: "bundles", key: key, headers: [:], metadata: [:], body: Pieces(body, pieceSize: 65536),
            declaration: PayloadDeclaration(payload: .unsigned, contentLength: Int64(body.count)), now: clock)
        #expect(record.eTag == md5Hex(body))
        let reader = try await artifacts.open(try await artifacts.object(bucket: "bundles", key: key, versionID: nil))
        let buffer = try await reader.read(offset: 0, count: body.count)
        #expect(Array(buffer.readableBytesView) == body)
        let files = FileManager.default.enumerator(atPath: directory.appendingPathComponent("files").path)
        let names = (files?.allObjects as? [String]) ?? []
        #expect(!names.contains { $0.contains("passwd") })
    }

    @Test("a body whose SHA-256 differs from the signed one is refused and leaves nothing behind")
    func payloadMismatch() async throws {
        let (artifacts, directory) = try makeStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await artifacts.createBucket("bundles", locationConstraint: nil, now: clock())
        await #expect(throws: S3Error.self) {
            try await artifacts.putObject(
                bucket: "bundles", key: "k", headers: [:], metadata: [:], body: Pieces(Array("abc".utf8)),
                declaration: PayloadDeclaration(payload: .sha256(String(repeating: "0", count: 64))), now: clock)
        }
        await #expect(throws: S3Error.self) { try await artifacts.object(bucket: "bundles", key: "k", versionID: nil) }
        let tmp = directory.appendingPathComponent("files/tmp").path
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty)
    }

    @Test("listing pages by key with a prefix and groups by delimiter")
    func listing() async throws {
        let (artifacts, directory) = try makeStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await artifacts.createBucket("b-1", locationConstraint: nil, now: clock())
        for key in ["a/1", "a/2", "b/1", "c", "d/x/y"] {
            _ = try await artifacts.putObject(
                bucket: "b-1", key: key, headers: [:], metadata: [:], body: Pieces([1]),
                declaration: PayloadDeclaration(payload: .unsigned), now: clock)
        }
        let grouped = try await artifacts.list(bucket: "b-1", prefix: "", delimiter: "/", after: nil, maxKeys: 1000)
        #expect(grouped.commonPrefixes == ["a/", "b/", "d/"])
        #expect(grouped.objects.map(\.key) == ["c"])
        let first = try await artifacts.list(bucket: "b-1", prefix: "a/", delimiter: nil, after: nil, maxKeys: 1)
        #expect(first.objects.map(\.key) == ["a/1"] && first.isTruncated)
        let second = try await artifacts.list(
            bucket: "b-1", prefix: "a/", delimiter: nil, after: first.lastName, maxKeys: 1)
        #expect(second.objects.map(\.key) == ["a/2"])
        let paged = try await artifacts.list(bucket: "b-1", prefix: "", delimiter: "/", after: "a/", maxKeys: 2)
        #expect(paged.commonPrefixes == ["b/"] && paged.objects.map(\.key) == ["c"] && paged.isTruncated)
    }

    @Test("a versioned bucket keeps versions; a delete leaves a marker; deleting a version restores the previous")
    func versioning() async throws {
        let (artifacts, directory) = try makeStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await artifacts.createBucket("v-1", locationConstraint: nil, now: clock())
        let put = { (text: String) in
            try await artifacts.putObject(
                bucket: "v-1", key: "k", headers: [:], metadata: [:], body: Pieces(Array(text.utf8)),
                declaration: PayloadDeclaration(payload: .unsigned), now: clock)
        }
        let unversioned = try await put("zero")
        #expect(unversioned.versionID == nil)
        try await artifacts.setVersioning("v-1", status: "Enabled")
        let one = try await put("one")
        let two = try await put("two")
        #expect(one.versionID != nil && one.versionID != two.versionID)
        #expect(try await artifacts.object(bucket: "v-1", key: "k", versionID: nil).eTag == md5Hex(Array("two".utf8)))
        #expect(
            try await artifacts.object(bucket: "v-1", key: "k", versionID: "null").eTag == md5Hex(Array("zero".utf8)))
        let marker = try await artifacts.deleteObject(bucket: "v-1", key: "k", versionID: nil, now: clock())
        #expect(marker.deleteMarker)
        await #expect(throws: S3Error.self) { try await artifacts.object(bucket: "v-1", key: "k", versionID: nil) }
        _ = try await artifacts.deleteObject(bucket: "v-1", key: "k", versionID: marker.versionID, now: clock())
        #expect(try await artifacts.object(bucket: "v-1", key: "k", versionID: nil).versionID == two.versionID)
        let located = try await artifacts.locateRevision(bucket: "v-1", key: "k", version: one.versionID)
        #expect(located == RevisionObject(eTag: md5Hex(Array("one".utf8)), versionID: one.versionID, size: 3))
        #expect(try await artifacts.locateRevision(bucket: "v-1", key: "nope", version: nil) == nil)
        #expect(try await artifacts.hostsBucket("v-1"))
        #expect(try await !artifacts.hostsBucket("elsewhere"))
    }

    @Test("multipart: ETag of part MD5s, EntityTooSmall, InvalidPart, parts deleted after completion")
    func multipart() async throws {
        let (artifacts, directory) = try makeStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await artifacts.createBucket("m-1", locationConstraint: nil, now: clock())
        let upload = try await artifacts.createMultipartUpload(
            bucket: "m-1", key: "big", headers: [:], metadata: [:], checksumAlgorithm: nil, now: clock())
        let first = [UInt8](repeating: 1, count: Int(Multipart.minimumPartSize))
        let last = [UInt8](repeating: 2, count: 10)
        var parts: [(number: Int, eTag: String)] = []
        for (number, data) in [(1, first), (2, last)] {
            let part = try await artifacts.uploadPart(
                bucket: "m-1", key: "big", uploadID: upload.uploadID, partNumber: number,
                body: Pieces(data, pieceSize: 1 << 16), declaration: PayloadDeclaration(payload: .unsigned), now: clock)
            parts.append((number, "\"\(part.eTag)\""))
        }
        await #expect(throws: S3Error.self) {
            try await artifacts.completeMultipartUpload(
                bucket: "m-1", key: "big", uploadID: upload.uploadID, parts: [(1, "\"\(md5Hex(last))\"")], now: clock())
        }
        let record = try await artifacts.completeMultipartUpload(
            bucket: "m-1", key: "big", uploadID: upload.uploadID, parts: parts, now: clock())
        var combined = Insecure.MD5()
        combined.update(data: Insecure.MD5.hash(data: first).map { $0 })
        combined.update(data: Insecure.MD5.hash(data: last).map { $0 })
        #expect(record.eTag == "\(Hex.encode(combined.finalize()))-2")
        #expect(record.size == Int64(first.count + last.count))
        await #expect(throws: S3Error.self) {
            try await artifacts.listParts(bucket: "m-1", key: "big", uploadID: upload.uploadID, after: 0, maxParts: 10)
        }

        let small = try await artifacts.createMultipartUpload(
            bucket: "m-1", key: "small", headers: [:], metadata: [:], checksumAlgorithm: nil, now: clock())
        var smallParts: [(number: Int, eTag: String)] = []
        for number in 1...2 {
            let part = try await artifacts.uploadPart(
                bucket: "m-1", key: "small", uploadID: small.uploadID, partNumber: number, body: Pieces([1, 2, 3]),
                declaration: PayloadDeclaration(payload: .unsigned), now: clock)
            smallParts.append((number, part.eTag))
        }
        do {
            _ = try await artifacts.completeMultipartUpload(
                bucket: "m-1", key: "small", uploadID: small.uploadID, parts: smallParts, now: clock())
            Issue.record("a 3-byte first part was accepted")
        } catch let error as S3Error {
            #expect(error.code == "EntityTooSmall")
        }
    }

    @Test("a bucket with objects cannot be deleted; an empty one can")
    func deleteBucket() async throws {
        let (artifacts, directory) = try makeStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await artifacts.createBucket("d-1", locationConstraint: nil, now: clock())
        _ = try await artifacts.putObject(
            bucket: "d-1", key: "k", headers: [:], metadata: [:], body: Pieces([1]),
            declaration: PayloadDeclaration(payload: .unsigned), now: clock)
        await #expect(throws: S3Error.self) { try await artifacts.deleteBucket("d-1") }
        _ = try await artifacts.deleteObject(bucket: "d-1", key: "k", versionID: nil, now: clock())
        try await artifacts.deleteBucket("d-1")
        #expect(try await artifacts.listBuckets().isEmpty)
    }
}
