import Foundation

/// The derived SigV4 key for one secret and one credential scope.
///
/// Derivation is four chained HMAC-SHA256 operations
/// (`"AWS4" + secret` → date → region → service → `aws4_request`). The key is valid for a whole UTC day, so
/// callers that sign or verify many requests should reuse it: keep the value, or use ``SigningKeyCache``.
public struct SigningKey: Sendable, Hashable {
    /// The scope this key signs for.
    public let scope: CredentialScope
    let bytes: [UInt8]

    /// Derives the key for `secretAccessKey` and `scope`.
    public init(secretAccessKey: String, scope: CredentialScope) {
        let dateKey = Bytes.hmac(key: Array("AWS4\(secretAccessKey)".utf8), scope.date)
        let regionKey = Bytes.hmac(key: dateKey, scope.region)
        let serviceKey = Bytes.hmac(key: regionKey, scope.service)
        self.bytes = Bytes.hmac(key: serviceKey, CredentialScope.terminator)
        self.scope = scope
    }

    /// The lowercase hex HMAC-SHA256 of `stringToSign` under this key: a SigV4 signature.
    public func signature(for stringToSign: String) -> String {
        Bytes.hex(Bytes.hmac(key: bytes, stringToSign))
    }
}

extension SigningKey: CustomStringConvertible {
    /// Names the scope only; key material is never printed.
    public var description: String { "SigningKey(\(scope), <redacted>)" }
}

/// A thread-safe cache of derived ``SigningKey`` values, keyed by secret and scope.
///
/// Verifying a request with a cached key costs two SHA-256 passes and one HMAC instead of five HMACs. Keys
/// change daily, so the cache is bounded: when it reaches `capacity` entries it is emptied and refilled on
/// demand, which keeps memory flat without bookkeeping on the hot path.
public final class SigningKeyCache: @unchecked Sendable {
    // Safety: `entries` is only touched while `lock` is held.
    private struct Entry: Hashable {
        var secret: String
        var scope: CredentialScope
    }

    private let lock = NSLock()
    private var entries: [Entry: SigningKey] = [:]

    /// The largest number of keys held before the cache starts over.
    public let capacity: Int

    /// Creates an empty cache holding at most `capacity` keys.
    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The signing key for `secretAccessKey` and `scope`, derived once and then reused.
    public func key(secretAccessKey: String, scope: CredentialScope) -> SigningKey {
        let entry = Entry(secret: secretAccessKey, scope: scope)
        lock.lock()
        if let cached = entries[entry] {
            lock.unlock()
            return cached
        }
        lock.unlock()
        let derived = SigningKey(secretAccessKey: secretAccessKey, scope: scope)
        lock.lock()
        if entries.count >= capacity {
            entries.removeAll(keepingCapacity: true)
        }
        entries[entry] = derived
        lock.unlock()
        return derived
    }

    /// The number of keys currently cached.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Drops every cached key (e.g. after a secret is rotated or revoked).
    public func removeAll() {
        lock.lock()
        entries.removeAll()
        lock.unlock()
    }
}
