import Foundation
import S3Transfer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A zip revision from S3 fetched in part: the entries whose contents a kept revision of the group already has
/// (same path, size, CRC-32 and mode, a file of at least `minimumSize`) are not downloaded but linked; everything
/// else is fetched with ranged reads into a sparse file at the same offsets, so the archive reads as a whole where it
/// is read. Deploying v2 of a model whose weights did not change moves only the changed files.
///
/// The object must keep its ETag through every read (`If-Match`); the entries read are checked against their CRC-32
/// as they are inflated. An entry is taken as unchanged on its path, size, CRC-32 and mode: a changed file that kept
/// all four (a 1 in 2³² chance for a change that keeps the size) would not be deployed.
struct ZipDelta {
    /// Smaller files are fetched with their neighbours: a ranged read of its own costs more than it saves.
    static let minimumSize: UInt64 = 256 << 10

    /// What to fetch, and which entries to link from where.
    struct Plan: Sendable {
        var reuse: [String: URL] = [:]
        var reusedBytes: UInt64 = 0
        /// The byte ranges of the archive to download, in order.
        var ranges: [ClosedRange<Int64>] = []
    }

    /// Entry path → the kept file with the same contents, from `kept` (newest first).
    static func matches(_ entries: [ZipDirectory.Entry], kept: [KeptRevisions.Kept]) -> [ZipDirectory.Entry: URL] {
        var found: [ZipDirectory.Entry: URL] = [:]
        for entry in entries where !entry.isDirectory && !entry.isSymlink && entry.uncompressedSize >= minimumSize {
            let mode = (entry.mode ?? 0o644) & 0o7777 & UInt32(SafeTreeWriter.fileModeMask)
            let facts = KeptRevisions.FileFacts(size: entry.uncompressedSize, crc32: entry.crc32, mode: mode)
            for revision in kept where revision.record.files[entry.path] == facts {
                guard let file = revision.file(entry.path) else { continue }
                var info = stat()
                guard lstat(file.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                    UInt64(info.st_size) == entry.uncompressedSize
                else { continue }
                found[entry] = file
                break
            }
        }
        return found
    }

    /// The ranges of an archive of `size` bytes outside `skipped` (each an entry's data, after its local header).
    static func ranges(size: Int64, skipping skipped: [ClosedRange<Int64>]) -> [ClosedRange<Int64>] {
        var ranges: [ClosedRange<Int64>] = []
        var next: Int64 = 0
        for skip in skipped.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if skip.lowerBound > next { ranges.append(next...(skip.lowerBound - 1)) }
            next = max(next, skip.upperBound + 1)
        }
        if next < size { ranges.append(next...(size - 1)) }
        return ranges
    }

    /// Reads the archive's central directory with two ranged reads and plans the download; nil when nothing of it
    /// is on the host (the whole object is then downloaded as usual).
    static func plan(
        client: S3Client, bucket: String, key: String, version: String?, eTag: String, size: Int64,
        kept: [KeptRevisions.Kept], maximumEntries: Int
    ) async throws -> Plan? {
        guard size > 22, kept.contains(where: { !$0.record.files.isEmpty }) else { return nil }
        let tailLength = min(size, ZipDirectory.tailLength)
        let tail = try await client.fetch(
            bucket: bucket, key: key, version: version, eTag: eTag, range: (size - tailLength)...(size - 1))
        let location = try ZipDirectory.locate(tail: tail, archiveSize: UInt64(size))
        guard location.size > 0, location.size <= 64 << 20 else { return nil }
        let start = Int64(location.offset)
        let directory = try await client.fetch(
            bucket: bucket, key: key, version: version, eTag: eTag,
            range: start...(start + Int64(location.size) - 1))
        let entries = try ZipDirectory.entries(directory, archiveSize: UInt64(size), maximumEntries: maximumEntries)
        let found = matches(entries, kept: kept)
        guard !found.isEmpty else { return nil }
        var plan = Plan()
        var skipped: [ClosedRange<Int64>] = []
        for (entry, file) in found {
            // The local header's length is its own (its extra field may differ from the central directory's).
            let offset = Int64(entry.localHeaderOffset)
            guard offset + 30 <= size else { continue }
            let header = try await client.fetch(
                bucket: bucket, key: key, version: version, eTag: eTag, range: offset...(offset + 29))
            let dataStart = offset + Int64(try ZipDirectory.localHeaderLength(header))
            let compressed = Int64(entry.compressedSize)
            guard compressed > 0, dataStart + compressed <= size else { continue }
            skipped.append(dataStart...(dataStart + compressed - 1))
            plan.reuse[entry.path] = file
            plan.reusedBytes += entry.uncompressedSize
        }
        guard !plan.reuse.isEmpty else { return nil }
        plan.ranges = ranges(size: size, skipping: skipped)
        return plan
    }
}
