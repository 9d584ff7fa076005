import Foundation
import S3Transfer
import ZipIndex

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
/// as they are inflated. A kept file is reused only while its modification time is the one recorded after its
/// unpack, so one that a hook rewrote in place is fetched again. An entry is taken as unchanged on its path, size,
/// CRC-32 and mode: a changed file that kept all four (a 1 in 2³² chance for a change that keeps the size) would
/// not be deployed.
package struct ZipDelta {
    /// Smaller files are fetched with their neighbours: a ranged read of its own costs more than it saves.
    static let minimumSize: UInt64 = 256 << 10

    /// What to fetch, and which entries to link from where.
    package struct Plan: Sendable {
        package var reuse: [String: URL] = [:]
        package var reusedBytes: UInt64 = 0
        /// Bytes downloaded, once done.
        package var received: Int64 = 0
        /// The local headers of the reused entries, read while planning, by offset.
        var headers: [(offset: Int64, bytes: [UInt8])] = []
        /// The byte ranges of the archive to download, in order.
        var ranges: [ClosedRange<Int64>] = []
    }

    /// A central directory that cannot be read is a refused bundle, in the agent's words.
    private static func reading<T>(_ body: () throws(ZipDirectoryError) -> T) throws(BundleError) -> T {
        do {
            return try body()
        } catch {
            throw BundleError(entry: nil, reason: error.reason)
        }
    }

    /// Entry path → the kept file with the same contents, from `kept` (newest first).
    static func matches(_ entries: [ZipDirectory.Entry], kept: [KeptRevisions.Kept]) -> [ZipDirectory.Entry: URL] {
        var found: [ZipDirectory.Entry: URL] = [:]
        for entry in entries where !entry.isDirectory && !entry.isSymlink && entry.uncompressedSize >= minimumSize {
            let mode = (entry.mode ?? 0o644) & 0o7777 & UInt32(SafeTreeWriter.fileModeMask)
            let facts = KeptRevisions.FileFacts(
                size: entry.uncompressedSize, crc32: entry.crc32, mode: mode, modified: nil)
            for revision in kept {
                guard let recorded = revision.record.files[entry.path], recorded.sameContents(as: facts),
                    let file = revision.file(entry.path)
                else { continue }
                var info = stat()
                guard lstat(file.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                    UInt64(info.st_size) == entry.uncompressedSize,
                    let modified = recorded.modified,
                    KeptRevisions.FileFacts.modificationTime(of: file.path) == modified
                else { continue }
                found[entry] = file
                break
            }
        }
        return found
    }

    /// The ranges of an archive of `size` bytes outside `skipped` (each a reused entry's header, read already, and
    /// data).
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
        guard size > 22 else { return nil }
        let tailLength = min(size, ZipDirectory.tailLength)
        let tail = try await client.fetch(
            bucket: bucket, key: key, version: version, eTag: eTag, range: (size - tailLength)...(size - 1))
        let location = try reading { () throws(ZipDirectoryError) in
            try ZipDirectory.locate(tail: tail, archiveSize: UInt64(size))
        }
        guard location.size > 0, location.size <= 64 << 20 else { return nil }
        let start = Int64(location.offset)
        let directory = try await client.fetch(
            bucket: bucket, key: key, version: version, eTag: eTag,
            range: start...(start + Int64(location.size) - 1))
        let entries = try reading { () throws(ZipDirectoryError) in
            try ZipDirectory.entries(directory, archiveSize: UInt64(size), maximumEntries: maximumEntries)
        }
        let found = matches(entries, kept: kept)
        guard !found.isEmpty else { return nil }
        // Each reused entry's local header is read on its own (its extra field may differ from the central
        // directory's), sixteen at a time; the bytes go into the file as they are, and only its data is skipped.
        let headers = try await withThrowingTaskGroup(of: (ZipDirectory.Entry, Int64, [UInt8])?.self) { group in
            var results: [(ZipDirectory.Entry, Int64, [UInt8])] = []
            var pending = found.keys.makeIterator()
            func addNext() -> Bool {
                guard let entry = pending.next() else { return false }
                group.addTask {
                    let offset = Int64(entry.localHeaderOffset)
                    // Enough for the header in nearly every archive: the name plus the central extra field and slack.
                    let guess = Int64(30 + entry.path.utf8.count + 1024)
                    guard offset + 30 <= size else { return nil }
                    var header = try await client.fetch(
                        bucket: bucket, key: key, version: version, eTag: eTag,
                        range: offset...(min(offset + guess, size) - 1))
                    let length = Int64(
                        try reading { () throws(ZipDirectoryError) in try ZipDirectory.localHeaderLength(header) })
                    if length > Int64(header.count) {
                        guard offset + length <= size else { return nil }
                        header = try await client.fetch(
                            bucket: bucket, key: key, version: version, eTag: eTag,
                            range: offset...(offset + length - 1))
                    }
                    return (entry, offset, Array(header.prefix(Int(length))))
                }
                return true
            }
            for _ in 0..<16 where addNext() {}
            while let result = try await group.next() {
                if let result { results.append(result) }
                _ = addNext()
            }
            return results
        }
        var plan = Plan()
        var skipped: [ClosedRange<Int64>] = []
        for (entry, offset, header) in headers {
            let dataStart = offset + Int64(header.count)
            let compressed = Int64(entry.compressedSize)
            guard compressed > 0, dataStart + compressed <= size, let file = found[entry] else { continue }
            skipped.append(offset...(dataStart + compressed - 1))
            plan.headers.append((offset, header))
            plan.reuse[entry.path] = file
            plan.reusedBytes += entry.uncompressedSize
        }
        guard !plan.reuse.isEmpty else { return nil }
        plan.ranges = ranges(size: size, skipping: skipped)
        return plan
    }
}
