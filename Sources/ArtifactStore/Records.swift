import Foundation
import Store

extension RecordKind {
    /// Buckets of the built-in S3 store, by name (scope "").
    public static let s3Bucket = RecordKind(rawValue: "s3Bucket")
    /// The current version of each object (scope: bucket; name: key). Listing reads these, in key byte order.
    public static let s3Object = RecordKind(rawValue: "s3Object")
    /// Every version of an object in a bucket that has had versioning (scope: `bucket/key`; name: version id).
    public static let s3ObjectVersion = RecordKind(rawValue: "s3ObjectVersion")
    /// Multipart uploads in progress (scope: bucket; name: upload id).
    public static let s3Upload = RecordKind(rawValue: "s3Upload")
    /// Uploaded parts (scope: upload id; name: the part number as five digits, so that names sort by number).
    public static let s3UploadPart = RecordKind(rawValue: "s3UploadPart")
}

/// A bucket.
public struct BucketRecord: Codable, Sendable, Hashable {
    public var name: String
    public var creationDate: Date
    /// nil (never versioned), `Enabled` or `Suspended`.
    public var versioning: String?
}

/// One version of an object (or a delete marker), as stored and as returned by lookups.
public struct ObjectRecord: Codable, Sendable, Hashable {
    public var key: String
    /// nil in a bucket that never had versioning; `null` for the null version; otherwise a generated id.
    public var versionID: String?
    public var isDeleteMarker: Bool
    /// The blob with the content; nil for delete markers.
    public var blob: String?
    public var size: Int64
    /// The entity tag without quotes: MD5 hex, or `<md5 of part md5s>-<parts>`.
    public var eTag: String
    public var lastModified: Date
    /// Content-Type, Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires as given.
    public var headers: [String: String]
    /// User metadata: `x-amz-meta-<name>` as name → value (names lowercase).
    public var metadata: [String: String]
    /// `x-amz-checksum-*` values verified at upload, by algorithm name.
    public var checksums: [String: String]
    /// Orders versions of a key: larger is newer.
    public var sequence: Int64

    /// The ETag as sent in headers and XML: quoted.
    public var quotedETag: String { "\"\(eTag)\"" }
}

/// A multipart upload in progress.
public struct UploadRecord: Codable, Sendable, Hashable {
    public var uploadID: String
    public var key: String
    public var initiated: Date
    public var headers: [String: String]
    public var metadata: [String: String]
    public var checksumAlgorithm: String?
}

/// A part of a multipart upload.
public struct PartRecord: Codable, Sendable, Hashable {
    public var partNumber: Int
    public var blob: String
    public var size: Int64
    /// MD5 hex of the part.
    public var eTag: String
    public var lastModified: Date
    public var checksums: [String: String]
}

/// The limits of multipart uploads, as S3 has them.
public enum Multipart {
    public static let minimumPartSize: Int64 = 5 << 20
    public static let maximumPartSize: Int64 = 5 << 30
    public static let maximumParts = 10_000
}

enum PartName {
    static func of(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}
