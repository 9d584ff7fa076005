import Testing

@testable import Agent

/// A seeded, structure-aware mutation pass over the tar reader, standing in for a libFuzzer target (see
/// scripts/fuzz-requests.sh for why the reader is not in RequestFuzzer). Random bit flips mostly stop at the header
/// checksum; these mutations change one header field (name, mode, size, time, type, link name, magic) or a pax
/// record and then write a correct checksum, so that the reader gets past it to the field's own parsing.
@Suite("tar reader mutations")
struct TarReaderMutationTests {
    /// Valid archives whose every block is a header or data: a file, a directory, a link, pax records.
    static let seeds: [[UInt8]] = [
        TarBytes.header("dir", type: "5") + TarBytes.header("dir/file", size: 5) + TarBytes.data("hello")
            + TarBytes.header("dir/link", type: "2", link: "file") + TarBytes.end,
        TarBytes.pax(["path": "long/name/" + String(repeating: "n", count: 120), "mtime": "1700000000.5", "size": "3"])
            + TarBytes.header("short", size: 3) + TarBytes.data("abc") + TarBytes.end,
        TarBytes.header("hard", type: "1", link: "dir/file") + TarBytes.header("empty") + TarBytes.end,
    ]

    /// Header fields as (offset, width), checksum excluded.
    static let fields = [(0, 100), (100, 8), (108, 8), (116, 8), (124, 12), (136, 12), (156, 1), (157, 100), (257, 8)]
    /// Bytes a numeric or name field is likely to hold, and some it should not.
    static let fieldBytes = Array("01234567 \0\u{80}\u{FF}/.-x".utf8) + [0x80, 0xFF]

    @Test("header fields changed under a correct checksum are read or refused with a BundleError, in any chunking")
    func mutations() {
        var generator = SplitMix(seed: 0x7A12)
        for _ in 0..<1_000 {
            var archive = Self.seeds[Int(generator.next() % UInt64(Self.seeds.count))]
            for _ in 0..<Int(generator.next() % 3 + 1) {
                // Whole blocks only (an earlier mutation may have cut the archive short).
                guard archive.count >= 512 else { break }
                let block = Int(generator.next() % UInt64(archive.count / 512)) * 512
                let (offset, width) = Self.fields[Int(generator.next() % UInt64(Self.fields.count))]
                switch generator.next() % 4 {
                case 0:
                    // One byte of the field.
                    let index = block + offset + Int(generator.next() % UInt64(width))
                    archive[index] = Self.fieldBytes[Int(generator.next() % UInt64(Self.fieldBytes.count))]
                case 1:
                    // The whole field: digits of any length, no terminator (a base-256 marker now and then).
                    for index in 0..<width {
                        archive[block + offset + index] = UInt8(ascii: "0") + UInt8(generator.next() % 8)
                    }
                    if generator.next() % 4 == 0 { archive[block + offset] = 0x80 | UInt8(generator.next() % 0x80) }
                case 2:
                    // Any byte anywhere in the block (data blocks included, such as pax records).
                    archive[block + Int(generator.next() % 512)] = UInt8(truncatingIfNeeded: generator.next())
                default:
                    // Cut the archive short.
                    archive.removeLast(Int(generator.next() % UInt64(archive.count)))
                }
                if archive.count >= block + 512 { Self.fixChecksum(&archive, block: block) }
            }
            let chunking = UInt8(truncatingIfNeeded: generator.next())
            ([chunking] + archive).withUnsafeBytes { TarReader.fuzzOne($0) }
        }
    }

    /// Writes the checksum a reader expects for the 512 bytes at `block` (when they are a header at all).
    static func fixChecksum(_ archive: inout [UInt8], block: Int) {
        for index in 148..<156 { archive[block + index] = UInt8(ascii: " ") }
        let sum = archive[block..<(block + 512)].reduce(0) { $0 + Int($1) }
        let digits = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: max(0, 6 - digits.count)) + digits + [0]
        for (index, byte) in field.prefix(7).enumerated() { archive[block + 148 + index] = byte }
    }
}
