import CompressNIO
import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Set when the task awaiting an unpack is cancelled; the worker threads poll it.
final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isCancelled: Bool { value.load(ordering: .relaxed) }
    func cancel() { value.store(true, ordering: .relaxed) }
}

/// A bounded queue of byte chunks from a producer thread (reading, inflating) to the consumer thread (parsing,
/// writing), so decompression and file writes overlap on two cores while memory stays at a few chunks.
final class ChunkPipe: @unchecked Sendable {
    static let chunkSize = 1 << 20

    private let condition = NSCondition()
    private let capacity: Int
    private var chunks: [ByteBuffer] = []
    private var finished = false
    private var failure: (any Error)?
    private var consumerClosed = false
    private var producerDone = false

    init(capacity: Int = 3) { self.capacity = capacity }

    /// Queues a chunk, waiting while the queue is full; false once the consumer has stopped listening.
    func send(_ chunk: ByteBuffer) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while chunks.count >= capacity && !consumerClosed { condition.wait() }
        guard !consumerClosed else { return false }
        chunks.append(chunk)
        condition.broadcast()
        return true
    }

    /// Ends the stream, with an error when the producer failed; marks the producer as done.
    func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        producerDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next chunk; nil at the end of the stream; throws the producer's error.
    func receive() throws -> ByteBuffer? {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !finished { condition.wait() }
        if !chunks.isEmpty {
            let chunk = chunks.removeFirst()
            condition.broadcast()
            return chunk
        }
        if let failure { throw failure }
        return nil
    }

    /// Stops the producer (its next `send` returns false) and waits until it has returned.
    func closeAndWait() {
        condition.lock()
        consumerClosed = true
        chunks.removeAll()
        condition.broadcast()
        while !producerDone { condition.wait() }
        condition.unlock()
    }
}

/// Producers: a thread that reads an archive file (plain, or inflating gzip) into a pipe.
enum ArchiveProducer {
    /// Starts a thread that feeds `pipe` from `fd` (which the thread does not close).
    static func start(fd: Int32, gzip: Bool, pipe: ChunkPipe, cancellation: CancellationFlag) {
        let thread = Thread {
            do {
                if gzip {
                    try inflate(fd: fd, pipe: pipe, cancellation: cancellation)
                } else {
                    try copy(fd: fd, pipe: pipe, cancellation: cancellation)
                }
                pipe.finish(nil)
            } catch {
                pipe.finish(error)
            }
        }
        thread.start()
    }

    /// Reads up to a chunk from `fd` into `buffer` (emptied first); false at the end of the file.
    static func readChunk(_ fd: Int32, into buffer: inout ByteBuffer) throws -> Bool {
        buffer.clear(minimumCapacity: ChunkPipe.chunkSize)
        while true {
            let count = buffer.withUnsafeMutableWritableBytes { space in read(fd, space.baseAddress, space.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BundleError(entry: nil, reason: "cannot read the archive: \(SafeTreeWriter.errorText())")
            }
            buffer.moveWriterIndex(forwardBy: count)
            return count > 0
        }
    }

    private static func copy(fd: Int32, pipe: ChunkPipe, cancellation: CancellationFlag) throws {
        while !cancellation.isCancelled {
            var buffer = ByteBuffer()
            guard try readChunk(fd, into: &buffer) else { return }
            guard pipe.send(buffer) else { return }
        }
    }

    private static func inflate(fd: Int32, pipe: ChunkPipe, cancellation: CancellationFlag) throws {
        let corrupt = BundleError(entry: nil, reason: "the gzip stream is corrupt")
        let decompressor: ZlibDecompressor
        do {
            decompressor = try ZlibDecompressor(algorithm: .gzip)
        } catch {
            throw BundleError(entry: nil, reason: "cannot start gzip decompression: \(error)")
        }
        var input = ByteBuffer()
        input.reserveCapacity(ChunkPipe.chunkSize)
        var output = ByteBuffer()
        output.reserveCapacity(ChunkPipe.chunkSize)
        var sawInput = false
        while !cancellation.isCancelled {
            if input.readableBytes == 0 {
                guard try readChunk(fd, into: &input) else { break }
                if !sawInput {
                    sawInput = true
                    guard input.readableBytesView.starts(with: [0x1f, 0x8b]) else {
                        throw BundleError(entry: nil, reason: "the archive is not in gzip format")
                    }
                }
            }
            do {
                try decompressor.inflate(from: &input, to: &output)
                // No error with input left over: the gzip member ended. Another member may follow (as `gzip -d`
                // accepts); anything else after the end is ignored, as gzip does with trailing garbage.
                if input.readableBytes > 0 {
                    guard input.readableBytesView.first == 0x1f else { break }
                    try decompressor.reset()
                }
            } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                // The output is full, or the input is used up: both handled below.
            } catch let error as CompressNIOError where error == .corruptData {
                throw corrupt
            } catch let error as BundleError {
                throw error
            } catch {
                throw BundleError(entry: nil, reason: "gzip decompression failed: \(error)")
            }
            if output.writableBytes == 0 {
                guard pipe.send(output) else { return }
                output = ByteBuffer()
                output.reserveCapacity(ChunkPipe.chunkSize)
            }
        }
        if cancellation.isCancelled { return }
        if input.readableBytes == 0 {
            // The file ended: inflating nothing more succeeds only when the stream reached its end marker.
            if output.writableBytes == 0 {
                guard pipe.send(output) else { return }
                output = ByteBuffer()
                output.reserveCapacity(ChunkPipe.chunkSize)
            }
            do {
                try decompressor.inflate(from: &input, to: &output)
            } catch {
                throw BundleError(entry: nil, reason: "the archive is truncated (the gzip stream ends early)")
            }
        }
        if output.readableBytes > 0 { _ = pipe.send(output) }
    }
}
