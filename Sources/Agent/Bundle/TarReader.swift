import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a tar stream and hands its entries to a `SafeTreeWriter`.
///
/// Written by hand: no maintained Swift tar library is among the packages Slipway depends on, and calling
/// `/bin/tar` (as the stock agent does) would leave the safety rules to the options of whichever tar is installed.
/// Understands ustar, GNU long names and links (`L`, `K`), base-256 numbers, and pax extended headers (`x`:
/// `path`, `linkpath`, `size`, `mtime`; global `g` headers are skipped). Devices, FIFOs, sparse files and unknown
/// entry types are refused.
///
/// Every number in a header is hostile: sizes are read as non-negative `Int64`s and every sum over them is checked
/// (`paddedSize`), so a size near `Int64.max` (octal, base-256 or pax) is refused with the entry's name rather than
/// trapping. The reader runs inside the agent, and inside `slipway server --dev`, which a trap would take down.
package struct TarReader {
    /// Metadata entries (long names, pax headers) are held in memory, so they are bounded.
    static let maximumMetadataSize: Int64 = 1 << 20
    /// After the end-of-archive marker, this much more of a compressed stream is read so that its checksum is
    /// verified; what follows beyond it is ignored rather than inflated (a bomb of padding would only cost time).
    static let drainLimit: Int64 = 16 << 20

    private var stream: TarStream
    private let writer: SafeTreeWriter
    private let drainAfterEnd: Bool

    init(pipe: ChunkPipe, writer: SafeTreeWriter, drainAfterEnd: Bool) {
        stream = TarStream(pipe: pipe)
        self.writer = writer
        self.drainAfterEnd = drainAfterEnd
    }

    /// Extra header fields from pax or GNU metadata entries, for the next entry only.
    private struct Pending {
        var path: [UInt8]?
        var linkPath: [UInt8]?
        var size: Int64?
        var mtime: timespec?
    }

    mutating func run() throws {
        var header = [UInt8](repeating: 0, count: 512)
        var pending = Pending()
        /// The last entry read, named in errors about what follows it (a header cut short has no name of its own).
        var previous: String?
        while true {
            // Stricter than GNU tar, which accepts a stream that ends between entries: without the end-of-archive
            // marker a bundle cut at an entry boundary would deploy with files missing.
            let complete: Bool
            do {
                complete = try stream.readBlock(into: &header)
            } catch let error as BundleError where error.entry == nil && previous != nil {
                throw BundleError(entry: previous, reason: "the archive is truncated in the header after this entry")
            }
            guard complete else {
                throw BundleError(entry: previous, reason: "the archive is truncated (no end-of-archive marker)")
            }
            if header.allSatisfy({ $0 == 0 }) { break }

            var name = Self.string(header, 0..<100)
            if header[257..<263].elementsEqual(Array("ustar\0".utf8)) {
                let prefix = Self.string(header, 345..<500)
                if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
            }
            let display = SafeTreeWriter.display(pending.path ?? name)
            try Self.verifyChecksum(header, offset: stream.offset - 512, entry: display)
            previous = display
            let type = header[156]
            guard let headerSize = Self.number(header, 124..<136), headerSize >= 0 else {
                throw BundleError(entry: display, reason: "the header's size field is invalid")
            }
            guard let mode = Self.number(header, 100..<108) else {
                throw BundleError(entry: display, reason: "the header's mode field is invalid")
            }
            let headerTime = Self.number(header, 136..<148).flatMap(Int.init(exactly:)).map {
                timespec(tv_sec: $0, tv_nsec: 0)
            }

            switch type {
            case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"):
                let data = try readMetadata(size: headerSize, entry: display)
                if type == UInt8(ascii: "L") {
                    pending.path = Array(data.prefix(while: { $0 != 0 }))
                } else if type == UInt8(ascii: "K") {
                    pending.linkPath = Array(data.prefix(while: { $0 != 0 }))
                } else {
                    try Self.parsePax(data, into: &pending, entry: display)
                }
                continue
            case UInt8(ascii: "g"):
                guard headerSize <= Self.maximumMetadataSize else {
                    throw BundleError(entry: display, reason: "the global pax header is too large")
                }
                try stream.skip(Self.paddedSize(headerSize, entry: display), entry: display)
                continue
            default:
                break
            }

            let path = pending.path ?? name
            let link = pending.linkPath ?? Self.string(header, 157..<257)
            let size = pending.size ?? headerSize
            let mtime = pending.mtime ?? headerTime
            pending = Pending()
            let entry = SafeTreeWriter.display(path)
            previous = entry
            // Checked before anything is written: a size whose padding overflows cannot be in a real archive.
            let padded = try Self.paddedSize(size, entry: entry)

            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                if path.last == UInt8(ascii: "/") {
                    // Old tars mark directories with a trailing slash only.
                    try writer.directory(path, mode: UInt32(truncatingIfNeeded: mode), mtime: mtime)
                    try stream.skip(padded, entry: entry)
                    continue
                }
                try writer.file(
                    path, mode: UInt32(truncatingIfNeeded: mode), mtime: mtime, declaredSize: size
                ) { sink in
                    try stream.read(size, entry: entry, into: sink)
                }
                try stream.skip(padded - size, entry: entry)
            // Directories and links carry no data in archives tar writes; a size on one is skipped as data, checked
            // like any other, so the next header is found where a reader like GNU tar finds it.
            case UInt8(ascii: "5"):
                try writer.directory(path, mode: UInt32(truncatingIfNeeded: mode), mtime: mtime)
                try stream.skip(padded, entry: entry)
            case UInt8(ascii: "2"):
                try writer.symlink(path, target: link, mtime: mtime)
                try stream.skip(padded, entry: entry)
            case UInt8(ascii: "1"):
                try writer.hardLink(path, target: link)
                try stream.skip(padded, entry: entry)
            case UInt8(ascii: "3"), UInt8(ascii: "4"):
                throw BundleError(entry: entry, reason: "device files are not allowed")
            case UInt8(ascii: "6"):
                throw BundleError(entry: entry, reason: "FIFOs are not allowed")
            case UInt8(ascii: "S"):
                throw BundleError(entry: entry, reason: "sparse files are not supported")
            default:
                let shown = type >= 0x20 && type < 0x7f ? String(UnicodeScalar(type)) : "\\(\(type))"
                throw BundleError(entry: entry, reason: "the entry type '\(shown)' is not supported")
            }
        }
        if drainAfterEnd { try stream.drain(limit: Self.drainLimit) }
    }

    // MARK: Header fields

    private mutating func readMetadata(size: Int64, entry: String) throws -> [UInt8] {
        guard size <= Self.maximumMetadataSize else {
            throw BundleError(
                entry: entry, reason: "the extended header is larger than \(Self.maximumMetadataSize) bytes")
        }
        var data: [UInt8] = []
        data.reserveCapacity(Int(clamping: size))
        try stream.read(size, entry: entry) { data.append(contentsOf: $0) }
        try stream.skip(Self.paddedSize(size, entry: entry) - size, entry: entry)
        return data
    }

    /// `size` rounded up to whole 512-byte blocks: the bytes an entry's data occupies in the archive. Refuses a
    /// negative size and one whose rounding overflows (`Int64.max - 510` and above), naming the entry.
    static func paddedSize(_ size: Int64, entry: String) throws -> Int64 {
        let (sum, overflow) = size.addingReportingOverflow(511)
        guard size >= 0, !overflow else {
            throw BundleError(entry: entry, reason: "the entry's size \(size) is not a possible archive size")
        }
        return sum / 512 * 512
    }

    /// A NUL-terminated field.
    static func string(_ header: [UInt8], _ range: Range<Int>) -> [UInt8] {
        Array(header[range].prefix(while: { $0 != 0 }))
    }

    /// An octal field (leading spaces, trailing space or NUL), or a base-256 one (high bit of the first byte set).
    static func number(_ header: [UInt8], _ range: Range<Int>) -> Int64? {
        let field = header[range]
        if let first = field.first, first & 0x80 != 0 {
            guard first & 0x40 == 0 else { return nil }  // negative
            var value: Int64 = Int64(first & 0x3f)
            for byte in field.dropFirst() {
                guard value < (Int64.max >> 8) else { return nil }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var started = false
        for byte in field {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                guard value < (Int64.max >> 3) else { return nil }
                value = value << 3 | Int64(byte - UInt8(ascii: "0"))
                started = true
            case UInt8(ascii: " ") where !started:
                continue
            case UInt8(ascii: " "), 0:
                return value
            default:
                return nil
            }
        }
        return value
    }

    /// Checks the header's checksum; `entry` is the name the header claims, named in the error (a header that fails
    /// may be garbage, so the byte offset is given too).
    static func verifyChecksum(_ header: [UInt8], offset: Int64, entry: String?) throws {
        let entry = entry?.isEmpty == false ? entry : nil
        guard let stored = number(header, 148..<156) else {
            throw BundleError(entry: entry, reason: "the archive is corrupt (no tar header at byte \(offset))")
        }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in header.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else {
            throw BundleError(
                entry: entry, reason: "the archive is corrupt (bad tar header checksum at byte \(offset))")
        }
    }

    /// Records of the form "<length> <key>=<value>\n".
    private static func parsePax(_ data: [UInt8], into pending: inout Pending, entry: String) throws {
        let corrupt = BundleError(entry: entry, reason: "the pax extended header is malformed")
        var index = 0
        while index < data.count {
            if data[index] == 0 { break }
            var cursor = index
            var length = 0
            while cursor < data.count, data[cursor] != UInt8(ascii: " ") {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(data[cursor]), length < 1 << 24 else {
                    throw corrupt
                }
                length = length * 10 + Int(data[cursor] - UInt8(ascii: "0"))
                cursor += 1
            }
            guard cursor < data.count, length > cursor - index, index + length <= data.count,
                data[index + length - 1] == UInt8(ascii: "\n")
            else { throw corrupt }
            let record = data[(cursor + 1)..<(index + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { throw corrupt }
            let key = String(decoding: record[..<equals], as: UTF8.self)
            let value = Array(record[(equals + 1)...])
            switch key {
            case "path": pending.path = value
            case "linkpath": pending.linkPath = value
            case "size":
                // Decimal digits only (no sign): Int64's parser would take "+5".
                let text = String(decoding: value, as: UTF8.self)
                guard !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                    let size = Int64(text)
                else {
                    throw BundleError(
                        entry: entry,
                        reason: "the pax extended header's size \"\(text.prefix(40))\" is not a number of bytes from 0 "
                            + "to \(Int64.max)")
                }
                pending.size = size
            case "mtime":
                pending.mtime = parseTime(String(decoding: value, as: UTF8.self))
            case _ where key.hasPrefix("GNU.sparse"):
                throw BundleError(entry: entry, reason: "sparse files are not supported")
            default:
                break  // uid, gid, uname, atime, ACLs, extended attributes: not restored
            }
            index += length
        }
    }

    /// "1700000000", "-5" or "1700000000.5"; nil (the header's own time is used) for anything else, including a
    /// signed or empty fraction, which would make a negative nanosecond count.
    static func parseTime(_ text: String) -> timespec? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let seconds = Int(first) else { return nil }
        var nanoseconds = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            else { return nil }
            // Nine digits at most: the value stays below 10^9, and each step below cannot overflow.
            for digit in fraction.utf8.prefix(9) { nanoseconds = nanoseconds * 10 + Int(digit - UInt8(ascii: "0")) }
            for _ in fraction.utf8.prefix(9).count..<9 { nanoseconds *= 10 }
        }
        return timespec(tv_sec: seconds, tv_nsec: nanoseconds)
    }
}

/// The bytes of a tar stream, as chunks from a pipe.
struct TarStream {
    private let pipe: ChunkPipe
    private var chunk = ByteBuffer()
    private var ended = false
    private(set) var offset: Int64 = 0

    init(pipe: ChunkPipe) { self.pipe = pipe }

    private static let truncated = BundleError(entry: nil, reason: "the archive is truncated")

    /// Makes bytes available; false at the end of the stream.
    private mutating func fill() throws -> Bool {
        while chunk.readableBytes == 0 {
            if ended { return false }
            guard let next = try pipe.receive() else {
                ended = true
                return false
            }
            chunk = next
        }
        return true
    }

    /// Reads one 512-byte block; false when the stream ends before it starts; truncated when it ends inside it.
    mutating func readBlock(into block: inout [UInt8]) throws -> Bool {
        var filled = 0
        while filled < 512 {
            guard try fill() else {
                if filled == 0 { return false }
                throw Self.truncated
            }
            let count = min(512 - filled, chunk.readableBytes)
            block.withUnsafeMutableBytes { target in
                chunk.withUnsafeReadableBytes { source in
                    target.baseAddress!.advanced(by: filled).copyMemory(from: source.baseAddress!, byteCount: count)
                }
            }
            chunk.moveReaderIndex(forwardBy: count)
            filled += count
        }
        offset += 512
        return true
    }

    /// Hands `count` bytes to `body` in slices of the chunks as they come (no copy).
    mutating func read(
        _ count: Int64, entry: String, into body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var remaining = count
        while remaining > 0 {
            guard try fill() else {
                throw BundleError(entry: entry, reason: "the archive is truncated inside this entry")
            }
            let take = Int(min(remaining, Int64(chunk.readableBytes)))
            try chunk.withUnsafeReadableBytes { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(take))) }
            chunk.moveReaderIndex(forwardBy: take)
            remaining -= Int64(take)
            offset += Int64(take)
        }
    }

    /// Skips `count` bytes of `entry`'s data or padding.
    mutating func skip(_ count: Int64, entry: String) throws {
        var remaining = count
        while remaining > 0 {
            guard try fill() else {
                throw BundleError(entry: entry, reason: "the archive is truncated inside this entry")
            }
            let take = Int(min(remaining, Int64(chunk.readableBytes)))
            chunk.moveReaderIndex(forwardBy: take)
            remaining -= Int64(take)
            offset += Int64(take)
        }
    }

    /// Reads on to the end of the stream, up to `limit` bytes, so that a producer's error (a bad gzip checksum, a
    /// truncated stream) still surfaces.
    mutating func drain(limit: Int64) throws {
        var read: Int64 = 0
        while read < limit {
            guard try fill() else { return }
            read += Int64(chunk.readableBytes)
            chunk.moveReaderIndex(forwardBy: chunk.readableBytes)
        }
    }
}
