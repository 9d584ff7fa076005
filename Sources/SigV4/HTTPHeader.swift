/// One HTTP header line. Names compare case-insensitively wherever this module looks them up; a name may repeat.
public struct HTTPHeader: Sendable, Hashable {
    /// The header name as sent.
    public var name: String
    /// The header value as sent.
    public var value: String

    /// Creates a header line.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == HTTPHeader {
    /// Creates a header list from `(name, value)` pairs.
    public init(_ pairs: [(String, String)]) {
        self = pairs.map { HTTPHeader($0.0, $0.1) }
    }

    /// The values of every header called `name` (case-insensitive), in order.
    public func values(named name: String) -> [String] {
        compactMap { Bytes.equalsIgnoringASCIICase($0.name, name) ? $0.value : nil }
    }

    /// The value of the first header called `name` (case-insensitive).
    public func first(named name: String) -> String? {
        first { Bytes.equalsIgnoringASCIICase($0.name, name) }?.value
    }

    /// Whether some header is called `name` (case-insensitive).
    public func contains(named name: String) -> Bool {
        contains { Bytes.equalsIgnoringASCIICase($0.name, name) }
    }

    /// The list without headers called `name` (case-insensitive).
    public func removing(named name: String) -> [HTTPHeader] {
        filter { !Bytes.equalsIgnoringASCIICase($0.name, name) }
    }
}
