import Foundation

/// The type of a revision bundle, as named by a revision's `bundleType` and by `slipway local --type`.
public enum BundleType: String, Sendable, CaseIterable {
    /// A tar archive (also what callers pass for an unknown type, like the stock agent).
    case tar
    /// A gzip-compressed tar archive.
    case tgz
    /// A zip archive.
    case zip
    /// A directory on this host, copied rather than unpacked.
    case directory
}

/// Bounds on what unpacking one bundle may write.
public struct UnpackLimits: Sendable, Hashable {
    /// The total number of bytes of file contents written.
    public var maximumBytes: Int64
    /// The number of entries (files, directories, links) created.
    public var maximumEntries: Int

    /// 16 GiB and one million entries.
    public static let `default` = UnpackLimits(maximumBytes: 16 << 30, maximumEntries: 1_000_000)

    /// Limits with the given bounds.
    public init(maximumBytes: Int64, maximumEntries: Int) {
        self.maximumBytes = maximumBytes
        self.maximumEntries = maximumEntries
    }
}

/// What an unpack wrote.
public struct UnpackSummary: Sendable, Hashable {
    /// Entries created (files, directories, symbolic and hard links).
    public var entries: Int
    /// Bytes of file contents written.
    public var bytes: Int64
    /// The single top-level directory whose contents were moved up a level, if there was one.
    public var strippedDirectory: String?
    /// Bytes of files linked from a revision already on the host instead of written.
    public var reusedBytes: Int64 = 0
    /// The regular files of a zip bundle by entry path (size, CRC-32, mode), for later deployments to reuse.
    package var zipFiles: [String: KeptRevisions.FileFacts] = [:]

    /// A summary with the given figures.
    public init(entries: Int, bytes: Int64, strippedDirectory: String?) {
        self.entries = entries
        self.bytes = bytes
        self.strippedDirectory = strippedDirectory
    }
}

/// A bundle that could not be unpacked: unsafe, corrupt, truncated or beyond the limits.
public struct BundleError: Error, CustomStringConvertible, Sendable {
    /// The archive entry at fault, as named in the archive, when one is.
    public var entry: String?
    /// Why the bundle was refused.
    public var reason: String

    /// An error about `entry` (or the whole archive when `nil`).
    public init(entry: String?, reason: String) {
        self.entry = entry
        self.reason = reason
    }

    /// The entry and reason, with control characters from the archive written as escapes (`\u{0A}`), so a hostile
    /// entry name cannot forge lines in a log or a deployment's diagnostics.
    public var description: String {
        let text = entry.map { "bundle entry \"\($0)\": \(reason)" } ?? "bundle: \(reason)"
        var escaped = ""
        escaped.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                escaped += "\\u{" + (hex.count < 2 ? "0" + hex : hex) + "}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
