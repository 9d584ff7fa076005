import Crypto
import Foundation
import Store

/// Seals the secrets of access keys for storage: AES-256-GCM under a key kept in the data directory
/// (`secrets.key`, mode 0600), with the access key id as authenticated data so that a sealed secret cannot be
/// moved to another key's record. A copy of the database alone (a backup, a dump) reveals no secret.
///
/// SigV4 verification needs each secret itself (as AWS must), so secrets are sealed, not hashed.
public struct SecretSealer: Sendable {
    /// The prefix of a sealed value; what follows is the base64 of nonce, ciphertext and tag.
    static let prefix = "sealed-v1:"
    /// The key file's name in the data directory.
    public static let keyFileName = "secrets.key"

    private let key: SymmetricKey

    init(key: SymmetricKey) { self.key = key }

    /// The sealer of a data directory: its key file, created (32 random bytes, mode 0600) when missing.
    public static func loadOrCreate(dataDirectory: URL) throws -> SecretSealer {
        let file = dataDirectory.appendingPathComponent(keyFileName)
        if let data = FileManager.default.contents(atPath: file.path) {
            guard data.count == 32 else {
                throw ConfigurationError(
                    "\(file.path) is not a Slipway secrets key (it must be 32 bytes; it is \(data.count)). Restore it "
                        + "from a backup: without it the access keys in the database cannot be used.")
            }
            return SecretSealer(key: SymmetricKey(data: data))
        }
        try DataDirectory.prepare(dataDirectory)
        let key = SymmetricKey(size: .bits256)
        try SecretFile.write(key.withUnsafeBytes { Data($0) }, to: file)
        return SecretSealer(key: key)
    }

    /// Whether a stored value is sealed (rather than a plaintext secret of an earlier version).
    static func isSealed(_ value: String) -> Bool { value.hasPrefix(prefix) }

    /// The sealed form of `secret` for the key `accessKeyId`; a value sealed already is returned as it is.
    func seal(_ secret: String, accessKeyId: String) throws -> String {
        if Self.isSealed(secret) { return secret }
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data(accessKeyId.utf8))
        guard let combined = box.combined else { throw StoreError("sealing the secret of \(accessKeyId) failed") }
        return Self.prefix + combined.base64EncodedString()
    }

    /// The secret of a stored value: opened when sealed, as it is when it is a plaintext secret not sealed yet.
    func open(_ stored: String, accessKeyId: String) throws -> String {
        guard Self.isSealed(stored) else { return stored }
        guard let combined = Data(base64Encoded: String(stored.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Data(accessKeyId.utf8))
        else {
            throw StoreError(
                "the secret of access key \(accessKeyId) cannot be opened: the data directory's \(Self.keyFileName) "
                    + "is not the one it was sealed with (restore that file, or create a new key)")
        }
        return String(decoding: plain, as: UTF8.self)
    }

    /// `document` (an access key record) with its `secretAccessKey` member passed through `change`.
    fileprivate func rewrite(_ document: Data, _ change: (String, String) throws -> String) throws -> Data {
        guard var object = try? JSONSerialization.jsonObject(with: document) as? [String: Any],
            let secret = object["secretAccessKey"] as? String, let id = object["accessKeyId"] as? String
        else { return document }
        let changed = try change(secret, id)
        if changed == secret { return document }
        object["secretAccessKey"] = changed
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}

/// A store whose access key records hold sealed secrets: ``SecretSealer`` seals them as they are written and opens
/// them as they are read, so code above sees plaintext secrets and the database never holds one.
public struct SealingStore: Store {
    let base: any Store
    let sealer: SecretSealer

    public init(base: any Store, sealer: SecretSealer) {
        self.base = base
        self.sealer = sealer
    }

    public func read<T: Sendable>(_ body: @Sendable (any StoreReader) throws -> T) async throws -> T {
        try await base.read { try body(SealingReader(reads: $0, sealer: sealer)) }
    }

    @discardableResult
    public func write<T: Sendable>(_ body: @Sendable (any StoreWriter) throws -> T) async throws -> T {
        try await base.write { try body(SealingWriter(base: $0, sealer: sealer)) }
    }

    public func record(_ kind: RecordKind, scope: String, name: String) async throws -> StoredRecord? {
        try await base.record(kind, scope: scope, name: name).map { try sealer.opened($0) }
    }

    /// Seals the secrets that earlier versions stored in plaintext; returns how many it sealed.
    @discardableResult
    public func sealPlaintextSecrets() async throws -> Int {
        try await base.write { tx in
            var sealed = 0
            for record in try tx.allRecords(.accessKey) {
                let document = try sealer.rewrite(record.document) { try sealer.seal($0, accessKeyId: $1) }
                guard document != record.document else { continue }
                try tx.put(.accessKey, scope: record.scope, name: record.name, document: document)
                sealed += 1
            }
            return sealed
        }
    }
}

extension SecretSealer {
    fileprivate func opened(_ record: StoredRecord) throws -> StoredRecord {
        guard record.kind == .accessKey else { return record }
        let document = try rewrite(record.document) { try open($0, accessKeyId: $1) }
        return StoredRecord(
            kind: record.kind, scope: record.scope, name: record.name, document: document, version: record.version)
    }

    fileprivate func sealed(_ kind: RecordKind, _ document: Data) throws -> Data {
        guard kind == .accessKey else { return document }
        return try rewrite(document) { try seal($0, accessKeyId: $1) }
    }
}

/// The reads of a sealing transaction: access key records come back with their secrets opened.
private protocol SealingReads: StoreReader {
    var reads: any StoreReader { get }
    var sealer: SecretSealer { get }
}

extension SealingReads {
    func record(_ kind: RecordKind, scope: String, name: String) throws -> StoredRecord? {
        try reads.record(kind, scope: scope, name: name).map { try sealer.opened($0) }
    }

    func records(_ kind: RecordKind, scope: String, after: String?, limit: Int) throws -> [StoredRecord] {
        try reads.records(kind, scope: scope, after: after, limit: limit).map { try sealer.opened($0) }
    }

    func allRecords(_ kind: RecordKind) throws -> [StoredRecord] {
        try reads.allRecords(kind).map { try sealer.opened($0) }
    }

    func count(_ kind: RecordKind, scope: String) throws -> Int { try reads.count(kind, scope: scope) }
}

private struct SealingReader: SealingReads {
    let reads: any StoreReader
    let sealer: SecretSealer
}

/// The changes of a sealing transaction: access key records are written with their secrets sealed.
private struct SealingWriter: SealingReads, StoreWriter {
    let base: any StoreWriter
    let sealer: SecretSealer
    var reads: any StoreReader { base }

    @discardableResult
    func put(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Int64 {
        try base.put(kind, scope: scope, name: name, document: sealer.sealed(kind, document))
    }

    func insert(_ kind: RecordKind, scope: String, name: String, document: Data) throws -> Bool {
        try base.insert(kind, scope: scope, name: name, document: sealer.sealed(kind, document))
    }

    @discardableResult
    func delete(_ kind: RecordKind, scope: String, name: String) throws -> Bool {
        try base.delete(kind, scope: scope, name: name)
    }

    @discardableResult
    func deleteAll(_ kind: RecordKind, scope: String) throws -> Int { try base.deleteAll(kind, scope: scope) }
}
