import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns a downloaded revision bundle into the `deployment-archive` directory, treating the bundle as hostile.
///
/// What the stock agent leaves to `tar -xpsf`, `tar -zxpsf` and `unzip -qo` is done here, with these rules:
/// - Nothing is written outside the target directory: absolute paths, `..` leaving the directory, symbolic links
///   pointing outside it (or absolute), hard links to anything but a regular file extracted earlier, and entries
///   that would be written through a symbolic link of the bundle are refused. Devices and FIFOs are refused.
/// - Permission bits are kept like `tar -p`, except set-user-ID and set-group-ID: owners are not restored (files
///   belong to the agent's user), so keeping those bits would hand the agent's identity to a file from the bundle;
///   and except group and other write, so no other local user can change a script before it runs as the agent's
///   user (the AppSpec's `permissions` section may grant them at Install). The sticky bit is kept on directories.
///   Modification times are kept.
/// - The total bytes written and the number of entries are bounded by `UnpackLimits`, counted while writing.
/// - A `.tar` bundle that starts with the gzip magic number is unpacked as tgz: GNU tar, which the stock agent runs,
///   detects compression on its own when reading a file, so such bundles deploy there too.
/// - A single top-level directory holding the AppSpec file is stripped, as the stock agent does.
///
/// On any error the target directory is removed and a `BundleError` names the offending entry.
public struct BundleUnpacker: Sendable {
    /// The limits applied to every unpack.
    public var limits: UnpackLimits

    /// An unpacker with the given limits.
    public init(limits: UnpackLimits = .default) {
        self.limits = limits
    }

    /// Unpacks `archive` (a file for tar/tgz/zip, a directory for .directory) into `directory`, which is created
    /// and must not exist yet or be empty. On any error, `directory` is removed and nothing was written outside it.
    ///
    /// The parent of `directory` is opened once, by path (it is the agent's own deployment root and may lie on a
    /// symbolically linked mount); `directory` itself must not be a symbolic link, and everything below it is
    /// created relative to a descriptor of it, without following links.
    ///
    /// For a zip, the entries of `reuse` are linked from the kept files it names instead of read.
    public func unpack(_ archive: URL, type: BundleType, into directory: URL, reuse: [String: URL] = [:]) async throws
        -> UnpackSummary
    {
        let cancellation = CancellationFlag()
        let limits = limits
        return try await withTaskCancellationHandler {
            try await runOnOwnThread {
                try Self.unpack(
                    archive, type: type, into: directory, limits: limits, reuse: reuse, cancellation: cancellation)
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    /// Unpacks a tar or tgz archive while it arrives, keeping none of it: `feed` sends its bytes, in order, into the
    /// pipe it is given (`send` answers false once the unpack has stopped, on an error of its own) and returns once all
    /// were sent. When `feed` throws, even after the archive's last entry was written (an ETag that does not match
    /// the bytes), nothing stays: `directory` is removed and its error thrown.
    package func unpack(
        streaming type: BundleType, into directory: URL, feed: @escaping @Sendable (ChunkPipe) async throws -> Void
    ) async throws -> UnpackSummary {
        guard type == .tar || type == .tgz else {
            throw BundleError(entry: nil, reason: "only tar and tgz bundles are unpacked while they download")
        }
        let cancellation = CancellationFlag()
        let limits = limits
        let input = ChunkPipe(capacity: 8)
        let unpacking = Task {
            try await runOnOwnThread {
                try Self.unpack(
                    .stream(input), type: type, into: directory, limits: limits, reuse: [:], cancellation: cancellation)
            }
        }
        let fed: Result<Void, any Error>
        do {
            try await withTaskCancellationHandler {
                try await feed(input)
            } onCancel: {
                cancellation.cancel()
                input.close()
            }
            input.finish(nil)
            fed = .success(())
        } catch {
            input.finish(error)
            fed = .failure(error)
        }
        let unpacked = await unpacking.result
        switch (unpacked, fed) {
        case (.failure, .failure(let error)) where !(error is CancellationError):
            // The download failed, and the unpack with it (it reads the download's error at the end of its input).
            try? FileManager.default.removeItem(at: directory)
            throw error
        case (.failure(let error), _):
            // The unpack's own error (a hostile entry, the disk): the download was stopped for it.
            throw error
        case (.success, .failure(let error)):
            try? FileManager.default.removeItem(at: directory)
            throw error
        case (.success(let summary), .success):
            return summary
        }
    }

    /// What an unpack reads: a file, or the bytes a download sends.
    enum Source {
        case file(URL)
        case stream(ChunkPipe)
    }

    private static func unpack(
        _ archive: URL, type: BundleType, into directory: URL, limits: UnpackLimits, reuse: [String: URL],
        cancellation: CancellationFlag
    ) throws -> UnpackSummary {
        try unpack(
            .file(archive), type: type, into: directory, limits: limits, reuse: reuse, cancellation: cancellation)
    }

    private static func unpack(
        _ source: Source, type: BundleType, into directory: URL, limits: UnpackLimits, reuse: [String: URL],
        cancellation: CancellationFlag
    ) throws -> UnpackSummary {
        let name = Array(directory.standardizedFileURL.lastPathComponent.utf8)
        guard !name.isEmpty, name != Array("/".utf8), name != Array("..".utf8), name != Array(".".utf8) else {
            throw BundleError(entry: nil, reason: "\(directory.path) cannot be a target directory")
        }
        let parentPath = directory.standardizedFileURL.deletingLastPathComponent().path
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try SafeTreeWriter.check(parent, entry: nil, "cannot open \(parentPath)")
        defer { close(parent) }

        switch SafeTreeWriter.kind(of: name, in: parent) {
        case nil:
            let created = SafeTreeWriter.withCString(name) { mkdirat(parent, $0, 0o755) }
            try SafeTreeWriter.check(created, entry: nil, "cannot create \(directory.path)")
        case S_IFDIR:
            break
        default:
            throw BundleError(entry: nil, reason: "\(directory.path) exists and is not a directory")
        }
        let root = SafeTreeWriter.withCString(name) {
            openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        try SafeTreeWriter.check(root, entry: nil, "cannot open \(directory.path)")
        defer { close(root) }
        // Checked after opening: an existing directory with contents is refused, and left alone.
        guard try SafeTreeWriter.names(in: root).isEmpty else {
            throw BundleError(entry: nil, reason: "\(directory.path) is not empty")
        }

        do {
            let writer = SafeTreeWriter(root: root, limits: limits, cancellation: cancellation)
            var zipFiles: [String: KeptRevisions.FileFacts] = [:]
            switch (type, source) {
            case (.tar, .file(let archive)), (.tgz, .file(let archive)):
                try unpackTar(archive, declared: type, writer: writer, cancellation: cancellation)
            case (.tar, .stream(let input)), (.tgz, .stream(let input)):
                try unpackTar(
                    .stream(input), gzip: type == .tgz ? true : nil, writer: writer, cancellation: cancellation)
            case (.zip, .file(let archive)):
                zipFiles = try ZipBundle.unpack(archive, writer: writer, limits: limits, reuse: reuse)
            case (.directory, .file(let archive)):
                try DirectoryBundle.copy(archive, writer: writer)
            case (.zip, .stream), (.directory, .stream):
                throw BundleError(entry: nil, reason: "a \(type.rawValue) bundle cannot be unpacked while it downloads")
            }
            var summary = try writer.finish()
            summary.zipFiles = zipFiles
            return summary
        } catch {
            SafeTreeWriter.removeTree(name, in: parent)
            // A cancelled producer ends its stream early, which the reader sees as truncation.
            if cancellation.isCancelled { throw CancellationError() }
            if error is BundleError || error is CancellationError { throw error }
            throw BundleError(entry: nil, reason: "\(error)")
        }
    }

    private static func unpackTar(
        _ archive: URL, declared: BundleType, writer: SafeTreeWriter, cancellation: CancellationFlag
    ) throws {
        let fd = open(archive.path, O_RDONLY | O_CLOEXEC)
        try SafeTreeWriter.check(fd, entry: nil, "cannot open \(archive.path)")
        defer { close(fd) }
        var magic: [UInt8] = [0, 0]
        let count = pread(fd, &magic, 2, 0)
        let gzip = declared == .tgz || (count == 2 && magic == [0x1f, 0x8b])
        #if os(Linux)
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
        try unpackTar(.file(fd), gzip: gzip, writer: writer, cancellation: cancellation)
    }

    private static func unpackTar(
        _ input: ArchiveInput, gzip: Bool?, writer: SafeTreeWriter, cancellation: CancellationFlag
    ) throws {
        let pipe = ChunkPipe()
        ArchiveProducer.start(input: input, gzip: gzip, pipe: pipe, cancellation: cancellation)
        defer { pipe.closeAndWait() }  // before a file's descriptor is closed
        // After a tar's end marker the rest is read too: all of a gzip stream (so that a truncated or corrupt one is
        // noticed), and all of a streamed download (whose bytes must all arrive to be checked).
        let drain: Bool
        if case .stream = input { drain = true } else { drain = gzip ?? false }
        var reader = TarReader(pipe: pipe, writer: writer, drainAfterEnd: drain)
        try reader.run()
    }
}

/// Runs blocking file work on a thread of its own rather than on the threads tasks run on: one per core in the
/// cooperative pool (or the server's event loops, for the agent inside `slipway server --dev`), which the agent's
/// heartbeats and polls need while a large bundle is unpacked or installed.
func runOnOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
