import Foundation
import Store
import Synchronization

/// Authenticated principals by access key id, so that a signed request does not read its key and user from the
/// store every time.
///
/// Entries are dropped at once by every write of this process that touches an access key or an IAM user (the
/// records a principal is made of: the key's status and secret, the user's inline policies and instance binding),
/// through ``InvalidatingStore``: DeleteAccessKey, UpdateAccessKey to Inactive, DeleteUserPolicy and the like take
/// effect for the very next request. Another process writing the same database (`slipway keys delete` while the
/// server runs) cannot be seen that way, so an entry is also trusted for at most ``lifetime``.
///
/// A load that began before an invalidation is not cached: ``insert(_:key:principal:generation:)`` takes the
/// generation read before the store was, and refuses the entry when a write finished in between.
final class PrincipalCache: Sendable {
    private struct Entry {
        var key: AccessKeyRecord
        var principal: Principal
        var expires: ContinuousClock.Instant
    }

    private struct State {
        var generation: UInt64 = 0
        var entries: [String: Entry] = [:]
    }

    private let state = Mutex(State())
    /// How long an entry is used without reading the store again, the bound on how late a change made by another
    /// process is seen.
    let lifetime: Duration
    /// The most entries held; the cache starts over when it is full (keys in use are few).
    let capacity: Int

    init(lifetime: Duration = .seconds(2), capacity: Int = 4096) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// A token to pass to ``insert(_:key:principal:generation:)``: read it before loading from the store.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// The cached key and principal of `accessKeyId`, if one is cached and fresh.
    func lookup(_ accessKeyId: String, now: ContinuousClock.Instant = .now) -> (AccessKeyRecord, Principal)? {
        state.withLock { state in
            guard let entry = state.entries[accessKeyId], entry.expires > now else { return nil }
            return (entry.key, entry.principal)
        }
    }

    /// Caches a principal loaded from the store, unless a key or user was written since `generation` was read.
    func insert(
        _ accessKeyId: String, key: AccessKeyRecord, principal: Principal, generation: UInt64,
        now: ContinuousClock.Instant = .now
    ) {
        let entry = Entry(key: key, principal: principal, expires: now.advanced(by: lifetime))
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[accessKeyId] = entry
        }
    }

    /// Forgets every principal: called after a write that changed keys or users has committed.
    func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }

    /// The number of principals cached.
    var count: Int { state.withLock { $0.entries.count } }
}

/// A store that tells a ``PrincipalCache`` when a write transaction that changed an access key or an IAM user has
/// committed. The server hands this store to every part of itself, so no write path can forget to invalidate.
struct InvalidatingStore: Store {
    /// The record kinds principals are made of.
    static let watchedKinds: Set<RecordKind> = [.accessKey, .iamUser]

    let base: any Store
    let cache: PrincipalCache

    func read<T: Sendable>(_ body: @Sendable (any StoreReader) throws -> T) async throws -> T {
        try await base.read(body)
    }

    func record(_ kind: RecordKind, scope: String, name: String) async throws -> StoredRecord? {
        try await base.record(kind, scope: scope, name: name)
    }

    @discardableResult
    func write<T: Sendable>(_ body: @Sendable (any StoreWriter) throws -> T) async throws -> T {
        let (result, touched) = try await base.write { tx in
            let writer = WatchingWriter(base: tx)
            let result = try body(writer)
            return (result, writer.touched)
        }
        // After the commit, so that a load that read the old records cannot be cached afterwards.
        if touched { cache.invalidate() }
        return result
    }
}

/// Forwards a transaction and notes whether it changed a watched kind. Lives only inside one synchronous
/// transaction body.
private final class WatchingWriter: StoreWriter {
    let base: any StoreWriter
    var touched = false

    init(base: any StoreWriter) { self.base = base }

    private func note(_ kind: RecordKind) {
        if InvalidatingStore.watchedKinds.contains(kind) { touched = true }
    }

    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try base.record(kind, scope: scope, name: name)
    }

    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord] {
        try base.records(kind, scope: scope, after: after, limit: limit)
    }

    func allRecords(_ kind: RecordKind) throws -> [StoredRecord] { try base.allRecords(kind) }

    func count(_ kind: RecordKind, scope: String) throws -> Int { try base.count(kind, scope: scope) }

    @discardableResult
    func put(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Int64 {
        note(kind)
        return try base.put(kind, scope: scope, name: name, document: document)
    }

    func insert(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Bool {
        note(kind)
        return try base.insert(kind, scope: scope, name: name, document: document)
    }

    @discardableResult
    func delete(_ kind: RecordKind, scope: String, name: String) throws -> Bool {
        note(kind)
        return try base.delete(kind, scope: scope, name: name)
    }

    @discardableResult
    func deleteAll(_ kind: RecordKind, scope: String) throws -> Int {
        note(kind)
        return try base.deleteAll(kind, scope: scope)
    }
}
