/// A zip archive's central directory, read from its last bytes: where each entry's local header is, its sizes and
/// CRC-32, and its kind. This is what lets the agent fetch only some entries of a remote zip with ranged reads, and
/// the console tell what changed between two revisions without reading them whole.
///
/// Written here rather than taken from ZIPFoundation, which reads archives through a file or memory it owns; this
/// parses bytes fetched in pieces. Every offset and length is checked against the archive's size; ZIP64 records
/// are read where the 32-bit fields say so.
public enum ZipDirectory {
    public struct Entry: Sendable, Hashable {
        public var path: String
        public var crc32: UInt32
        public var compressedSize: UInt64
        public var uncompressedSize: UInt64
        public var localHeaderOffset: UInt64
        /// The Unix mode from the external attributes when the archive was made on Unix, else nil.
        public var mode: UInt32?
        public init(
            path: String, crc32: UInt32, compressedSize: UInt64, uncompressedSize: UInt64, localHeaderOffset: UInt64,
            mode: UInt32? = nil
        ) {
            self.path = path
            self.crc32 = crc32
            self.compressedSize = compressedSize
            self.uncompressedSize = uncompressedSize
            self.localHeaderOffset = localHeaderOffset
            self.mode = mode
        }

        public var isDirectory: Bool { path.hasSuffix("/") || mode.map { $0 & 0o170000 == 0o040000 } == true }
        public var isSymlink: Bool { mode.map { $0 & 0o170000 == 0o120000 } == true }
    }

    /// Where the central directory is in the archive, from its end records.
    public struct Location: Sendable, Equatable {
        public var offset: UInt64
        public var size: UInt64
        public var count: UInt64
    }

    /// How many bytes at the end of an archive hold its end records: the 22-byte record, a comment of up to 65,535
    /// bytes, and the ZIP64 locator and record before them.
    public static let tailLength: Int64 = 22 + 65_535 + 20 + 56

    /// Finds the central directory from `tail`, the last bytes of an archive of `archiveSize` bytes.
    public static func locate(tail: [UInt8], archiveSize: UInt64) throws(ZipDirectoryError) -> Location {
        guard tail.count >= 22, UInt64(tail.count) <= archiveSize else { throw refusal("the archive is too short") }
        let tailStart = archiveSize - UInt64(tail.count)
        var end: Int?
        var index = tail.count - 22
        while index >= 0 {
            if read32(tail, index) == 0x0605_4b50, index + 22 + Int(read16(tail, index + 20)) == tail.count {
                end = index
                break
            }
            index -= 1
        }
        guard let end else { throw refusal("no end of central directory record") }
        var location = Location(
            offset: UInt64(read32(tail, end + 16)), size: UInt64(read32(tail, end + 12)),
            count: UInt64(read16(tail, end + 10)))
        let needsZip64 =
            location.offset == 0xFFFF_FFFF || location.size == 0xFFFF_FFFF || location.count == 0xFFFF
        if needsZip64 {
            let locator = end - 20
            guard locator >= 0, read32(tail, locator) == 0x0706_4b50 else {
                throw refusal("the ZIP64 end of central directory locator is missing")
            }
            let recordOffset = read64(tail, locator + 8)
            guard recordOffset >= tailStart, recordOffset - tailStart <= UInt64(tail.count - 56) else {
                throw refusal("the ZIP64 end of central directory record is out of place")
            }
            let record = Int(recordOffset - tailStart)
            guard read32(tail, record) == 0x0606_4b50 else {
                throw refusal("the ZIP64 end of central directory record is missing")
            }
            location = Location(
                offset: read64(tail, record + 48), size: read64(tail, record + 40), count: read64(tail, record + 32))
        }
        let (directoryEnd, overflow) = location.offset.addingReportingOverflow(location.size)
        guard !overflow, directoryEnd <= archiveSize else {
            throw refusal("the central directory lies outside the archive")
        }
        return location
    }

    /// The entries of `directory` (the central directory's bytes), at most `maximumEntries`.
    public static func entries(_ directory: [UInt8], archiveSize: UInt64, maximumEntries: Int) throws(ZipDirectoryError)
        -> [Entry]
    {
        var entries: [Entry] = []
        var index = 0
        while index + 46 <= directory.count, read32(directory, index) == 0x0201_4b50 {
            guard entries.count < maximumEntries else {
                throw refusal("the archive has more than \(maximumEntries) entries")
            }
            let madeBy = read16(directory, index + 4) >> 8
            var entry = Entry(
                path: "", crc32: read32(directory, index + 16),
                compressedSize: UInt64(read32(directory, index + 20)),
                uncompressedSize: UInt64(read32(directory, index + 24)),
                localHeaderOffset: UInt64(read32(directory, index + 42)),
                mode: madeBy == 3 ? read32(directory, index + 38) >> 16 : nil)
            let nameLength = Int(read16(directory, index + 28))
            let extraLength = Int(read16(directory, index + 30))
            let commentLength = Int(read16(directory, index + 32))
            let next = index + 46 + nameLength + extraLength + commentLength
            guard next <= directory.count else { throw refusal("a central directory entry is cut short") }
            entry.path = String(decoding: directory[(index + 46)..<(index + 46 + nameLength)], as: UTF8.self)
            // ZIP64: the fields that overflowed 32 bits follow in extra field 0x0001, in this order.
            var extra = index + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let tag = read16(directory, extra)
                let size = Int(read16(directory, extra + 2))
                guard extra + 4 + size <= extraEnd else { throw refusal("an extra field is cut short") }
                if tag == 0x0001 {
                    var field = extra + 4
                    func next64() throws(ZipDirectoryError) -> UInt64 {
                        guard field + 8 <= extra + 4 + size else { throw refusal("a ZIP64 extra field is short") }
                        defer { field += 8 }
                        return read64(directory, field)
                    }
                    if entry.uncompressedSize == 0xFFFF_FFFF { entry.uncompressedSize = try next64() }
                    if entry.compressedSize == 0xFFFF_FFFF { entry.compressedSize = try next64() }
                    if entry.localHeaderOffset == 0xFFFF_FFFF { entry.localHeaderOffset = try next64() }
                }
                extra += 4 + size
            }
            let (dataEnd, overflow) = entry.localHeaderOffset.addingReportingOverflow(entry.compressedSize)
            guard !overflow, dataEnd <= archiveSize else {
                throw refusal("the entry \(entry.path.prefix(200)) lies outside the archive")
            }
            entries.append(entry)
            index = next
        }
        return entries
    }

    /// The length of a local file header (its fixed part, name and extra field) from its first 30 bytes.
    public static func localHeaderLength(_ header: [UInt8]) throws(ZipDirectoryError) -> Int {
        guard header.count >= 30, read32(header, 0) == 0x0403_4b50 else {
            throw refusal("a local file header is missing where the central directory says it is")
        }
        return 30 + Int(read16(header, 26)) + Int(read16(header, 28))
    }

    private static func refusal(_ reason: String) -> ZipDirectoryError { ZipDirectoryError(reason: reason) }

    static func read16(_ bytes: [UInt8], _ index: Int) -> UInt16 {
        UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8
    }

    static func read32(_ bytes: [UInt8], _ index: Int) -> UInt32 {
        UInt32(read16(bytes, index)) | UInt32(read16(bytes, index + 2)) << 16
    }

    static func read64(_ bytes: [UInt8], _ index: Int) -> UInt64 {
        UInt64(read32(bytes, index)) | UInt64(read32(bytes, index + 4)) << 32
    }
}

/// Why a central directory could not be read.
public struct ZipDirectoryError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
