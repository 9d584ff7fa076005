import Foundation
import Synchronization

/// The limits of the built-in store: how many bytes it may hold, and how long an incomplete multipart upload lives.
public struct StorageLimits: Sendable, Hashable {
    /// The most bytes the store holds: every object version and every uploaded part, each counted at its size
    /// (a copy counts again, although it shares the file). Nil: no limit.
    public var quota: Int64?
    /// How long after its creation an incomplete multipart upload is aborted and its parts deleted.
    public var uploadExpiry: TimeInterval

    /// 50 GiB: revisions are archives of megabytes to a few hundred megabytes, so this holds hundreds of them with
    /// their versions, and it keeps a small host's disk, which the database and the logs share, from filling up.
    public static let defaultQuota: Int64 = 50 << 30
    /// 7 days: long enough for any upload in progress, short enough that abandoned parts do not pile up. (S3 keeps
    /// incomplete uploads until a lifecycle rule removes them; it has none by default.)
    public static let defaultUploadExpiry: TimeInterval = 7 * 24 * 3600
    /// The shortest upload expiry accepted.
    public static let minimumUploadExpiry: TimeInterval = 60

    public init(quota: Int64? = defaultQuota, uploadExpiry: TimeInterval = defaultUploadExpiry) {
        self.quota = quota
        self.uploadExpiry = uploadExpiry
    }

    /// No quota, and incomplete uploads kept for the default time.
    public static let unlimited = StorageLimits(quota: nil)

    /// Reads a size: a whole number of bytes, or with a binary suffix `K`, `M`, `G`, `T` (optionally followed by
    /// `iB` or `B`), e.g. `50G`, `512MiB`; `unlimited` means no quota. Nil for anything else, or a size beyond 2^63.
    public static func parseQuota(_ text: String) -> Int64?? {
        if text == "unlimited" { return .some(nil) }
        let bytes = Array(text.utf8)
        var end = 0
        while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 { end += 1 }
        guard end > 0, end <= 19 else { return nil }
        guard let number = Int64(String(decoding: bytes[..<end], as: UTF8.self)) else { return nil }
        let suffix = String(decoding: bytes[end...], as: UTF8.self)
        guard let multiplier = Self.sizeUnits[suffix] else { return nil }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        return .some(value)
    }

    private static let sizeUnits: [String: Int64] = {
        var units: [String: Int64] = ["": 1, "B": 1]
        for (letter, shift) in [("K", 10), ("M", 20), ("G", 30), ("T", 40)] {
            for spelling in [letter, letter + "B", letter + "iB"] { units[spelling] = 1 << Int64(shift) }
        }
        return units
    }()

    /// Reads a duration: a whole number with a unit `s`, `m`, `h` or `d` (`36h`, `7d`), or plain seconds. Nil for
    /// anything else or more than 100 years.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(text)
        var unit: Int64 = 1
        if let last = digits.last, let seconds = units[last] {
            unit = seconds
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 12, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let number = Int64(digits)
        else { return nil }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow, seconds <= 100 * 365 * 86_400 else { return nil }
        return TimeInterval(seconds)
    }
}

/// The bytes the store holds and the bytes being received, held against the quota.
///
/// Stored bytes are the sizes of the blob files (each name counted); reserved bytes are bodies on their way in. A
/// body of known length reserves it all before its first byte is written; one of unknown length reserves as it
/// arrives. A reservation is released once its blob is committed (and so counted as stored) or discarded.
public final class StorageUsage: Sendable {
    /// The limit, nil for none.
    public let quota: Int64?
    private let state = Mutex<(stored: Int64, reserved: Int64)>((0, 0))

    init(quota: Int64?, stored: Int64) {
        self.quota = quota
        state.withLock { $0.stored = stored }
    }

    /// The bytes of every blob the store holds.
    public var storedBytes: Int64 { state.withLock { $0.stored } }

    /// Reserves `bytes` for a body on its way in, or throws `QuotaExceeded` if that would pass the quota.
    func reserve(_ bytes: Int64) throws(S3Error) {
        let refusal: S3Error? = state.withLock { state in
            let (inUse, overflow1) = state.stored.addingReportingOverflow(state.reserved)
            let (wanted, overflow2) = inUse.addingReportingOverflow(bytes)
            if let quota, bytes > 0, overflow1 || overflow2 || wanted > quota {
                return S3Error.quotaExceeded(quota: quota, inUse: inUse, requested: bytes)
            }
            state.reserved += bytes
            return nil
        }
        if let refusal { throw refusal }
    }

    func release(_ bytes: Int64) {
        state.withLock { $0.reserved = max(0, $0.reserved - bytes) }
    }

    func stored(_ bytes: Int64) {
        state.withLock { $0.stored += bytes }
    }

    func removed(_ bytes: Int64) {
        state.withLock { $0.stored = max(0, $0.stored - bytes) }
    }
}
