import ArtifactStore
import Foundation
import SigV4

/// The object a copy reads: `x-amz-copy-source`, parsed once for both authorization and the copy.
struct S3CopySource: Sendable, Hashable {
    var bucket: String
    var key: String
    var versionID: String?

    init(bucket: String, key: String, versionID: String?) {
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
    }

    /// Reads `bucket/key[?versionId=id]`, with or without a leading slash, as S3 does: the value is URL-encoded and
    /// only a literal `?` starts the version, so an encoded `%3F` is part of the key.
    init(header: String) throws(S3Error) {
        func invalid(_ why: String) -> S3Error {
            .invalidArgument("Copy Source \(why)", name: "x-amz-copy-source", value: header)
        }
        var path = Substring(header)
        var versionID: String?
        if let question = path.firstIndex(of: "?") {
            let query = path[path.index(after: question)...]
            path = path[..<question]
            for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts[0] == "versionId", parts.count == 2 else {
                    throw invalid("may carry only a versionId after '?': bucket/key?versionId=id")
                }
                guard versionID == nil, let value = String(parts[1]).removingPercentEncoding, !value.isEmpty else {
                    throw invalid("must name one version, and not an empty one: bucket/key?versionId=id")
                }
                versionID = value
            }
        }
        if path.hasPrefix("/") { path = path.dropFirst() }
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex,
            path.index(after: slash) < path.endIndex
        else {
            throw invalid("must mention the source bucket and key: sourcebucket/sourcekey")
        }
        guard let bucket = String(path[..<slash]).removingPercentEncoding,
            let key = String(path[path.index(after: slash)...]).removingPercentEncoding
        else {
            throw invalid("is not correctly URL-encoded")
        }
        try S3Names.checkBucket(bucket)
        try ObjectKey.validate(key)
        self.bucket = bucket
        self.key = key
        self.versionID = versionID
    }
}

/// What an S3 request does, decided once from its method, path, query and `x-amz-copy-source`.
///
/// Authorization (``S3Operation/authorizations(bucket:key:)``) and the handler (`S3API.route`) both switch on
/// this value, so the action checked is the action served. A request that fits no operation is refused here
/// (`MethodNotAllowed`, `NotImplemented`, `InvalidArgument`, `InvalidRequest`), never mapped to a near one.
enum S3Operation: Sendable, Hashable {
    case listBuckets
    case createBucket
    case headBucket
    case deleteBucket
    case getBucketLocation
    case getBucketVersioning
    case putBucketVersioning
    /// ListObjects (`version2` false) or ListObjectsV2 (`list-type=2`).
    case listObjects(version2: Bool)
    case listMultipartUploads
    /// DeleteObjects: each key is authorised as it is deleted (`s3:DeleteObject` or `s3:DeleteObjectVersion`).
    case deleteObjects
    case getObject(versionID: String?)
    case headObject(versionID: String?)
    case putObject
    case copyObject(source: S3CopySource)
    case deleteObject(versionID: String?)
    case createMultipartUpload
    case uploadPart(uploadID: String, partNumber: Int)
    /// Recognised so that it is authorised as what it is, then answered `NotImplemented`.
    case uploadPartCopy(uploadID: String, partNumber: Int, source: S3CopySource)
    case listParts(uploadID: String)
    case completeMultipartUpload(uploadID: String)
    case abortMultipartUpload(uploadID: String)

    /// Query parameters naming bucket or object sub-resources this store does not have.
    static let unsupportedSubresources: Set<String> = [
        "acl", "tagging", "policy", "cors", "lifecycle", "website", "logging", "notification", "replication",
        "encryption", "ownershipControls", "publicAccessBlock", "object-lock", "retention", "legal-hold", "torrent",
        "restore", "select", "attributes", "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering",
        "requestPayment", "policyStatus", "versions",
    ]

    /// Bucket sub-resources this store serves; a request names at most one.
    private static let bucketSubresources = ["versioning", "location", "uploads", "delete"]

    /// Classifies `request`, or throws the S3 error for a request that fits no operation.
    init(_ request: S3Request) throws(S3Error) {
        let method = request.request.method.rawValue
        if let unsupported = request.query.first(where: { Self.unsupportedSubresources.contains($0.name) }) {
            throw S3Error.notImplemented("the '\(unsupported.name)' sub-resource")
        }
        let copySources = request.request.headers[values: .init("x-amz-copy-source")!]
        guard copySources.count <= 1 else {
            throw S3Error.invalidArgument("A request carries at most one x-amz-copy-source.", name: "x-amz-copy-source")
        }
        if request.bucket.isEmpty {
            guard request.key.isEmpty else {
                throw S3Error.invalidBucketName("", "a bucket name has 3 to 63 characters")
            }
            guard method == "GET" else { throw S3Error.methodNotAllowed(method, "SERVICE") }
            self = .listBuckets
            return
        }
        try S3Names.checkBucket(request.bucket)
        if request.key.isEmpty {
            self = try Self.bucketOperation(request, method: method, hasCopySource: !copySources.isEmpty)
            return
        }
        try ObjectKey.validate(request.key)
        let source = try copySources.first.map(S3CopySource.init(header:))
        self = try Self.objectOperation(request, method: method, source: source)
    }

    private static func bucketOperation(_ request: S3Request, method: String, hasCopySource: Bool) throws(S3Error)
        -> S3Operation
    {
        let named = bucketSubresources.filter { request.has($0) }
        guard named.count <= 1 else {
            throw S3Error.invalidRequest(
                "A bucket request names one sub-resource at most; this one names \(named.joined(separator: ", ")).")
        }
        guard !hasCopySource else { throw S3Error.invalidRequest("x-amz-copy-source needs an object key to copy to.") }
        for parameter in ["uploadId", "partNumber", "versionId"] where request.has(parameter) {
            throw S3Error.invalidRequest("'\(parameter)' is a parameter of object requests, not of a bucket.")
        }
        switch (method, named.first) {
        case ("GET", nil):
            if let listType = request.parameter("list-type"), listType != "2" {
                throw S3Error.invalidArgument("Invalid List Type specified", name: "list-type", value: listType)
            }
            return .listObjects(version2: request.parameter("list-type") == "2")
        case ("GET", "versioning"): return .getBucketVersioning
        case ("GET", "location"): return .getBucketLocation
        case ("GET", "uploads"): return .listMultipartUploads
        case ("PUT", nil): return .createBucket
        case ("PUT", "versioning"): return .putBucketVersioning
        case ("HEAD", nil): return .headBucket
        case ("DELETE", nil): return .deleteBucket
        case ("POST", "delete"): return .deleteObjects
        default: throw S3Error.methodNotAllowed(method, "BUCKET")
        }
    }

    private static func objectOperation(_ request: S3Request, method: String, source: S3CopySource?)
        throws(S3Error) -> S3Operation
    {
        let uploadID = request.parameter("uploadId")
        let versionID = request.parameter("versionId")
        if versionID == "" {
            throw S3Error.invalidArgument("Version id cannot be the empty string", name: "versionId", value: "")
        }
        guard source == nil || method == "PUT" else {
            throw S3Error.invalidRequest("x-amz-copy-source belongs to CopyObject and UploadPartCopy (PUT) only.")
        }
        for parameter in ["delete", "versioning", "location"] where request.has(parameter) {
            throw S3Error.invalidRequest("'\(parameter)' is a sub-resource of a bucket, not of an object.")
        }
        if request.has("uploads") {
            guard method == "POST", uploadID == nil else { throw S3Error.methodNotAllowed(method, "OBJECT") }
            return .createMultipartUpload
        }
        if let uploadID {
            guard versionID == nil else {
                throw S3Error.invalidRequest("A multipart upload request does not take a versionId.")
            }
            switch method {
            case "PUT":
                let number = try partNumber(request)
                if let source { return .uploadPartCopy(uploadID: uploadID, partNumber: number, source: source) }
                return .uploadPart(uploadID: uploadID, partNumber: number)
            case "GET": return .listParts(uploadID: uploadID)
            case "POST": return .completeMultipartUpload(uploadID: uploadID)
            case "DELETE": return .abortMultipartUpload(uploadID: uploadID)
            default: throw S3Error.methodNotAllowed(method, "UPLOAD")
            }
        }
        if request.has("partNumber") {
            guard method == "GET" || method == "HEAD" else {
                throw S3Error.invalidRequest("partNumber needs the uploadId of a multipart upload.")
            }
            throw S3Error.notImplemented("GetObject with partNumber")
        }
        switch method {
        case "GET": return .getObject(versionID: versionID)
        case "HEAD": return .headObject(versionID: versionID)
        case "PUT":
            guard versionID == nil else { throw S3Error.invalidRequest("PutObject does not take a versionId.") }
            if let source { return .copyObject(source: source) }
            return .putObject
        case "DELETE": return .deleteObject(versionID: versionID)
        default: throw S3Error.methodNotAllowed(method, "OBJECT")
        }
    }

    /// `partNumber` as S3 takes it: a whole number from 1 to 10,000, digits only.
    private static func partNumber(_ request: S3Request) throws(S3Error) -> Int {
        let text = request.parameter("partNumber") ?? ""
        guard let number = S3Names.decimal(text, maximumDigits: 5), (1...Multipart.maximumParts).contains(number)
        else {
            throw S3Error.invalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive", name: "partNumber", value: text)
        }
        return number
    }

    /// The IAM actions the operation needs, each with the ARN it is checked on (nil: the request names no bucket).
    func authorizations(bucket: String, key: String) -> [(action: String, resource: String?)] {
        let bucketARN = "arn:aws:s3:::\(bucket)"
        let objectARN = "arn:aws:s3:::\(bucket)/\(key)"
        func read(_ source: S3CopySource) -> (String, String?) {
            (
                source.versionID == nil ? "s3:GetObject" : "s3:GetObjectVersion",
                "arn:aws:s3:::\(source.bucket)/\(source.key)"
            )
        }
        switch self {
        case .listBuckets: return [("s3:ListAllMyBuckets", nil)]
        case .createBucket: return [("s3:CreateBucket", bucketARN)]
        case .headBucket, .listObjects: return [("s3:ListBucket", bucketARN)]
        case .deleteBucket: return [("s3:DeleteBucket", bucketARN)]
        case .getBucketLocation: return [("s3:GetBucketLocation", bucketARN)]
        case .getBucketVersioning: return [("s3:GetBucketVersioning", bucketARN)]
        case .putBucketVersioning: return [("s3:PutBucketVersioning", bucketARN)]
        case .listMultipartUploads: return [("s3:ListBucketMultipartUploads", bucketARN)]
        case .deleteObjects: return []
        case .getObject(let versionID), .headObject(let versionID):
            return [(versionID == nil ? "s3:GetObject" : "s3:GetObjectVersion", objectARN)]
        case .putObject, .createMultipartUpload, .uploadPart, .completeMultipartUpload:
            return [("s3:PutObject", objectARN)]
        case .copyObject(let source), .uploadPartCopy(_, _, let source):
            return [("s3:PutObject", objectARN), read(source)]
        case .deleteObject(let versionID):
            return [(versionID == nil ? "s3:DeleteObject" : "s3:DeleteObjectVersion", objectARN)]
        case .listParts: return [("s3:ListMultipartUploadParts", objectARN)]
        case .abortMultipartUpload: return [("s3:AbortMultipartUpload", objectARN)]
        }
    }

    /// The action DeleteObjects checks for one of its keys.
    static func deleteAuthorization(bucket: String, key: String, versionID: String?) -> (
        action: String, resource: String
    ) {
        (versionID == nil ? "s3:DeleteObject" : "s3:DeleteObjectVersion", "arn:aws:s3:::\(bucket)/\(key)")
    }
}

/// Checks on names as they arrive in requests.
enum S3Names {
    /// A bucket named by a request must satisfy S3's naming rules (no request can reach a bucket that does not:
    /// CreateBucket refuses such names).
    static func checkBucket(_ name: String) throws(S3Error) {
        try BucketName.validate(name)
    }

    /// The value of `text` if it is 1 to `maximumDigits` ASCII digits (at most 18) and nothing else.
    static func decimal(_ text: String, maximumDigits: Int) -> Int? {
        Bytes.decimal(text, maximumDigits: maximumDigits)
    }
}
