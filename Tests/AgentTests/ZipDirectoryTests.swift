import Foundation
import Testing
import ZipIndex

@testable import Agent

/// The central directory of a zip read from its last bytes, as the agent reads a remote revision in ranges; zips made
/// by Python's zipfile (plain and ZIP64), then damaged.
@Suite("Zip central directory from ranged reads")
struct ZipDirectoryTests {
    /// A zip of `files` written by Python's zipfile; `zip64` forces the ZIP64 records and extra fields.
    static func zip(_ files: [String: Int], zip64: Bool = false, comment: String = "") throws -> [UInt8] {
        let script = """
            import io, json, sys, zipfile
            if \(zip64 ? "True" : "False"):
                zipfile.ZIP64_LIMIT = 0
                zipfile.ZIP_FILECOUNT_LIMIT = 0
            files = json.loads(sys.argv[1])
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
                for name in sorted(files):
                    info = zipfile.ZipInfo(name)
                    info.external_attr = 0o100640 << 16
                    info.create_system = 3
                    archive.writestr(info, bytes((i * 7) % 251 for i in range(files[name])))
                archive.comment = sys.argv[2].encode()
            sys.stdout.buffer.write(data.getvalue())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let names = try String(decoding: JSONSerialization.data(withJSONObject: files), as: UTF8.self)
        process.arguments = ["python3", "-c", script, names, comment]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return Array(data)
    }

    func read(_ archive: [UInt8]) throws -> [ZipDirectory.Entry] {
        let size = UInt64(archive.count)
        let tail = Array(archive.suffix(Int(min(Int64(archive.count), ZipDirectory.tailLength))))
        let location = try ZipDirectory.locate(tail: tail, archiveSize: size)
        let start = Int(location.offset)
        let directory = Array(archive[start..<(start + Int(location.size))])
        let entries = try ZipDirectory.entries(directory, archiveSize: size, maximumEntries: 100)
        #expect(UInt64(entries.count) == location.count)
        return entries
    }

    @Test(
        "entries, sizes, CRC-32, modes and local headers of a plain zip and of a ZIP64 one", arguments: [false, true])
    func entries(zip64: Bool) throws {
        let files = ["model/weights.bin": 300_000, "VERSION": 2, "appspec.yml": 40]
        let archive = try Self.zip(files, zip64: zip64, comment: "release v2")
        let entries = try read(archive)
        #expect(Set(entries.map(\.path)) == Set(files.keys))
        for entry in entries {
            #expect(entry.uncompressedSize == UInt64(files[entry.path] ?? -1))
            #expect(entry.mode == 0o100640)
            #expect(!entry.isDirectory && !entry.isSymlink)
            let offset = Int(entry.localHeaderOffset)
            let header = Array(archive[offset..<(offset + 30)])
            let length = try ZipDirectory.localHeaderLength(header)
            #expect(offset + length + Int(entry.compressedSize) <= archive.count)
        }
        // The CRC-32 is the contents', as zlib computes it.
        let weights = try #require(entries.first { $0.path == "model/weights.bin" })
        let other = try read(try Self.zip(["model/weights.bin": 300_000], zip64: !zip64))
        #expect(other.first?.crc32 == weights.crc32)
    }

    @Test("a zip cut short, a directory out of place, a cut entry and a bad local header are refused, never trapped")
    func damaged() throws {
        let archive = try Self.zip(["a.bin": 5000, "b.txt": 10])
        let size = UInt64(archive.count)
        // Cut: no end record in the bytes given.
        #expect(throws: ZipDirectoryError.self) {
            try ZipDirectory.locate(tail: Array(archive.prefix(40)), archiveSize: size)
        }
        #expect(throws: ZipDirectoryError.self) { try ZipDirectory.locate(tail: [], archiveSize: 0) }
        #expect(throws: ZipDirectoryError.self) { try ZipDirectory.locate(tail: Array(archive), archiveSize: 10) }
        // The end record pointing beyond the archive.
        var moved = archive
        let end = archive.count - 22
        moved[end + 16] = 0xFF
        moved[end + 17] = 0xFF
        moved[end + 18] = 0xFF
        moved[end + 19] = 0x7F
        #expect(throws: ZipDirectoryError.self) { try ZipDirectory.locate(tail: moved, archiveSize: size) }
        // ZIP64 markers without the ZIP64 records.
        var fake64 = archive
        for index in (end + 16)..<(end + 20) { fake64[index] = 0xFF }
        #expect(throws: ZipDirectoryError.self) { try ZipDirectory.locate(tail: fake64, archiveSize: size) }
        // A central directory entry whose name runs past the directory.
        let location = try ZipDirectory.locate(tail: archive, archiveSize: size)
        let start = Int(location.offset)
        var directory = Array(archive[start..<(start + Int(location.size))])
        directory[28] = 0xFF
        directory[29] = 0xFF
        #expect(throws: ZipDirectoryError.self) {
            try ZipDirectory.entries(directory, archiveSize: size, maximumEntries: 100)
        }
        // An entry whose data would end past the archive.
        directory = Array(archive[start..<(start + Int(location.size))])
        for index in 42..<46 { directory[index] = 0xFE }
        #expect(throws: ZipDirectoryError.self) {
            try ZipDirectory.entries(directory, archiveSize: size, maximumEntries: 100)
        }
        // More entries than allowed.
        directory = Array(archive[start..<(start + Int(location.size))])
        #expect(throws: ZipDirectoryError.self) {
            try ZipDirectory.entries(directory, archiveSize: size, maximumEntries: 1)
        }
        // A local header that is not one, or is short.
        #expect(throws: ZipDirectoryError.self) { try ZipDirectory.localHeaderLength(Array(repeating: 0, count: 30)) }
        #expect(throws: ZipDirectoryError.self) { try ZipDirectory.localHeaderLength([0x50, 0x4b, 3, 4]) }
        // Any cut of the directory reads as fewer entries or an error, never a crash.
        let whole = Array(archive[start..<(start + Int(location.size))])
        for cut in 0..<whole.count {
            _ = try? ZipDirectory.entries(Array(whole.prefix(cut)), archiveSize: size, maximumEntries: 100)
        }
    }

    @Test("the ranges to fetch are the archive outside the skipped entries' data, merged and in order")
    func ranges() {
        #expect(ZipDelta.ranges(size: 100, skipping: []) == [0...99])
        #expect(ZipDelta.ranges(size: 100, skipping: [60...79, 10...19]) == [0...9, 20...59, 80...99])
        #expect(ZipDelta.ranges(size: 100, skipping: [0...99]) == [])
        #expect(ZipDelta.ranges(size: 100, skipping: [0...49, 40...99]) == [])
        #expect(ZipDelta.ranges(size: 100, skipping: [90...99]) == [0...89])
    }
}
