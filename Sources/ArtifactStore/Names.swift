/// Bucket names as S3 accepts them for new buckets: 3–63 characters of lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit, no `..`, not shaped like an IP address.
public enum BucketName {
    public static func validate(_ name: String) throws(S3Error) {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else {
            throw .invalidBucketName(name, "a bucket name has 3 to 63 characters")
        }
        for byte in bytes {
            let allowed =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-")
            guard allowed else {
                throw .invalidBucketName(name, "only lowercase letters, digits, dots and hyphens are allowed")
            }
        }
        guard let first = name.first, let last = name.last, first.isLetter || first.isNumber,
            last.isLetter || last.isNumber
        else {
            throw .invalidBucketName(name, "a bucket name begins and ends with a letter or a digit")
        }
        guard !name.contains("..") else { throw .invalidBucketName(name, "two adjacent periods") }
        let parts = name.split(separator: ".")
        if parts.count == 4 && parts.allSatisfy({ UInt8($0) != nil }) {
            throw .invalidBucketName(name, "a bucket name must not be formatted as an IP address")
        }
        // Prefixes and suffixes S3 reserves for its own names (punycode, access point and Object Lambda aliases).
        for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] where name.hasPrefix(prefix) {
            throw .invalidBucketName(name, "a bucket name must not begin with \(prefix)")
        }
        for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] where name.hasSuffix(suffix) {
            throw .invalidBucketName(name, "a bucket name must not end with \(suffix)")
        }
    }

    /// Whether `name` could name a bucket at all; used to answer `NoSuchBucket` rather than look up garbage.
    public static func isPlausible(_ name: String) -> Bool {
        (try? validate(name)) != nil || (name.utf8.count <= 255 && !name.isEmpty && !name.contains("/"))
    }
}

/// Object keys: 1 to 1,024 bytes of UTF-8 without control characters. Keys are metadata only: files on disk are named by a random blob id,
/// never by the key, so no key can reach outside the data directory.
public enum ObjectKey {
    public static let maximumLength = 1024

    public static func validate(_ key: String) throws(S3Error) {
        let length = key.utf8.count
        guard length > 0 else { throw .invalidArgument("An object key must not be empty.", name: "Key") }
        guard length <= maximumLength else { throw .keyTooLong(length) }
        // Control characters (NUL, newline, escape, DEL, …) make keys that print, log and list as something other
        // than they are, and nothing Slipway stores needs them.
        if let control = key.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw .invalidArgument(
                "An object key must not contain control characters; this one has U+"
                    + String(format: "%04X", control.value) + ".",
                name: "Key")
        }
    }
}
