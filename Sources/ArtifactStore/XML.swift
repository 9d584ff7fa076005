/// Builds the small XML documents S3 answers with. Element names are ours; text is escaped.
public struct XMLWriter: Sendable {
    /// The document so far, starting with the XML declaration.
    public private(set) var document = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"

    public init() {}

    /// Opens `<name>`, with the S3 namespace on the root element if asked.
    public mutating func open(_ name: String, namespace: Bool = false) {
        document += namespace ? #"<\#(name) xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"# : "<\(name)>"
    }

    public mutating func close(_ name: String) {
        document += "</\(name)>"
    }

    /// Escaped text inside the current element.
    public mutating func text(_ text: String) {
        document += Self.escape(text)
    }

    /// `<name>text</name>`.
    public mutating func element(_ name: String, _ text: String) {
        document += "<\(name)>\(Self.escape(text))</\(name)>"
    }

    /// Escapes the five XML special characters. Characters XML 1.0 cannot carry in any form (the C0 controls other
    /// than tab, line feed and carriage return, which not even a character reference may name, and U+FFFE, U+FFFF)
    /// become U+FFFD: an error that echoes a hostile name must still be a document clients can parse.
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case "\n", "\r", "\t": escaped += "&#\(scalar.value);"
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    escaped.unicodeScalars.append("\u{FFFD}")
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped
    }
}

/// An element of a parsed XML request body: its name (without namespace prefix), text and children.
public struct XMLRequestElement: Sendable, Hashable {
    public var name: String
    public var text: String
    public var children: [XMLRequestElement]

    /// The first child named `name`.
    public func child(_ name: String) -> XMLRequestElement? { children.first { $0.name == name } }

    /// Every child named `name`.
    public func children(named name: String) -> [XMLRequestElement] { children.filter { $0.name == name } }
}

/// A deliberately small XML parser for the request bodies S3 clients send (`Delete`, `CompleteMultipartUpload`,
/// `VersioningConfiguration`, `CreateBucketConfiguration`).
///
/// It reads elements, attributes (ignored), text, the predefined and numeric entities, comments, processing
/// instructions and CDATA; it refuses DTDs (no entity expansion attacks), bodies over ``maximumSize`` and nesting
/// deeper than ``maximumDepth``. Written here rather than using libxml2 so that hostile input meets a parser whose
/// every path is in this file.
public enum XMLRequestParser {
    public static let maximumSize = 2 << 20
    public static let maximumDepth = 16

    public static func parse(_ bytes: [UInt8]) throws(S3Error) -> XMLRequestElement {
        guard bytes.count <= maximumSize else { throw .malformedXML("the body is larger than \(maximumSize) bytes") }
        var reader = Reader(bytes: bytes)
        return try reader.document()
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        mutating func document() throws(S3Error) -> XMLRequestElement {
            try skipMisc()
            guard peek() == UInt8(ascii: "<") else { throw .malformedXML("no root element") }
            let root = try element(depth: 0)
            try skipMisc()
            guard index == bytes.count else { throw .malformedXML("content after the root element") }
            return root
        }

        func peek(_ offset: Int = 0) -> UInt8? {
            index + offset < bytes.count ? bytes[index + offset] : nil
        }

        func starts(with text: String) -> Bool {
            let utf8 = Array(text.utf8)
            return index + utf8.count <= bytes.count && bytes[index..<(index + utf8.count)].elementsEqual(utf8)
        }

        mutating func skip(until terminator: String) throws(S3Error) {
            let utf8 = Array(terminator.utf8)
            while index + utf8.count <= bytes.count {
                if bytes[index..<(index + utf8.count)].elementsEqual(utf8) {
                    index += utf8.count
                    return
                }
                index += 1
            }
            throw .malformedXML("unterminated markup, expected '\(terminator)'")
        }

        mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        /// Whitespace, comments and processing instructions (the XML declaration among them) outside the root.
        mutating func skipMisc() throws(S3Error) {
            while true {
                skipWhitespace()
                if starts(with: "<?") {
                    try skip(until: "?>")
                } else if starts(with: "<!--") {
                    try skip(until: "-->")
                } else if starts(with: "<!") {
                    throw .malformedXML("document type declarations are not accepted")
                } else {
                    return
                }
            }
        }

        mutating func name() throws(S3Error) -> String {
            let start = index
            while let byte = peek(),
                !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: ">")
                    || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "="))
            {
                index += 1
            }
            guard index > start, index - start <= 256 else { throw .malformedXML("a missing or overlong name") }
            let full = String(decoding: bytes[start..<index], as: UTF8.self)
            let local = full.lastIndex(of: ":").map { String(full[full.index(after: $0)...]) } ?? full
            // A name starts with a letter or `_` (after its namespace prefix, if any): not with `!`, `?`, a digit,
            // and it is not empty.
            guard let first = local.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else {
                throw .malformedXML("an element or attribute name '\(full)' that XML does not allow")
            }
            return local
        }

        mutating func element(depth: Int) throws(S3Error) -> XMLRequestElement {
            guard depth < XMLRequestParser.maximumDepth else { throw .malformedXML("elements nest too deeply") }
            index += 1  // "<"
            let elementName = try name()
            // Attributes: name="value" or name='value', ignored.
            while true {
                skipWhitespace()
                guard let byte = peek() else { throw .malformedXML("unterminated start tag <\(elementName)>") }
                if byte == UInt8(ascii: "/") {
                    guard peek(1) == UInt8(ascii: ">") else { throw .malformedXML("a stray '/' in <\(elementName)>") }
                    index += 2
                    return XMLRequestElement(name: elementName, text: "", children: [])
                }
                if byte == UInt8(ascii: ">") {
                    index += 1
                    break
                }
                _ = try name()
                skipWhitespace()
                guard peek() == UInt8(ascii: "=") else { throw .malformedXML("an attribute without a value") }
                index += 1
                skipWhitespace()
                guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                    throw .malformedXML("an unquoted attribute value")
                }
                index += 1
                while let next = peek(), next != quote { index += 1 }
                guard peek() == quote else { throw .malformedXML("an unterminated attribute value") }
                index += 1
            }
            var text: [UInt8] = []
            var children: [XMLRequestElement] = []
            while true {
                guard let byte = peek() else { throw .malformedXML("<\(elementName)> is never closed") }
                if byte == UInt8(ascii: "<") {
                    if starts(with: "</") {
                        index += 2
                        let closing = try name()
                        skipWhitespace()
                        guard closing == elementName, peek() == UInt8(ascii: ">") else {
                            throw .malformedXML("</\(closing)> does not close <\(elementName)>")
                        }
                        index += 1
                        return XMLRequestElement(
                            name: elementName, text: String(decoding: text, as: UTF8.self), children: children)
                    } else if starts(with: "<!--") {
                        try skip(until: "-->")
                    } else if starts(with: "<![CDATA[") {
                        index += 9
                        let start = index
                        try skip(until: "]]>")
                        text += bytes[start..<(index - 3)]
                    } else if starts(with: "<?") {
                        try skip(until: "?>")
                    } else if starts(with: "<!") {
                        throw .malformedXML("declarations are not accepted inside elements")
                    } else {
                        guard children.count < 10_000 else { throw .malformedXML("too many elements") }
                        children.append(try element(depth: depth + 1))
                    }
                } else if byte == UInt8(ascii: "&") {
                    text += try entity()
                } else {
                    guard byte >= 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D else {
                        throw .malformedXML("a control character (0x\(String(byte, radix: 16))) in <\(elementName)>")
                    }
                    text.append(byte)
                    index += 1
                }
            }
        }

        mutating func entity() throws(S3Error) -> [UInt8] {
            let start = index + 1
            guard let semicolon = bytes[start...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                throw .malformedXML("an unterminated entity reference")
            }
            let body = String(decoding: bytes[start..<semicolon], as: UTF8.self)
            index = semicolon + 1
            switch body {
            case "amp": return Array("&".utf8)
            case "lt": return Array("<".utf8)
            case "gt": return Array(">".utf8)
            case "quot": return Array("\"".utf8)
            case "apos": return Array("'".utf8)
            default:
                var value: UInt32?
                if body.hasPrefix("#x") {
                    value = UInt32(body.dropFirst(2), radix: 16)
                } else if body.hasPrefix("#") {
                    value = UInt32(body.dropFirst())
                }
                guard let value, let scalar = Unicode.Scalar(value) else {
                    throw .malformedXML("an unknown entity '&\(body);'")
                }
                // XML 1.0 names no C0 control other than tab, line feed and carriage return, by reference either.
                guard scalar.value >= 0x20 || scalar == "\t" || scalar == "\n" || scalar == "\r",
                    scalar.value != 0xFFFE, scalar.value != 0xFFFF
                else {
                    throw .malformedXML("a reference '&\(body);' to a character XML does not allow")
                }
                return Array(String(Character(scalar)).utf8)
            }
        }
    }
}
