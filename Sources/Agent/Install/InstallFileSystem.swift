import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The POSIX calls the Install step needs, written by hand because Foundation's file APIs follow symbolic links
/// (attributes, copies, existence checks) and the installer must never write through one, nor lose a file's mode and
/// times on the way.
enum InstallFileSystem {
    /// What is at a path, without following a final symbolic link.
    enum Kind: Equatable {
        case regular
        case directory
        case symlink
        /// A FIFO, socket or device: nothing a revision can install.
        case other
    }

    /// The `lstat` facts the installer uses.
    struct Status {
        var kind: Kind
        var mode: mode_t
        var uid: uid_t
        var gid: gid_t
        var accessTime: timespec
        var modificationTime: timespec
    }

    /// The entry at `path` (a final symbolic link is not followed), or `nil` when nothing is there.
    static func status(_ path: String) throws(InstallError) -> Status? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw InstallError(path: path, doing: "inspect", errno: code)
        }
        let kind: Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        #if canImport(Darwin)
            let times = (info.st_atimespec, info.st_mtimespec)
        #else
            let times = (info.st_atim, info.st_mtim)
        #endif
        return Status(
            kind: kind,
            mode: info.st_mode,
            uid: info.st_uid,
            gid: info.st_gid,
            accessTime: times.0,
            modificationTime: times.1
        )
    }

    /// Whether `path` is a directory or a symbolic link to one (as `mkdir -p` and the stock agent see it).
    static func isDirectoryFollowingLinks(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// The permission bits of what `path` names, following links.
    static func permissionBits(_ path: String) throws(InstallError) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { throw InstallError(path: path, doing: "inspect", errno: errno) }
        return info.st_mode & 0o7777
    }

    /// The names in a directory, sorted so installs are reproducible. Names that are not UTF-8 are refused: the
    /// instruction files are JSON and text, which could not carry them faithfully.
    static func entries(of path: String) throws(InstallError) -> [String] {
        guard let directory = opendir(path) else { throw InstallError(path: path, doing: "list", errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw InstallError(path: path, doing: "list", errno: errno) }
                break
            }
            let name = withUnsafePointer(to: entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    String(validatingCString: $0)
                }
            }
            guard let name else {
                throw InstallError(
                    "The deployment failed because the revision directory \(path) holds a file whose name is not "
                        + "valid UTF-8. Rename it, and then try again."
                )
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The target text of a symbolic link.
    static func readLink(_ path: String) throws(InstallError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw InstallError(path: path, doing: "read the link", errno: errno) }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The canonical absolute path (symbolic links resolved), or `nil` when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Creates a symbolic link at `path` whose target text is `target`; fails when anything is at `path`.
    static func makeSymlink(at path: String, target: String) throws(InstallError) {
        guard symlink(target, path) == 0 else {
            throw errno == EEXIST ? .fileExists(path) : InstallError(path: path, doing: "create the link", errno: errno)
        }
    }

    /// Creates a directory (0777 less the umask, as `mkdir` does).
    static func makeDirectory(_ path: String) throws(InstallError) {
        guard mkdir(path, 0o777) == 0 else {
            throw errno == EEXIST ? .fileExists(path) : InstallError(path: path, doing: "create", errno: errno)
        }
    }

    /// Renames `source` to `destination`, replacing a file or a symbolic link there (never what a link points to).
    static func move(_ source: String, to destination: String) throws(InstallError) {
        guard rename(source, destination) == 0 else {
            throw InstallError(path: destination, doing: "move into place", errno: errno)
        }
    }

    /// Removes a file or a symbolic link (the link itself); nothing there is not an error.
    static func removeEntry(_ path: String) throws(InstallError) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw InstallError(path: path, doing: "remove", errno: errno)
        }
    }

    /// Removes a directory only when it is empty. Returns whether it was removed.
    static func removeDirectoryIfEmpty(_ path: String) throws(InstallError) -> Bool {
        if rmdir(path) == 0 { return true }
        switch errno {
        case ENOTEMPTY, EEXIST, ENOENT: return false
        case let code: throw InstallError(path: path, doing: "remove", errno: code)
        }
    }

    /// Removes whatever is at `path`: a directory with everything below it (links inside are removed, never
    /// followed), or a file or link.
    static func removeAnything(_ path: String) throws(InstallError) {
        guard let status = try status(path) else { return }
        if status.kind != .directory { return try removeEntry(path) }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw InstallError("The deployment failed because \(path) could not be replaced: \(error)")
        }
    }

    /// Copies a regular file's contents, mode, times (and, when running as root, owner) to a new file at
    /// `destination`, which must not exist: it is created exclusively, so nothing that appeared there is clobbered.
    static func copyRegularFile(from source: String, to destination: String) throws(InstallError) {
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw InstallError(path: source, doing: "open", errno: errno) }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw InstallError(path: source, doing: "inspect", errno: errno) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else {
            throw errno == EEXIST
                ? .fileExists(destination) : InstallError(path: destination, doing: "create", errno: errno)
        }
        var finished = false
        defer {
            close(output)
            if !finished { unlink(destination) }
        }
        try copyContents(from: input, to: output, size: Int(info.st_size), source: source, destination: destination)
        // As the stock agent does when it runs as root: the owner comes along. chown before chmod, because a change
        // of owner clears the set-user-ID and set-group-ID bits.
        if geteuid() == 0, fchown(output, info.st_uid, info.st_gid) != 0 {
            throw InstallError(path: destination, doing: "set the owner of", errno: errno)
        }
        guard fchmod(output, info.st_mode & 0o7777) == 0 else {
            throw InstallError(path: destination, doing: "set the mode of", errno: errno)
        }
        #if canImport(Darwin)
            let times = [info.st_atimespec, info.st_mtimespec]
        #else
            let times = [info.st_atim, info.st_mtim]
        #endif
        guard futimens(output, times) == 0 else {
            throw InstallError(path: destination, doing: "set the times of", errno: errno)
        }
        finished = true
    }

    /// Moves the bytes in the kernel where it can (`copy_file_range`, which also shares extents on file systems that
    /// can), otherwise through a 1 MiB buffer.
    private static func copyContents(
        from input: Int32,
        to output: Int32,
        size: Int,
        source: String,
        destination: String
    ) throws(InstallError) {
        #if os(Linux)
            if let copyFileRange = copyFileRangeFunction {
                var copied = 0
                var usable = true
                while usable {
                    let count = copyFileRange(input, nil, output, nil, 1 << 30, 0)
                    if count > 0 {
                        copied += count
                        continue
                    }
                    // A file system that reports nothing copied at once for a non-empty file gets the buffered copy.
                    if count == 0 {
                        if copied == 0 && size > 0 { break }
                        return
                    }
                    let code = errno
                    if code == EINTR { continue }
                    // Not supported here (old kernel, across file systems): fall back, but only before anything was
                    // written, so the buffered copy starts from a clean state.
                    guard copied == 0, [ENOSYS, EXDEV, EINVAL, EOPNOTSUPP].contains(code) else {
                        throw InstallError(path: destination, doing: "write", errno: code)
                    }
                    usable = false
                }
            }
        #endif
        let bufferSize = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(input, buffer, bufferSize)
            if count == 0 { return }
            if count < 0 {
                if errno == EINTR { continue }
                throw InstallError(path: source, doing: "read", errno: errno)
            }
            var offset = 0
            while offset < count {
                let written = write(output, buffer + offset, count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw InstallError(path: destination, doing: "write", errno: errno)
                }
                offset += written
            }
        }
    }

    #if os(Linux)
        private typealias CopyFileRange =
            @convention(c) (
                Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
            ) -> Int

        /// glibc has `copy_file_range` since 2.27, but the Glibc module does not import it: look it up at run time.
        private static let copyFileRangeFunction: CopyFileRange? = {
            guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "copy_file_range") else { return nil }
            return unsafeBitCast(symbol, to: CopyFileRange.self)
        }()
    #endif
}

extension InstallError {
    /// A failed system call on `path`, e.g. "could not create /opt/app: Permission denied".
    init(path: String, doing action: String, errno code: Int32) {
        self.init(
            "The deployment failed because the agent could not \(action) \(path): \(String(cString: strerror(code)))"
        )
    }

    /// The stock agent's words for a destination that is already taken.
    static func fileExists(_ path: String) -> InstallError {
        InstallError("The deployment failed because a specified file already exists at this location: \(path)")
    }
}
