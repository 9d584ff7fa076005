import Foundation
import Store
import Testing

@testable import Server

@Suite("Cached principals")
struct PrincipalCacheTests {
    /// A store in a temporary directory, wrapped as the server wraps it, with an authenticator over both.
    struct Fixture {
        let directory: URL
        /// A lifetime far longer than any test, so that only invalidation can drop an entry.
        let cache = PrincipalCache(lifetime: .seconds(3600))
        let store: InvalidatingStore
        let authenticator: Authenticator

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-principals-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = InvalidatingStore(
                base: try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path), cache: cache)
            authenticator = Authenticator(
                store: store, region: "us-east-1", accountID: "000000000000", maximumClockSkew: 900,
                principals: cache)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test("a deleted key is refused on the next lookup although its principal was cached")
    func deletedKeyIsRefusedAtOnce() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try await AccessKeys.create(in: fixture.store, role: .deployer, instanceName: nil)
        #expect(try await fixture.authenticator.principal(accessKeyId: key.accessKeyId)?.1.role == .deployer)
        #expect(fixture.cache.count == 1)
        #expect(try await AccessKeys.delete(in: fixture.store, accessKeyId: key.accessKeyId))
        #expect(try await fixture.authenticator.principal(accessKeyId: key.accessKeyId) == nil)
    }

    @Test("a key made inactive is refused on the next lookup although its principal was cached")
    func inactiveKeyIsRefusedAtOnce() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try await AccessKeys.create(in: fixture.store, role: .admin, instanceName: nil)
        #expect(try await fixture.authenticator.principal(accessKeyId: key.accessKeyId) != nil)
        try await fixture.store.write { tx in
            var inactive = key
            inactive.status = "Inactive"
            try tx.set(inactive, .accessKey, name: key.accessKeyId)
        }
        #expect(try await fixture.authenticator.principal(accessKeyId: key.accessKeyId) == nil)
    }

    @Test("writes of other records keep cached principals")
    func unrelatedWritesKeepTheCache() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let key = try await AccessKeys.create(in: fixture.store, role: .admin, instanceName: nil)
        _ = try await fixture.authenticator.principal(accessKeyId: key.accessKeyId)
        try await fixture.store.write { tx in
            try tx.put(.application, scope: "", name: "web", document: Data("{}".utf8))
        }
        #expect(fixture.cache.count == 1)
        #expect(fixture.cache.lookup(key.accessKeyId)?.1.accessKeyId == key.accessKeyId)
    }

    @Test("a principal loaded before keys or users changed is not cached")
    func staleLoadIsNotCached() throws {
        let cache = PrincipalCache()
        let key = AccessKeyFactory.make(role: .admin, instanceName: nil, now: Date())
        let principal = Principal(
            accessKeyId: key.accessKeyId, arn: "arn:aws:iam::000000000000:user/slipway/admin/\(key.accessKeyId)",
            userName: nil, role: .admin, instanceName: nil, permissions: KeyRole.admin.permissions, instanceHost: nil)
        let generation = cache.generation
        cache.invalidate()
        cache.insert(key.accessKeyId, key: key, principal: principal, generation: generation)
        #expect(cache.lookup(key.accessKeyId) == nil)
        cache.insert(key.accessKeyId, key: key, principal: principal, generation: cache.generation)
        #expect(cache.lookup(key.accessKeyId)?.1 == principal)
    }

    @Test("a cached principal is read from the store again after its lifetime, for changes by other processes")
    func entriesExpire() throws {
        let cache = PrincipalCache(lifetime: .seconds(2))
        let key = AccessKeyFactory.make(role: .deployer, instanceName: nil, now: Date())
        let principal = Principal(
            accessKeyId: key.accessKeyId, arn: "arn:aws:iam::000000000000:user/slipway/deployer/x", userName: nil,
            role: .deployer, instanceName: nil, permissions: KeyRole.deployer.permissions, instanceHost: nil)
        let start = ContinuousClock.now
        cache.insert(key.accessKeyId, key: key, principal: principal, generation: cache.generation, now: start)
        #expect(cache.lookup(key.accessKeyId, now: start.advanced(by: .seconds(1))) != nil)
        #expect(cache.lookup(key.accessKeyId, now: start.advanced(by: .seconds(3))) == nil)
    }
}
