import Crypto
import Foundation
import Testing

@testable import SigV4

/// Helpers shared by the SigV4 test suites.
enum Support {
    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }.joined()
    }

    /// The `Signature=` part of an Authorization header value.
    static func signature(in authorization: String) -> String? {
        authorization.components(separatedBy: "Signature=").last
    }

    /// The value of one raw query parameter (no decoding).
    static func queryValue(_ name: String, in query: String) -> String? {
        for pair in query.split(separator: "&") where pair.hasPrefix("\(name)=") {
            return String(pair.dropFirst(name.count + 1))
        }
        return nil
    }

    /// Calls `body` and returns the `SigV4Error` it throws, or nil when it succeeds.
    static func failure<T>(_ body: () throws -> T) -> SigV4Error? {
        do {
            _ = try body()
            return nil
        } catch let error as SigV4Error {
            return error
        } catch {
            Issue.record("expected a SigV4Error, got \(error)")
            return nil
        }
    }
}
