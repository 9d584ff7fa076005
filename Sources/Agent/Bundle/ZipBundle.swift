import Foundation
import ZIPFoundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Zip bundles: ZIPFoundation reads the archive and inflates entries; the checks and the writing are ours.
///
/// Every entry's path, the entry count and the declared sizes are checked before anything is written; while writing,
/// an entry must inflate to exactly the size it declared (declared sizes of a zip bomb lie). ZIPFoundation reports only files,
/// directories and symbolic links, so an entry marked as a device in its attributes is written as a plain file,
/// never created as a device.
enum ZipBundle {
    /// Symbolic link targets are read into memory: bounded.
    static let maximumLinkTarget: UInt64 = 4096

    /// Unpacks `url`; the entries of `reuse` are linked from the kept files it names instead of read (the archive
    /// may have no data for them: a sparse download). Returns the regular files' facts by entry path.
    static func unpack(_ url: URL, writer: SafeTreeWriter, limits: UnpackLimits, reuse: [String: URL] = [:]) throws
        -> [String: KeptRevisions.FileFacts]
    {
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw BundleError(entry: nil, reason: "the archive is not a readable zip file (\(error))")
        }

        var count = 0
        var declared: UInt64 = 0
        for entry in archive {
            count += 1
            guard count <= limits.maximumEntries else {
                throw BundleError(
                    entry: entry.path, reason: "the archive has more than \(limits.maximumEntries) entries")
            }
            let (sum, overflow) = declared.addingReportingOverflow(entry.uncompressedSize)
            declared = sum
            guard !overflow, declared <= UInt64(max(0, limits.maximumBytes)) else {
                throw BundleError(
                    entry: entry.path, reason: "the archive expands beyond the limit of \(limits.maximumBytes) bytes")
            }
            _ = try ArchivePath.parse(Array(entry.path.utf8), entry: entry.path)
            if entry.type == .symlink {
                guard entry.compressedSize <= maximumLinkTarget, !entry.isCompressed else {
                    throw BundleError(entry: entry.path, reason: "the symbolic link's target is not stored plainly")
                }
            }
        }

        var files: [String: KeptRevisions.FileFacts] = [:]
        for entry in archive {
            let path = Array(entry.path.utf8)
            let attributes = entry.fileAttributes
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint32Value
            if entry.type == .file {
                files[entry.path] = KeptRevisions.FileFacts(
                    size: entry.uncompressedSize, crc32: entry.checksum,
                    mode: (mode ?? 0o644) & SafeTreeWriter.fileModeMask, modified: nil)
            }
            if entry.type == .file, let existing = reuse[entry.path] {
                try writer.reuse(path, existing: existing.path, size: entry.uncompressedSize)
                continue
            }
            // Int(exactly:) of a rounded value: Int(_:) of a Double beyond Int's range (or NaN) traps.
            let mtime = (attributes[.modificationDate] as? Date)
                .flatMap { Int(exactly: $0.timeIntervalSince1970.rounded(.down)) }
                .map { timespec(tv_sec: $0, tv_nsec: 0) }
            do {
                switch entry.type {
                case .directory:
                    try writer.directory(path, mode: mode, mtime: mtime)
                case .file:
                    try writer.file(
                        path, mode: mode ?? 0o644, mtime: mtime,
                        declaredSize: Int64(clamping: entry.uncompressedSize)
                    ) { sink in
                        // The limits were checked against the declared sizes: an entry that inflates to more (or
                        // fewer) bytes than it declares is refused, and the bytes beyond are never written.
                        let declared = entry.uncompressedSize
                        var written: UInt64 = 0
                        let checksum = try archive.extract(entry, bufferSize: 1 << 18) { data in
                            written += UInt64(data.count)
                            guard written <= declared else {
                                throw BundleError(
                                    entry: entry.path,
                                    reason: "the entry inflates to more than its declared size of \(declared) bytes")
                            }
                            try data.withUnsafeBytes { try sink($0) }
                        }
                        guard written == declared else {
                            throw BundleError(
                                entry: entry.path,
                                reason: "the entry inflates to \(written) bytes, not its declared size of \(declared)")
                        }
                        guard checksum == entry.checksum else {
                            throw BundleError(entry: entry.path, reason: "the entry's CRC-32 does not match")
                        }
                    }
                case .symlink:
                    var target = Data()
                    _ = try archive.extract(entry) { target.append($0) }
                    try writer.symlink(path, target: Array(target), mtime: mtime)
                }
            } catch let error as BundleError {
                throw error
            } catch let error as CancellationError {
                throw error
            } catch {
                throw BundleError(entry: entry.path, reason: "the entry cannot be read (\(error))")
            }
        }
        return files
    }
}
