import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One lifecycle event's share of scripts.log: every entry is appended to the file at once, with the stock agent's
/// timestamp, and kept in two bounded copies — the short tail the service gets and the capped event log.
///
/// Entries are written by the output readers' thread and by the executor; a mutex keeps lines whole.
final class HookScriptLog: Sendable {
    static let tailLimit = 4096
    static let eventLogLimit = 1 << 20

    private struct State {
        var descriptor: Int32
        /// Entries without timestamps, as the stock agent keeps them for its diagnostics; trimmed to its end.
        var tail: [UInt8] = []
        /// Lines as written to the file; trimmed to its end.
        var lines: [UInt8] = []
        var droppedLineBytes = 0
        var writeError: String?
    }

    /// How many bytes of lines were appended so far (kept or not): it grows with every entry.
    var appendedBytes: Int { state.withLock { $0.lines.count + $0.droppedLineBytes } }

    private let state: Mutex<State>
    let path: String

    /// Opens (creating it and its directory if needed) the log file for appending. A new file is created with mode
    /// 0600 and a new directory with 0700: script output may hold secrets, and only the agent's user reads it.
    init(file: URL) throws {
        path = file.path
        try DeploymentLayout.makePrivateDirectory(file.deletingLastPathComponent())
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        state = Mutex(State(descriptor: descriptor))
    }

    /// Appends entries (one line each, without a newline), all with the same timestamp, in one write.
    func append(_ entries: [String]) {
        guard !entries.isEmpty else { return }
        let stamp = Self.timestamp()
        var written: [UInt8] = []
        var plain: [UInt8] = []
        for entry in entries {
            written.append(contentsOf: stamp.utf8)
            written.append(UInt8(ascii: " "))
            written.append(contentsOf: entry.utf8)
            written.append(UInt8(ascii: "\n"))
            plain.append(contentsOf: entry.utf8)
            plain.append(UInt8(ascii: "\n"))
        }
        state.withLock { state in
            if state.descriptor >= 0, state.writeError == nil {
                state.writeError = Self.writeAll(written, to: state.descriptor)
            }
            Self.appendBounded(plain, to: &state.tail, limit: Self.tailLimit)
            state.droppedLineBytes += Self.appendBounded(written, to: &state.lines, limit: Self.eventLogLimit)
        }
    }

    /// Why writing the file failed, if it did (later entries are then only kept in memory).
    var writeError: String? { state.withLock { $0.writeError } }

    /// Closes the file; later entries are only kept in memory.
    func close() {
        state.withLock { state in
            if state.descriptor >= 0 {
                closeDescriptor(state.descriptor)
                state.descriptor = -1
            }
        }
    }

    /// The last 4096 bytes of the entries: from a line start when one lies within the first 512 bytes of that
    /// window, otherwise from the first whole character.
    var logTail: String {
        state.withLock { state in
            var window = state.tail.suffix(Self.tailLimit)
            let startsMidLine = state.tail.count > window.count && state.tail[window.startIndex - 1] != 0x0A
            if startsMidLine {
                let near = window.prefix(512)
                if let newline = near.firstIndex(of: 0x0A) {
                    window = window[(newline + 1)...]
                } else {
                    while let first = window.first, first & 0xC0 == 0x80 { window = window.dropFirst() }
                }
            }
            return String(decoding: window, as: UTF8.self)
        }
    }

    /// The lines written so far, or the end of them (from a line start) after a line saying how much is left out.
    var eventLog: String {
        state.withLock { state in
            var window = state.lines.suffix(Self.eventLogLimit)
            var dropped = state.droppedLineBytes + (state.lines.count - window.count)
            let previous = window.startIndex > 0 ? state.lines[window.startIndex - 1] : nil
            if dropped > 0, previous != 0x0A {
                let cut = window.firstIndex(of: 0x0A).map { $0 + 1 } ?? window.endIndex
                dropped += cut - window.startIndex
                window = window[cut...]
            }
            let text = String(decoding: window, as: UTF8.self)
            guard dropped > 0 else { return text }
            return "[the first \(dropped) bytes of this event's log are left out here; scripts.log has them]\n" + text
        }
    }

    deinit {
        close()
    }

    // MARK: - Helpers

    /// Appends and trims to the last `limit` bytes and the one before them (which tells whether they start a line),
    /// trimming only when twice the limit is reached so that appending stays cheap. Returns how many bytes were
    /// trimmed.
    @discardableResult
    private static func appendBounded(_ bytes: [UInt8], to buffer: inout [UInt8], limit: Int) -> Int {
        buffer.append(contentsOf: bytes)
        guard buffer.count > 2 * limit else { return 0 }
        let excess = buffer.count - (limit + 1)
        buffer.removeFirst(excess)
        return excess
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> String? {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if count < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += count
        }
        return nil
    }

    /// The stock agent's timestamp: Ruby's `Time.now.to_s` without the zone, i.e. local `YYYY-MM-DD HH:MM:SS`.
    static func timestamp(_ date: time_t = time(nil)) -> String {
        var seconds = date
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `close(2)`, out of reach by its plain name inside types that have a `close()` of their own.
func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}

/// The log of the lifecycle event that runs now, if it has scripts: the agent uploads it while the event runs, so
/// that its output can be followed from the server before the event ends.
public final class LiveEventLog: Sendable {
    private let current = Mutex<HookScriptLog?>(nil)

    public init() {}

    func attach(_ log: HookScriptLog?) { current.withLock { $0 = log } }

    /// The event's log so far and how many bytes were ever appended to it (which tells a new line from none); nil
    /// when no event with scripts runs.
    public var snapshot: (text: String, appended: Int)? {
        guard let log = current.withLock({ $0 }) else { return nil }
        return (log.eventLog, log.appendedBytes)
    }
}
