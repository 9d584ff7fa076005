import Foundation

/// A value made from a ``JSONValue`` that ``JSONReader`` has read: the model's shapes (generated), their enums,
/// and their scalars. The counterpart of ``JSONWritable``, with ``AWSJSON/decoder``'s rules: timestamps are epoch
/// seconds, blobs base64, `null` and absent members the same; integers must be whole and in range.
///
/// A request's body is read once into a `JSONValue` to be checked against the model; the typed input is made from
/// that value, so the text is not decoded a second time with `JSONDecoder`.
public protocol JSONReadable {
    init(json: JSONValue) throws(JSONTypeMismatch)
}

/// A JSON value of another type than the shape wants.
public struct JSONTypeMismatch: Error, Hashable, Sendable, CustomStringConvertible {
    /// The member path, like `deploymentGroupInfo.alarmConfiguration.alarms[0]`.
    public var path: String
    public var expected: String
    public var found: String

    public init(expected: String, found: JSONValue) {
        self.path = ""
        self.expected = expected
        self.found = found.typeName
    }

    public var description: String {
        "expected \(expected) but found \(found)" + (path.isEmpty ? "" : " at \(path)")
    }

    fileprivate func inside(_ step: String) -> JSONTypeMismatch {
        var copy = self
        copy.path = path.isEmpty ? step : (path.hasPrefix("[") ? step + path : step + "." + path)
        return copy
    }
}

/// The members of a JSON object, for the generated initialisers.
public struct JSONMembers {
    private let members: [String: JSONValue]

    public init(_ value: JSONValue, of type: Any.Type) throws(JSONTypeMismatch) {
        guard case .object(let members) = value else {
            throw JSONTypeMismatch(expected: "an object (\(type))", found: value)
        }
        self.members = members
    }

    /// The member `name`, which must be present (for records whose `Codable` form requires it).
    public func required<Value: JSONReadable>(_ name: String) throws(JSONTypeMismatch) -> Value {
        guard let value: Value = try value(name) else {
            throw JSONTypeMismatch(expected: "a value", found: .null).inside(name)
        }
        return value
    }

    /// The member `name`: nil when absent or `null`.
    public func value<Value: JSONReadable>(_ name: String) throws(JSONTypeMismatch) -> Value? {
        guard let json = members[name] else { return nil }
        if case .null = json { return nil }
        do {
            return try Value(json: json)
        } catch {
            throw error.inside(name)
        }
    }
}

extension String: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .string(let value) = json else { throw JSONTypeMismatch(expected: "a string", found: json) }
        self = value
    }
}

extension Bool: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .bool(let value) = json else { throw JSONTypeMismatch(expected: "a boolean", found: json) }
        self = value
    }
}

extension Double: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .number(let value) = json else { throw JSONTypeMismatch(expected: "a number", found: json) }
        self = value
    }
}

extension Int: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) { self = try wholeNumber(json) }
}

extension Int64: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) { self = try wholeNumber(json) }
}

/// A number that is whole and fits `Integer`.
private func wholeNumber<Integer: BinaryInteger>(_ json: JSONValue) throws(JSONTypeMismatch) -> Integer {
    guard case .number(let number) = json, let value = Integer(exactly: number) else {
        throw JSONTypeMismatch(expected: "a whole number", found: json)
    }
    return value
}

extension Date: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .number(let seconds) = json else {
            throw JSONTypeMismatch(expected: "a timestamp in epoch seconds", found: json)
        }
        self = Date(timeIntervalSince1970: seconds)
    }
}

extension Data: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .string(let text) = json, let value = Data(base64Encoded: text) else {
            throw JSONTypeMismatch(expected: "base64 text", found: json)
        }
        self = value
    }
}

extension Array: JSONReadable where Element: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .array(let values) = json else { throw JSONTypeMismatch(expected: "a list", found: json) }
        var elements: [Element] = []
        elements.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            do {
                elements.append(try Element(json: value))
            } catch {
                throw error.inside("[\(index)]")
            }
        }
        self = elements
    }
}

/// A map key: a string, or a string enum of the model (`ListDeploymentTargets` filters by `TargetFilterName`).
/// Such maps are JSON objects on the wire; `Codable` would write a map with a non-`String` key as a list.
public protocol JSONMapKey: Hashable {
    init(jsonKey: String)
    var jsonKey: String { get }
}

extension String: JSONMapKey {
    public init(jsonKey: String) { self = jsonKey }
    public var jsonKey: String { self }
}

extension Dictionary: JSONReadable where Key: JSONMapKey, Value: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .object(let members) = json else { throw JSONTypeMismatch(expected: "a map", found: json) }
        var map: [Key: Value] = [:]
        map.reserveCapacity(members.count)
        for (key, value) in members {
            do {
                map[Key(jsonKey: key)] = try Value(json: value)
            } catch {
                throw error.inside(key)
            }
        }
        self = map
    }
}
