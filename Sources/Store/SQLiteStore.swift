import Foundation
import GRDB

/// The SQLite backend of ``Store``: one database file in WAL mode, so that readers run concurrently with the one
/// writer and never see its uncommitted changes.
///
/// Records live in one table, `records(kind, scope, name, document, version)`, keyed by (kind, scope, name). Names
/// are TEXT compared with SQLite's BINARY collation, which is the byte order of their UTF-8 form.
///
/// The schema is created and upgraded by named, append-only migrations. A database that a newer Slipway has
/// migrated further than this one knows is refused with a ``StoreError`` when opened.
public final class SQLiteStore: Store {
    /// The path of the database file.
    public let path: String

    private let pool: DatabasePool

    /// Opens the database at `path`, creating the file and its parent directory if missing, and brings its schema
    /// up to date.
    ///
    /// - Throws: ``StoreError`` when the directory cannot be created, the file cannot be opened as a database, or
    ///   the database was migrated by a newer Slipway.
    public convenience init(path: String) throws {
        try self.init(path: path, appendingMigrations: [])
    }

    /// Opens the database at `path` with extra migrations, which do nothing, registered after the known ones.
    ///
    /// Tests use it to play a newer Slipway: a database opened this way has migrations the plain
    /// ``init(path:)`` does not know.
    package init(path: String, appendingMigrations extraMigrations: [String]) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                "cannot create the directory '\(directory.path)' of the store database: \(Self.describe(error))"
            )
        }

        var configuration = Configuration()
        configuration.label = "Slipway store"
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // In WAL mode, NORMAL is durable across application crashes and consistent across power loss.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }

        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError("cannot open the store database '\(path)': \(Self.describe(error))")
        }

        var migrator = Schema.migrator
        for identifier in extraMigrations {
            migrator.registerMigration(identifier) { _ in }
        }
        do {
            let unknown = try pool.read { db in
                try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
            }
            guard unknown.isEmpty else {
                throw StoreError(
                    "the store database '\(path)' was written by a newer Slipway: it has schema migrations this "
                        + "version does not know (\(unknown.joined(separator: ", "))); run a newer Slipway on it"
                )
            }
            try migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot migrate the store database '\(path)': \(Self.describe(error))")
        }
        self.pool = pool
    }

    /// Closes the database. Reads and writes started afterwards fail with a ``StoreError``.
    ///
    /// Closing is optional: the database is also closed when the store is deinitialised.
    public func close() throws {
        do {
            try pool.close()
        } catch {
            throw StoreError("cannot close the store database '\(path)': \(Self.describe(error))")
        }
    }

    /// Runs `body` in a read-only transaction on one of the pool's reader connections.
    ///
    /// The transaction runs on the calling thread. GRDB's async `read` would hand it to a reader's dispatch queue
    /// and back, two thread wake-ups that cost more than a key lookup itself; a store read is short local CPU work
    /// like the rest of a request's, and a reader in WAL mode never waits for the writer.
    public func read<T: Sendable>(_ body: @Sendable (any StoreReader) throws -> T) async throws -> T {
        do {
            return try readHere(body)
        } catch let error as DatabaseError {
            throw StoreError("reading the store database '\(path)' failed: \(Self.describe(error))")
        }
    }

    /// Runs `body` in a transaction on the writer connection; it is rolled back when `body` throws.
    ///
    /// Unlike a read, a write is handed to the writer's queue: waiting there for a long transaction (a deployment
    /// of a thousand hosts is created in one) must not hold one of the few threads every request runs on.
    public func write<T: Sendable>(_ body: @Sendable (any StoreWriter) throws -> T) async throws -> T {
        do {
            return try await pool.write { db in try body(SQLiteWriter(db: db)) }
        } catch let error as DatabaseError {
            throw StoreError("writing the store database '\(path)' failed: \(Self.describe(error))")
        }
    }

    /// One record, read outside a transaction: a single SELECT sees one snapshot by itself, and the BEGIN and
    /// COMMIT around it cost more than the lookup.
    public func record(_ kind: RecordKind, scope: String, name: String) async throws -> StoredRecord? {
        do {
            return try recordHere(kind, scope: scope, name: name)
        } catch let error as DatabaseError {
            throw StoreError("reading the store database '\(path)' failed: \(Self.describe(error))")
        }
    }

    // In an async function Swift picks GRDB's async overloads; these synchronous ones run on the calling thread.
    private func recordHere(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try pool.unsafeRead { db in try SQLiteQueries(db: db).record(kind, scope: scope, name: name) }
    }

    private func readHere<T>(_ body: (any StoreReader) throws -> T) throws -> T {
        try pool.read { db in try body(SQLiteReader(db: db)) }
    }

    /// A one-line account of an error from SQLite or from the file system.
    fileprivate static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "\(error.message ?? "\(error.resultCode)") (SQLite error \(error.resultCode.rawValue))"
        }
        // Foundation's file errors carry the system's reason ("Not a directory") as their underlying error.
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? any Error {
            if let posix = underlying as? POSIXError {
                return String(cString: strerror(posix.code.rawValue))
            }
            return (underlying as NSError).localizedDescription
        }
        return nsError.localizedDescription
    }
}

/// The schema: named migrations, applied in order, never edited once released (add a new one instead).
private enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: records") { db in
            try db.execute(
                sql: """
                    CREATE TABLE records (
                        kind TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        name TEXT NOT NULL,
                        document BLOB NOT NULL,
                        version INTEGER NOT NULL,
                        PRIMARY KEY (kind, scope, name)
                    ) WITHOUT ROWID
                    """
            )
        }
        return migrator
    }
}

/// The SQL of every operation, prepared once per connection and reused (`Database.cachedStatement`).
private enum SQL {
    static let record = "SELECT document, version FROM records WHERE kind = ? AND scope = ? AND name = ?"
    static let recordsFromStart =
        "SELECT name, document, version FROM records WHERE kind = ? AND scope = ? ORDER BY name LIMIT ?"
    static let recordsAfter =
        "SELECT name, document, version FROM records WHERE kind = ? AND scope = ? AND name > ? ORDER BY name LIMIT ?"
    static let allRecords = "SELECT scope, name, document, version FROM records WHERE kind = ? ORDER BY scope, name"
    static let count = "SELECT COUNT(*) FROM records WHERE kind = ? AND scope = ?"
    static let version = "SELECT version FROM records WHERE kind = ? AND scope = ? AND name = ?"
    static let insert = """
        INSERT INTO records (kind, scope, name, document, version) VALUES (?, ?, ?, ?, 1)
        ON CONFLICT (kind, scope, name) DO NOTHING
        """
    static let update = "UPDATE records SET document = ?, version = ? WHERE kind = ? AND scope = ? AND name = ?"
    static let delete = "DELETE FROM records WHERE kind = ? AND scope = ? AND name = ?"
    static let deleteAll = "DELETE FROM records WHERE kind = ? AND scope = ?"
}

/// Runs `operation`, turning SQLite's errors into ``StoreError`` so that transaction bodies never see GRDB types.
private func translatingErrors<T>(_ what: @autoclosure () -> String, _ operation: () throws -> T) throws -> T {
    do {
        return try operation()
    } catch let error as DatabaseError {
        throw StoreError("\(what()) failed: \(SQLiteStore.describe(error))")
    }
}

/// The reads shared by ``SQLiteReader`` and ``SQLiteWriter``.
private struct SQLiteQueries {
    let db: Database

    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try translatingErrors("reading \(kind) '\(scope)/\(name)'") {
            let statement = try db.cachedStatement(sql: SQL.record)
            guard let row = try Row.fetchOne(statement, arguments: [kind.rawValue, scope, name]) else { return nil }
            return StoredRecord(kind: kind, scope: scope, name: name, document: row[0], version: row[1])
        }
    }

    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord] {
        guard limit > 0 else { return [] }
        return try translatingErrors("listing \(kind) in '\(scope)'") {
            let statement: Statement
            let arguments: StatementArguments
            // SQLite's LIMIT is a 64-bit integer; `Int.max` fits on every platform Slipway runs on.
            let sqlLimit = Int64(clamping: limit)
            if let after {
                statement = try db.cachedStatement(sql: SQL.recordsAfter)
                arguments = [kind.rawValue, scope, after, sqlLimit]
            } else {
                statement = try db.cachedStatement(sql: SQL.recordsFromStart)
                arguments = [kind.rawValue, scope, sqlLimit]
            }
            var result: [StoredRecord] = []
            let rows = try Row.fetchCursor(statement, arguments: arguments)
            while let row = try rows.next() {
                result.append(StoredRecord(kind: kind, scope: scope, name: row[0], document: row[1], version: row[2]))
            }
            return result
        }
    }

    func allRecords(_ kind: RecordKind) throws -> [StoredRecord] {
        try translatingErrors("listing every \(kind)") {
            let statement = try db.cachedStatement(sql: SQL.allRecords)
            var result: [StoredRecord] = []
            let rows = try Row.fetchCursor(statement, arguments: [kind.rawValue])
            while let row = try rows.next() {
                result.append(StoredRecord(kind: kind, scope: row[0], name: row[1], document: row[2], version: row[3]))
            }
            return result
        }
    }

    func count(_ kind: RecordKind, scope: String) throws -> Int {
        try translatingErrors("counting \(kind) in '\(scope)'") {
            let statement = try db.cachedStatement(sql: SQL.count)
            return try Int.fetchOne(statement, arguments: [kind.rawValue, scope]) ?? 0
        }
    }
}

/// What a read transaction sees. It conforms to ``StoreReader`` only, and its connection is a read-only one.
private struct SQLiteReader: StoreReader {
    private let queries: SQLiteQueries

    init(db: Database) { queries = SQLiteQueries(db: db) }

    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try queries.record(kind, scope: scope, name: name)
    }

    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord] {
        try queries.records(kind, scope: scope, after: after, limit: limit)
    }

    func allRecords(_ kind: RecordKind) throws -> [StoredRecord] {
        try queries.allRecords(kind)
    }

    func count(_ kind: RecordKind, scope: String) throws -> Int {
        try queries.count(kind, scope: scope)
    }
}

/// What a write transaction sees: the reads, and the changes, all on the writer connection.
private struct SQLiteWriter: StoreWriter {
    private let db: Database
    private let queries: SQLiteQueries

    init(db: Database) {
        self.db = db
        queries = SQLiteQueries(db: db)
    }

    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try queries.record(kind, scope: scope, name: name)
    }

    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord] {
        try queries.records(kind, scope: scope, after: after, limit: limit)
    }

    func allRecords(_ kind: RecordKind) throws -> [StoredRecord] {
        try queries.allRecords(kind)
    }

    func count(_ kind: RecordKind, scope: String) throws -> Int {
        try queries.count(kind, scope: scope)
    }

    @discardableResult
    func put(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Int64 {
        try translatingErrors("writing \(kind) '\(scope)/\(name)'") {
            // Writes are serialised on the writer connection, so reading the version then writing is race-free.
            let current = try Int64.fetchOne(
                db.cachedStatement(sql: SQL.version), arguments: [kind.rawValue, scope, name])
            guard let current else {
                try db.cachedStatement(sql: SQL.insert).execute(arguments: [kind.rawValue, scope, name, document])
                return 1
            }
            let version = current + 1
            try db.cachedStatement(sql: SQL.update).execute(arguments: [document, version, kind.rawValue, scope, name])
            return version
        }
    }

    func insert(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Bool {
        try translatingErrors("creating \(kind) '\(scope)/\(name)'") {
            try db.cachedStatement(sql: SQL.insert).execute(arguments: [kind.rawValue, scope, name, document])
            return db.changesCount > 0
        }
    }

    @discardableResult
    func delete(_ kind: RecordKind, scope: String, name: String) throws -> Bool {
        try translatingErrors("deleting \(kind) '\(scope)/\(name)'") {
            try db.cachedStatement(sql: SQL.delete).execute(arguments: [kind.rawValue, scope, name])
            return db.changesCount > 0
        }
    }

    @discardableResult
    func deleteAll(_ kind: RecordKind, scope: String) throws -> Int {
        try translatingErrors("deleting every \(kind) in '\(scope)'") {
            try db.cachedStatement(sql: SQL.deleteAll).execute(arguments: [kind.rawValue, scope])
            return db.changesCount
        }
    }
}
