import Foundation
import ServiceLifecycle

/// Wakes held `PollHostCommand` requests the moment something changes for their host.
///
/// A poll reads the host's sequence number, looks in the store, and only then waits, passing the number it read:
/// a wake-up that happened in between has already moved the number on, so the wait returns at once and no command
/// written between the look and the wait is missed.
package actor HostWakeups {
    private var sequences: [String: UInt64] = [:]
    /// Held polls by host, by a number drawn from ``lastWaiter``.
    private var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
    private var lastWaiter: UInt64 = 0

    package init() {}

    /// The host's current sequence number; read it before looking in the store.
    package func sequence(of host: String) -> UInt64 { sequences[host, default: 0] }

    /// Marks a change for each host and resumes the polls waiting for them.
    package func wake(_ hosts: some Sequence<String>) {
        for host in hosts {
            sequences[host, default: 0] &+= 1
            if let waiting = waiters.removeValue(forKey: host) {
                for continuation in waiting.values { continuation.resume() }
            }
        }
    }

    /// Waits until the host is woken or `timeout` passes. Returns whether it was woken (or had been, since
    /// `sequence` was read). A server shutting down gracefully, or a cancelled request, ends the wait at once: the
    /// server waits for held requests before it exits.
    package func wait(for host: String, since sequence: UInt64, timeout: Duration) async -> Bool {
        guard sequences[host, default: 0] == sequence else { return true }
        guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return false }
        lastWaiter += 1
        let id = lastWaiter
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(host: host, id: id)
        }
        await withTaskCancellationOrGracefulShutdownHandler {
            await self.suspend(host: host, id: id)
        } onCancelOrGracefulShutdown: {
            Task { await self.expire(host: host, id: id) }
        }
        timer.cancel()
        return sequences[host, default: 0] != sequence
    }

    /// The most polls held for one host at once. A host's agent holds one; a newer poll displaces the oldest (an agent
    /// that reconnected leaves its old poll behind), which is answered empty at once, so that no principal can hold
    /// an unbounded number of requests for a host.
    static let maximumHeldPollsPerHost = 4

    private func suspend(host: String, id: UInt64) async {
        await withCheckedContinuation { continuation in
            if let held = waiters[host], held.count >= Self.maximumHeldPollsPerHost, let oldest = held.keys.min() {
                expire(host: host, id: oldest)
            }
            waiters[host, default: [:]][id] = continuation
        }
    }

    private func expire(host: String, id: UInt64) {
        guard let continuation = waiters[host]?.removeValue(forKey: id) else { return }
        if waiters[host]?.isEmpty == true { waiters[host] = nil }
        continuation.resume()
    }

    /// Resumes every waiting poll (at shutdown), so none holds a connection open.
    package func releaseAll() {
        for continuation in waiters.values.flatMap(\.values) { continuation.resume() }
        waiters = [:]
    }
}
