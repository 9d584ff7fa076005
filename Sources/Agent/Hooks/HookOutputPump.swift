import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a script's stdout and stderr pipes on a thread of its own and hands over whole lines, prefixed
/// `[stdout]` / `[stderr]` as in scripts.log.
///
/// The pipes are read here rather than through swift-subprocess's output sequences because the executor must decide
/// how long to keep reading once the script has exited: a background process the script started may hold the pipes
/// open for as long as it runs. 1.0.2 stops at once when the script exits (losing what arrives in the next moment);
/// the stock agent waited for the deadline. Here reading goes on for a grace period, then stops, and what comes later
/// is read and thrown away — the pipes stay open, so the background process does not die of SIGPIPE when it writes.
///
/// A thread (not a task) because the reads block in `poll(2)`; the cooperative pool has as few threads as cores.
final class HookOutputPump: Sendable {
    private struct State {
        var stopAt: ContinuousClock.Instant?
        /// `true` when both pipes reached end-of-file, `false` when reading stopped at `stopAt`.
        var outcome: Bool?
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state = Mutex(State())
    private let standardOutput: Int32
    private let standardError: Int32
    private let lineLimit: Int
    private let deliver: @Sendable ([String]) -> Void

    /// A pump that owns (and closes) both read ends.
    init(standardOutput: Int32, standardError: Int32, lineLimit: Int, deliver: @escaping @Sendable ([String]) -> Void) {
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.lineLimit = lineLimit
        self.deliver = deliver
    }

    func start() {
        let thread = Thread { [self] in self.pump() }
        thread.name = "hook-output"
        thread.start()
    }

    /// Call once the script has exited: waits until both pipes are closed by every writer, or `grace` has passed.
    /// Returns whether they were closed.
    func finish(grace: Duration) async -> Bool {
        await withCheckedContinuation { continuation in
            state.withLock { state in
                if let outcome = state.outcome {
                    continuation.resume(returning: outcome)
                } else {
                    state.stopAt = .now + grace
                    state.waiter = continuation
                }
            }
        }
    }

    private func report(_ outcome: Bool) {
        state.withLock { state in
            state.outcome = outcome
            state.waiter?.resume(returning: outcome)
            state.waiter = nil
        }
    }

    private func pump() {
        var streams = [
            Stream(descriptor: standardOutput, splitter: LineSplitter(prefix: "[stdout]", limit: lineLimit)),
            Stream(descriptor: standardError, splitter: LineSplitter(prefix: "[stderr]", limit: lineLimit)),
        ]
        for stream in streams {
            _ = fcntl(stream.descriptor, F_SETFL, fcntl(stream.descriptor, F_GETFL) | O_NONBLOCK)
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var gaveUp = false
        while !streams.isEmpty {
            // Wake up now and then to notice that the script has exited and a deadline is set.
            var timeout: Int32 = 100
            if let stopAt = state.withLock({ $0.stopAt }) {
                let remaining = ContinuousClock.now.duration(to: stopAt)
                if remaining <= .zero {
                    gaveUp = true
                    break
                }
                timeout = min(timeout, Int32((remaining / .milliseconds(1)).rounded(.up)))
            }
            var entries: [String] = []
            let ended = readReady(&streams, buffer: &buffer, timeout: timeout, into: &entries)
            deliver(entries)
            for index in ended.reversed() {
                closeDescriptor(streams[index].descriptor)
                streams.remove(at: index)
            }
        }
        if gaveUp {
            var entries: [String] = []
            for index in streams.indices { streams[index].splitter.flush(into: &entries) }
            deliver(entries)
        }
        report(!gaveUp)
        // Keep draining what nobody reads any more until the last writer is gone.
        while !streams.isEmpty {
            var discarded: [String] = []
            let ended = readReady(&streams, buffer: &buffer, timeout: -1, into: &discarded, keep: false)
            for index in ended.reversed() {
                closeDescriptor(streams[index].descriptor)
                streams.remove(at: index)
            }
        }
    }

    /// Waits up to `timeout` ms for data, reads what is there, and returns the indices of streams that ended.
    private func readReady(
        _ streams: inout [Stream],
        buffer: inout [UInt8],
        timeout: Int32,
        into entries: inout [String],
        keep: Bool = true
    ) -> [Int] {
        var descriptors = streams.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
        guard ready > 0 else { return [] }
        var ended: [Int] = []
        for index in descriptors.indices where descriptors[index].revents != 0 {
            let count = buffer.withUnsafeMutableBytes { read(streams[index].descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                if keep { streams[index].splitter.feed(buffer[..<count], into: &entries) }
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                if keep { streams[index].splitter.flush(into: &entries) }
                ended.append(index)
            }
        }
        return ended
    }

    private struct Stream {
        var descriptor: Int32
        var splitter: LineSplitter
    }
}

/// Splits bytes into lines at `\n`, decoding them as UTF-8 (invalid bytes become U+FFFD) and cutting lines longer
/// than `limit` bytes. Written by hand because swift-subprocess's line splitter throws on a long line and also splits
/// at vertical tabs, form feeds and Unicode separators, which the stock agent (Ruby's `each_line`) does not.
struct LineSplitter {
    let prefix: String
    let limit: Int
    private var pending: [UInt8] = []
    /// After a line was cut: drop its remaining bytes up to the next newline.
    private var skipping = false

    init(prefix: String, limit: Int) {
        self.prefix = prefix
        self.limit = limit
    }

    mutating func feed(_ bytes: ArraySlice<UInt8>, into entries: inout [String]) {
        var rest = bytes
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: 0x0A)
            let segment = rest[..<(newline ?? rest.endIndex)]
            if !skipping {
                let room = limit - pending.count
                if segment.count > room {
                    pending.append(contentsOf: segment.prefix(room))
                    emit(into: &entries, cut: true)
                    skipping = true
                } else {
                    pending.append(contentsOf: segment)
                }
            }
            guard let newline else { break }
            if !skipping { emit(into: &entries, cut: false) }
            skipping = false
            rest = rest[(newline + 1)...]
        }
    }

    /// Hands over an unterminated last line.
    mutating func flush(into entries: inout [String]) {
        if !skipping, !pending.isEmpty { emit(into: &entries, cut: false) }
        pending.removeAll()
        skipping = false
    }

    private mutating func emit(into entries: inout [String], cut: Bool) {
        var line = prefix + String(decoding: pending, as: UTF8.self)
        if cut { line += " [line cut at \(limit) bytes]" }
        entries.append(line)
        pending.removeAll(keepingCapacity: true)
    }
}
