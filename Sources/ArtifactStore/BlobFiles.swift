import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The files of the artifact store: immutable blobs named by random ids, and temporary files they are written in.
///
/// ```
/// <root>/objects/<2 hex>/<32 hex>   one file per object version or uploaded part; never modified once renamed here
/// <root>/tmp/<32 hex>               bodies being received; renamed into objects/ only when complete and verified
/// ```
///
/// Keys never become paths: a blob id is 32 random hex digits, checked before every use.
public struct BlobFiles: Sendable {
    public let root: URL
    let pool: NIOThreadPool
    /// The bytes held and being received, against the quota; counted from the files when the store opens.
    public let usage: StorageUsage

    public init(root: URL, quota: Int64? = nil, pool: NIOThreadPool = .singleton) throws {
        self.root = root
        self.pool = pool
        let files = FileManager.default
        let objects = root.appendingPathComponent("objects")
        try files.createDirectory(at: objects, withIntermediateDirectories: true)
        try files.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        var stored: Int64 = 0
        for directory in (try? files.contentsOfDirectory(atPath: objects.path)) ?? [] {
            let path = objects.appendingPathComponent(directory).path
            for name in (try? files.contentsOfDirectory(atPath: path)) ?? [] {
                stored += Self.size(of: (path as NSString).appendingPathComponent(name)) ?? 0
            }
        }
        usage = StorageUsage(quota: quota, stored: stored)
    }

    /// The size of a file, nil if it cannot be read.
    static func size(of path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Removes temporary files left by a previous process that stopped mid-upload.
    public func removeTemporaryFiles() {
        let tmp = root.appendingPathComponent("tmp")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            try? FileManager.default.removeItem(at: tmp.appendingPathComponent(name))
        }
    }

    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func isValidID(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    func path(ofBlob id: String) -> String {
        precondition(Self.isValidID(id), "blob ids are generated, never taken from a request")
        return root.appendingPathComponent("objects").appendingPathComponent(String(id.prefix(2)))
            .appendingPathComponent(id).path
    }

    /// Creates a temporary file to receive a body.
    func createTemporary() throws -> TemporaryFile {
        let id = Self.newID()
        let path = root.appendingPathComponent("tmp").appendingPathComponent(id).path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BlobError("cannot create \(path): \(String(cString: strerror(errno)))") }
        return TemporaryFile(fd: fd, path: path, pool: pool)
    }

    /// Moves a complete temporary file into place as a blob and returns its id.
    func commit(_ file: TemporaryFile) async throws -> String {
        try await file.flushAndClose(sync: true)
        let id = Self.newID()
        let destination = path(ofBlob: id)
        let directory = (destination as NSString).deletingLastPathComponent
        try await pool.runIfActive {
            if mkdir(directory, 0o755) != 0 && errno != EEXIST {
                throw BlobError("cannot create \(directory): \(String(cString: strerror(errno)))")
            }
            guard rename(file.path, destination) == 0 else {
                throw BlobError("cannot rename into \(destination): \(String(cString: strerror(errno)))")
            }
        }
        usage.stored(Self.size(of: destination) ?? 0)
        return id
    }

    /// A second name for an existing blob (objects are immutable, so a copy can share the data).
    func duplicate(_ id: String) async throws -> String {
        let source = path(ofBlob: id)
        let newID = Self.newID()
        let destination = path(ofBlob: newID)
        let directory = (destination as NSString).deletingLastPathComponent
        try await pool.runIfActive {
            if mkdir(directory, 0o755) != 0 && errno != EEXIST {
                throw BlobError("cannot create \(directory): \(String(cString: strerror(errno)))")
            }
            if link(source, destination) != 0 {
                do {
                    try FileManager.default.copyItem(atPath: source, toPath: destination)
                } catch {
                    throw BlobError("cannot copy \(source): \(error)")
                }
            }
        }
        usage.stored(Self.size(of: destination) ?? 0)
        return newID
    }

    /// Deletes blobs; missing ones are ignored.
    func remove(_ ids: [String]) async {
        guard !ids.isEmpty else { return }
        let paths = ids.filter(Self.isValidID).map(path(ofBlob:))
        let usage = self.usage
        _ = try? await pool.runIfActive {
            for path in paths {
                let size = Self.size(of: path)
                if unlink(path) == 0, let size { usage.removed(size) }
            }
        }
    }

    /// Opens a blob for reading; nil if it no longer exists.
    func openBlob(_ id: String) async throws -> BlobReader? {
        let path = path(ofBlob: id)
        let pool = self.pool
        return try await pool.runIfActive { () throws -> BlobReader? in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                if errno == ENOENT { return nil }
                throw BlobError("cannot open \(path): \(String(cString: strerror(errno)))")
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                close(fd)
                throw BlobError("cannot stat \(path)")
            }
            return BlobReader(fd: fd, size: Int64(info.st_size), pool: pool)
        }
    }

    /// Appends the whole blob `id` to `file` (multipart assembly).
    func append(_ id: String, to file: TemporaryFile) async throws {
        guard let reader = try await openBlob(id) else { throw BlobError("a part's file is missing") }
        var offset: Int64 = 0
        while offset < reader.size {
            let count = Int(min(Int64(BlobReader.chunkSize), reader.size - offset))
            let buffer = try await reader.read(offset: offset, count: count)
            try await file.appendBuffer(buffer)
            offset += Int64(buffer.readableBytes)
        }
    }
}

struct BlobError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A body being received: buffered writes, done on the thread pool a megabyte at a time.
final class TemporaryFile: @unchecked Sendable {
    static let bufferSize = 1 << 20
    let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let pool: NIOThreadPool
    private(set) var size: Int64 = 0

    init(fd: Int32, path: String, pool: NIOThreadPool) {
        self.fd = fd
        self.path = path
        self.pool = pool
        buffer.reserveCapacity(Self.bufferSize)
    }

    /// Adds bytes; returns a full buffer's worth to write when one is ready (written by ``drain()``).
    func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
        size += Int64(bytes.count)
    }

    var needsDrain: Bool { buffer.count >= Self.bufferSize }

    func appendBuffer(_ bytes: ByteBuffer) async throws {
        bytes.withUnsafeReadableBytes { append($0) }
        if needsDrain { try await drain() }
    }

    /// Writes the buffered bytes.
    func drain() async throws {
        guard !buffer.isEmpty else { return }
        let chunk = buffer
        buffer.removeAll(keepingCapacity: true)
        let fd = self.fd
        try await pool.runIfActive {
            try chunk.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw BlobError("cannot write a temporary file: \(String(cString: strerror(errno)))")
                    }
                    offset += written
                }
            }
        }
    }

    func flushAndClose(sync: Bool) async throws {
        try await drain()
        let fd = self.fd
        self.fd = -1
        guard fd >= 0 else { return }
        try await pool.runIfActive {
            if sync && fsync(fd) != 0 {
                close(fd)
                throw BlobError("cannot sync a temporary file: \(String(cString: strerror(errno)))")
            }
            close(fd)
        }
    }

    /// Closes and deletes the file (a failed or abandoned upload).
    func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(path)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(path)
        }
    }
}

/// An open blob. Reading an open file keeps working even if the object is deleted meanwhile.
public final class BlobReader: Sendable {
    public static let chunkSize = 1 << 20
    let fd: Int32
    public let size: Int64
    let pool: NIOThreadPool

    init(fd: Int32, size: Int64, pool: NIOThreadPool) {
        self.fd = fd
        self.size = size
        self.pool = pool
    }

    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file).
    public func read(offset: Int64, count: Int) async throws -> ByteBuffer {
        let fd = self.fd
        return try await pool.runIfActive {
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            var done = 0
            while done < count {
                var failure: Int32 = 0
                let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { raw in
                    let n = pread(fd, raw.baseAddress!, count - done, off_t(offset + Int64(done)))
                    if n < 0 { failure = errno }
                    return max(n, 0)
                }
                if failure == EINTR { continue }
                if failure != 0 { throw BlobError("cannot read a blob: \(String(cString: strerror(failure)))") }
                if n == 0 { break }
                done += n
            }
            return buffer
        }
    }

    deinit { close(fd) }
}
