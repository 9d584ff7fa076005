import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Revisions already unpacked on this host, reused instead of downloaded again: redeploying a revision, or rolling
/// back to the previous one, links the kept files into the new deployment's `deployment-archive` (a copy-on-write
/// clone where the file system has them, a hard link otherwise), so no byte of it crosses the network or is written
/// to disk again.
///
/// A revision is the same when its identity is: bucket, key, and the version or ETag for S3 (a key without either
/// can change under the same name, so it is never reused); account, repository and commit for GitHub. Local bundles
/// are always unpacked. A deployment directory records its identity in `slipway-revision.json`, written only after
/// its archive was unpacked completely, so an interrupted unpack is never reused.
package struct KeptRevisions: Sendable {
    static let recordName = "slipway-revision.json"

    /// What makes two revisions the same; nil when a revision cannot be told apart from a later one of its name.
    package struct Identity: Codable, Hashable, Sendable {
        var source: String
        var location: String
        var version: String

        init?(_ revision: DeploymentSpec.Revision) {
            switch revision {
            case .s3(let bucket, let key, let bundleType, let version, let eTag):
                let eTag = eTag?.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard let pin = version ?? eTag, !pin.isEmpty else { return nil }
                source = "s3:\(bundleType.lowercased())"
                location = "\(bucket)/\(key)"
                self.version = version.map { "version:\($0)" } ?? "etag:\(pin)"
            case .gitHub(let account, let repository, let commit, let bundleType, _):
                source = "github:\(bundleType.lowercased())"
                location = "\(account)/\(repository)"
                version = commit
            case .local:
                return nil
            }
        }
    }

    /// What is known of a regular file of a zip revision: enough to tell that another zip's entry has the same
    /// contents without reading them (the same path, size, CRC-32 and mode).
    package struct FileFacts: Codable, Hashable, Sendable {
        var size: UInt64
        var crc32: UInt32
        var mode: UInt32
        /// The file's modification time on disk once unpacked, in nanoseconds: a kept file whose time changed since
        /// (a hook rewrote it in place) is not reused.
        var modified: Int64?

        /// Whether `other` describes the same contents (the time aside).
        func sameContents(as other: FileFacts) -> Bool {
            size == other.size && crc32 == other.crc32 && mode == other.mode
        }

        static func modificationTime(of path: String) -> Int64? {
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
            let (scaled, overflow) = Int64(info.st_mtim.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
            return overflow ? nil : scaled &+ Int64(info.st_mtim.tv_nsec)
        }
    }

    /// `slipway-revision.json`.
    package struct Record: Codable, Sendable {
        var identity: Identity?
        /// The top-level directory the unpack stripped, which the paths of `files` still start with.
        var stripped: String?
        /// The regular files of a zip revision by entry path; empty for other bundle types.
        var files: [String: FileFacts] = [:]

        package init(identity: Identity?, stripped: String?, files: [String: FileFacts]) {
            self.identity = identity
            self.stripped = stripped
            self.files = files
        }
    }

    /// A kept deployment's complete archive and its record.
    package struct Kept: Sendable {
        var archive: URL
        var record: Record

        /// `files` with each file's modification time as it is now on disk under `archive`.
        package static func stamped(_ files: [String: FileFacts], archive: URL, stripped: String?) -> [String:
            FileFacts]
        {
            let kept = Kept(archive: archive, record: Record(identity: nil, stripped: stripped, files: [:]))
            var stamped = files
            for path in files.keys {
                stamped[path]?.modified = kept.file(path).flatMap { FileFacts.modificationTime(of: $0.path) }
            }
            return stamped
        }

        /// Where the file of entry `path` is on disk.
        func file(_ path: String) -> URL? {
            // Recorded paths passed the unpack's checks; a path that climbs or starts at the root is refused anyway.
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.hasPrefix("/"), !components.contains(".."), !path.contains("\u{0}") else { return nil }
            var relative = Substring(path)
            if let stripped = record.stripped {
                guard relative.hasPrefix(stripped + "/") else { return nil }
                relative = relative.dropFirst(stripped.count + 1)
            }
            return archive.appendingPathComponent(String(relative))
        }
    }

    let groupDirectory: URL

    package init(groupDirectory: URL) {
        self.groupDirectory = groupDirectory
    }

    /// The complete archives of the group's other kept deployments, newest first.
    package func all(except current: URL) -> [Kept] {
        let entries =
            (try? FileManager.default.contentsOfDirectory(
                at: groupDirectory, includingPropertiesForKeys: [.contentModificationDateKey])) ?? []
        let current = current.standardizedFileURL.path
        let candidates = entries.filter { $0.standardizedFileURL.path != current }.sorted { lhs, rhs in
            Self.modified(lhs) > Self.modified(rhs)
        }
        return candidates.compactMap { deployment in
            guard let data = FileManager.default.contents(atPath: Self.record(in: deployment).path),
                let record = try? JSONDecoder().decode(Record.self, from: data)
            else { return nil }
            let archive = DeploymentLayout.archiveDirectory(in: deployment)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: archive.path, isDirectory: &isDirectory),
                isDirectory.boolValue
            else { return nil }
            return Kept(archive: archive, record: record)
        }
    }

    /// The archive of an earlier deployment of this group with `identity`, complete and still on disk.
    func archive(matching identity: Identity, except current: URL) -> Kept? {
        all(except: current).first { $0.record.identity == identity }
    }

    static func record(in deployment: URL) -> URL { deployment.appendingPathComponent(recordName) }

    /// Records that `deployment`'s archive is complete, with what is known of it.
    package static func remember(_ record: Record, in deployment: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(record).write(to: Self.record(in: deployment), options: .atomic)
    }

    static func modified(_ url: URL) -> Date {
        (try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
    }
}

/// Builds a copy of a directory tree out of links to its files: a copy-on-write clone (`FICLONE`) where the file
/// system supports it, else a hard link; directories are made anew with the same modes, symbolic links recreated.
/// Nothing is followed: a symbolic link in the source is copied as a link, never through.
package struct TreeLinker {
    package struct Summary: Sendable, Equatable {
        package var files = 0
        package var cloned = 0
        package var linked = 0
        package var bytes: Int64 = 0
    }

    /// Links the tree at `source` into `destination`, which must not exist. On any error, `destination` is removed.
    package static func linkTree(_ source: URL, to destination: URL) throws -> Summary {
        var summary = Summary()
        do {
            try linkDirectory(source.path, destination.path, summary: &summary)
        } catch {
            try? FileManager.default.removeItem(at: destination)
            throw error
        }
        return summary
    }

    private static func linkDirectory(_ source: String, _ destination: String, summary: inout Summary) throws {
        var info = stat()
        guard lstat(source, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw AgentError("cannot reuse \(source): not a directory")
        }
        guard mkdir(destination, 0o700) == 0 else {
            throw AgentError("cannot create \(destination): \(String(cString: strerror(errno)))")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            let from = source + "/" + name
            let to = destination + "/" + name
            var entry = stat()
            guard lstat(from, &entry) == 0 else {
                throw AgentError("cannot read \(from): \(String(cString: strerror(errno)))")
            }
            switch entry.st_mode & S_IFMT {
            case S_IFDIR:
                try linkDirectory(from, to, summary: &summary)
            case S_IFREG:
                try linkFile(from, to, size: Int64(entry.st_size), summary: &summary)
            case S_IFLNK:
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: from)
                guard symlink(target, to) == 0 else {
                    throw AgentError("cannot create the link \(to): \(String(cString: strerror(errno)))")
                }
            default:
                throw AgentError("cannot reuse \(from): not a file, directory or link")
            }
        }
        // The directory's own mode (and modification time) last, once its entries are in.
        guard chmod(destination, info.st_mode & 0o7777) == 0 else {
            throw AgentError("cannot set the mode of \(destination): \(String(cString: strerror(errno)))")
        }
        var times = [info.st_atim, info.st_mtim]
        _ = utimensat(AT_FDCWD, destination, &times, 0)
    }

    private static func linkFile(_ from: String, _ to: String, size: Int64, summary: inout Summary) throws {
        summary.files += 1
        summary.bytes += size
        if clone(from, to) {
            summary.cloned += 1
            return
        }
        guard link(from, to) == 0 else {
            throw AgentError("cannot link \(from) to \(to): \(String(cString: strerror(errno)))")
        }
        summary.linked += 1
    }

    /// A copy-on-write clone of `from` at `to`; false (and nothing left behind) where the file system has none.
    static func clone(_ from: String, _ to: String) -> Bool {
        #if os(Linux)
            let input = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else { return false }
            defer { close(input) }
            var info = stat()
            guard fstat(input, &info) == 0 else { return false }
            let output = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, info.st_mode & 0o7777)
            guard output >= 0 else { return false }
            // FICLONE: _IOW(0x94, 9, int).
            let cloned = ioctl(output, 0x4004_9409, input) == 0
            if cloned {
                var times = [info.st_atim, info.st_mtim]
                _ = futimens(output, &times)
            }
            close(output)
            if !cloned { unlink(to) }
            return cloned
        #else
            return false
        #endif
    }
}

/// The disk space directory trees take, each file counted once however many links the trees hold to it.
package enum DiskUsage {
    package static func bytes(of roots: [URL]) -> Int64 {
        var seen = Set<[UInt64]>()
        var total: Int64 = 0
        func visit(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            let key = [UInt64(info.st_dev), UInt64(info.st_ino)]
            guard seen.insert(key).inserted else { return }
            // Allocated blocks, so sparse files count what they take.
            total += Int64(info.st_blocks) * 512
            guard info.st_mode & S_IFMT == S_IFDIR,
                let names = try? FileManager.default.contentsOfDirectory(atPath: path)
            else { return }
            for name in names { visit(path + "/" + name) }
        }
        for root in roots { visit(root.path) }
        return total
    }
}
