import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The XML bodies of S3 responses, built from the store's records.
public enum S3XML {
    public static func listBuckets(_ buckets: [BucketRecord], ownerID: String) -> String {
        var xml = XMLWriter()
        xml.open("ListAllMyBucketsResult", namespace: true)
        owner(&xml, ownerID)
        xml.open("Buckets")
        for bucket in buckets {
            xml.open("Bucket")
            xml.element("Name", bucket.name)
            xml.element("CreationDate", S3Dates.iso8601(bucket.creationDate))
            xml.close("Bucket")
        }
        xml.close("Buckets")
        xml.close("ListAllMyBucketsResult")
        return xml.document
    }

    public static func location(_ region: String) -> String {
        var xml = XMLWriter()
        xml.open("LocationConstraint", namespace: true)
        xml.text(region == "us-east-1" ? "" : region)
        xml.close("LocationConstraint")
        return xml.document
    }

    public static func versioning(_ status: String?) -> String {
        var xml = XMLWriter()
        xml.open("VersioningConfiguration", namespace: true)
        if let status { xml.element("Status", status) }
        xml.close("VersioningConfiguration")
        return xml.document
    }

    /// Parameters of a listing as the request gave them, echoed in the result.
    public struct ListRequest: Sendable {
        public var prefix: String
        public var delimiter: String?
        public var maxKeys: Int
        public var urlEncoded: Bool
        /// V2: `ContinuationToken` and `StartAfter`; V1: `Marker`.
        public var continuationToken: String?
        public var startAfter: String?
        public var marker: String?

        public init(
            prefix: String, delimiter: String?, maxKeys: Int, urlEncoded: Bool, continuationToken: String? = nil,
            startAfter: String? = nil, marker: String? = nil
        ) {
            self.prefix = prefix
            self.delimiter = delimiter
            self.maxKeys = maxKeys
            self.urlEncoded = urlEncoded
            self.continuationToken = continuationToken
            self.startAfter = startAfter
            self.marker = marker
        }
    }

    public static func listObjects(
        bucket: String, request: ListRequest, listing: LocalArtifactStore.Listing, version2: Bool, ownerID: String
    ) -> String {
        let encode: (String) -> String = { request.urlEncoded ? URLEncoding.encodeKey($0) : $0 }
        var xml = XMLWriter()
        xml.open("ListBucketResult", namespace: true)
        xml.element("Name", bucket)
        xml.element("Prefix", encode(request.prefix))
        if let delimiter = request.delimiter { xml.element("Delimiter", encode(delimiter)) }
        xml.element("MaxKeys", String(request.maxKeys))
        if request.urlEncoded { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", listing.isTruncated ? "true" : "false")
        if version2 {
            xml.element("KeyCount", String(listing.objects.count + listing.commonPrefixes.count))
            if let token = request.continuationToken { xml.element("ContinuationToken", token) }
            if listing.isTruncated, let last = listing.lastName {
                xml.element("NextContinuationToken", ContinuationToken.make(last))
            }
            if let startAfter = request.startAfter { xml.element("StartAfter", encode(startAfter)) }
        } else {
            xml.element("Marker", encode(request.marker ?? ""))
            if listing.isTruncated, let last = listing.lastName { xml.element("NextMarker", encode(last)) }
        }
        for object in listing.objects {
            xml.open("Contents")
            xml.element("Key", encode(object.key))
            xml.element("LastModified", S3Dates.iso8601(object.lastModified))
            xml.element("ETag", object.quotedETag)
            xml.element("Size", String(object.size))
            xml.element("StorageClass", "STANDARD")
            if !version2 { owner(&xml, ownerID) }
            xml.close("Contents")
        }
        for prefix in listing.commonPrefixes {
            xml.open("CommonPrefixes")
            xml.element("Prefix", encode(prefix))
            xml.close("CommonPrefixes")
        }
        xml.close("ListBucketResult")
        return xml.document
    }

    public static func copyResult(_ record: ObjectRecord) -> String {
        var xml = XMLWriter()
        xml.open("CopyObjectResult", namespace: true)
        xml.element("LastModified", S3Dates.iso8601(record.lastModified))
        xml.element("ETag", record.quotedETag)
        xml.close("CopyObjectResult")
        return xml.document
    }

    public static func initiateMultipartUpload(bucket: String, upload: UploadRecord) -> String {
        var xml = XMLWriter()
        xml.open("InitiateMultipartUploadResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", upload.key)
        xml.element("UploadId", upload.uploadID)
        xml.close("InitiateMultipartUploadResult")
        return xml.document
    }

    public static func completeMultipartUpload(bucket: String, record: ObjectRecord, location: String) -> String {
        var xml = XMLWriter()
        xml.open("CompleteMultipartUploadResult", namespace: true)
        xml.element("Location", location)
        xml.element("Bucket", bucket)
        xml.element("Key", record.key)
        xml.element("ETag", record.quotedETag)
        xml.close("CompleteMultipartUploadResult")
        return xml.document
    }

    public static func listParts(
        bucket: String, upload: UploadRecord, parts: [PartRecord], marker: Int, maxParts: Int, isTruncated: Bool,
        ownerID: String
    ) -> String {
        var xml = XMLWriter()
        xml.open("ListPartsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", upload.key)
        xml.element("UploadId", upload.uploadID)
        initiator(&xml, ownerID)
        owner(&xml, ownerID)
        xml.element("StorageClass", "STANDARD")
        xml.element("PartNumberMarker", String(marker))
        xml.element("NextPartNumberMarker", String(parts.last?.partNumber ?? marker))
        xml.element("MaxParts", String(maxParts))
        xml.element("IsTruncated", isTruncated ? "true" : "false")
        for part in parts {
            xml.open("Part")
            xml.element("PartNumber", String(part.partNumber))
            xml.element("LastModified", S3Dates.iso8601(part.lastModified))
            xml.element("ETag", "\"\(part.eTag)\"")
            xml.element("Size", String(part.size))
            for (algorithm, value) in part.checksums.sorted(by: { $0.key < $1.key }) {
                xml.element("Checksum\(algorithm)", value)
            }
            xml.close("Part")
        }
        xml.close("ListPartsResult")
        return xml.document
    }

    public static func listUploads(bucket: String, prefix: String, uploads: [UploadRecord], ownerID: String) -> String {
        var xml = XMLWriter()
        xml.open("ListMultipartUploadsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", "")
        xml.element("UploadIdMarker", "")
        xml.element("Prefix", prefix)
        xml.element("MaxUploads", "1000")
        xml.element("IsTruncated", "false")
        for upload in uploads {
            xml.open("Upload")
            xml.element("Key", upload.key)
            xml.element("UploadId", upload.uploadID)
            initiator(&xml, ownerID)
            owner(&xml, ownerID)
            xml.element("StorageClass", "STANDARD")
            xml.element("Initiated", S3Dates.iso8601(upload.initiated))
            xml.close("Upload")
        }
        xml.close("ListMultipartUploadsResult")
        return xml.document
    }

    /// One entry of a DeleteObjects result.
    public enum DeleteOutcome: Sendable {
        case deleted(key: String, versionID: String?, deletion: LocalArtifactStore.Deletion)
        case failed(key: String, versionID: String?, error: S3Error)
    }

    public static func deleteResult(_ outcomes: [DeleteOutcome], quiet: Bool) -> String {
        var xml = XMLWriter()
        xml.open("DeleteResult", namespace: true)
        for outcome in outcomes {
            switch outcome {
            case .deleted(let key, let versionID, let deletion):
                guard !quiet else { continue }
                xml.open("Deleted")
                xml.element("Key", key)
                if let versionID { xml.element("VersionId", versionID) }
                if deletion.deleteMarker {
                    xml.element("DeleteMarker", "true")
                    if versionID == nil, let marker = deletion.versionID {
                        xml.element("DeleteMarkerVersionId", marker)
                    }
                }
                xml.close("Deleted")
            case .failed(let key, let versionID, let error):
                xml.open("Error")
                xml.element("Key", key)
                if let versionID { xml.element("VersionId", versionID) }
                xml.element("Code", error.code)
                xml.element("Message", error.message)
                xml.close("Error")
            }
        }
        xml.close("DeleteResult")
        return xml.document
    }

    private static func owner(_ xml: inout XMLWriter, _ ownerID: String) {
        xml.open("Owner")
        xml.element("ID", ownerID)
        xml.element("DisplayName", "slipway")
        xml.close("Owner")
    }

    private static func initiator(_ xml: inout XMLWriter, _ ownerID: String) {
        xml.open("Initiator")
        xml.element("ID", ownerID)
        xml.element("DisplayName", "slipway")
        xml.close("Initiator")
    }
}

/// ListObjectsV2 continuation tokens: the last name returned, base64-encoded (opaque to clients).
public enum ContinuationToken {
    public static func make(_ name: String) -> String { Data(name.utf8).base64EncodedString() }

    public static func read(_ token: String) throws(S3Error) -> String {
        guard let data = Data(base64Encoded: token), let name = String(data: data, encoding: .utf8) else {
            throw S3Error.invalidArgument(
                "The continuation token provided is incorrect", name: "continuation-token", value: token)
        }
        return name
    }
}

/// Percent-encoding of keys for `encoding-type=url` listings and `Location`s: everything but the RFC 3986
/// unreserved characters and `/`.
public enum URLEncoding {
    public static func encodeKey(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// The two date forms of S3: ISO 8601 with milliseconds in XML, RFC 1123 in headers.
public enum S3Dates {
    private static func components(_ date: Date) -> tm {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return parts
    }

    private static func pad(_ value: Int32, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    public static func iso8601(_ date: Date) -> String {
        let parts = components(date)
        let millis = Int32((date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)) * 1000)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(millis, 3))Z"
    }

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func rfc1123(_ date: Date) -> String {
        let parts = components(date)
        return "\(days[Int(parts.tm_wday)]), \(pad(parts.tm_mday, 2)) \(months[Int(parts.tm_mon)]) "
            + "\(pad(parts.tm_year + 1900, 4)) \(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)) GMT"
    }

    /// Reads an HTTP date (RFC 1123 form) as sent in `If-Modified-Since`; nil if it is not one.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", let day = Int(fields[1]),
            let month = months.firstIndex(of: String(fields[2])), let year = Int(fields[3])
        else { return nil }
        let time = fields[4].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(time[0])
        parts.tm_min = Int32(time[1])
        parts.tm_sec = Int32(time[2])
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
