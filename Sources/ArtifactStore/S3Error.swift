import Foundation

/// An S3 error as S3 reports it: a code (`NoSuchKey`), a message, an HTTP status, and the resource it is about.
///
/// Rendered by ``xml(requestID:)`` as `<Error><Code>…</Code><Message>…</Message>…</Error>`; HEAD responses carry no
/// body, so the adapter sends only the status and the `x-amz-request-id`.
public struct S3Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// The S3 error code, e.g. `NoSuchBucket`.
    public var code: String
    /// A sentence for people.
    public var message: String
    /// The HTTP status.
    public var status: Int
    /// Extra elements S3 adds to some errors (`BucketName`, `Key`, `Condition`, `ActualObjectSize`, …), in order.
    public var details: [(String, String)]
    /// Response headers that go with the error (`Content-Range` of an `InvalidRange`, `x-amz-delete-marker`, …).
    public var headers: [(String, String)]

    public init(
        _ code: String, _ message: String, status: Int, details: [(String, String)] = [],
        headers: [(String, String)] = []
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.headers = headers
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: S3Error, rhs: S3Error) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.status == rhs.status
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(status)
    }

    /// The XML body of the error.
    public func xml(resource: String?, requestID: String) -> String {
        var xml = XMLWriter()
        xml.open("Error")
        xml.element("Code", code)
        xml.element("Message", message)
        for (name, value) in details { xml.element(name, value) }
        if let resource { xml.element("Resource", resource) }
        xml.element("RequestId", requestID)
        xml.close("Error")
        return xml.document
    }

    // MARK: Errors the API returns

    public static func noSuchBucket(_ bucket: String) -> S3Error {
        S3Error(
            "NoSuchBucket", "The specified bucket does not exist.", status: 404, details: [("BucketName", bucket)])
    }

    public static func noSuchKey(_ key: String, deleteMarker: Bool = false) -> S3Error {
        S3Error(
            "NoSuchKey", "The specified key does not exist.", status: 404, details: [("Key", key)],
            headers: deleteMarker ? [("x-amz-delete-marker", "true")] : [])
    }

    public static func noSuchVersion(_ key: String, versionID: String) -> S3Error {
        S3Error(
            "NoSuchVersion", "The specified version does not exist.", status: 404,
            details: [("Key", key), ("VersionId", versionID)])
    }

    public static func noSuchUpload(_ uploadID: String) -> S3Error {
        S3Error(
            "NoSuchUpload",
            "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been "
                + "aborted or completed.",
            status: 404, details: [("UploadId", uploadID)])
    }

    public static func invalidBucketName(_ bucket: String, _ reason: String) -> S3Error {
        S3Error(
            "InvalidBucketName", "The specified bucket is not valid: \(reason).", status: 400,
            details: [("BucketName", bucket)])
    }

    public static func keyTooLong(_ length: Int) -> S3Error {
        S3Error(
            "KeyTooLongError", "Your key is too long: \(length) bytes, the most is \(ObjectKey.maximumLength).",
            status: 400)
    }

    public static func bucketAlreadyOwnedByYou(_ bucket: String) -> S3Error {
        S3Error(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.", status: 409,
            details: [("BucketName", bucket)])
    }

    public static func bucketNotEmpty(_ bucket: String) -> S3Error {
        S3Error(
            "BucketNotEmpty", "The bucket you tried to delete is not empty.", status: 409,
            details: [("BucketName", bucket)])
    }

    public static func invalidArgument(_ message: String, name: String? = nil, value: String? = nil) -> S3Error {
        var details: [(String, String)] = []
        if let name { details.append(("ArgumentName", name)) }
        if let value { details.append(("ArgumentValue", value)) }
        return S3Error("InvalidArgument", message, status: 400, details: details)
    }

    public static func invalidRequest(_ message: String) -> S3Error {
        S3Error("InvalidRequest", message, status: 400)
    }

    public static func malformedXML(_ reason: String) -> S3Error {
        S3Error(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema: \(reason).",
            status: 400)
    }

    public static func invalidRange(objectSize: Int64) -> S3Error {
        S3Error(
            "InvalidRange", "The requested range is not satisfiable.", status: 416,
            details: [("ActualObjectSize", String(objectSize))], headers: [("Content-Range", "bytes */\(objectSize)")])
    }

    public static func preconditionFailed(_ condition: String) -> S3Error {
        S3Error(
            "PreconditionFailed", "At least one of the preconditions you specified did not hold.", status: 412,
            details: [("Condition", condition)])
    }

    public static func badDigest(_ message: String) -> S3Error {
        S3Error("BadDigest", message, status: 400)
    }

    public static func invalidDigest(_ message: String) -> S3Error {
        S3Error("InvalidDigest", message, status: 400)
    }

    public static func incompleteBody(_ message: String) -> S3Error {
        S3Error("IncompleteBody", message, status: 400)
    }

    public static func entityTooLarge(_ size: Int64, maximum: Int64) -> S3Error {
        S3Error(
            "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", status: 400,
            details: [("ProposedSize", String(size)), ("MaxSizeAllowed", String(maximum))])
    }

    public static func entityTooSmall(part: Int, size: Int64) -> S3Error {
        S3Error(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed object size: part \(part) has \(size) bytes, "
                + "and every part but the last needs at least \(Multipart.minimumPartSize).",
            status: 400, details: [("PartNumber", String(part)), ("ProposedSize", String(size))])
    }

    public static func invalidPart(_ message: String) -> S3Error {
        S3Error("InvalidPart", message, status: 400)
    }

    public static func invalidPartOrder() -> S3Error {
        S3Error(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. The parts list must be specified in order of part number.",
            status: 400)
    }

    /// The store's quota (`--artifact-quota`) would be passed. The code is the one S3-compatible stores (Ceph RGW)
    /// use for a quota; S3 itself has none.
    public static func quotaExceeded(quota: Int64, inUse: Int64, requested: Int64) -> S3Error {
        S3Error(
            "QuotaExceeded",
            "The artifact store's quota of \(quota) bytes would be exceeded: \(inUse) bytes are stored or being "
                + "received and this upload needs \(requested) more. Delete objects or old versions, abort incomplete "
                + "multipart uploads, or raise the server's --artifact-quota.",
            status: 403)
    }

    public static func accessDenied(_ message: String = "Access Denied") -> S3Error {
        S3Error("AccessDenied", message, status: 403)
    }

    public static func notImplemented(_ what: String) -> S3Error {
        S3Error(
            "NotImplemented", "A header or query you provided implies functionality that is not implemented: \(what).",
            status: 501)
    }

    public static func methodNotAllowed(_ method: String, _ resource: String) -> S3Error {
        S3Error(
            "MethodNotAllowed", "The specified method is not allowed against this resource.", status: 405,
            details: [("Method", method), ("ResourceType", resource)])
    }

    public static func internalError(_ requestID: String) -> S3Error {
        S3Error(
            "InternalError",
            "We encountered an internal error; the server log has the details under request id \(requestID).",
            status: 500)
    }
}
