import Crypto
import Foundation
import Store

extension RecordKind {
    /// Signed-in console sessions (scope "", name: the SHA-256 of the session's cookie value, in hex): a
    /// ``ConsoleSession``. The cookie's value itself is never stored.
    static let consoleSession = RecordKind(rawValue: "consoleSession")
}

/// A browser signed in to the console with an access key. Every request of the session acts as that key's principal,
/// looked up again each time: a key made inactive or deleted ends its sessions at once.
struct ConsoleSession: Codable, Sendable, Hashable {
    var accessKeyId: String
    var created: Date
    var expires: Date
    /// The token every form of the session carries; a state-changing request without it is refused.
    var csrfToken: String
}

/// Sign-in, sessions and their cookies.
struct ConsoleSessions: Sendable {
    let store: any Store
    let authenticator: Authenticator
    /// How long a session lasts after sign-in.
    var lifetime: TimeInterval = 12 * 3600

    static let cookieName = "slipway_session"
    /// The cookie of the sign-in form's own token (a login form is a target of forgery too).
    static let signInCookieName = "slipway_sign_in"

    /// A new random token: 32 bytes from the system's generator, as 64 hexadecimal digits.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
    }

    static func storageName(of token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// Why a sign-in was refused, in words for the form.
    enum SignInFailure: Error, Equatable {
        case missing
        case wrongKeyOrSecret
    }

    /// Checks the key id and secret; on success stores a new session and returns the cookie value and the session.
    func signIn(accessKeyId: String, secret: String, now: Date) async throws -> (String, ConsoleSession) {
        let accessKeyId = accessKeyId.trimmingCharacters(in: .whitespaces)
        let secret = secret.trimmingCharacters(in: .whitespaces)
        guard !accessKeyId.isEmpty, !secret.isEmpty, accessKeyId.utf8.count <= 128, secret.utf8.count <= 256 else {
            throw SignInFailure.missing
        }
        guard let (key, _) = try await authenticator.principal(accessKeyId: accessKeyId),
            Self.constantTimeEqual(key.secretAccessKey, secret)
        else { throw SignInFailure.wrongKeyOrSecret }
        let token = Self.randomToken()
        let session = ConsoleSession(
            accessKeyId: accessKeyId, created: now, expires: now.addingTimeInterval(lifetime),
            csrfToken: Self.randomToken())
        try await store.write { tx in
            // Sessions are few; ended ones are removed whenever someone signs in.
            for stored in try tx.allRecords(.consoleSession) {
                if let old = try? RecordCoding.decode(ConsoleSession.self, from: stored), old.expires > now { continue }
                try tx.delete(.consoleSession, scope: "", name: stored.name)
            }
            try tx.set(session, .consoleSession, name: Self.storageName(of: token))
        }
        return (token, session)
    }

    /// The session of a cookie value with the principal it acts as, or nil when it is unknown, expired, or its key
    /// no longer works.
    func session(cookie token: String?, now: Date) async throws -> (ConsoleSession, Principal)? {
        guard let token, token.utf8.count == 64, token.utf8.allSatisfy({ Self.isHexDigit($0) }) else { return nil }
        guard let stored = try await store.record(.consoleSession, scope: "", name: Self.storageName(of: token)),
            let session = try? RecordCoding.decode(ConsoleSession.self, from: stored), session.expires > now,
            let (_, principal) = try await authenticator.principal(accessKeyId: session.accessKeyId)
        else { return nil }
        return (session, principal)
    }

    func signOut(cookie token: String) async throws {
        try await store.write { tx in
            _ = try tx.delete(.consoleSession, scope: "", name: Self.storageName(of: token))
        }
    }

    /// Compares every byte, so that the time taken does not tell how much of a guess was right.
    static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8)
        let b = Array(right.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
