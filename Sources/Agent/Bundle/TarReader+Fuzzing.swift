import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TarReader {
    /// The tar reader's fuzz entry point: runs `bytes` through the reader and the tree writer, as an unpack of a
    /// `.tar` bundle does, and swallows the `BundleError` a malformed archive gives. Anything else (a trap, a hang)
    /// is the bug a fuzzer looks for.
    ///
    /// The first byte picks the size of the chunks the rest (the archive) is handed over in, 1 to 4,081 bytes, so
    /// that headers and numbers split across chunk boundaries are exercised too. Entries are written below a fresh
    /// directory in the process's temporary directory, removed afterwards, with small limits so that no input costs
    /// much disk.
    package static func fuzzOne(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let chunk = Int(selector) &* 16 &+ 1
        let bytes = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        let pipe = ChunkPipe(capacity: bytes.count / chunk + 2)
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            var buffer = ByteBuffer()
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            _ = pipe.send(buffer)
            offset = end
        }
        pipe.finish(nil)

        let directory = FileManager.default.temporaryDirectory.path
        let parent = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        let name = Array("slipway-tar-fuzz-\(getpid())-\(UInt64.random(in: 0...UInt64.max))".utf8)
        guard SafeTreeWriter.withCString(name, { mkdirat(parent, $0, 0o700) }) == 0 else { return }
        defer { SafeTreeWriter.removeTree(name, in: parent) }
        let root = SafeTreeWriter.withCString(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard root >= 0 else { return }
        defer { close(root) }

        let writer = SafeTreeWriter(
            root: root, limits: UnpackLimits(maximumBytes: 1 << 20, maximumEntries: 64),
            cancellation: CancellationFlag())
        var reader = TarReader(pipe: pipe, writer: writer, drainAfterEnd: false)
        do {
            try reader.run()
            _ = try writer.finish()
        } catch is BundleError {
            // A refused archive: the expected outcome for most inputs.
        } catch {
            preconditionFailure("the tar reader threw something other than a BundleError: \(error)")
        }
    }
}
