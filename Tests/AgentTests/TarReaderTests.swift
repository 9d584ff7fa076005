import Foundation
import Testing

@testable import Agent

/// Tar headers are hostile input: every number in them is checked, and a malformed one is refused with the entry's
/// name, never a trap (the reader runs inside the agent, and inside `slipway server --dev`).
@Suite struct TarReaderTests {
    @Test("a tar with a malformed size, checksum or length is refused, naming the entry", arguments: MalformedTar.all)
    func malformed(_ malformed: MalformedTar) async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = sandbox.work.appendingPathComponent("hostile.tar")
        try Data(malformed.bytes).write(to: archive)
        let error = await #expect(throws: BundleError.self, "\(malformed.name)") {
            try await BundleUnpacker().unpack(archive, type: .tar, into: sandbox.target)
        }
        #expect(error?.entry == malformed.entry, "\(malformed.name): \(String(describing: error))")
        #expect(
            error?.reason.contains(malformed.reason) == true, "\(malformed.name): \(String(describing: error))")
        try sandbox.expectNothingLeft()
    }

    @Test("an entry named with control characters is refused with a one-line message")
    func controlCharactersInMessages() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = sandbox.work.appendingPathComponent("hostile.tar")
        let name = "../x\nINFO deployment succeeded\u{1B}[2J"
        try Data(TarBytes.header(name, size: 1) + TarBytes.data("x") + TarBytes.end).write(to: archive)
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(archive, type: .tar, into: sandbox.target)
        }
        #expect(error?.entry == name)
        let description = error?.description ?? ""
        #expect(!description.contains("\n") && !description.contains("\u{1B}"), "\(description)")
        #expect(description.contains("../x\\u{0A}INFO deployment succeeded\\u{1B}[2J"), "\(description)")
        try sandbox.expectNothingLeft()
    }

    @Test("a pax time with a signed or empty fraction falls back to the header's time")
    func paxTimes() {
        #expect(TarReader.parseTime("1700000000.5")?.tv_nsec == 500_000_000)
        #expect(TarReader.parseTime("1700000000.123456789999")?.tv_nsec == 123_456_789)
        #expect(TarReader.parseTime("-5")?.tv_sec == -5)
        for text in ["1.-5", "1.+5", "1.", ".5", "", "1e9", "99999999999999999999", "1.5.5", "1\0"] {
            #expect(TarReader.parseTime(text) == nil, "\(text)")
        }
    }

    @Test("a size whose padding would overflow is refused by the size check itself")
    func paddedSize() throws {
        #expect(try TarReader.paddedSize(0, entry: "e") == 0)
        #expect(try TarReader.paddedSize(1, entry: "e") == 512)
        #expect(try TarReader.paddedSize(Int64.max - 511, entry: "e") == Int64.max - 511)
        for size in [Int64.max - 510, Int64.max, -1, Int64.min] {
            let error = #expect(throws: BundleError.self) { try TarReader.paddedSize(size, entry: "e") }
            #expect(error?.entry == "e")
        }
    }

    @Test("the fuzz entry point survives a corpus of hostile archives and their truncations and bit flips")
    func fuzzCorpus() {
        var corpus = MalformedTar.all.map(\.bytes)
        let valid =
            TarBytes.pax(["path": "dir/long-name", "mtime": "1700000000.25"], name: "PaxHeaders/long")
            + TarBytes.header("dir", type: "5", size: 0) + TarBytes.header("dir/long-name", size: 5)
            + TarBytes.data("hello") + TarBytes.header("dir/link", type: "2", link: "long-name") + TarBytes.end
        corpus.append(valid)
        // Every truncation of a valid archive, at block boundaries and inside headers and numbers.
        for length in stride(from: 0, to: valid.count, by: 37) { corpus.append(Array(valid.prefix(length))) }
        // Bit flips in the header fields (a fixed generator, so a failure replays).
        var generator = SplitMix(seed: 0x5EED)
        for _ in 0..<400 {
            var mutated = valid
            for _ in 0..<Int(generator.next() % 4 + 1) {
                let index = Int(generator.next() % UInt64(mutated.count))
                mutated[index] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
            }
            corpus.append(mutated)
        }
        // Each input whole, and split into one-byte chunks (the first byte of a fuzz input picks the chunk size).
        for input in corpus {
            ([255] + input).withUnsafeBytes { TarReader.fuzzOne($0) }
            ([0] + input).withUnsafeBytes { TarReader.fuzzOne($0) }
        }
    }
}

/// A hand-built tar that must be refused, and what the error must say.
struct MalformedTar: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var entry: String?
    var reason: String

    var testDescription: String { name }

    static let huge = "9223372036854775807"  // Int64.max

    static let all: [MalformedTar] = [
        MalformedTar(
            name: "pax size Int64.max on a directory",
            bytes: TarBytes.pax(["size": huge]) + TarBytes.header("d", type: "5", size: 0) + TarBytes.end,
            entry: "d", reason: "is not a possible archive size"),
        MalformedTar(
            name: "pax size Int64.max on a file",
            bytes: TarBytes.pax(["size": huge]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "f", reason: "is not a possible archive size"),
        MalformedTar(
            name: "pax size Int64.max on a symbolic link",
            bytes: TarBytes.pax(["size": huge]) + TarBytes.header("l", type: "2", link: "x") + TarBytes.end,
            entry: "l", reason: "is not a possible archive size"),
        MalformedTar(
            name: "pax size Int64.max on a hard link",
            bytes: TarBytes.header("f", size: 0) + TarBytes.pax(["size": huge])
                + TarBytes.header("h", type: "1", link: "f") + TarBytes.end,
            entry: "h", reason: "is not a possible archive size"),
        MalformedTar(
            name: "pax size Int64.max on a directory named with a slash",
            bytes: TarBytes.pax(["size": huge]) + TarBytes.header("d/", size: 0) + TarBytes.end,
            entry: "d/", reason: "is not a possible archive size"),
        MalformedTar(
            name: "pax size larger than Int64",
            bytes: TarBytes.pax(["size": "9223372036854775808"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "pax size of many digits",
            bytes: TarBytes.pax(["size": String(repeating: "9", count: 4000)]) + TarBytes.header("f", size: 0)
                + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "negative pax size",
            bytes: TarBytes.pax(["size": "-1"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "signed pax size",
            bytes: TarBytes.pax(["size": "+5"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "non-numeric pax size",
            bytes: TarBytes.pax(["size": "12abc"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "empty pax size",
            bytes: TarBytes.pax(["size": ""]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "pax size with a NUL",
            bytes: TarBytes.pax(["size": "1\0"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "is not a number of bytes"),
        MalformedTar(
            name: "base-256 size near Int64.max on a file",
            bytes: TarBytes.header("f", sizeField: [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff])
                + TarBytes.end,
            entry: "f", reason: "is not a possible archive size"),
        MalformedTar(
            name: "base-256 size near Int64.max on a directory",
            bytes: TarBytes.header(
                "d", type: "5", sizeField: [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff])
                + TarBytes.end,
            entry: "d", reason: "is not a possible archive size"),
        MalformedTar(
            name: "base-256 size near Int64.max on a global pax header",
            bytes: TarBytes.header(
                "g", type: "g", sizeField: [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff])
                + TarBytes.end,
            entry: "g", reason: "too large"),
        MalformedTar(
            name: "base-256 size beyond Int64",
            bytes: TarBytes.header("f", sizeField: [0x80] + [UInt8](repeating: 0xff, count: 11)) + TarBytes.end,
            entry: "f", reason: "size field is invalid"),
        MalformedTar(
            name: "negative base-256 size (0xff)",
            bytes: TarBytes.header("f", sizeField: [UInt8](repeating: 0xff, count: 12)) + TarBytes.end,
            entry: "f", reason: "size field is invalid"),
        MalformedTar(
            name: "negative base-256 size (0xc0)",
            bytes: TarBytes.header("f", sizeField: [0xc0] + [UInt8](repeating: 0, count: 11)) + TarBytes.end,
            entry: "f", reason: "size field is invalid"),
        MalformedTar(
            name: "octal size with garbage",
            bytes: TarBytes.header("f", sizeField: Array("0000000x001\0".utf8)) + TarBytes.end,
            entry: "f", reason: "size field is invalid"),
        MalformedTar(
            name: "octal size of 8 GiB with no data",
            bytes: TarBytes.header("f", sizeField: Array("77777777777\0".utf8)) + TarBytes.end,
            entry: "f", reason: "truncated inside this entry"),
        MalformedTar(
            name: "base-256 mode that is negative",
            bytes: TarBytes.header("f", size: 0, modeField: [0xff, 0, 0, 0, 0, 0, 0, 0]) + TarBytes.end,
            entry: "f", reason: "mode field is invalid"),
        MalformedTar(
            name: "checksum field of garbage",
            bytes: TarBytes.header("f", size: 0, checksum: Array("zzzzzz\0 ".utf8)) + TarBytes.end,
            entry: "f", reason: "no tar header at byte 0"),
        MalformedTar(
            name: "wrong checksum",
            bytes: TarBytes.header("a", size: 0) + TarBytes.header("f", size: 0, checksum: Array("000001\0 ".utf8))
                + TarBytes.end,
            entry: "f", reason: "bad tar header checksum at byte 512"),
        MalformedTar(
            name: "header cut short after an entry",
            bytes: TarBytes.header("a", size: 0) + Array(TarBytes.header("f", size: 0).prefix(100)),
            entry: "a", reason: "truncated in the header after this entry"),
        MalformedTar(
            name: "header cut short at the start",
            bytes: Array(TarBytes.header("f", size: 0).prefix(300)),
            entry: nil, reason: "truncated"),
        MalformedTar(
            name: "data cut short",
            bytes: TarBytes.header("f", size: 1000) + Array(TarBytes.data("x").prefix(100)),
            entry: "f", reason: "truncated inside this entry"),
        MalformedTar(
            name: "padding cut short",
            bytes: TarBytes.header("f", size: 10) + Array(repeating: UInt8(ascii: "x"), count: 100),
            entry: "f", reason: "truncated inside this entry"),
        MalformedTar(
            name: "data of a directory cut short",
            bytes: TarBytes.header("d", type: "5", size: 1 << 20) + TarBytes.end,
            entry: "d", reason: "truncated inside this entry"),
        MalformedTar(
            name: "no end-of-archive marker",
            bytes: TarBytes.header("f", size: 1) + TarBytes.data("x"),
            entry: "f", reason: "no end-of-archive marker"),
        MalformedTar(
            name: "pax record longer than its header",
            bytes: TarBytes.header("PaxHeaders/f", type: "x", size: 10) + TarBytes.data("99 size=1\n")
                + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "malformed"),
        MalformedTar(
            name: "pax record with a length of many digits",
            bytes: TarBytes.header("PaxHeaders/f", type: "x", size: 40)
                + TarBytes.data("99999999999999999999999999999999 size=1\n") + TarBytes.header("f", size: 0)
                + TarBytes.end,
            entry: "PaxHeaders/f", reason: "malformed"),
        MalformedTar(
            name: "pax header beyond the metadata limit",
            bytes: TarBytes.header("PaxHeaders/f", type: "x", sizeField: Array("77777777777\0".utf8)) + TarBytes.end,
            entry: "PaxHeaders/f", reason: "larger than"),
        MalformedTar(
            name: "NUL in a pax path",
            bytes: TarBytes.pax(["path": "a\0b"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "a\0b", reason: "NUL byte"),
        MalformedTar(
            name: "traversal in a pax path",
            bytes: TarBytes.pax(["path": "../../etc/cron.d/x"]) + TarBytes.header("f", size: 0) + TarBytes.end,
            entry: "../../etc/cron.d/x", reason: "leaves the archive directory"),
    ]
}

/// Tar blocks built by hand, with any field set to any bytes.
enum TarBytes {
    static let end = [UInt8](repeating: 0, count: 1024)

    /// A ustar header; `sizeField`, `modeField` and `checksum` replace the computed fields when given.
    static func header(
        _ name: String, type: Character = "0", size: Int = 0, link: String = "", sizeField: [UInt8]? = nil,
        modeField: [UInt8]? = nil, checksum: [UInt8]? = nil
    ) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (index, byte) in bytes.prefix(width).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(Array(name.utf8), at: 0, width: 100)
        put(modeField ?? octal(0o644, width: 8), at: 100, width: 8)
        put(octal(0, width: 8), at: 108, width: 8)
        put(octal(0, width: 8), at: 116, width: 8)
        put(sizeField ?? octal(size, width: 12), at: 124, width: 12)
        put(octal(1_700_000_000, width: 12), at: 136, width: 12)
        block[156] = type.asciiValue ?? 0
        put(Array(link.utf8), at: 157, width: 100)
        put(Array("ustar\0".utf8), at: 257, width: 6)
        put(Array("00".utf8), at: 263, width: 2)
        if let checksum {
            put(checksum, at: 148, width: 8)
        } else {
            put(Array("        ".utf8), at: 148, width: 8)
            let sum = block.reduce(0) { $0 + Int($1) }
            put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148, width: 8)
        }
        return block
    }

    /// `text` padded to whole blocks.
    static func data(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        bytes += [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
        return bytes
    }

    /// A pax extended header (`x`) with the given records, in key order.
    static func pax(_ records: [String: String], name: String = "PaxHeaders/f") -> [UInt8] {
        var body: [UInt8] = []
        for (key, value) in records.sorted(by: { $0.key < $1.key }) {
            let content = Array(" \(key)=\(value)\n".utf8)
            var length = content.count + 1
            while String(length).count + content.count != length { length += 1 }
            body += Array(String(length).utf8) + content
        }
        var padded = body
        padded += [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
        return header(name, type: "x", size: body.count) + padded
    }
}

/// A small deterministic generator, so that the fuzz corpus is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
