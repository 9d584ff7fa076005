import Dispatch
import Foundation
import SlipwayModel
import Store
import Synchronization
import Testing

/// A place where a backend keeps its data (a database file, a PostgreSQL schema), empty when made.
struct StorePlace: Sendable {
    /// Opens a store on the place. Opening it again after the first store is gone sees the same data, as a
    /// restarted server does.
    let open: @Sendable () throws -> any Store
    /// Removes the place and its data.
    let remove: @Sendable () -> Void
}

/// A backend under test: how to make new, empty places for it.
struct StoreBackend: Sendable {
    let name: String
    let makePlace: @Sendable () throws -> StorePlace
}

/// The behaviours every ``Store`` backend must have. Each function checks one behaviour on fresh places of the
/// backend; a backend's test suite runs every one of them from its own `@Test` functions.
struct StoreConformance: Sendable {
    let backend: StoreBackend

    private func withStore(_ body: (any Store) async throws -> Void) async throws {
        try await withPlace { place in try await body(place.open()) }
    }

    private func withPlace(_ body: (StorePlace) async throws -> Void) async throws {
        let place = try backend.makePlace()
        defer { place.remove() }
        try await body(place)
    }

    // MARK: - Records

    /// A put record reads back with the same bytes and address, and a missing one reads as nil.
    func putThenGetReturnsTheSameBytes() async throws {
        try await withStore { store in
            let bytes = Data([0x00, 0xFF, 0x7B, 0x22, 0x0A, 0xC3, 0x28, 0x00])
            let json = Data(#"{"applicationName":"web","linkedToGitHub":false}"#.utf8)
            try await store.write { writer in
                try writer.put(.application, scope: "", name: "binary", document: bytes)
                try writer.put(.application, scope: "", name: "json", document: json)
                try writer.put(.application, scope: "", name: "empty", document: Data())
            }
            let (binary, jsonRecord, empty, missing) = try await store.read { reader in
                (
                    try reader.record(.application, scope: "", name: "binary"),
                    try reader.record(.application, scope: "", name: "json"),
                    try reader.record(.application, scope: "", name: "empty"),
                    try reader.record(.application, scope: "", name: "missing")
                )
            }
            #expect(binary == StoredRecord(kind: .application, scope: "", name: "binary", document: bytes, version: 1))
            #expect(jsonRecord?.document == json)
            #expect(empty?.document == Data())
            #expect(missing == nil)
        }
    }

    /// A write transaction reads its own changes before it commits.
    func aWriteReadsItsOwnChanges() async throws {
        try await withStore { store in
            let seen = try await store.write { writer in
                try writer.put(.instance, scope: "", name: "host-1", document: Data("one".utf8))
                try writer.put(.instance, scope: "", name: "host-2", document: Data("two".utf8))
                try writer.delete(.instance, scope: "", name: "host-2")
                return (
                    try writer.record(.instance, scope: "", name: "host-1")?.document,
                    try writer.count(.instance, scope: ""),
                    try writer.records(.instance, scope: "", after: nil, limit: 10).map(\.name)
                )
            }
            #expect(seen.0 == Data("one".utf8))
            #expect(seen.1 == 1)
            #expect(seen.2 == ["host-1"])
        }
    }

    /// `put` returns 1 for a new record and one more on each replacement; a deleted record starts again at 1.
    func versionsGrowWithEveryPut() async throws {
        try await withStore { store in
            let versions = try await store.write { writer in
                try (1...3).map { try writer.put(.setting, scope: "", name: "s", document: Data("\($0)".utf8)) }
            }
            #expect(versions == [1, 2, 3])
            let stored = try await store.read { try $0.record(.setting, scope: "", name: "s") }
            #expect(stored?.version == 3)
            #expect(stored?.document == Data("3".utf8))

            let inserted = try await store.write { writer in
                _ = try writer.insert(.setting, scope: "", name: "t", document: Data("t".utf8))
                return try writer.record(.setting, scope: "", name: "t")?.version
            }
            #expect(inserted == 1)

            let recreated = try await store.write { writer in
                try writer.delete(.setting, scope: "", name: "s")
                return try writer.put(.setting, scope: "", name: "s", document: Data("again".utf8))
            }
            #expect(recreated == 1)
        }
    }

    /// `insert` creates a record only when none exists, and otherwise changes nothing.
    func insertRefusesDuplicates() async throws {
        try await withStore { store in
            let results = try await store.write { writer in
                (
                    try writer.insert(.application, scope: "", name: "web", document: Data("first".utf8)),
                    try writer.insert(.application, scope: "", name: "web", document: Data("second".utf8))
                )
            }
            #expect(results.0 == true)
            #expect(results.1 == false)
            let again = try await store.write { writer in
                try writer.insert(.application, scope: "", name: "web", document: Data("third".utf8))
            }
            #expect(again == false)
            let stored = try await store.read { try $0.record(.application, scope: "", name: "web") }
            #expect(stored?.document == Data("first".utf8))
            #expect(stored?.version == 1)
        }
    }

    /// `delete` says whether the record existed; `deleteAll` says how many records of (kind, scope) it removed.
    func deleteReportsWhatItRemoved() async throws {
        try await withStore { store in
            let results = try await store.write { writer in
                let absent = try writer.delete(.instance, scope: "", name: "host")
                try writer.put(.instance, scope: "", name: "host", document: Data("h".utf8))
                let present = try writer.delete(.instance, scope: "", name: "host")
                let twice = try writer.delete(.instance, scope: "", name: "host")
                return (absent, present, twice)
            }
            #expect(results == (false, true, false))

            let removed = try await store.write { writer in
                for name in ["g1", "g2", "g3"] {
                    try writer.put(.deploymentGroup, scope: "web", name: name, document: Data(name.utf8))
                }
                try writer.put(.deploymentGroup, scope: "api", name: "g1", document: Data("api".utf8))
                try writer.put(.revision, scope: "web", name: "g1", document: Data("revision".utf8))
                return (
                    try writer.deleteAll(.deploymentGroup, scope: "web"),
                    try writer.deleteAll(.deploymentGroup, scope: "web")
                )
            }
            #expect(removed == (3, 0))
            let left = try await store.read { reader in
                (
                    try reader.count(.deploymentGroup, scope: "web"),
                    try reader.count(.deploymentGroup, scope: "api"),
                    try reader.count(.revision, scope: "web")
                )
            }
            #expect(left == (0, 1, 1))
        }
    }

    /// Names, scopes and kinds are compared as whole byte strings: one holding a NUL or a control character is a
    /// different record from its prefix, and reads back whole from a lookup, a page and a full listing.
    func namesWithNULAreDistinct() async throws {
        try await withStore { store in
            let names = ["prod", "prod\u{0}", "prod\u{0}x", "\u{0}", "prod\u{1}\n", "prod\u{7F}"]
            try await store.write { writer in
                for (index, name) in names.enumerated() {
                    try writer.put(.deploymentGroup, scope: "web", name: name, document: Data([UInt8(index)]))
                    try writer.put(.deploymentGroup, scope: "web\u{0}x", name: name, document: Data([0xFF]))
                }
            }
            let (lookups, page, all, count) = try await store.read { reader in
                (
                    try names.map { try reader.record(.deploymentGroup, scope: "web", name: $0)?.document },
                    try reader.records(.deploymentGroup, scope: "web", after: nil, limit: 100).map(\.name),
                    try reader.allRecords(.deploymentGroup).map { "\($0.scope)|\($0.name)" },
                    try reader.count(.deploymentGroup, scope: "web")
                )
            }
            #expect(lookups == names.indices.map { Data([UInt8($0)]) })
            #expect(Set(page) == Set(names))
            #expect(count == names.count)
            #expect(all.count == 2 * names.count)
            #expect(Set(all) == Set(names.map { "web|\($0)" } + names.map { "web\u{0}x|\($0)" }))
            let removed = try await store.write { writer in
                try writer.delete(.deploymentGroup, scope: "web", name: "prod\u{0}")
            }
            #expect(removed)
            let (kept, gone) = try await store.read { reader in
                (
                    try reader.record(.deploymentGroup, scope: "web", name: "prod")?.document,
                    try reader.record(.deploymentGroup, scope: "web", name: "prod\u{0}")
                )
            }
            #expect(kept == Data([0]))
            #expect(gone == nil)
        }
    }

    /// The same name in two scopes of a kind, and in two kinds, addresses distinct records.
    func scopesAndKindsAreIsolated() async throws {
        try await withStore { store in
            let addresses: [(RecordKind, String)] = [
                (.deploymentGroup, "web"), (.deploymentGroup, "api"), (.deploymentGroup, ""), (.revision, "web"),
            ]
            try await store.write { writer in
                for (kind, scope) in addresses {
                    try writer.put(kind, scope: scope, name: "blue", document: Data("\(kind)/\(scope)".utf8))
                }
                try writer.put(.deploymentGroup, scope: "web", name: "green", document: Data("web-green".utf8))
            }
            for (kind, scope) in addresses {
                let stored = try await store.read { try $0.record(kind, scope: scope, name: "blue") }
                #expect(stored?.document == Data("\(kind)/\(scope)".utf8))
                #expect(stored?.kind == kind)
                #expect(stored?.scope == scope)
            }
            let (webNames, apiCount, all) = try await store.read { reader in
                (
                    try reader.records(.deploymentGroup, scope: "web", after: nil, limit: .max).map(\.name),
                    try reader.count(.deploymentGroup, scope: "api"),
                    try reader.allRecords(.deploymentGroup).map { "\($0.scope)/\($0.name)" }
                )
            }
            #expect(webNames == ["blue", "green"])
            #expect(apiCount == 1)
            #expect(all == ["/blue", "api/blue", "web/blue", "web/green"])

            _ = try await store.write { try $0.delete(.deploymentGroup, scope: "web", name: "blue") }
            let survivors = try await store.read { reader in
                try addresses.map { try reader.record($0.0, scope: $0.1, name: "blue") != nil }
            }
            #expect(survivors == [false, true, true, true])
        }
    }

    /// Paging with `after` and `limit` visits every record exactly once, in byte order of the names' UTF-8.
    func paginationWalksEveryRecordOnceInByteOrder() async throws {
        try await withStore { store in
            // Both spellings of "é" are distinct names: a store compares bytes and never normalises.
            let names = [
                "a", "A", "b", "B", "aa", "a+b", "a.b", "a-b", "a_b", "a~b", "a/b", "0", "9", "z", "Z", "Zebra",
                "zebra", "\u{E9}", "e\u{301}", "\u{FC}ber", "日本", "😀", "ÿ", "release-1.2.3+build_4",
            ]
            let expected = names.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
            #expect(Set(expected).count == names.count)
            try await store.write { writer in
                for name in names {
                    try writer.put(.revision, scope: "web", name: name, document: Data(name.utf8))
                }
                try writer.put(.revision, scope: "api", name: "a", document: Data())
                try writer.put(.deploymentGroup, scope: "web", name: "a", document: Data())
            }

            for pageSize in [1, 2, 3, 7, names.count, .max] {
                var seen: [[UInt8]] = []
                var after: String? = nil
                while true {
                    let from = after
                    let page = try await store.read { reader in
                        try reader.records(.revision, scope: "web", after: from, limit: pageSize)
                    }
                    #expect(page.count <= pageSize)
                    for record in page {
                        #expect(record.document == Data(record.name.utf8))
                        #expect(record.kind == .revision && record.scope == "web")
                    }
                    seen += page.map { Array($0.name.utf8) }
                    guard page.count == pageSize, let last = page.last else { break }
                    after = last.name
                }
                #expect(seen == expected, "pages of \(pageSize)")
            }

            let (betweenNames, afterLast, none, count) = try await store.read { reader in
                (
                    try reader.records(.revision, scope: "web", after: "a+", limit: 2).map(\.name),
                    try reader.records(.revision, scope: "web", after: "😀", limit: 10),
                    try reader.records(.revision, scope: "web", after: nil, limit: 0),
                    try reader.count(.revision, scope: "web")
                )
            }
            #expect(betweenNames == ["a+b", "a-b"])
            #expect(afterLast.isEmpty)
            #expect(none.isEmpty)
            #expect(count == names.count)
        }
    }

    // MARK: - Transactions

    /// When a write body throws, none of its changes are kept, and its own error reaches the caller unchanged.
    func aThrowingWriteLeavesNothingBehind() async throws {
        try await withStore { store in
            try await store.write { writer in
                try writer.put(.application, scope: "", name: "kept", document: Data("original".utf8))
                try writer.put(.application, scope: "", name: "doomed", document: Data("original".utf8))
            }
            await #expect(throws: Abort("changed my mind")) {
                try await store.write { writer in
                    for index in 0..<10 {
                        try writer.put(.application, scope: "", name: "new-\(index)", document: Data("new".utf8))
                    }
                    try writer.put(.application, scope: "", name: "kept", document: Data("overwritten".utf8))
                    try writer.delete(.application, scope: "", name: "doomed")
                    #expect(try writer.count(.application, scope: "") == 11)
                    throw Abort("changed my mind")
                }
            }
            let (names, kept) = try await store.read { reader in
                (
                    try reader.records(.application, scope: "", after: nil, limit: .max).map(\.name),
                    try reader.record(.application, scope: "", name: "kept")
                )
            }
            #expect(names == ["doomed", "kept"])
            #expect(kept?.document == Data("original".utf8))
            #expect(kept?.version == 1)
        }
    }

    /// A read body's own error reaches the caller unchanged.
    func aThrowingReadPassesItsErrorOn() async throws {
        try await withStore { store in
            await #expect(throws: Abort("not found")) {
                try await store.read { _ in throw Abort("not found") }
            }
        }
    }

    /// Many tasks doing read-modify-write of one record in write transactions lose no update.
    func concurrentWritesLoseNoUpdate() async throws {
        try await withStore { store in
            _ = try await store.write { try $0.put(.setting, scope: "", name: "counter", document: Data("0".utf8)) }
            let tasks = 50
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        try await store.write { writer in
                            let stored = try writer.record(.setting, scope: "", name: "counter")
                            let value = Int(String(decoding: stored?.document ?? Data(), as: UTF8.self)) ?? -1_000
                            try writer.put(.setting, scope: "", name: "counter", document: Data("\(value + 1)".utf8))
                        }
                    }
                    group.addTask {
                        _ = try await store.read { try $0.record(.setting, scope: "", name: "counter") }
                    }
                }
                try await group.waitForAll()
            }
            let counter = try await store.read { try $0.record(.setting, scope: "", name: "counter") }
            #expect(counter?.document == Data("\(tasks)".utf8))
            #expect(counter?.version == Int64(tasks + 1))
        }
    }

    /// Writes that wait behind a long one (a backend may commit them together) keep the changes of exactly those
    /// that returned, and each sees what the ones before it wrote, as if every write had committed alone.
    func writesWaitingTogetherKeepOnlyTheirOwnOutcome() async throws {
        try await withStore { store in
            _ = try await store.write { try $0.put(.setting, scope: "", name: "counter", document: Data("0".utf8)) }
            let holding = Gate()
            let release = Gate()
            let long = Task {
                try await store.write { writer in
                    holding.open()
                    release.wait()
                    try writer.put(.setting, scope: "", name: "long", document: Data("done".utf8))
                }
            }
            await holding.waitAsync()
            let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<30 {
                    group.addTask {
                        do {
                            try await store.write { writer in
                                let stored = try writer.record(.setting, scope: "", name: "counter")
                                let value = Int(String(decoding: stored?.document ?? Data(), as: UTF8.self)) ?? -1_000
                                try writer.put(
                                    .setting, scope: "", name: "counter", document: Data("\(value + 1)".utf8))
                                try writer.put(.setting, scope: "", name: "write-\(index)", document: Data("x".utf8))
                                if index % 3 == 0 { throw Abort("write \(index) changed its mind") }
                            }
                            return (index, true)
                        } catch let error as Abort {
                            #expect(error == Abort("write \(index) changed its mind"))
                            return (index, false)
                        }
                    }
                }
                // Give the writes time to queue behind the long one, then let it finish.
                try await Task.sleep(for: .milliseconds(200))
                release.open()
                var outcomes: [Int: Bool] = [:]
                for try await (index, kept) in group { outcomes[index] = kept }
                return outcomes
            }
            try await long.value
            let (counter, names) = try await store.read { reader in
                (
                    try reader.record(.setting, scope: "", name: "counter"),
                    try reader.records(.setting, scope: "", after: "write-", limit: .max).map(\.name)
                )
            }
            let kept = outcomes.filter(\.value).map(\.key)
            #expect(kept.count == 20)
            #expect(Set(names) == Set(kept.map { "write-\($0)" }))
            #expect(counter?.document == Data("\(kept.count)".utf8))
        }
    }

    /// A reader running while a write transaction is open sees the data as it was before the write, and sees the
    /// write once it commits.
    func readersSeeCommittedDataOnly() async throws {
        try await withStore { store in
            _ = try await store.write { try $0.put(.instance, scope: "", name: "host", document: Data("before".utf8)) }
            let written = Gate()
            let release = Gate()
            let writing = Task {
                try await store.write { writer in
                    try writer.put(.instance, scope: "", name: "host", document: Data("after".utf8))
                    try writer.put(.instance, scope: "", name: "new", document: Data("new".utf8))
                    written.open()
                    release.wait()
                }
            }
            await written.waitAsync()
            let during = try await store.read { reader in
                (
                    try reader.record(.instance, scope: "", name: "host")?.document,
                    try reader.record(.instance, scope: "", name: "new"),
                    try reader.count(.instance, scope: "")
                )
            }
            release.open()
            try await writing.value
            #expect(during.0 == Data("before".utf8))
            #expect(during.1 == nil)
            #expect(during.2 == 1)

            let after = try await store.read { reader in
                (
                    try reader.record(.instance, scope: "", name: "host")?.document,
                    try reader.count(.instance, scope: "")
                )
            }
            #expect(after.0 == Data("after".utf8))
            #expect(after.1 == 2)
        }
    }

    /// A read body sees one snapshot: a write committed while it runs does not change what it reads.
    func aReadSeesOneSnapshot() async throws {
        try await withStore { store in
            _ = try await store.write { try $0.put(.setting, scope: "", name: "s", document: Data("old".utf8)) }
            let firstRead = Gate()
            let committed = Gate()
            let reading = Task {
                try await store.read { reader in
                    let first = try reader.record(.setting, scope: "", name: "s")?.document
                    firstRead.open()
                    committed.wait()
                    let second = try reader.record(.setting, scope: "", name: "s")?.document
                    return (first, second, try reader.count(.setting, scope: ""))
                }
            }
            await firstRead.waitAsync()
            try await store.write { writer in
                try writer.put(.setting, scope: "", name: "s", document: Data("new".utf8))
                try writer.put(.setting, scope: "", name: "t", document: Data("t".utf8))
            }
            committed.open()
            let (first, second, count) = try await reading.value
            #expect(first == Data("old".utf8))
            #expect(second == Data("old".utf8))
            #expect(count == 1)
        }
    }

    /// The store's lone-record read gives what a read transaction gives, and nil for an absent record.
    func aLoneRecordReadMatchesATransaction() async throws {
        try await withStore { store in
            _ = try await store.write { try $0.put(.setting, scope: "s", name: "n", document: Data("one".utf8)) }
            _ = try await store.write { try $0.put(.setting, scope: "s", name: "n", document: Data("two".utf8)) }
            let lone = try await store.record(.setting, scope: "s", name: "n")
            let inTransaction = try await store.read { try $0.record(.setting, scope: "s", name: "n") }
            #expect(lone == inTransaction)
            #expect(lone?.document == Data("two".utf8))
            #expect(lone?.version == 2)
            #expect(try await store.record(.setting, scope: "s", name: "absent") == nil)
            #expect(try await store.record(.setting, scope: "other", name: "n") == nil)
        }
    }

    /// The reader given to `read` cannot be used to write.
    func theReaderOfAReadCannotWrite() async throws {
        try await withStore { store in
            let isWriter = try await store.read { reader in reader is any StoreWriter }
            #expect(!isWriter)
        }
    }

    // MARK: - Persistence

    /// Records, their versions and their order survive closing the store and opening it again.
    func dataSurvivesARestart() async throws {
        try await withPlace { place in
            do {
                let store = try place.open()
                try await store.write { writer in
                    try writer.put(.application, scope: "", name: "web", document: Data("v1".utf8))
                    try writer.put(.application, scope: "", name: "web", document: Data("v2".utf8))
                    try writer.put(.deploymentGroup, scope: "web", name: "blue", document: Data("group".utf8))
                    try writer.put(.deploymentGroup, scope: "web", name: "Green", document: Data("group".utf8))
                }
            }
            let reopened = try place.open()
            let (application, groups) = try await reopened.read { reader in
                (
                    try reader.record(.application, scope: "", name: "web"),
                    try reader.records(.deploymentGroup, scope: "web", after: nil, limit: .max).map(\.name)
                )
            }
            #expect(application?.document == Data("v2".utf8))
            #expect(application?.version == 2)
            #expect(groups == ["Green", "blue"])
            let version = try await reopened.write { writer in
                try writer.put(.application, scope: "", name: "web", document: Data("v3".utf8))
            }
            #expect(version == 3)
        }
    }

    // MARK: - Typed helpers

    /// `create`, `set`, `get` and `list` round-trip a generated shape; dates keep whole milliseconds.
    func typedHelpersRoundTripAShape() async throws {
        try await withStore { store in
            let created = Date(timeIntervalSince1970: 1_700_000_000.123_456)
            let web = CodeDeploy.ApplicationInfo(
                applicationId: "3f1c2a9e-0000-4000-8000-000000000001", applicationName: "web",
                computePlatform: .server, createTime: created, linkedToGitHub: false
            )
            let api = CodeDeploy.ApplicationInfo(
                applicationId: "3f1c2a9e-0000-4000-8000-000000000002", applicationName: "api",
                computePlatform: .lambda, createTime: created, gitHubAccountName: "octo"
            )

            let (first, second) = try await store.write { writer in
                (try writer.create(web, .application, name: "web"), try writer.create(api, .application, name: "web"))
            }
            #expect(first == true)
            #expect(second == false)
            let version = try await store.write { try $0.set(api, .application, name: "api") }
            #expect(version == 1)

            let (gotWeb, missing, listed) = try await store.read { reader in
                (
                    try reader.get(CodeDeploy.ApplicationInfo.self, .application, name: "web"),
                    try reader.get(CodeDeploy.ApplicationInfo.self, .application, name: "ops"),
                    try reader.list(CodeDeploy.ApplicationInfo.self, .application)
                )
            }
            var expectedWeb = web
            expectedWeb.createTime = Date(timeIntervalSince1970: AWSJSON.epochSeconds(created))
            var expectedAPI = api
            expectedAPI.createTime = expectedWeb.createTime
            #expect(gotWeb == expectedWeb)
            #expect(gotWeb?.createTime?.timeIntervalSince1970 == 1_700_000_000.123)
            #expect(missing == nil)
            #expect(listed.map(\.name) == ["api", "web"])
            #expect(listed.map(\.value) == [expectedAPI, expectedWeb])

            let paged = try await store.read { reader in
                try reader.list(CodeDeploy.ApplicationInfo.self, .application, after: "api", limit: 1)
            }
            #expect(paged.map(\.name) == ["web"])
        }
    }

    /// A stored document that is not the requested shape reads as a ``StoreError`` naming the record.
    func aDocumentOfAnotherShapeFailsToDecode() async throws {
        try await withStore { store in
            _ = try await store.write { try $0.put(.application, scope: "", name: "bad", document: Data("[1]".utf8)) }
            let error = await #expect(throws: StoreError.self) {
                try await store.read { try $0.get(CodeDeploy.ApplicationInfo.self, .application, name: "bad") }
            }
            #expect(error?.description.contains("application '/bad'") == true)
        }
    }
}

/// An error a transaction body throws on purpose.
struct Abort: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// A one-shot signal between a synchronous transaction body, which blocks on it, and the asynchronous test, which
/// suspends on it without holding a thread. Waits give up after a while, as a recorded issue, so that a broken
/// backend cannot hang the suite.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let semaphore = DispatchSemaphore(value: 0)
    private static let patience = 30

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        semaphore.signal()
    }

    /// Blocks the calling thread until the gate opens. For synchronous transaction bodies only.
    func wait() {
        if semaphore.wait(timeout: .now() + .seconds(Self.patience)) == .timedOut {
            Issue.record("a gate was never opened")
        }
    }

    /// Suspends until the gate opens.
    func waitAsync() async {
        let timeout = Task {
            try await Task.sleep(for: .seconds(Self.patience))
            if !state.withLock(\.isOpen) { Issue.record("a gate was never opened") }
            open()
        }
        defer { timeout.cancel() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}
