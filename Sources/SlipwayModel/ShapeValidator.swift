import Foundation

/// One way in which a request breaks its model: a wrong JSON type, a missing required member, or a constraint.
public struct ShapeViolation: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The value has the wrong JSON type; AWS answers these with `SerializationException`.
        case wrongType(expected: String, found: String)
        /// A member the model requires is absent (or null).
        case missingRequired
        /// A string, list or map is shorter than the model's minimum length.
        case tooShort(minimum: Int64)
        /// A string, list or map is longer than the model's maximum length.
        case tooLong(maximum: Int64)
        /// A number is below the model's minimum value.
        case belowMinimum(Int64)
        /// A number is above the model's maximum value.
        case aboveMaximum(Int64)
        /// A string does not match the model's pattern.
        case patternMismatch(String)
        /// A string is not one of the enum's values.
        case notInEnum([String])
    }

    /// Where the violation is, e.g. `ec2TagFilters[0].Key`; empty for the document itself.
    public let path: String
    /// The structure member the violation is about (the last member name of `path`), if any.
    public let member: String?
    public let kind: Kind

    public init(path: String, member: String?, kind: Kind) {
        self.path = path
        self.member = member
        self.kind = kind
    }

    /// Whether the violation is one of JSON types (AWS: `SerializationException`) rather than of constraints.
    public var isSerializationError: Bool {
        if case .wrongType = kind { return true }
        return false
    }

    public var description: String {
        let place = path.isEmpty ? "The request" : "'\(path)'"
        switch kind {
        case .wrongType(let expected, let found):
            return "\(place) must be \(expected), but it is \(found)."
        case .missingRequired:
            return "\(place) is required but was not given."
        case .tooShort(let minimum):
            return "\(place) must have a length of at least \(minimum)."
        case .tooLong(let maximum):
            return "\(place) must have a length of at most \(maximum)."
        case .belowMinimum(let minimum):
            return "\(place) must be at least \(minimum)."
        case .aboveMaximum(let maximum):
            return "\(place) must be at most \(maximum)."
        case .patternMismatch(let pattern):
            return "\(place) must match the pattern \(pattern)."
        case .notInEnum(let values):
            return "\(place) must be one of: \(values.joined(separator: ", "))."
        }
    }
}

/// Checks a JSON document against a shape of a model schema: JSON types, required members, lengths, ranges,
/// patterns and enum values. Members the model does not know are ignored, as AWS services do.
public struct ShapeValidator: Sendable {
    public let schema: ShapeSchema.Table

    public init(schema: ShapeSchema.Table) {
        self.schema = schema
    }

    /// Every violation of `value` against the shape named `shapeName`, in document order.
    public func violations(of value: JSONValue, against shapeName: String) -> [ShapeViolation] {
        var found: [ShapeViolation] = []
        check(value, shapeName: shapeName, path: "", member: nil, into: &found)
        return found
    }

    private func check(
        _ value: JSONValue,
        shapeName: String,
        path: String,
        member: String?,
        into found: inout [ShapeViolation]
    ) {
        guard let shape = schema[shapeName] else {
            preconditionFailure("the schema names a shape it does not define: \(shapeName)")
        }
        func report(_ kind: ShapeViolation.Kind) {
            found.append(ShapeViolation(path: path, member: member, kind: kind))
        }
        func wrongType(_ expected: String) {
            report(.wrongType(expected: expected, found: value.typeName))
        }
        func checkLength(_ length: Int) {
            if let min = shape.min, length < min { report(.tooShort(minimum: min)) }
            if let max = shape.max, length > max { report(.tooLong(maximum: max)) }
        }

        switch shape.kind {
        case .structure(let members):
            guard case .object(let fields) = value else { return wrongType("an object") }
            for declared in members {
                let memberPath = path.isEmpty ? declared.name : "\(path).\(declared.name)"
                switch fields[declared.name] {
                case nil, .null?:
                    if declared.required {
                        found.append(ShapeViolation(path: memberPath, member: declared.name, kind: .missingRequired))
                    }
                case let memberValue?:
                    check(memberValue, shapeName: declared.shape, path: memberPath, member: declared.name, into: &found)
                }
            }
        case .list(let elementShape):
            guard case .array(let elements) = value else { return wrongType("a list") }
            checkLength(elements.count)
            for (index, element) in elements.enumerated() where element != .null {
                check(element, shapeName: elementShape, path: "\(path)[\(index)]", member: member, into: &found)
            }
        case .map(let keyShape, let valueShape):
            guard case .object(let entries) = value else { return wrongType("an object") }
            checkLength(entries.count)
            for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
                let entryPath = "\(path).\(key)"
                check(.string(key), shapeName: keyShape, path: entryPath, member: member, into: &found)
                if entry != .null {
                    check(entry, shapeName: valueShape, path: entryPath, member: member, into: &found)
                }
            }
        case .string(let enumValues):
            guard case .string(let text) = value else { return wrongType("a string") }
            checkLength(text.count)
            if let enumValues, !enumValues.contains(text) { report(.notInEnum(enumValues)) }
            if let pattern = shape.pattern, !Self.matches(text, pattern: pattern) { report(.patternMismatch(pattern)) }
        case .integer, .long:
            guard case .number(let number) = value, number.rounded() == number, abs(number) < 9.2e18 else {
                return wrongType("a whole number")
            }
            if let min = shape.min, number < Double(min) { report(.belowMinimum(min)) }
            if let max = shape.max, number > Double(max) { report(.aboveMaximum(max)) }
        case .double:
            guard case .number = value else { return wrongType("a number") }
        case .boolean:
            guard case .bool = value else { return wrongType("a boolean") }
        case .timestamp:
            guard case .number = value else { return wrongType("a timestamp in epoch seconds") }
        case .blob:
            guard case .string(let text) = value, Data(base64Encoded: text) != nil else {
                return wrongType("base64-encoded data")
            }
        }
    }

    private static func matches(_ text: String, pattern: String) -> Bool {
        // Model patterns carry their own anchors where they need them, as in the AWS SDKs.
        guard let regex = try? Regex(pattern) else { return false }
        return (try? regex.firstMatch(in: text)) != nil
    }
}
