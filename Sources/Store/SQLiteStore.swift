import Foundation
import GRDB
import GRDBSQLite
import Metrics
import Synchronization

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
    private let writes = WriteQueue()
    private let readers: ReaderConnections

    /// Opens the database at `path`, creating the file and its parent directory if missing, and brings its schema
    /// up to date.
    ///
    /// - Throws: ``StoreError`` when the directory cannot be created, the file cannot be opened as a database, or
    ///   the database was migrated by a newer Slipway.
    public convenience init(path: String) throws {
        try self.init(path: path, appendingMigrations: [])
    }

    /// Opens the database at `path` with extra migrations, which do nothing, registered after the known ones, or
    /// migrated only up to the migration `lastMigration`.
    ///
    /// Tests use it to play a newer Slipway (a database opened this way has migrations the plain ``init(path:)``
    /// does not know) or an older one.
    package init(path: String, appendingMigrations extraMigrations: [String], upTo lastMigration: String? = nil) throws
    {
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
            // Writes committed together each run in a savepoint, whose undo log (the statement journal) SQLite
            // moves to a temporary file once it passes 64 KiB; a batch's changes fit in memory.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
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
            if let lastMigration {
                try migrator.migrate(pool, upTo: lastMigration)
            } else {
                try migrator.migrate(pool)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("cannot migrate the store database '\(path)': \(Self.describe(error))")
        }
        self.pool = pool
        var readerConfiguration = configuration
        readerConfiguration.readonly = true
        readerConfiguration.label = "Slipway store reader"
        self.readers = ReaderConnections(path: path, configuration: readerConfiguration)
    }

    /// Closes the database. Reads and writes started afterwards fail with a ``StoreError``.
    ///
    /// Closing is optional: the database is also closed when the store is deinitialised.
    public func close() throws {
        do {
            try readers.close()
            try pool.close()
        } catch {
            throw StoreError("cannot close the store database '\(path)': \(Self.describe(error))")
        }
    }

    /// Runs `body` in a read-only transaction on one of the store's reader connections (``ReaderConnections``).
    ///
    /// The transaction runs on the calling thread. GRDB's async `read` would hand it to a reader's dispatch queue
    /// and back, two thread wake-ups for what is mostly a single key lookup; a store read is short local CPU work
    /// like the rest of a request's, and a reader in WAL mode never waits for the writer.
    public func read<T: Sendable>(_ body: @Sendable (any StoreReader) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer { StoreMetrics.read.record(duration: ContinuousClock.now - started) }
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
    ///
    /// Writes that queue up while the writer is busy are committed together (group commit): each body runs in
    /// its own savepoint, in the order the writes arrived, so a body that throws rolls back only its own changes
    /// and a later body sees what the earlier ones wrote, as if each had committed alone. A caller returns only
    /// after the commit that holds its changes. Under load this replaces a COMMIT and a WAL write of the same
    /// pages per write with one per batch.
    public func write<T: Sendable>(_ body: @Sendable (any StoreWriter) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer { StoreMetrics.write.record(duration: ContinuousClock.now - started) }
        do {
            // The body is kept only until the writer has run it, which happens before this call returns.
            return try await withoutActuallyEscaping(body) { body in
                try await withCheckedThrowingContinuation { continuation in
                    writes.enqueue(QueuedWrite(body: body, continuation: continuation), on: pool)
                }
            }
        } catch let error as DatabaseError {
            throw StoreError("writing the store database '\(path)' failed: \(Self.describe(error))")
        }
    }

    /// One record, read outside a transaction: a single SELECT sees one snapshot by itself, so it needs no BEGIN and
    /// COMMIT around it.
    public func record(_ kind: RecordKind, scope: String, name: String) async throws -> StoredRecord? {
        do {
            return try recordHere(kind, scope: scope, name: name)
        } catch let error as DatabaseError {
            throw StoreError("reading the store database '\(path)' failed: \(Self.describe(error))")
        }
    }

    // These run on the calling thread: a reader connection is used in place, with no hop to a queue.
    private func recordHere(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try readers.withConnection { db in try SQLiteQueries(db: db).record(kind, scope: scope, name: name) }
    }

    private func readHere<T>(_ body: (any StoreReader) throws -> T) throws -> T {
        try readers.withConnection { db in
            // One snapshot for every statement of the body, as GRDB's `read` gives, with BEGIN and COMMIT prepared
            // once per connection instead of on every read.
            try db.cachedStatement(sql: "BEGIN DEFERRED TRANSACTION").execute()
            defer {
                try? db.cachedStatement(sql: "COMMIT").execute()
                if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
            }
            return try body(SQLiteReader(db: db))
        }
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

/// Read-only connections to the database, for reads on the calling thread: a reader is taken from the idle ones
/// (or opened), used, and put back.
///
/// GRDB's `DatabasePool` has readers of its own, but its checkout instantiates a key path on every call, which was
/// 4.5 % of the server's CPU in a batch read of ten deployment groups; a lock and an array do the same job here.
/// They are the same kind of connection as the pool's readers: read-only, in WAL mode beside the one writer.
private final class ReaderConnections: Sendable {
    /// Idle readers kept at most; more are opened while more threads read at once, and closed when put back.
    static let idleLimit = 8

    private struct State {
        var idle: [DatabaseQueue] = []
        var closed = false
    }

    private let path: String
    private let configuration: Configuration
    private let state = Mutex(State())

    init(path: String, configuration: Configuration) {
        self.path = path
        self.configuration = configuration
    }

    func withConnection<T>(_ body: (Database) throws -> T) throws -> T {
        let idle = state.withLock { state -> (reader: DatabaseQueue?, closed: Bool) in
            (state.closed ? nil : state.idle.popLast(), state.closed)
        }
        if idle.closed { throw StoreError("the store database '\(path)' is closed") }
        let reader = try idle.reader ?? DatabaseQueue(path: path, configuration: configuration)
        defer {
            let surplus = state.withLock { state -> DatabaseQueue? in
                guard !state.closed, state.idle.count < Self.idleLimit else { return reader }
                state.idle.append(reader)
                return nil
            }
            try? surplus?.close()
        }
        return try reader.inDatabase(body)
    }

    func close() throws {
        let readers = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for reader in readers { try reader.close() }
    }
}

/// Writes waiting for the writer connection, and whether a drain of them is scheduled on it.
private final class WriteQueue: Sendable {
    /// The most writes committed together: a batch holds the write lock while all its bodies run.
    static let batchLimit = 64

    private struct State {
        var waiting: [any PendingWrite] = []
        var draining = false
    }

    private let state = Mutex(State())

    func enqueue(_ write: any PendingWrite, on pool: DatabasePool) {
        let startDrain = state.withLock { state in
            state.waiting.append(write)
            defer { state.draining = true }
            return !state.draining
        }
        if startDrain {
            pool.asyncWriteWithoutTransaction { db in self.drain(db) }
        }
    }

    /// Commits batches of waiting writes until none is left.
    private func drain(_ db: Database) {
        while true {
            let batch = state.withLock { state -> [any PendingWrite] in
                let batch = Array(state.waiting.prefix(Self.batchLimit))
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            commit(batch, db)
        }
    }

    private func commit(_ batch: [any PendingWrite], _ db: Database) {
        var ran = 0
        do {
            try db.inTransaction(.immediate) {
                if batch.count == 1 {
                    // Alone, the write needs no savepoint: the transaction is rolled back when its body throws.
                    ran = 1
                    return batch[0].run(db, inSavepoint: false) ? .commit : .rollback
                }
                for write in batch {
                    // An error SQLite answers by rolling back the whole transaction (a full disk, an I/O error)
                    // ends the batch: what ran is lost, and what did not run must not run outside a transaction.
                    guard db.isInsideTransaction else { break }
                    _ = write.run(db, inSavepoint: true)
                    ran += 1
                }
                guard db.isInsideTransaction else {
                    throw StoreError("SQLite rolled back a transaction of \(batch.count) writes after an error")
                }
                return .commit
            }
            for write in batch[..<ran] { write.finish(committing: nil) }
        } catch {
            for write in batch[..<ran] { write.finish(committing: error) }
        }
        for write in batch[ran...] {
            write.finish(committing: StoreError("the write was not run: an earlier write of its batch failed"))
        }
    }
}

/// A write waiting for the writer connection.
private protocol PendingWrite: AnyObject, Sendable {
    /// Runs the body in the open transaction (in a savepoint of its own when asked) and keeps its outcome;
    /// false when it threw, and its changes were rolled back.
    func run(_ db: Database, inSavepoint: Bool) -> Bool
    /// Hands the outcome to the caller once the transaction has ended; `error` is the commit's.
    func finish(committing error: (any Error)?)
}

/// One caller's write: its body, and the continuation its caller waits on.
private final class QueuedWrite<T: Sendable>: PendingWrite, @unchecked Sendable {
    // Safety: the writer's queue is the only thread that touches `body` and `outcome` after initialisation.
    private var body: (@Sendable (any StoreWriter) throws -> T)?
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?

    init(body: @escaping @Sendable (any StoreWriter) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ db: Database, inSavepoint: Bool) -> Bool {
        guard let body else { return false }
        self.body = nil  // the caller's closure must not outlive its call
        do {
            if inSavepoint {
                // Prepared once per connection (`Database.inSavepoint` compiles its statements on every call).
                try db.cachedStatement(sql: "SAVEPOINT slipway_write").execute()
                do {
                    outcome = .success(try body(SQLiteWriter(db: db)))
                    try db.cachedStatement(sql: "RELEASE SAVEPOINT slipway_write").execute()
                } catch {
                    // Undo this body's changes only; the batch's transaction goes on (unless SQLite ended it).
                    if db.isInsideTransaction {
                        try? db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT slipway_write").execute()
                        try? db.cachedStatement(sql: "RELEASE SAVEPOINT slipway_write").execute()
                    }
                    throw error
                }
            } else {
                outcome = .success(try body(SQLiteWriter(db: db)))
            }
            return true
        } catch {
            outcome = .failure(error)
            return false
        }
    }

    func finish(committing error: (any Error)?) {
        body = nil
        switch (outcome, error) {
        case (.failure(let own)?, _): continuation.resume(throwing: own)
        case (_, let commit?): continuation.resume(throwing: commit)
        case (.success(let value)?, nil): continuation.resume(returning: value)
        case (nil, nil): continuation.resume(throwing: StoreError("the write was not run"))
        }
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
        // A WITHOUT ROWID table keeps each row in its primary key's b-tree, where a row longer than about a
        // quarter of a page spills into overflow pages; a deployment's hosts and record (about 2 KB each) are
        // rewritten on every command, and each write then changed two or three pages. A rowid table holds such a
        // row in its leaf page, and the unique index on the key is not touched when only the document changes.
        migrator.registerMigration("v2: records in a rowid table") { db in
            try db.execute(
                sql: """
                    CREATE TABLE records_v2 (
                        id INTEGER PRIMARY KEY,
                        kind TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        name TEXT NOT NULL,
                        document BLOB NOT NULL,
                        version INTEGER NOT NULL,
                        UNIQUE (kind, scope, name)
                    );
                    INSERT INTO records_v2 (kind, scope, name, document, version)
                        SELECT kind, scope, name, document, version FROM records ORDER BY kind, scope, name;
                    DROP TABLE records;
                    ALTER TABLE records_v2 RENAME TO records;
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
    static let insert = """
        INSERT INTO records (kind, scope, name, document, version) VALUES (?, ?, ?, ?, 1)
        ON CONFLICT (kind, scope, name) DO NOTHING
        """
    /// Needs SQLite 3.35 (RETURNING); Debian 12 has 3.40.
    static let upsert = """
        INSERT INTO records (kind, scope, name, document, version) VALUES (?, ?, ?, ?, 1)
        ON CONFLICT (kind, scope, name) DO UPDATE SET document = excluded.document, version = records.version + 1
        RETURNING version
        """
    static let delete = "DELETE FROM records WHERE kind = ? AND scope = ? AND name = ?"
    static let deleteAll = "DELETE FROM records WHERE kind = ? AND scope = ?"
}

/// SQLite copies a value bound with this destructor before the bind call returns.
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Runs `operation`, turning SQLite's errors into ``StoreError`` so that transaction bodies never see GRDB types.
private func translatingErrors<T>(_ what: @autoclosure () -> String, _ operation: () throws -> T) throws -> T {
    do {
        return try operation()
    } catch let error as DatabaseError {
        throw StoreError("\(what()) failed: \(SQLiteStore.describe(error))")
    }
}

/// A value bound to a statement's parameter.
private enum Bound {
    case text(String)
    case blob(Data)
    case integer(Int64)
}

/// The reads shared by ``SQLiteReader`` and ``SQLiteWriter``, and the statement plumbing of both.
///
/// Statements are GRDB's, prepared once per connection; they are bound, stepped and read with SQLite's C API.
/// Text is bound and read with its length in bytes, never as a C string: a name holding a NUL must stay a
/// different name from its prefix, or a record could be reached (and an authorization decision sidestepped)
/// under a name the caller was never allowed. A key lookup is also most of the store work of a request, so it does
/// without GRDB's argument boxing and `Row`.
private struct SQLiteQueries {
    let db: Database

    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try translatingErrors("reading \(kind) '\(scope)/\(name)'") {
            let statement = try db.cachedStatement(sql: SQL.record).sqliteStatement
            sqlite3_reset(statement)
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            try bind(kind.rawValue, at: 1, in: statement)
            try bind(scope, at: 2, in: statement)
            try bind(name, at: 3, in: statement)
            guard try step(statement) else { return nil }
            return StoredRecord(
                kind: kind, scope: scope, name: name, document: Self.blob(statement, 0),
                version: sqlite3_column_int64(statement, 1))
        }
    }

    /// Runs `sql` with `parameters` bound in order, calling `row` for each result row.
    func run(_ sql: String, _ parameters: [Bound], row: (SQLiteStatement) throws -> Void = { _ in }) throws {
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(statement)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, parameter) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch parameter {
            case .text(let text):
                try bind(text, at: index, in: statement)
                continue
            case .blob(let data):
                code = data.withUnsafeBytes { bytes in
                    // A nil base address (empty data) would bind NULL; an empty blob is a zero-length blob.
                    sqlite3_bind_blob64(
                        statement, index, bytes.baseAddress ?? UnsafeRawPointer(Self.emptyText), UInt64(bytes.count),
                        SQLITE_TRANSIENT)
                }
            case .integer(let value):
                code = sqlite3_bind_int64(statement, index, value)
            }
            guard code == SQLITE_OK else { throw failure(code) }
        }
        while try step(statement) { try row(statement) }
    }

    /// Binds `text` with its UTF-8 length, so that every byte, NUL included, is part of the value.
    private func bind(_ text: String, at index: Int32, in statement: SQLiteStatement) throws {
        var text = text
        let code = text.withUTF8 { bytes in
            // An empty buffer may have no address, and a null pointer binds NULL rather than "".
            bytes.withMemoryRebound(to: CChar.self) { chars in
                sqlite3_bind_text64(
                    statement, index, chars.baseAddress ?? Self.emptyText, UInt64(chars.count), SQLITE_TRANSIENT,
                    UInt8(SQLITE_UTF8))
            }
        }
        guard code == SQLITE_OK else { throw failure(code) }
    }

    /// A pointer to zero bytes for empty values, which may come with no address of their own.
    private static var emptyText: UnsafePointer<CChar> {
        let empty: StaticString = ""
        return UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// Steps `statement`: true for a row, false when done.
    private func step(_ statement: SQLiteStatement) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw failure(code)
        }
    }

    /// The text of a column, read with its length in bytes.
    static func text(_ statement: SQLiteStatement, _ column: Int32) -> String {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard let bytes = sqlite3_column_text(statement, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The bytes of a column.
    static func blob(_ statement: SQLiteStatement, _ column: Int32) -> Data {
        let count = Int(sqlite3_column_bytes(statement, column))
        return sqlite3_column_blob(statement, column).map { Data(bytes: $0, count: count) } ?? Data()
    }

    /// SQLite's error for `code` on this connection, as GRDB reports its own.
    private func failure(_ code: Int32) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }

    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord] {
        guard limit > 0 else { return [] }
        return try translatingErrors("listing \(kind) in '\(scope)'") {
            // SQLite's LIMIT is a 64-bit integer; `Int.max` fits on every platform Slipway runs on.
            let sqlLimit = Bound.integer(Int64(clamping: limit))
            var result: [StoredRecord] = []
            let (sql, parameters): (String, [Bound]) =
                if let after {
                    (SQL.recordsAfter, [.text(kind.rawValue), .text(scope), .text(after), sqlLimit])
                } else {
                    (SQL.recordsFromStart, [.text(kind.rawValue), .text(scope), sqlLimit])
                }
            try run(sql, parameters) { row in
                result.append(
                    StoredRecord(
                        kind: kind, scope: scope, name: Self.text(row, 0), document: Self.blob(row, 1),
                        version: sqlite3_column_int64(row, 2)))
            }
            return result
        }
    }

    func allRecords(_ kind: RecordKind) throws -> [StoredRecord] {
        try translatingErrors("listing every \(kind)") {
            var result: [StoredRecord] = []
            try run(SQL.allRecords, [.text(kind.rawValue)]) { row in
                result.append(
                    StoredRecord(
                        kind: kind, scope: Self.text(row, 0), name: Self.text(row, 1), document: Self.blob(row, 2),
                        version: sqlite3_column_int64(row, 3)))
            }
            return result
        }
    }

    func count(_ kind: RecordKind, scope: String) throws -> Int {
        try translatingErrors("counting \(kind) in '\(scope)'") {
            var count: Int64 = 0
            try run(SQL.count, [.text(kind.rawValue), .text(scope)]) { count = sqlite3_column_int64($0, 0) }
            return Int(clamping: count)
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
            // One statement finds the row once, where reading the version and then writing looked it up twice.
            var version: Int64?
            try queries.run(SQL.upsert, [.text(kind.rawValue), .text(scope), .text(name), .blob(document)]) {
                version = sqlite3_column_int64($0, 0)
            }
            guard let version else { throw StoreError("writing \(kind) '\(scope)/\(name)' returned no version") }
            return version
        }
    }

    func insert(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Bool {
        try translatingErrors("creating \(kind) '\(scope)/\(name)'") {
            try queries.run(SQL.insert, [.text(kind.rawValue), .text(scope), .text(name), .blob(document)])
            return db.changesCount > 0
        }
    }

    @discardableResult
    func delete(_ kind: RecordKind, scope: String, name: String) throws -> Bool {
        try translatingErrors("deleting \(kind) '\(scope)/\(name)'") {
            try queries.run(SQL.delete, [.text(kind.rawValue), .text(scope), .text(name)])
            return db.changesCount > 0
        }
    }

    @discardableResult
    func deleteAll(_ kind: RecordKind, scope: String) throws -> Int {
        try translatingErrors("deleting every \(kind) in '\(scope)'") {
            try queries.run(SQL.deleteAll, [.text(kind.rawValue), .text(scope)])
            return db.changesCount
        }
    }
}

/// The store's series: how long transactions take, from the call to the commit (a write's wait in the group commit
/// included).
package enum StoreMetrics {
    package static let transactionDuration = "slipway_store_transaction_seconds"
    /// Made once: a timer looked up for every transaction would cost a registry lookup each time.
    static let read = Timer(label: transactionDuration, dimensions: [("kind", "read")])
    static let write = Timer(label: transactionDuration, dimensions: [("kind", "write")])
}
