import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Directory bundles (`slipway local --type directory`): the tree is copied with the same rules as an archive.
///
/// The source is walked without following symbolic links below its root; links are copied as links (and must
/// stay inside the tree), hard links become separate files, and devices, FIFOs and sockets are refused.
enum DirectoryBundle {
    static func copy(_ source: URL, writer: SafeTreeWriter) throws {
        let root = open(source.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try SafeTreeWriter.check(root, entry: nil, "cannot open the directory \(source.path)")
        defer { close(root) }
        var pending: [[[UInt8]]] = [[]]  // directories to list, as components below the root
        while let components = pending.popLast() {
            let directory = try openDirectory(components, under: root)
            defer { if directory != root { close(directory) } }
            for name in try SafeTreeWriter.names(in: directory) {
                let path = components + [name]
                let raw = Array(path.joined(separator: [UInt8(ascii: "/")]))
                let entry = SafeTreeWriter.display(raw)
                var info = stat()
                let found = SafeTreeWriter.withCString(name) { fstatat(directory, $0, &info, AT_SYMLINK_NOFOLLOW) }
                try SafeTreeWriter.check(found, entry: entry, "cannot read")
                let mtime = modificationTime(info)
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    try writer.directory(raw, mode: UInt32(info.st_mode & 0o7777), mtime: mtime)
                    pending.append(path)
                case S_IFREG:
                    let fd = SafeTreeWriter.withCString(name) {
                        openat(directory, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                    }
                    try SafeTreeWriter.check(fd, entry: entry, "cannot open")
                    defer { close(fd) }
                    try writer.file(
                        raw, mode: UInt32(info.st_mode & 0o7777), mtime: mtime, declaredSize: Int64(info.st_size)
                    ) { sink in
                        var buffer = [UInt8](repeating: 0, count: 1 << 20)
                        while true {
                            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                            if count < 0 && errno == EINTR { continue }
                            try SafeTreeWriter.check(count, entry: entry, "cannot read")
                            if count == 0 { break }
                            try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
                        }
                    }
                case S_IFLNK:
                    var target = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
                    let length = SafeTreeWriter.withCString(name) { name in
                        target.withUnsafeMutableBytes {
                            readlinkat(directory, name, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
                        }
                    }
                    try SafeTreeWriter.check(length, entry: entry, "cannot read the symbolic link")
                    try writer.symlink(raw, target: Array(target.prefix(length)), mtime: mtime)
                default:
                    throw BundleError(entry: entry, reason: "only files, directories and symbolic links can be copied")
                }
            }
        }
    }

    private static func openDirectory(_ components: [[UInt8]], under root: Int32) throws -> Int32 {
        var current = root
        for component in components {
            let next = SafeTreeWriter.withCString(component) {
                openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if current != root { close(current) }
            try SafeTreeWriter.check(
                next, entry: SafeTreeWriter.display(Array(components.joined(separator: [UInt8(ascii: "/")]))),
                "cannot open the directory")
            current = next
        }
        return current
    }

    private static func modificationTime(_ info: stat) -> timespec {
        #if canImport(Darwin)
            return info.st_mtimespec
        #else
            return info.st_mtim
        #endif
    }
}
