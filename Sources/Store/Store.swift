import Foundation

/// The kinds of record Slipway keeps. Each kind is a collection of JSON documents addressed by (scope, name).
///
/// The scope groups records that belong to a parent (the application of a deployment group, say); it is the empty
/// string for top-level records. Names are unique within (kind, scope) and listed in byte order of their UTF-8
/// form, which is what makes `nextToken` pagination stable.
public struct RecordKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Access keys by access key id (scope "").
    public static let accessKey = RecordKind(rawValue: "accessKey")
    /// Applications by name (scope "").
    public static let application = RecordKind(rawValue: "application")
    /// Custom deployment configurations by name (scope ""); the predefined ones live in code.
    public static let deploymentConfig = RecordKind(rawValue: "deploymentConfig")
    /// Deployment groups by name (scope: application name).
    public static let deploymentGroup = RecordKind(rawValue: "deploymentGroup")
    /// Registered revisions (scope: application name; name: a canonical key of the revision location).
    public static let revision = RecordKind(rawValue: "revision")
    /// On-premises instances by name (scope "").
    public static let instance = RecordKind(rawValue: "instance")
    /// Tags of a resource (scope "", name: the resource ARN).
    public static let resourceTags = RecordKind(rawValue: "resourceTags")
    /// Server-wide settings and secrets (scope "").
    public static let setting = RecordKind(rawValue: "setting")
}

/// A record as stored: its address, its JSON document and a version that grows with every write to it.
public struct StoredRecord: Hashable, Sendable {
    public let kind: RecordKind
    public let scope: String
    public let name: String
    public let document: Data
    /// 1 for a new record, one more on every `put` that replaces it.
    public let version: Int64

    public init(kind: RecordKind, scope: String, name: String, document: Data, version: Int64) {
        self.kind = kind
        self.scope = scope
        self.name = name
        self.document = document
        self.version = version
    }
}

/// What a transaction can read.
///
/// Transactions are synchronous bodies: they hold no locks across suspension points, and a backend runs them on
/// its own executor (the SQLite backend on GRDB's writer queue; a PostgreSQL backend on a thread of its own).
public protocol StoreReader {
    /// The record at (kind, scope, name), or nil.
    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord?

    /// Up to `limit` records of (kind, scope) whose names sort after `after` (all when nil), in name order.
    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord]

    /// Every record of a kind across all scopes, ordered by scope then name. For small kinds only.
    func allRecords(_ kind: RecordKind) throws -> [StoredRecord]

    /// How many records (kind, scope) has.
    func count(_ kind: RecordKind, scope: String) throws -> Int
}

/// What a write transaction can change, on top of reading.
public protocol StoreWriter: StoreReader {
    /// Creates or replaces the record and returns its new version.
    @discardableResult
    func put(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Int64

    /// Creates the record only if none exists; returns false (and changes nothing) if one does.
    func insert(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Bool

    /// Removes the record; returns whether it existed.
    @discardableResult
    func delete(_ kind: RecordKind, scope: String, name: String) throws -> Bool

    /// Removes every record of (kind, scope); returns how many there were.
    @discardableResult
    func deleteAll(_ kind: RecordKind, scope: String) throws -> Int
}

/// Slipway's persistence. Every write is one transaction: all of the body's changes are kept, or none (when the
/// body throws, nothing it did is visible to anyone). Handlers never see SQL.
public protocol Store: Sendable {
    /// Runs `body` against a consistent snapshot.
    func read<T: Sendable>(_ body: @Sendable (any StoreReader) throws -> T) async throws -> T

    /// Runs `body` in a write transaction; writes are serialised.
    @discardableResult
    func write<T: Sendable>(_ body: @Sendable (any StoreWriter) throws -> T) async throws -> T

    /// One record, or nil: a read of a single statement, which needs no transaction to see one snapshot.
    func record(_ kind: RecordKind, scope: String, name: String) async throws -> StoredRecord?
}

extension Store {
    /// The record in a read transaction; a backend overrides this where a lone query costs less.
    public func record(_ kind: RecordKind, scope: String, name: String) async throws -> StoredRecord? {
        try await read { try $0.record(kind, scope: scope, name: name) }
    }
}

/// A failure of the store itself (not of the caller's logic): the database could not be opened, is corrupt, or is
/// from a newer Slipway.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
