import Foundation

/// A value that writes itself as AWS JSON 1.1 text: the model's shapes (their writers are generated), their
/// enums, and the scalar types they are made of.
///
/// The writers give the same document as ``AWSJSON/encoder`` (absent optionals left out, timestamps as epoch
/// seconds to the millisecond, blobs as base64, `/` not escaped) without going through `Encodable`: they run for
/// every response, and do without `JSONEncoder`'s keyed containers and the generic metadata those look up.
/// `Encodable` stays for everything else.
public protocol JSONWritable {
    func writeJSON(to output: inout JSONOutput)
}

/// JSON text being written, as UTF-8 bytes.
///
/// Its methods are inlinable so that the writers of other modules (the engine's, the server's records) are
/// specialised for their member types: called as generic functions across a module boundary, they would look up
/// each member's `Optional` type metadata at run time.
public struct JSONOutput {
    @usableFromInline var storage: [UInt8] = []

    /// The text written so far, as UTF-8.
    public var bytes: [UInt8] { storage }

    @inlinable
    public init(capacity: Int = 512) { storage.reserveCapacity(capacity) }

    /// The text written so far.
    public var data: Data { Data(storage) }

    /// Writes `value` as a JSON document.
    @inlinable
    public static func encode(_ value: some JSONWritable) -> Data {
        var output = JSONOutput()
        value.writeJSON(to: &output)
        return output.data
    }

    // MARK: Objects

    /// Opens an object; pass the returned state to ``member(_:_:in:)`` and ``endObject(_:)``.
    @inlinable
    public mutating func beginObject() -> ObjectState {
        storage.append(UInt8(ascii: "{"))
        return ObjectState()
    }

    /// Writes the member `name` (a literal needing no escapes: the model's member names) when `value` is present.
    @inlinable
    public mutating func member<Value: JSONWritable>(
        _ name: StaticString, _ value: Value?, in object: inout ObjectState
    ) {
        guard let value else { return }
        writeName(name, in: &object)
        value.writeJSON(to: &self)
    }

    /// Writes the member `name` whose value is already JSON text.
    @inlinable
    public mutating func member(_ name: StaticString, rawJSON: some Sequence<UInt8>, in object: inout ObjectState) {
        writeName(name, in: &object)
        storage.append(contentsOf: rawJSON)
    }

    @inlinable
    public mutating func endObject(_ object: ObjectState) {
        storage.append(UInt8(ascii: "}"))
    }

    @inlinable @usableFromInline
    mutating func writeName(_ name: StaticString, in object: inout ObjectState) {
        if object.hasMembers { storage.append(UInt8(ascii: ",")) }
        object.hasMembers = true
        storage.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { storage.append(contentsOf: $0) }
        storage.append(UInt8(ascii: "\""))
        storage.append(UInt8(ascii: ":"))
    }

    /// Whether an open object has a member yet (a comma goes before the next one).
    public struct ObjectState {
        @usableFromInline var hasMembers = false

        @inlinable init() {}
    }

    // MARK: Scalars

    @inlinable
    public mutating func writeRaw(_ text: StaticString) {
        text.withUTF8Buffer { storage.append(contentsOf: $0) }
    }

    /// Writes a string with JSON's escapes: quote, backslash and control characters; `/` and non-ASCII as they are.
    @inlinable
    public mutating func writeString(_ string: String) {
        storage.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                storage.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                storage.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): storage.append(byte)
                case 0x0A: storage.append(UInt8(ascii: "n"))
                case 0x0D: storage.append(UInt8(ascii: "r"))
                case 0x09: storage.append(UInt8(ascii: "t"))
                case 0x08: storage.append(UInt8(ascii: "b"))
                case 0x0C: storage.append(UInt8(ascii: "f"))
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    storage.append(contentsOf: [
                        UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                    ])
                }
            }
            storage.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        storage.append(UInt8(ascii: "\""))
    }

    @inlinable
    public mutating func writeInteger<Integer: BinaryInteger>(_ value: Integer) {
        storage.append(contentsOf: String(value).utf8)
    }

    /// Writes a finite number as Swift's shortest round-tripping form; JSON has no form for NaN or infinity, which
    /// are written as `null`.
    @inlinable
    public mutating func writeDouble(_ value: Double) {
        guard value.isFinite else { return writeRaw("null") }
        if value == value.rounded(.towardZero), abs(value) < 1e15 {
            writeInteger(Int64(value))
        } else {
            storage.append(contentsOf: value.description.utf8)
        }
    }
}

extension String: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeString(self) }
}

extension Bool: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeRaw(self ? "true" : "false") }
}

extension Int: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeInteger(self) }
}

extension Int64: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeInteger(self) }
}

extension Double: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeDouble(self) }
}

extension Date: JSONWritable {
    /// Epoch seconds to the millisecond, as ``AWSJSON/epochSeconds(_:)``.
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeDouble(AWSJSON.epochSeconds(self)) }
}

extension Data: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeString(base64EncodedString()) }
}

extension Array: JSONWritable where Element: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) {
        output.writeRaw("[")
        for (index, element) in enumerated() {
            if index > 0 { output.writeRaw(",") }
            element.writeJSON(to: &output)
        }
        output.writeRaw("]")
    }
}

extension Dictionary: JSONWritable where Key: JSONMapKey, Value: JSONWritable {
    /// Members in key order, so that the same map always gives the same text.
    @inlinable public func writeJSON(to output: inout JSONOutput) {
        output.writeRaw("{")
        for (index, (key, value)) in sorted(by: { $0.key.jsonKey < $1.key.jsonKey }).enumerated() {
            if index > 0 { output.writeRaw(",") }
            output.writeString(key.jsonKey)
            output.writeRaw(":")
            value.writeJSON(to: &output)
        }
        output.writeRaw("}")
    }
}

extension LifecycleEvent: JSONWritable {
    @inlinable public func writeJSON(to output: inout JSONOutput) { output.writeString(rawValue) }
}
