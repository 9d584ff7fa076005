import Foundation
import Store
import Testing

extension StoreBackend {
    /// SQLite stores, each in a database file of its own in a new temporary directory.
    static let sqlite = StoreBackend(name: "SQLite") {
        let directory = temporaryDirectory()
        let path = directory.appendingPathComponent("store.sqlite").path
        return StorePlace(
            open: { try SQLiteStore(path: path) },
            remove: { try? FileManager.default.removeItem(at: directory) }
        )
    }
}

/// A new directory name under the system's temporary directory; the directory itself is not created.
private func temporaryDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("slipway-store-tests-\(UUID().uuidString)")
}

@Suite("SQLite store: conformance")
struct SQLiteConformanceTests {
    let conformance = StoreConformance(backend: .sqlite)

    @Test("a put record reads back with the same bytes")
    func roundTrip() async throws { try await conformance.putThenGetReturnsTheSameBytes() }

    @Test("a write transaction reads its own changes")
    func readYourWrites() async throws { try await conformance.aWriteReadsItsOwnChanges() }

    @Test("versions start at 1 and grow with every put")
    func versions() async throws { try await conformance.versionsGrowWithEveryPut() }

    @Test("insert refuses a record that exists")
    func insert() async throws { try await conformance.insertRefusesDuplicates() }

    @Test("delete and deleteAll report what they removed")
    func delete() async throws { try await conformance.deleteReportsWhatItRemoved() }

    @Test("the same name in two scopes or two kinds is two records")
    func isolation() async throws { try await conformance.scopesAndKindsAreIsolated() }

    @Test("a name holding a NUL or a control character is its own record, never its prefix")
    func namesWithNUL() async throws { try await conformance.namesWithNULAreDistinct() }

    @Test("paging walks every record once, in byte order of the names")
    func pagination() async throws { try await conformance.paginationWalksEveryRecordOnceInByteOrder() }

    @Test("a throwing write leaves nothing behind")
    func atomicity() async throws { try await conformance.aThrowingWriteLeavesNothingBehind() }

    @Test("a throwing read passes its error on")
    func readErrors() async throws { try await conformance.aThrowingReadPassesItsErrorOn() }

    @Test("concurrent read-modify-write transactions lose no update")
    func concurrentWrites() async throws { try await conformance.concurrentWritesLoseNoUpdate() }

    @Test("writes waiting together keep only their own outcome")
    func waitingWrites() async throws { try await conformance.writesWaitingTogetherKeepOnlyTheirOwnOutcome() }

    @Test("readers see committed data only")
    func isolationOfReaders() async throws { try await conformance.readersSeeCommittedDataOnly() }

    @Test("a read sees one snapshot")
    func snapshot() async throws { try await conformance.aReadSeesOneSnapshot() }

    @Test("a lone record read matches a read transaction")
    func loneRecord() async throws { try await conformance.aLoneRecordReadMatchesATransaction() }

    @Test("the reader of a read cannot write")
    func readOnly() async throws { try await conformance.theReaderOfAReadCannotWrite() }

    @Test("data survives a restart")
    func persistence() async throws { try await conformance.dataSurvivesARestart() }

    @Test("typed helpers round-trip a generated shape")
    func typed() async throws { try await conformance.typedHelpersRoundTripAShape() }

    @Test("a document of another shape fails to decode with a StoreError")
    func badDocument() async throws { try await conformance.aDocumentOfAnotherShapeFailsToDecode() }
}

@Suite("SQLite store: opening and closing")
struct SQLiteStoreTests {
    @Test("opening creates the database file and its missing parent directories")
    func createsFileAndDirectories() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("deep/er/store.sqlite").path
        let store = try SQLiteStore(path: path)
        _ = try await store.write { try $0.put(.setting, scope: "", name: "s", document: Data("x".utf8)) }
        #expect(store.path == path)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("a database migrated by a newer Slipway is refused with a StoreError")
    func newerDatabase() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("store.sqlite").path
        do {
            let newer = try SQLiteStore(path: path, appendingMigrations: ["v2: from the future"])
            _ = try await newer.write { try $0.put(.setting, scope: "", name: "s", document: Data("x".utf8)) }
            try newer.close()
        }
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.description.contains("newer Slipway") == true)
        #expect(error?.description.contains("v2: from the future") == true)
    }

    @Test("a database of the first schema keeps every record, document and version through the migrations")
    func migratesTheFirstSchema() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("store.sqlite").path
        let large = Data(String(repeating: "a host's lifecycle ", count: 200).utf8)  // beyond a quarter of a page
        do {
            let old = try SQLiteStore(path: path, appendingMigrations: [], upTo: "v1: records")
            try await old.write { writer in
                try writer.put(.application, scope: "", name: "d-1", document: large)
                try writer.put(.application, scope: "", name: "d-1", document: large + Data("!".utf8))
                for name in ["b", "a", "c"] {
                    try writer.put(.instance, scope: "", name: name, document: Data(name.utf8))
                }
                try writer.put(.instance, scope: "other", name: "a", document: Data("elsewhere".utf8))
            }
            try old.close()
        }
        let store = try SQLiteStore(path: path)
        let (deployment, instances, other) = try await store.read { reader in
            (
                try reader.record(.application, scope: "", name: "d-1"),
                try reader.records(.instance, scope: "", after: nil, limit: .max),
                try reader.count(.instance, scope: "other")
            )
        }
        #expect(deployment?.document == large + Data("!".utf8))
        #expect(deployment?.version == 2)
        #expect(instances.map(\.name) == ["a", "b", "c"])
        #expect(instances.map(\.version) == [1, 1, 1])
        #expect(other == 1)
        // Keys stay unique and versions go on from where they were.
        let version = try await store.write { try $0.put(.application, scope: "", name: "d-1", document: large) }
        #expect(version == 3)
        #expect(try await store.write { try $0.insert(.instance, scope: "", name: "a", document: Data()) } == false)
    }

    @Test("a path whose directory cannot be created fails with a StoreError")
    func uncreatableDirectory() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        // A regular file where a directory should be: no user, root included, can create a directory in it.
        let blocker = root.appendingPathComponent("blocker")
        try Data("not a directory".utf8).write(to: blocker)
        let path = blocker.appendingPathComponent("sub/store.sqlite").path
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.description.contains("cannot create the directory") == true)
        #expect(error?.description.contains("Not a directory") == true)
    }

    @Test("a file that is not a database fails to open with a StoreError")
    func notADatabase() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let path = root.appendingPathComponent("store.sqlite").path
        try Data(String(repeating: "this is not an SQLite database\n", count: 200).utf8)
            .write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.description.contains("store.sqlite") == true)
    }

    @Test("reads and writes after close fail with a StoreError")
    func closed() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try SQLiteStore(path: root.appendingPathComponent("store.sqlite").path)
        try store.close()
        await #expect(throws: StoreError.self) {
            try await store.read { try $0.count(.setting, scope: "") }
        }
        await #expect(throws: StoreError.self) {
            try await store.write { try $0.put(.setting, scope: "", name: "s", document: Data()) }
        }
    }

    /// Opt-in (set `SLIPWAY_STORE_BENCHMARK=1`): the lookup every API request makes, from many tasks at once.
    @Test(
        "record lookups by key sustain thousands of reads per second",
        .enabled(if: ProcessInfo.processInfo.environment["SLIPWAY_STORE_BENCHMARK"] != nil)
    )
    func lookupThroughput() async throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try SQLiteStore(path: root.appendingPathComponent("store.sqlite").path)
        let document = Data(String(repeating: "x", count: 400).utf8)
        try await store.write { writer in
            for index in 0..<1_000 {
                try writer.put(.application, scope: "", name: "app-\(index)", document: document)
            }
        }
        let tasks = 16
        let lookupsPerTask = 2_000
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for lookup in 0..<lookupsPerTask {
                            let name = "app-\((task * 7_919 + lookup * 31) % 1_000)"
                            let found = try await store.read { try $0.record(.application, scope: "", name: name) }
                            #expect(found != nil)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(tasks * lookupsPerTask) / seconds
        print("SQLiteStore: \(Int(rate)) record lookups per second (one read transaction each)")
        #expect(rate >= 5_000)
    }
}
