import ArtifactStore
import Foundation
import HTTPTypes
import Hummingbird
import SigV4
import Testing

@testable import Server

/// How S3 requests are classified: one ``S3Operation`` per request, used by both authorization and the handler.
@Suite("S3 request classification")
struct S3OperationTests {
    static func request(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = [])
        throws(S3Error)
        -> S3Request
    {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return try S3Request(
            Request(
                head: HTTPRequest(
                    method: method, scheme: "http", authority: "slipway.test", path: target, headerFields: fields),
                body: RequestBody(buffer: ByteBuffer())))
    }

    /// The operation of a request, or the S3 error code it is refused with.
    static func classify(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = [])
        -> Result<S3Operation, S3Error>
    {
        do {
            return .success(try S3Operation(try request(method, target, headers: headers)))
        } catch {
            return .failure(error)
        }
    }

    static func operation(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = [])
        -> S3Operation?
    {
        try? classify(method, target, headers: headers).get()
    }

    static func errorCode(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = []) -> String? {
        if case .failure(let error) = classify(method, target, headers: headers) { return error.code }
        return nil
    }

    @Test("each supported request is the operation S3 documents for it")
    func supportedRequests() {
        #expect(Self.operation(.get, "/") == .listBuckets)
        #expect(Self.operation(.put, "/bucket") == .createBucket)
        #expect(Self.operation(.head, "/bucket") == .headBucket)
        #expect(Self.operation(.delete, "/bucket") == .deleteBucket)
        #expect(Self.operation(.get, "/bucket?location") == .getBucketLocation)
        #expect(Self.operation(.get, "/bucket?versioning") == .getBucketVersioning)
        #expect(Self.operation(.put, "/bucket?versioning") == .putBucketVersioning)
        #expect(Self.operation(.get, "/bucket") == .listObjects(version2: false))
        #expect(Self.operation(.get, "/bucket?list-type=2&prefix=a%2Fb") == .listObjects(version2: true))
        #expect(Self.operation(.get, "/bucket?uploads") == .listMultipartUploads)
        #expect(Self.operation(.post, "/bucket?delete") == .deleteObjects)
        #expect(Self.operation(.get, "/bucket/k") == .getObject(versionID: nil))
        #expect(Self.operation(.get, "/bucket/k?versionId=v1") == .getObject(versionID: "v1"))
        #expect(Self.operation(.head, "/bucket/k") == .headObject(versionID: nil))
        #expect(Self.operation(.put, "/bucket/k") == .putObject)
        #expect(Self.operation(.delete, "/bucket/k?versionId=v1") == .deleteObject(versionID: "v1"))
        #expect(Self.operation(.post, "/bucket/k?uploads") == .createMultipartUpload)
        #expect(Self.operation(.put, "/bucket/k?partNumber=3&uploadId=u") == .uploadPart(uploadID: "u", partNumber: 3))
        #expect(Self.operation(.get, "/bucket/k?uploadId=u") == .listParts(uploadID: "u"))
        #expect(Self.operation(.post, "/bucket/k?uploadId=u") == .completeMultipartUpload(uploadID: "u"))
        #expect(Self.operation(.delete, "/bucket/k?uploadId=u") == .abortMultipartUpload(uploadID: "u"))
        let source = ("x-amz-copy-source", "/src-bucket/a.zip")
        #expect(
            Self.operation(.put, "/bucket/k", headers: [source])
                == .copyObject(source: try! S3CopySource(header: "src-bucket/a.zip")))
        #expect(
            Self.operation(.put, "/bucket/k?partNumber=1&uploadId=u", headers: [source])
                == .uploadPartCopy(uploadID: "u", partNumber: 1, source: try! S3CopySource(header: "src-bucket/a.zip")))
    }

    @Test("HEAD of an object with uploadId is refused, not served as HeadObject")
    func headWithUploadIDIsRefused() {
        #expect(Self.errorCode(.head, "/bucket/k?uploadId=x") == "MethodNotAllowed")
        #expect(Self.errorCode(.head, "/bucket/k?uploadId=") == "MethodNotAllowed")
    }

    @Test("requests that fit no operation are refused with S3's error for them")
    func unmatchedRequests() {
        #expect(Self.errorCode(.put, "/") == "MethodNotAllowed")
        #expect(Self.errorCode(.post, "/bucket") == "MethodNotAllowed")
        #expect(Self.errorCode(.post, "/bucket/k") == "MethodNotAllowed")
        #expect(Self.errorCode(.patch, "/bucket/k") == "MethodNotAllowed")
        #expect(Self.errorCode(.options, "/bucket") == "MethodNotAllowed")
        #expect(Self.errorCode(.put, "/bucket/k?uploads") == "MethodNotAllowed")
        #expect(Self.errorCode(.head, "/bucket?location") == "MethodNotAllowed")
        #expect(Self.errorCode(.get, "/bucket?acl") == "NotImplemented")
        #expect(Self.errorCode(.get, "/bucket/k?tagging") == "NotImplemented")
        #expect(Self.errorCode(.get, "/bucket/k?partNumber=1") == "NotImplemented")
        #expect(Self.errorCode(.get, "/bucket?versioning&location") == "InvalidRequest")
        #expect(Self.errorCode(.get, "/bucket?list-type=1") == "InvalidArgument")
        #expect(Self.errorCode(.get, "/bucket/k?versionId=") == "InvalidArgument")
        #expect(Self.errorCode(.put, "/bucket/k?versionId=v") == "InvalidRequest")
        #expect(Self.errorCode(.put, "/bucket/k?partNumber=1") == "InvalidRequest")
        #expect(Self.errorCode(.get, "/bucket/k", headers: [("x-amz-copy-source", "bucket2/k")]) == "InvalidRequest")
        #expect(Self.errorCode(.put, "/bucket", headers: [("x-amz-copy-source", "bucket2/k")]) == "InvalidRequest")
    }

    @Test(
        "a part number that is not a whole number from 1 to 10000 is refused",
        arguments: [
            "0", "10001", "-1", "%2B1", "1.0", "1e2", "", "99999999999999999999999", "%EF%BC%91", "1%00", "0x1",
        ])
    func badPartNumbers(_ value: String) {
        #expect(Self.errorCode(.put, "/bucket/k?uploadId=u&partNumber=\(value)") == "InvalidArgument")
    }

    @Test("the copy source is read once: an encoded ? is part of the key, a literal ? starts the version")
    func copySourceParsing() throws {
        let encoded = try S3CopySource(header: "/src-bucket/a%3FversionId%3Dx.zip")
        #expect(encoded == S3CopySource(bucket: "src-bucket", key: "a?versionId=x.zip", versionID: nil))
        let versioned = try S3CopySource(header: "src-bucket/dir/a%20b.zip?versionId=3%2F4")
        #expect(versioned == S3CopySource(bucket: "src-bucket", key: "dir/a b.zip", versionID: "3/4"))
        let slashes = try S3CopySource(header: "src-bucket/a%2Fb/../c")
        #expect(slashes.key == "a/b/../c", "keys are names, not paths: `..` is kept as it is")
    }

    static let badCopySources = [
        "", "/", "bucket", "bucket/", "/bucket/", "bucket%2Fkey", "bucket/k?versionId=", "bucket/k?versionId",
        "bucket/k?acl", "bucket/k?versionId=a&versionId=b", "bucket/k%00", "bucket/k%0Ad", "bucket/k%7F",
        "bucket/%E0%A4", "bu/k", "Bucket/k", "../etc/passwd", "bucket%00/k",
        "bucket/" + String(repeating: "k", count: 1025),
    ]

    @Test("a copy source that does not name a valid bucket and key is refused", arguments: badCopySources)
    func badCopySourceIsRefused(_ header: String) {
        let code = Self.errorCode(.put, "/bucket/k", headers: [("x-amz-copy-source", header)])
        #expect(
            ["InvalidArgument", "InvalidBucketName", "KeyTooLongError"].contains(code),
            "\(header): \(code ?? "accepted")")
    }

    @Test("two copy sources are refused rather than one of them chosen")
    func twoCopySources() {
        let code = Self.errorCode(
            .put, "/bucket/k", headers: [("x-amz-copy-source", "bucket/a"), ("x-amz-copy-source", "bucket/b")])
        #expect(code == "InvalidArgument")
    }

    @Test("an encoded slash stays in its segment: it cannot move the bucket boundary")
    func encodedSlashes() throws {
        #expect(Self.errorCode(.get, "/bucket%2Fkey") == "InvalidBucketName")
        #expect(Self.errorCode(.get, "/prod%2Fartifacts/app.zip") == "InvalidBucketName")
        let request = try Self.request(.get, "/bucket/a%2Fb")
        #expect(request.bucket == "bucket")
        #expect(request.key == "a/b")
    }

    @Test(
        "a NUL, control character or bad name in a bucket or key is refused",
        arguments: [
            "/bucket/a%00b", "/bucket/a%0Ab", "/bucket/%1B%5B31m", "/bucket/a%7F", "/buc%00ket/k", "/../k", "/./k",
            "/BUCKET/k", "/b/k", "/bucket..name/k", "/192.168.1.1/k", "//k", "/-bucket/k",
            "/bucket/%FF", "/bucket/" + String(repeating: "x", count: 1025),
        ])
    func badNames(_ target: String) {
        let code = Self.errorCode(.get, target)
        #expect(
            ["InvalidArgument", "InvalidBucketName", "InvalidURI", "KeyTooLongError"].contains(code),
            "\(target): \(code ?? "accepted")")
    }

    @Test("`..` segments in a key are part of the key's name and never reach the file system")
    func dotSegmentsInKeys() throws {
        #expect(Self.operation(.get, "/bucket/a/../b") == .getObject(versionID: nil))
        #expect(try Self.request(.get, "/bucket/a/../b").key == "a/../b")
    }

    @Test("the action checked is the action the operation serves")
    func authorizedActions() {
        func actions(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = []) -> [String] {
            guard let operation = Self.operation(method, target, headers: headers) else { return ["refused"] }
            return operation.authorizations(bucket: "bucket", key: "k").map { "\($0.action) \($0.resource ?? "*")" }
        }
        let object = "arn:aws:s3:::bucket/k"
        #expect(actions(.get, "/bucket/k") == ["s3:GetObject \(object)"])
        #expect(actions(.head, "/bucket/k?versionId=v") == ["s3:GetObjectVersion \(object)"])
        #expect(actions(.get, "/bucket/k?uploadId=u") == ["s3:ListMultipartUploadParts \(object)"])
        #expect(actions(.head, "/bucket/k?uploadId=u") == ["refused"])
        #expect(actions(.delete, "/bucket/k?uploadId=u") == ["s3:AbortMultipartUpload \(object)"])
        #expect(actions(.delete, "/bucket/k?versionId=v") == ["s3:DeleteObjectVersion \(object)"])
        #expect(actions(.get, "/bucket?uploads") == ["s3:ListBucketMultipartUploads arn:aws:s3:::bucket"])
        #expect(actions(.get, "/") == ["s3:ListAllMyBuckets *"])
        #expect(actions(.post, "/bucket?delete") == [], "DeleteObjects authorises each key as it deletes it")
        #expect(
            actions(.put, "/bucket/k", headers: [("x-amz-copy-source", "/prod-artifacts/app%3F.zip?versionId=7")])
                == ["s3:PutObject \(object)", "s3:GetObjectVersion arn:aws:s3:::prod-artifacts/app?.zip"])
        #expect(
            actions(.put, "/bucket/k?uploadId=u&partNumber=2", headers: [("x-amz-copy-source", "src-b/x")])
                == ["s3:PutObject \(object)", "s3:GetObject arn:aws:s3:::src-b/x"])
    }
}
