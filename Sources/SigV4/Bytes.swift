import Crypto
import Foundation

/// Byte-level helpers used on the hot path: hex, hashing, constant-time comparison, ASCII case.
package enum Bytes {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`, written by hand (no `String(format:)`).
    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex SHA-256 of UTF-8 text.
    static func sha256Hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { hex(SHA256.hash(data: $0)) }
    }

    /// Lowercase hex SHA-256 of raw bytes.
    static func sha256Hex<D: DataProtocol>(_ data: D) -> String {
        hex(SHA256.hash(data: data))
    }

    /// HMAC-SHA256 of UTF-8 `message` under `key`.
    static func hmac(key: [UInt8], _ message: String) -> [UInt8] {
        var message = message
        let symmetricKey = SymmetricKey(data: key)
        return message.withUTF8 { Array(HMAC<SHA256>.authenticationCode(for: $0, using: symmetricKey)) }
    }

    /// Whether `text` is exactly 64 hex digits (either case).
    static func isSHA256Hex(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            guard isHexDigit(byte) else { return false }
            count += 1
        }
        return count == 64
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }

    /// Compares two strings in time that depends only on their lengths, ignoring ASCII case.
    static func constantTimeEqualIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices {
            difference |= asciiLower(left[index]) ^ asciiLower(right[index])
        }
        return difference == 0
    }

    @inline(__always)
    static func asciiLower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }

    /// ASCII-only lowercasing, which is what header names need (they are tokens, not prose).
    static func asciiLowercased(_ text: String) -> String {
        var needsWork = false
        for byte in text.utf8 where byte >= 0x41 && byte <= 0x5A {
            needsWork = true
            break
        }
        guard needsWork else { return text }
        return String(decoding: text.utf8.map(asciiLower), as: UTF8.self)
    }

    /// The value of `text` if it is 1 to `maximumDigits` ASCII digits and nothing else (no sign, space or point);
    /// `maximumDigits` is at most 18, so the value always fits an `Int`.
    package static func decimal(_ text: String, maximumDigits: Int) -> Int? {
        let digits = text.utf8
        guard !digits.isEmpty, digits.count <= min(maximumDigits, 18) else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    /// Case-insensitive ASCII equality without allocating.
    static func equalsIgnoringASCIICase(_ lhs: String, _ rhs: String) -> Bool {
        let left = lhs.utf8
        let right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { asciiLower($0) == asciiLower($1) }
    }
}
