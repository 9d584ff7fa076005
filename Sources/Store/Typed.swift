import Foundation
import SlipwayModel

/// Typed access to records: documents are the JSON of a Codable value, written with the AWS JSON rules so that a
/// stored shape reads back exactly as it was given.
extension StoreReader {
    public func get<Value: Decodable>(_ type: Value.Type, _ kind: RecordKind, scope: String = "", name: String) throws
        -> Value?
    {
        guard let stored = try record(kind, scope: scope, name: name) else { return nil }
        return try RecordCoding.decode(type, from: stored)
    }

    public func list<Value: Decodable>(
        _ type: Value.Type, _ kind: RecordKind, scope: String = "", after: String? = nil, limit: Int = .max
    ) throws -> [(name: String, value: Value)] {
        try records(kind, scope: scope, after: after, limit: limit).map {
            ($0.name, try RecordCoding.decode(type, from: $0))
        }
    }
}

extension StoreWriter {
    @discardableResult
    public func set<Value: Encodable>(_ value: Value, _ kind: RecordKind, scope: String = "", name: String) throws
        -> Int64
    {
        try put(kind, scope: scope, name: name, document: RecordCoding.encode(value))
    }

    public func create<Value: Encodable>(_ value: Value, _ kind: RecordKind, scope: String = "", name: String) throws
        -> Bool
    {
        try insert(kind, scope: scope, name: name, document: RecordCoding.encode(value))
    }
}

/// The documents of typed records: for callers that keep a decoded value beside the exact document it came from
/// (a cache that compares stored bytes instead of decoding them again).
public enum RecordCoding {
    /// The document `set` stores for `value`.
    public static func encode(_ value: some Encodable) throws -> Data {
        // The model's shapes write themselves; everything else goes through the shared coder, so that a write
        // transaction storing many records does not make a coder for each.
        if let writable = value as? any JSONWritable { return JSONOutput.encode(writable) }
        return try AWSJSON.encoder.encode(value)
    }

    /// The value of a stored document, as `get` reads it.
    public static func decode<Value: Decodable>(_ type: Value.Type, from record: StoredRecord) throws -> Value {
        do {
            // The model's shapes are made from the document read in one pass; other records use `JSONDecoder`.
            if let readable = type as? any JSONReadable.Type {
                return try readable.init(json: JSONReader.value(from: record.document)) as! Value
            }
            return try AWSJSON.decoder.decode(type, from: record.document)
        } catch {
            throw StoreError(
                "the stored \(record.kind) '\(record.scope)/\(record.name)' cannot be read as \(type): \(error)")
        }
    }
}
