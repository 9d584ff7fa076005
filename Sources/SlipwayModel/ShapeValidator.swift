import Foundation
import Synchronization

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
        /// A string that names or identifies something holds a control character (U+0000–U+001F, U+007F–U+009F).
        case controlCharacter(Unicode.Scalar)
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
        case .controlCharacter(let scalar):
            // Control characters are at most U+009F: two hex digits.
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "\(place) must not contain control characters; it holds U+00\(hex.count == 1 ? "0" : "")\(hex)."
        }
    }
}

/// Checks a JSON document against a shape of a model schema: JSON types, required members, lengths, ranges,
/// patterns and enum values. Members the model does not know are ignored, as AWS services do.
///
/// Strings of every shape but the free-text ones (descriptions, AppSpec content, logs) must hold no control
/// character. Such strings name things (applications, groups, instances, buckets, keys, tags) that end up in
/// store keys, ARNs, file names and log lines, where a NUL or a newline could make two names one or forge a line.
public struct ShapeValidator: Sendable {
    public let schema: ShapeSchema.Table
    /// The string shapes whose values are free text, in which control characters are allowed.
    public let freeTextShapes: Set<String>

    public init(schema: ShapeSchema.Table, freeTextShapes: Set<String>) {
        self.schema = schema
        self.freeTextShapes = freeTextShapes
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
            // A null element is a wrong type, as the typed readers take it: only a structure's member may be null.
            for (index, element) in elements.enumerated() {
                check(element, shapeName: elementShape, path: "\(path)[\(index)]", member: member, into: &found)
            }
        case .map(let keyShape, let valueShape):
            guard case .object(let entries) = value else { return wrongType("an object") }
            checkLength(entries.count)
            for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
                let entryPath = "\(path).\(key)"
                check(.string(key), shapeName: keyShape, path: entryPath, member: member, into: &found)
                check(entry, shapeName: valueShape, path: entryPath, member: member, into: &found)
            }
        case .string(let enumValues):
            guard case .string(let text) = value else { return wrongType("a string") }
            // Characters never outnumber UTF-8 bytes, and a string knows its byte count: only a minimum, or a
            // maximum the bytes exceed, needs the characters counted.
            if shape.min != nil || shape.max.map({ text.utf8.count > $0 }) == true { checkLength(text.count) }
            if let enumValues, !enumValues.contains(text) { report(.notInEnum(enumValues)) }
            if let pattern = shape.pattern, !Self.matches(text, pattern: pattern) { report(.patternMismatch(pattern)) }
            if !freeTextShapes.contains(shapeName), let control = text.firstControlCharacter {
                report(.controlCharacter(control))
            }
        case .integer, .long:
            // A model's `integer` is 32 bits wide and its `long` 64, as in the AWS SDKs; keeping decoded numbers
            // in those ranges is what lets handlers multiply two of them without overflow.
            let limit = shape.kind.isInteger ? 2_147_483_648.0 : 9.2e18
            guard case .number(let number) = value, number.rounded() == number, number >= -limit, number < limit
            else {
                return wrongType(shape.kind.isInteger ? "a whole number of 32 bits" : "a whole number")
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
        // Model patterns carry their own anchors where they need them, as in the AWS SDKs. Each is compiled once:
        // compiling on every check was a twentieth of the server's work in a deployment.
        compiledPatterns.withLock { compiled in
            if compiled[pattern] == nil { compiled[pattern] = .some(try? Regex(pattern)) }
            guard let regex = compiled[pattern] ?? nil else { return false }
            return (try? regex.firstMatch(in: text)) != nil
        }
    }

    /// The model's patterns, compiled (`nil`: not a valid regex, which nothing matches). The model has few.
    /// `Regex` is not `Sendable`, so the compiled ones stay behind this lock and are matched there.
    private static let compiledPatterns = Mutex<[String: Regex<AnyRegexOutput>?]>([:])
}

extension String {
    /// The first character of Unicode's control category (Cc: U+0000–U+001F and U+007F–U+009F), if any.
    public var firstControlCharacter: Unicode.Scalar? {
        // Only ASCII controls and the two-byte sequences C2 80…C2 9F encode Cc, so most strings are decided by one
        // look at each byte.
        var previous: UInt8 = 0
        for byte in utf8 {
            if byte < 0x20 || byte == 0x7F { return Unicode.Scalar(byte) }
            if previous == 0xC2, (0x80...0x9F).contains(byte) { return Unicode.Scalar(byte) }
            previous = byte
        }
        return nil
    }
}

extension ShapeValidator {
    /// Every violation of the JSON text `body` against the shape named `shapeName`, read with ``JSONReader``;
    /// throws ``JSONReader/Malformed`` for text that is not JSON.
    public func violations(ofJSON body: Data, against shapeName: String) throws -> [ShapeViolation] {
        violations(of: try JSONReader.value(from: body), against: shapeName)
    }
}

/// Reads JSON text into a ``JSONValue`` in one pass over its bytes.
///
/// Written by hand because neither Foundation reader fits the hot path of every API request: `JSONDecoder` can
/// only learn a value's JSON type by trying each type and catching the error (``JSONValue/init(parsing:)`` does
/// that, an error thrown and caught for every type ruled out), and `JSONSerialization` gives booleans and numbers
/// the same `NSNumber` form. It accepts what RFC 8259 allows, like `JSONDecoder`: any value at the top, no
/// trailing commas or comments, strings of valid UTF-8 without raw control characters; a repeated member name
/// keeps its first value, as `JSONDecoder` does (so the validated value is the one the typed input gets).
public enum JSONReader {
    /// Text that is not JSON, with the byte offset where reading stopped.
    public struct Malformed: Error, Hashable, Sendable, CustomStringConvertible {
        public let offset: Int
        public var description: String { "the text is not JSON (at byte \(offset))" }
    }

    /// How deeply arrays and objects may nest, as in `JSONDecoder`.
    public static let maximumDepth = 512

    /// The value of the JSON text `data`.
    public static func value(from data: Data) throws(Malformed) -> JSONValue {
        let bytes = [UInt8](data)
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw Malformed(offset: reader.index) }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        private var malformed: Malformed { Malformed(offset: index) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        private mutating func expect(_ literal: StaticString) throws(Malformed) {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw malformed }
            let matches = literal.withUTF8Buffer { bytes[index..<(index + count)].elementsEqual($0) }
            guard matches else { throw malformed }
            index += count
        }

        mutating func value(depth: Int) throws(Malformed) -> JSONValue {
            guard index < bytes.count else { throw malformed }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            default: return .number(try number())
            }
        }

        private mutating func object(depth: Int) throws(Malformed) -> JSONValue {
            guard depth <= JSONReader.maximumDepth else { throw malformed }
            index += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw malformed }
                let name = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw malformed }
                index += 1
                skipWhitespace()
                let member = try value(depth: depth)
                if members[name] == nil { members[name] = member }
                skipWhitespace()
                guard index < bytes.count else { throw malformed }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return .object(members)
                default: throw malformed
                }
            }
        }

        private mutating func array(depth: Int) throws(Malformed) -> JSONValue {
            guard depth <= JSONReader.maximumDepth else { throw malformed }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw malformed }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return .array(elements)
                default: throw malformed
                }
            }
        }

        private mutating func string() throws(Malformed) -> String {
            index += 1  // the opening quote
            let start = index
            // The common case: no escapes, so the bytes are the string.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard let text = String(validating: bytes[start..<index], as: UTF8.self) else {
                        throw malformed
                    }
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw malformed }
                index += 1
            }
            var decoded = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let text = String(validating: decoded, as: UTF8.self) else { throw malformed }
                    return text
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw malformed }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                    case UInt8(ascii: "b"): decoded.append(0x08)
                    case UInt8(ascii: "f"): decoded.append(0x0C)
                    case UInt8(ascii: "n"): decoded.append(0x0A)
                    case UInt8(ascii: "r"): decoded.append(0x0D)
                    case UInt8(ascii: "t"): decoded.append(0x09)
                    case UInt8(ascii: "u"): appendUTF8(of: try codePoint(), to: &decoded)
                    default: throw malformed
                    }
                default:
                    guard byte >= 0x20 else { throw malformed }
                    decoded.append(byte)
                    index += 1
                }
            }
            throw malformed
        }

        /// The code point of a `\u` escape (the `\u` already read), joining a surrogate pair.
        private mutating func codePoint() throws(Malformed) -> Unicode.Scalar {
            let first = try hex4()
            if (0xD800..<0xDC00).contains(first) {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else { throw malformed }
                index += 2
                let second = try hex4()
                guard (0xDC00..<0xE000).contains(second) else { throw malformed }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else { throw malformed }
                return scalar
            }
            guard let scalar = Unicode.Scalar(first) else { throw malformed }  // a lone low surrogate
            return scalar
        }

        private mutating func hex4() throws(Malformed) -> UInt32 {
            guard bytes.count - index >= 4 else { throw malformed }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: throw malformed
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        private func appendUTF8(of scalar: Unicode.Scalar, to out: inout [UInt8]) {
            out.append(contentsOf: UTF8.encode(scalar)!)
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as a finite `Double`.
        private mutating func number() throws(Malformed) -> Double {
            let start = index
            func digits(_ reader: inout Reader) -> Int {
                let first = reader.index
                while reader.index < reader.bytes.count, (0x30...0x39).contains(reader.bytes[reader.index]) {
                    reader.index += 1
                }
                return reader.index - first
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let integerStart = index
            let integerDigits = digits(&self)
            guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != 0x30 else { throw malformed }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw malformed }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard digits(&self) > 0 else { throw malformed }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let number = Double(text), number.isFinite else { throw Malformed(offset: start) }
            return number
        }
    }
}
