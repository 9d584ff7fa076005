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
package final class ChunkPipe: @unchecked Sendable {
    static let chunkSize = 1 << 20

    private let condition = NSCondition()
    private let capacity: Int
    private var chunks: [ByteBuffer] = []
    private var finished = false
    private var failure: (any Error)?
    private var consumerClosed = false
    private var producerDone = false
    /// An asynchronous producer waiting for room (`send(_:) async`).
    private var waitingProducer: CheckedContinuation<Bool, Never>?

    init(capacity: Int = 3) { self.capacity = capacity }

    /// Queues a chunk from asynchronous code, suspending (never blocking a thread) while the queue is full; false once
    /// the consumer has stopped listening. One asynchronous producer at a time.
    package func send(_ chunk: ByteBuffer) async -> Bool {
        while true {
            if let sent = offer(chunk) { return sent }
            guard await withCheckedContinuation({ park($0) }) else { return false }
        }
    }

    /// Queues `chunk` if there is room: true; false when the consumer is gone; nil when the queue is full.
    private func offer(_ chunk: ByteBuffer) -> Bool? {
        condition.lock()
        defer { condition.unlock() }
        if consumerClosed { return false }
        guard chunks.count < capacity else { return nil }
        chunks.append(chunk)
        condition.broadcast()
        return true
    }

    /// Parks an asynchronous producer until there is room (or the consumer is gone, resumed with false).
    private func park(_ continuation: CheckedContinuation<Bool, Never>) {
        condition.lock()
        defer { condition.unlock() }
        if consumerClosed || chunks.count < capacity {
            continuation.resume(returning: !consumerClosed)
        } else {
            waitingProducer = continuation
        }
    }

    /// Resumes a suspended asynchronous producer; call with the lock held.
    private func wakeProducer() {
        if let waiting = waitingProducer {
            waitingProducer = nil
            waiting.resume(returning: !consumerClosed)
        }
    }

    /// Stops listening without waiting for the producer (an asynchronous one notices at its next `send`).
    func close() {
        condition.lock()
        consumerClosed = true
        chunks.removeAll()
        wakeProducer()
        condition.broadcast()
        condition.unlock()
    }

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
            wakeProducer()
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
        wakeProducer()
        condition.broadcast()
        while !producerDone { condition.wait() }
        condition.unlock()
    }
}

/// Where a producer reads an archive's bytes: a file, or the chunks a download sends through a pipe as they arrive.
enum ArchiveInput: Sendable {
    case file(Int32)
    case stream(ChunkPipe)

    /// The next bytes into `buffer` (replaced); false at the end of the archive.
    func read(into buffer: inout ByteBuffer) throws -> Bool {
        switch self {
        case .file(let fd):
            return try ArchiveProducer.readChunk(fd, into: &buffer)
        case .stream(let pipe):
            while let chunk = try pipe.receive() {
                guard chunk.readableBytes == 0 else {
                    buffer = chunk
                    return true
                }
            }
            buffer.clear()
            return false
        }
    }
}

/// Producers: a thread that reads an archive (plain, or inflating gzip) into a pipe.
enum ArchiveProducer {
    /// Starts a thread that feeds `pipe` from `input` (a file descriptor the thread does not close). `gzip` nil:
    /// gzip when the archive starts with gzip's magic number.
    static func start(input: ArchiveInput, gzip: Bool?, pipe: ChunkPipe, cancellation: CancellationFlag) {
        let thread = Thread {
            do {
                var first = ByteBuffer()
                _ = try input.read(into: &first)
                // A stream may deliver its first bytes one at a time: enough of them to see the magic number.
                var more = ByteBuffer()
                while gzip == nil, first.readableBytes < 2, try input.read(into: &more) {
                    first.writeBuffer(&more)
                }
                if gzip ?? first.readableBytesView.starts(with: [0x1f, 0x8b]) {
                    try inflate(input: input, first: first, pipe: pipe, cancellation: cancellation)
                } else {
                    try copy(input: input, first: first, pipe: pipe, cancellation: cancellation)
                }
                pipe.finish(nil)
            } catch {
                pipe.finish(error)
            }
            if case .stream(let source) = input { source.close() }
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

    private static func copy(input: ArchiveInput, first: ByteBuffer, pipe: ChunkPipe, cancellation: CancellationFlag)
        throws
    {
        var buffer = first
        while !cancellation.isCancelled, buffer.readableBytes > 0 {
            guard pipe.send(buffer) else { return }
            buffer = ByteBuffer()
            guard try input.read(into: &buffer) else { return }
        }
    }

    private static func inflate(
        input source: ArchiveInput, first: ByteBuffer, pipe: ChunkPipe, cancellation: CancellationFlag
    )
        throws
    {
        let corrupt = BundleError(entry: nil, reason: "the gzip stream is corrupt")
        let decompressor: ZlibDecompressor
        do {
            decompressor = try ZlibDecompressor(algorithm: .gzip)
        } catch {
            throw BundleError(entry: nil, reason: "cannot start gzip decompression: \(error)")
        }
        var input = first
        var output = ByteBuffer()
        output.reserveCapacity(ChunkPipe.chunkSize)
        guard input.readableBytesView.starts(with: [0x1f, 0x8b]) else {
            throw BundleError(entry: nil, reason: "the archive is not in gzip format")
        }
        while !cancellation.isCancelled {
            if input.readableBytes == 0 {
                guard try source.read(into: &input) else { break }
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
