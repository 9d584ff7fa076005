#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A path inside a bundle, normalised lexically, as bytes (tar names need not be UTF-8).
struct ArchivePath: Hashable {
    var components: [[UInt8]]

    static let root = ArchivePath(components: [])

    /// Deeper paths are refused: every level holds a descriptor while the tree is walked or removed.
    static let maximumDepth = 256
    static let maximumLength = 4095

    var parent: ArchivePath { ArchivePath(components: Array(components.dropLast())) }
    var name: [UInt8] { components.last ?? [] }
    var display: String { components.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/") }

    /// Splits and normalises `raw`: `.` and empty components go, `..` removes the previous component. Absolute
    /// paths and a `..` that would leave the archive directory are refused. Since intermediate components are never
    /// followed as symbolic links when writing, lexical normalisation is what the file system will do too.
    static func parse(_ raw: [UInt8], entry: String) throws -> ArchivePath {
        guard !raw.isEmpty else { throw BundleError(entry: entry, reason: "the entry has an empty name") }
        guard raw.first != UInt8(ascii: "/") else {
            throw BundleError(entry: entry, reason: "absolute paths are not allowed")
        }
        guard raw.count <= maximumLength else {
            throw BundleError(entry: entry, reason: "the path is longer than \(maximumLength) bytes")
        }
        guard !raw.contains(0) else { throw BundleError(entry: entry, reason: "the path contains a NUL byte") }
        var components: [[UInt8]] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                guard !components.isEmpty else {
                    throw BundleError(entry: entry, reason: "the path leaves the archive directory (\"..\")")
                }
                components.removeLast()
                continue
            }
            components.append(Array(part))
        }
        guard components.count <= maximumDepth else {
            throw BundleError(entry: entry, reason: "the path is deeper than \(maximumDepth) directories")
        }
        return ArchivePath(components: components)
    }

    /// How many levels a relative symbolic link target climbs (its leading `..` components).
    ///
    /// A `..` after a named component is refused: the name may itself be a link, so only following links could
    /// tell where it ends up. With that rule a link in a real directory of the tree that climbs no higher than
    /// that directory's depth stays inside the tree, whatever the later names are (they are links checked the same
    /// way, or real entries).
    static func symlinkClimb(_ target: [UInt8], entry: String) throws -> Int {
        guard !target.isEmpty else {
            throw BundleError(entry: entry, reason: "the symbolic link has an empty target")
        }
        guard target.first != UInt8(ascii: "/") else {
            throw BundleError(entry: entry, reason: "the symbolic link's target is absolute")
        }
        guard !target.contains(0), target.count <= maximumLength else {
            throw BundleError(entry: entry, reason: "the symbolic link's target is not a valid path")
        }
        var climb = 0
        var descended = false
        for part in target.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                guard !descended else {
                    throw BundleError(
                        entry: entry,
                        reason: "the symbolic link's target has \"..\" after a name, which cannot be checked "
                            + "without following links")
                }
                climb += 1
            } else {
                descended = true
            }
        }
        return climb
    }
}

/// Creates a tree of files under one directory, relative to a descriptor of it, never following a symbolic link.
///
/// Every intermediate directory is opened with `O_NOFOLLOW`, files are created with `O_EXCL` after removing what
/// was there, so nothing in the bundle (an earlier symbolic link, a hard link) can redirect a write outside the
/// tree or into another file. Not thread-safe: one writer per unpack, used from one thread.
final class SafeTreeWriter {
    private let root: Int32
    private let limits: UnpackLimits
    private let cancellation: CancellationFlag
    private(set) var entries = 0
    private(set) var bytes: Int64 = 0
    /// Bytes of files linked from a kept revision rather than written.
    private(set) var reused: Int64 = 0
    /// Regular files written so far: the only allowed hard link targets.
    private var regularFiles: Set<ArchivePath> = []
    /// Symbolic links and how far their targets climb, re-checked when the top directory is stripped.
    private var symlinks: [ArchivePath: Int] = [:]
    /// Modes and times of directories, applied at the end (a read-only directory must still receive its entries).
    private var directoryAttributes: [ArchivePath: (mode: mode_t, mtime: timespec?)] = [:]
    private var cachedParent: (path: ArchivePath, fd: Int32)?

    init(root: Int32, limits: UnpackLimits, cancellation: CancellationFlag) {
        self.root = root
        self.limits = limits
        self.cancellation = cancellation
    }

    deinit {
        if let cachedParent { close(cachedParent.fd) }
    }

    // MARK: Entries

    func directory(_ raw: [UInt8], mode: UInt32?, mtime: timespec?) throws {
        let entry = Self.display(raw)
        let path = try begin(raw, entry: entry)
        guard !path.components.isEmpty else { return }  // "./": the archive directory itself
        let parent = try openDirectory(path.parent, entry: entry)
        var info = stat()
        if fstatat(parent, path.name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            if info.st_mode & S_IFMT != S_IFDIR {
                try remove(path, in: parent, entry: entry)
                try Self.check(mkdirat(parent, path.name, 0o755), entry: entry, "cannot create the directory")
            }
        } else {
            try Self.check(mkdirat(parent, path.name, 0o755), entry: entry, "cannot create the directory")
        }
        directoryAttributes[path] = (mode_t(mode ?? 0o755) & Self.directoryModeMask, mtime)
    }

    /// Creates a regular file and writes what `contents` hands to its sink, counting bytes against the limit as they
    /// are written (the declared size is checked first, but not trusted).
    func file(
        _ raw: [UInt8], mode: UInt32, mtime: timespec?, declaredSize: Int64,
        contents: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let entry = Self.display(raw)
        let path = try begin(raw, entry: entry)
        guard !path.components.isEmpty else {
            throw BundleError(entry: entry, reason: "a file cannot replace the archive directory")
        }
        guard declaredSize >= 0, declaredSize <= limits.maximumBytes - bytes else {
            throw limitError(entry: entry)
        }
        let parent = try openDirectory(path.parent, entry: entry)
        try makeRoom(for: path, in: parent, entry: entry, kind: "file")
        let fd = openat(parent, path.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        try Self.check(fd, entry: entry, "cannot create the file")
        defer { close(fd) }
        regularFiles.insert(path)
        try contents { chunk in
            guard Int64(chunk.count) <= limits.maximumBytes - bytes else { throw limitError(entry: entry) }
            var offset = 0
            while offset < chunk.count {
                let written = write(fd, chunk.baseAddress! + offset, chunk.count - offset)
                if written < 0 && errno == EINTR { continue }
                try Self.check(written, entry: entry, "cannot write the file")
                offset += written
            }
            bytes += Int64(chunk.count)
        }
        try Self.check(fchmod(fd, mode_t(mode) & Self.fileModeMask), entry: entry, "cannot set the file's mode")
        if let mtime {
            var times = [mtime, mtime]
            try Self.check(futimens(fd, &times), entry: entry, "cannot set the file's time")
        }
    }

    func symlink(_ raw: [UInt8], target: [UInt8], mtime: timespec?) throws {
        let entry = Self.display(raw)
        let path = try begin(raw, entry: entry)
        guard !path.components.isEmpty else {
            throw BundleError(entry: entry, reason: "a symbolic link cannot replace the archive directory")
        }
        let climb = try ArchivePath.symlinkClimb(target, entry: entry)
        guard climb <= path.components.count - 1 else {
            throw BundleError(
                entry: entry,
                reason: "the symbolic link's target \"\(Self.display(target))\" is outside the archive directory")
        }
        let parent = try openDirectory(path.parent, entry: entry)
        try makeRoom(for: path, in: parent, entry: entry, kind: "symbolic link")
        try Self.withCString(target) { target in
            try Self.check(symlinkat(target, parent, path.name), entry: entry, "cannot create the symbolic link")
        }
        symlinks[path] = climb
        if let mtime {
            var times = [mtime, mtime]
            _ = utimensat(parent, path.name, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Puts the file `existing` (a kept revision's, outside this tree) at `raw` by a copy-on-write clone or a hard
    /// link, instead of writing its contents again. It must be a regular file of `size` bytes; its mode and time are
    /// its own (shared with the kept revision).
    func reuse(_ raw: [UInt8], existing: String, size: UInt64) throws {
        let entry = Self.display(raw)
        let path = try begin(raw, entry: entry)
        guard !path.components.isEmpty else {
            throw BundleError(entry: entry, reason: "a file cannot replace the archive directory")
        }
        var info = stat()
        guard lstat(existing, &info) == 0, info.st_mode & S_IFMT == S_IFREG, UInt64(info.st_size) == size else {
            throw BundleError(entry: entry, reason: "the kept copy \(existing) is no longer the same file")
        }
        let parent = try openDirectory(path.parent, entry: entry)
        try makeRoom(for: path, in: parent, entry: entry, kind: "file")
        let linked = Self.withCString(path.name) { name in linkat(AT_FDCWD, existing, parent, name, 0) }
        try Self.check(linked, entry: entry, "cannot link the kept copy \(existing)")
        regularFiles.insert(path)
        reused += Int64(size)
    }

    func hardLink(_ raw: [UInt8], target rawTarget: [UInt8]) throws {
        let entry = Self.display(raw)
        let path = try begin(raw, entry: entry)
        let target = try ArchivePath.parse(rawTarget, entry: entry)
        guard regularFiles.contains(target), target != path else {
            throw BundleError(
                entry: entry,
                reason: "the hard link's target \"\(Self.display(rawTarget))\" is not a regular file extracted "
                    + "earlier from this archive")
        }
        let targetParent = try openUncached(target.parent, entry: entry)
        defer { close(targetParent) }
        var info = stat()
        guard fstatat(targetParent, target.name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG
        else {
            throw BundleError(entry: entry, reason: "the hard link's target is no longer a regular file")
        }
        let parent = try openDirectory(path.parent, entry: entry)
        try makeRoom(for: path, in: parent, entry: entry, kind: "hard link")
        try Self.check(linkat(targetParent, target.name, parent, path.name, 0), entry: entry, "cannot create the link")
        regularFiles.insert(path)
    }

    // MARK: Finishing

    /// Strips a single top-level directory holding the AppSpec file, applies directory modes and times, and
    /// returns the figures.
    func finish() throws -> UnpackSummary {
        closeCache()
        let stripped = try stripTopDirectory()
        for (path, attributes) in directoryAttributes.sorted(by: { $0.key.components.count > $1.key.components.count })
        {
            let fd = try openUncached(path, entry: path.display)
            defer { close(fd) }
            try Self.check(fchmod(fd, attributes.mode), entry: path.display, "cannot set the directory's mode")
            if let mtime = attributes.mtime {
                var times = [mtime, mtime]
                _ = futimens(fd, &times)
            }
        }
        var summary = UnpackSummary(entries: entries, bytes: bytes, strippedDirectory: stripped)
        summary.reusedBytes = reused
        return summary
    }

    /// When the tree holds exactly one directory and that directory holds a file whose name contains "appspec"
    /// (any case), moves the directory's contents up a level, as the stock agent does.
    private func stripTopDirectory() throws -> String? {
        let top = try Self.names(in: root)
        guard top.count == 1, let name = top.first, Self.kind(of: name, in: root) == S_IFDIR else { return nil }
        let topFD = openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        try Self.check(topFD, entry: Self.display(name), "cannot open the directory")
        let children: [[UInt8]]
        do {
            defer { close(topFD) }
            children = try Self.names(in: topFD)
            let holdsAppSpec = children.contains { child in
                String(decoding: child, as: UTF8.self).lowercased().contains("appspec")
                    && Self.kind(of: child, in: topFD) != S_IFDIR
            }
            guard holdsAppSpec else { return nil }
        }
        // A link in the top directory that climbs to the archive directory would climb out of it once moved up.
        for (link, climb) in symlinks where climb > link.components.count - 2 {
            throw BundleError(
                entry: link.display,
                reason: "the symbolic link would point outside the archive directory once the top directory "
                    + "\"\(Self.display(name))\" is stripped")
        }
        // Renamed first, so a child with the directory's own name can move up.
        var temporary = Array(".slipway-strip-".utf8)
        temporary += Array(String(UInt64.random(in: 0...UInt64.max), radix: 16).utf8)
        try Self.check(renameat(root, name, root, temporary), entry: Self.display(name), "cannot strip the directory")
        let moved = openat(root, temporary, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        try Self.check(moved, entry: Self.display(name), "cannot open the directory")
        defer { close(moved) }
        for child in children {
            try Self.check(renameat(moved, child, root, child), entry: Self.display(child), "cannot move up")
        }
        try Self.check(unlinkat(root, temporary, AT_REMOVEDIR), entry: Self.display(name), "cannot remove")
        var shifted: [ArchivePath: (mode: mode_t, mtime: timespec?)] = [:]
        for (path, attributes) in directoryAttributes where path.components.count > 1 {
            shifted[ArchivePath(components: Array(path.components.dropFirst()))] = attributes
        }
        directoryAttributes = shifted
        return Self.display(name)
    }

    // MARK: Helpers

    private func begin(_ raw: [UInt8], entry: String) throws -> ArchivePath {
        if cancellation.isCancelled { throw CancellationError() }
        entries += 1
        guard entries <= limits.maximumEntries else {
            throw BundleError(entry: entry, reason: "the archive has more than \(limits.maximumEntries) entries")
        }
        return try ArchivePath.parse(raw, entry: entry)
    }

    private func limitError(entry: String) -> BundleError {
        BundleError(entry: entry, reason: "the archive expands beyond the limit of \(limits.maximumBytes) bytes")
    }

    /// Removes whatever is at `path` unless it is a directory (a directory is never replaced by another kind).
    private func makeRoom(for path: ArchivePath, in parent: Int32, entry: String, kind: String) throws {
        var info = stat()
        guard fstatat(parent, path.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        guard info.st_mode & S_IFMT != S_IFDIR else {
            throw BundleError(entry: entry, reason: "a \(kind) would replace a directory")
        }
        try remove(path, in: parent, entry: entry)
    }

    private func remove(_ path: ArchivePath, in parent: Int32, entry: String) throws {
        try Self.check(unlinkat(parent, path.name, 0), entry: entry, "cannot replace the existing entry")
        regularFiles.remove(path)
        symlinks[path] = nil
    }

    /// A descriptor of the directory at `path`, creating missing directories; cached for the next entry (archives
    /// list a directory's files together). Owned by the cache: callers do not close it.
    private func openDirectory(_ path: ArchivePath, entry: String) throws -> Int32 {
        if path.components.isEmpty { return root }
        if let cachedParent, cachedParent.path == path { return cachedParent.fd }
        closeCache()
        let fd = try walk(to: path, create: true, entry: entry)
        cachedParent = (path, fd)
        return fd
    }

    /// A descriptor of the existing directory at `path` that the caller closes.
    private func openUncached(_ path: ArchivePath, entry: String) throws -> Int32 {
        if path.components.isEmpty {
            let fd = dup(root)
            try Self.check(fd, entry: entry, "cannot open the archive directory")
            return fd
        }
        return try walk(to: path, create: false, entry: entry)
    }

    private func closeCache() {
        if let cachedParent { close(cachedParent.fd) }
        cachedParent = nil
    }

    private func walk(to path: ArchivePath, create: Bool, entry: String) throws -> Int32 {
        var current = root
        for (index, component) in path.components.enumerated() {
            var next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT && create {
                if mkdirat(current, component, 0o755) != 0 && errno != EEXIST {
                    let reason = Self.errorText()
                    if current != root { close(current) }
                    throw BundleError(entry: entry, reason: "cannot create a directory: \(reason)")
                }
                next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let reason = Self.errorText()
                let kind = Self.kind(of: component, in: current)
                if current != root { close(current) }
                let prefix = ArchivePath(components: Array(path.components[...index])).display
                if kind == S_IFLNK {
                    throw BundleError(
                        entry: entry, reason: "the entry would be written through the symbolic link \"\(prefix)\"")
                }
                if kind != nil && kind != S_IFDIR {
                    throw BundleError(entry: entry, reason: "\"\(prefix)\" is not a directory")
                }
                throw BundleError(entry: entry, reason: "cannot open the directory \"\(prefix)\": \(reason)")
            }
            if current != root { close(current) }
            current = next
        }
        return current
    }

    // MARK: Modes

    /// The bits a file from a bundle keeps: the owner's, and read and execute for group and others. Set-user-ID and
    /// set-group-ID go because owners are not restored (the file belongs to the agent's user, often root); group and
    /// other write go because a file another local user could rewrite between unpacking and running it as root is
    /// theirs to run. The AppSpec's `permissions` section, applied at Install, may still set any mode.
    static let fileModeMask: mode_t = 0o755
    /// Directories keep the sticky bit as well; group and other write go for the same reason as files'.
    static let directoryModeMask: mode_t = 0o1755

    // MARK: System call helpers

    static func display(_ raw: [UInt8]) -> String { String(decoding: raw, as: UTF8.self) }

    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    static func check<T: BinaryInteger>(_ result: T, entry: String?, _ what: String) throws {
        if result < 0 { throw BundleError(entry: entry, reason: "\(what): \(errorText())") }
    }

    static func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// The file type bits of `name` in `directory` (without following a link), or nil when it does not exist.
    static func kind(of name: [UInt8], in directory: Int32) -> mode_t? {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// The names in a directory (without "." and ".."), sorted by bytes.
    static func names(in directory: Int32) throws -> [[UInt8]] {
        let fd = dup(directory)
        try check(fd, entry: nil, "cannot list a directory")
        guard let stream = fdopendir(fd) else {
            close(fd)
            throw BundleError(entry: nil, reason: "cannot list a directory: \(errorText())")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [[UInt8]] = []
        while let item = readdir(stream) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Removes `name` in `directory` and everything below it, never following a symbolic link.
    static func removeTree(_ name: [UInt8], in directory: Int32) {
        guard kind(of: name, in: directory) == S_IFDIR else {
            _ = unlinkat(directory, name, 0)
            return
        }
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            _ = fchmod(fd, 0o700)  // a read-only directory from the archive must still be emptied
            for child in (try? names(in: fd)) ?? [] { removeTree(child, in: fd) }
            close(fd)
        }
        _ = unlinkat(directory, name, AT_REMOVEDIR)
    }
}

/// Calls taking a path as a byte array, with the NUL terminator added.
private func fstatat(_ fd: Int32, _ name: [UInt8], _ info: inout stat, _ flags: Int32) -> Int32 {
    SafeTreeWriter.withCString(name) { fstatat(fd, $0, &info, flags) }
}

private func openat(_ fd: Int32, _ name: [UInt8], _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
    SafeTreeWriter.withCString(name) { openat(fd, $0, flags, mode) }
}

private func mkdirat(_ fd: Int32, _ name: [UInt8], _ mode: mode_t) -> Int32 {
    SafeTreeWriter.withCString(name) { mkdirat(fd, $0, mode) }
}

private func unlinkat(_ fd: Int32, _ name: [UInt8], _ flags: Int32) -> Int32 {
    SafeTreeWriter.withCString(name) { unlinkat(fd, $0, flags) }
}

private func symlinkat(_ target: UnsafePointer<CChar>, _ fd: Int32, _ name: [UInt8]) -> Int32 {
    SafeTreeWriter.withCString(name) { symlinkat(target, fd, $0) }
}

private func utimensat(_ fd: Int32, _ name: [UInt8], _ times: inout [timespec], _ flags: Int32) -> Int32 {
    SafeTreeWriter.withCString(name) { utimensat(fd, $0, &times, flags) }
}

private func renameat(_ from: Int32, _ old: [UInt8], _ to: Int32, _ new: [UInt8]) -> Int32 {
    SafeTreeWriter.withCString(old) { old in SafeTreeWriter.withCString(new) { renameat(from, old, to, $0) } }
}

private func linkat(_ from: Int32, _ old: [UInt8], _ to: Int32, _ new: [UInt8], _ flags: Int32) -> Int32 {
    SafeTreeWriter.withCString(old) { old in SafeTreeWriter.withCString(new) { linkat(from, old, to, $0, flags) } }
}
