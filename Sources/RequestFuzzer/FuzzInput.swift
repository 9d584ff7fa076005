/// Reads the fields of a structured input from fuzz bytes, never failing: past the end every read gives zeros or
/// empty values, so each input describes exactly one case.
struct FuzzInput {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index >= bytes.count }

    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    /// A number of `count` bytes, big-endian.
    mutating func number(bytes count: Int) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<count { value = value << 8 | UInt64(byte()) }
        return value
    }

    /// A run of bytes whose length, 0 to `maximum`, is the byte before it.
    mutating func field(maximum: Int) -> [UInt8] {
        let length = min(Int(byte()), maximum)
        let end = min(index + length, bytes.count)
        defer { index = end }
        return Array(bytes[min(index, end)..<end])
    }

    /// ``field(maximum:)`` as text (invalid UTF-8 repaired, as a server reading headers would).
    mutating func text(maximum: Int) -> String {
        String(decoding: field(maximum: maximum), as: UTF8.self)
    }

    /// ``field(maximum:)`` mapped into `alphabet` (each byte picks a character), at least `minimum` long.
    mutating func word(from alphabet: [UInt8], minimum: Int = 1, maximum: Int) -> String {
        var picked = field(maximum: maximum).map { alphabet[Int($0) % alphabet.count] }
        while picked.count < minimum { picked.append(alphabet[picked.count % alphabet.count]) }
        return String(decoding: picked, as: UTF8.self)
    }

    /// Everything not read yet.
    mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return index < bytes.count ? Array(bytes[index...]) : []
    }
}

enum Alphabet {
    static let upperAlphanumeric = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
    static let regionName = Array("abcdefghijklmnopqrstuvwxyz0123456789-".utf8)
    /// RFC 9110 token characters: what a header name may be made of.
    static let token = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~".utf8)
}
