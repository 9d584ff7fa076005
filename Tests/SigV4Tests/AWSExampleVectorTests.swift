import Foundation
import Testing

@testable import SigV4

/// AWS's published SigV4 examples: the signature test suite (`AKIDEXAMPLE`), the IAM ListUsers example from
/// the general reference, and the S3 examples (`AKIAIOSFODNN7EXAMPLE`). Every vector is signed with ``Signer``
/// and the signed request is verified with ``Verifier``.
@Suite struct AWSExampleVectorTests {
    static let suiteCredentials = Credentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2015-08-30T12:36:00Z.
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)
    static let stsToken =
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTfl"
        + "fKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvl"
        + "Rd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx"
        + "3iSIlTJabIQwj2ICCR/oLxBA=="

    struct SuiteCase: Sendable, CustomTestStringConvertible {
        var name: String
        var method = "GET"
        var path = "/"
        var query = ""
        var headers: [HTTPHeader] = []
        var body = ""
        var token: String?
        var signedHeaders = "host;x-amz-date"
        var signature: String
        var canonicalRequest: String?
        var testDescription: String { name }
    }

    static let empty = PayloadHash.emptySHA256
    static let suite: [SuiteCase] = [
        SuiteCase(name: "get-vanilla", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteCase(
            name: "get-vanilla-empty-query-key", query: "Param1=value1",
            signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
        SuiteCase(
            name: "get-vanilla-query-order-key", query: "Param1=value2&Param1=Value1",
            signature: "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
            canonicalRequest: "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
                + "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(empty)"),
        SuiteCase(
            name: "get-vanilla-query-order-key-case", query: "Param2=value2&Param1=value1",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        SuiteCase(
            name: "get-vanilla-query-order-value", query: "Param1=value2&Param1=value1",
            signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
        SuiteCase(
            name: "get-vanilla-query-unreserved",
            query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                + "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        SuiteCase(
            name: "get-vanilla-utf8-query", query: "ሴ=bar",
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
            canonicalRequest: "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "host;x-amz-date\n\(empty)"),
        SuiteCase(
            name: "get-header-key-duplicate",
            headers: [.init("My-Header1", "value2"), .init("My-Header1", "value2"), .init("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
                + "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n\(empty)"),
        SuiteCase(
            name: "get-header-value-order",
            headers: [
                .init("My-Header1", "value4"), .init("My-Header1", "value1"), .init("My-Header1", "value3"),
                .init("My-Header1", "value2"),
            ],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        SuiteCase(
            name: "get-header-value-trim",
            headers: [.init("My-Header1", " value1"), .init("My-Header2", " \"a   b   c\"")],
            signedHeaders: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            canonicalRequest: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
                + "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n\(empty)"),
        SuiteCase(
            name: "get-unreserved", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        SuiteCase(
            name: "get-utf8", path: "/ሴ",
            signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        SuiteCase(
            name: "get-space", path: "/example space/",
            signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
            canonicalRequest: "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "host;x-amz-date\n\(empty)"),
        SuiteCase(
            name: "get-relative", path: "/example/..",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteCase(
            name: "get-relative-relative", path: "/example1/example2/../..",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteCase(
            name: "get-slash", path: "//", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ),
        SuiteCase(
            name: "get-slash-dot-slash", path: "/./",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        SuiteCase(
            name: "get-slash-pointless-dot", path: "/./example",
            signature: "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
        SuiteCase(
            name: "get-slashes", path: "//example//",
            signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
            canonicalRequest: "GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "host;x-amz-date\n\(empty)"),
        SuiteCase(
            name: "post-vanilla", method: "POST",
            signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        SuiteCase(
            name: "post-vanilla-query", method: "POST", query: "Param1=value1",
            signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        SuiteCase(
            name: "post-header-key-sort", method: "POST", headers: [.init("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
        SuiteCase(
            name: "post-header-value-case", method: "POST", headers: [.init("My-Header1", "VALUE1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        SuiteCase(
            name: "post-x-www-form-urlencoded", method: "POST",
            headers: [.init("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
            signedHeaders: "content-type;host;x-amz-date",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
        SuiteCase(
            name: "post-x-www-form-urlencoded-parameters", method: "POST",
            headers: [.init("Content-Type", "application/x-www-form-urlencoded; charset=utf8")], body: "Param1=value1",
            signedHeaders: "content-type;host;x-amz-date",
            signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
        SuiteCase(
            name: "post-sts-header-before", method: "POST", token: stsToken,
            signedHeaders: "host;x-amz-date;x-amz-security-token",
            signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
        SuiteCase(
            name: "get-vanilla-with-session-token (aws-c-auth suite)",
            token: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            signedHeaders: "host;x-amz-date;x-amz-security-token",
            signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
    ]

    @Test("signs the AWS SigV4 test suite requests to the published signatures", arguments: suite)
    func signsTestSuite(_ vector: SuiteCase) {
        var credentials = Self.suiteCredentials
        credentials.sessionToken = vector.token
        let signer = Signer(credentials: credentials, region: "us-east-1", service: "service")
        let signed = signer.sign(
            method: vector.method, path: vector.path, query: vector.query,
            headers: [HTTPHeader("Host", "example.amazonaws.com")] + vector.headers,
            payload: .sha256(Support.sha256(vector.body)), date: Self.suiteDate)
        #expect(signed.signature == vector.signature)
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)")
        #expect(signed.addedHeaders.first == HTTPHeader("X-Amz-Date", "20150830T123600Z"))
        if let expected = vector.canonicalRequest {
            #expect(signed.canonicalRequest == expected)
        }
    }

    @Test("verifies the AWS SigV4 test suite requests as AWS published them", arguments: suite)
    func verifiesTestSuite(_ vector: SuiteCase) throws {
        var headers = [HTTPHeader("Host", "example.amazonaws.com")] + vector.headers
        headers.append(HTTPHeader("X-Amz-Date", "20150830T123600Z"))
        if let token = vector.token { headers.append(HTTPHeader("X-Amz-Security-Token", token)) }
        headers.append(
            HTTPHeader(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                    + "SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)"))
        let request = VerificationRequest(
            method: vector.method, path: vector.path, query: vector.query, headers: headers,
            bodySHA256: Support.sha256(vector.body))
        let verified = try Verifier().authenticate(
            request, now: Self.suiteDate, expectedRegion: "us-east-1", expectedService: "service"
        ) { $0 == "AKIDEXAMPLE" ? Self.suiteCredentials.secretAccessKey : nil }
        #expect(verified.authorization.accessKeyId == "AKIDEXAMPLE")
        #expect(verified.authorization.securityToken == vector.token)
        #expect(verified.payload == .sha256(Support.sha256(vector.body)))
    }

    @Test func aSecurityTokenAddedAfterSigningIsRejectedAsUnsigned() throws {
        // post-sts-header-after: the token is sent but was not signed.
        let request = VerificationRequest(
            method: "POST", path: "/",
            headers: [
                HTTPHeader("Host", "example.amazonaws.com"), HTTPHeader("X-Amz-Date", "20150830T123600Z"),
                HTTPHeader("X-Amz-Security-Token", Self.stsToken),
                HTTPHeader(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                        + "SignedHeaders=host;x-amz-date, "
                        + "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            ],
            bodySHA256: PayloadHash.emptySHA256)
        let error = Support.failure {
            try Verifier().authenticate(request, now: Self.suiteDate) { _ in Self.suiteCredentials.secretAccessKey }
        }
        #expect(error?.code == .headersNotSigned)
        // Without the stray header the same signature is the published post-vanilla one.
        var clean = request
        clean.headers = clean.headers.removing(named: "X-Amz-Security-Token")
        _ = try Verifier().authenticate(clean, now: Self.suiteDate) { _ in Self.suiteCredentials.secretAccessKey }
    }

    // MARK: - IAM ListUsers (general reference)

    @Test func derivesThePublishedSigningKeyForTheIAMExample() {
        let key = SigningKey(
            secretAccessKey: Self.suiteCredentials.secretAccessKey,
            scope: CredentialScope(date: "20150830", region: "us-east-1", service: "iam"))
        #expect(Bytes.hex(key.bytes) == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func signsAndVerifiesTheIAMListUsersExample() throws {
        let signer = Signer(credentials: Self.suiteCredentials, region: "us-east-1", service: "iam")
        let headers = [
            HTTPHeader("Host", "iam.amazonaws.com"),
            HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ]
        let signed = signer.sign(
            method: "GET", path: "/", query: "Action=ListUsers&Version=2010-05-08", headers: headers, payload: .empty,
            date: Self.suiteDate)
        #expect(
            Support.sha256(signed.canonicalRequest)
                == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-date, "
                + "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")

        let request = VerificationRequest(
            method: "GET", target: "/?Action=ListUsers&Version=2010-05-08", headers: signed.headers,
            bodySHA256: PayloadHash.emptySHA256)
        let verified = try Verifier().verify(
            request, authorization: Authorization.parse(request),
            secretAccessKey: Self.suiteCredentials.secretAccessKey, now: Self.suiteDate, expectedRegion: "us-east-1",
            expectedService: "iam")
        #expect(verified.authorization.scope.service == "iam")
    }

    // MARK: - S3 examples (AKIAIOSFODNN7EXAMPLE)

    static let s3Credentials = Credentials(
        accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    /// 2013-05-24T00:00:00Z.
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)
    static let s3Signer = Signer(credentials: s3Credentials, region: "us-east-1", service: "s3")
    static let bucketHost = HTTPHeader("Host", "examplebucket.s3.amazonaws.com")

    struct S3Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method = "GET"
        var path: String
        var query = ""
        var headers: [HTTPHeader] = []
        var body = ""
        var signedHeaders: String
        var signature: String
        var testDescription: String { name }
    }

    static let s3Cases: [S3Case] = [
        S3Case(
            name: "GET object with Range", path: "/test.txt", headers: [.init("Range", "bytes=0-9")],
            signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        S3Case(
            name: "PUT object, key sent with a raw $", method: "PUT", path: "/test$file.text",
            headers: [
                .init("Date", "Fri, 24 May 2013 00:00:00 GMT"), .init("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            body: "Welcome to Amazon S3.",
            signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        S3Case(
            name: "PUT object, key sent encoded", method: "PUT", path: "/test%24file.text",
            headers: [
                .init("Date", "Fri, 24 May 2013 00:00:00 GMT"), .init("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            body: "Welcome to Amazon S3.",
            signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        S3Case(
            name: "GET bucket lifecycle", path: "/", query: "lifecycle",
            signedHeaders: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        S3Case(
            name: "GET bucket (list objects)", path: "/", query: "max-keys=2&prefix=J",
            signedHeaders: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]

    @Test("signs and verifies the S3 header-auth examples", arguments: s3Cases)
    func s3HeaderExamples(_ vector: S3Case) throws {
        let bodyHash = Support.sha256(vector.body)
        let signed = Self.s3Signer.sign(
            method: vector.method, path: vector.path, query: vector.query, headers: [Self.bucketHost] + vector.headers,
            payload: .sha256(bodyHash), date: Self.s3Date)
        #expect(signed.signature == vector.signature)
        #expect(signed.signedHeaders == vector.signedHeaders)
        #expect(signed.headers.first(named: "x-amz-content-sha256") == bodyHash)

        let request = VerificationRequest(
            method: vector.method, path: vector.path, query: vector.query, headers: signed.headers,
            bodySHA256: bodyHash)
        let verified = try Verifier().authenticate(
            request, now: Self.s3Date, expectedRegion: "us-east-1", expectedService: "s3"
        ) { _ in Self.s3Credentials.secretAccessKey }
        #expect(verified.payload == .sha256(bodyHash))
    }

    @Test func presignsAndVerifiesTheS3PresignedGETExample() throws {
        let presigned = Self.s3Signer.presign(
            method: "GET", path: "/test.txt", headers: [Self.bucketHost], expires: 86_400, date: Self.s3Date)
        #expect(presigned.signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        #expect(
            presigned.query
                == "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2F"
                + "s3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&"
                + "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")

        let request = VerificationRequest(
            method: "GET", target: "/test.txt?\(presigned.query)", headers: [Self.bucketHost], bodySHA256: nil)
        let authorization = try Authorization.parse(request)
        #expect(authorization.location == .query(expires: 86_400))
        #expect(authorization.accessKeyId == "AKIAIOSFODNN7EXAMPLE")
        let verified = try Verifier().verify(
            request, authorization: authorization, secretAccessKey: Self.s3Credentials.secretAccessKey,
            now: Self.s3Date.addingTimeInterval(86_400), expectedRegion: "us-east-1", expectedService: "s3")
        #expect(verified.payload == .unsigned)
    }

    // MARK: - S3 streaming (aws-chunked) examples

    static let chunkObjectHeaders: [HTTPHeader] = [
        HTTPHeader("Host", "s3.amazonaws.com"),
        HTTPHeader("Content-Encoding", "aws-chunked"),
        HTTPHeader("x-amz-decoded-content-length", "66560"),
        HTTPHeader("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    ]

    @Test func signsTheS3StreamingExampleSeedAndEveryChunk() throws {
        let signed = Self.s3Signer.sign(
            method: "PUT", path: "/examplebucket/chunkObject.txt",
            headers: Self.chunkObjectHeaders + [HTTPHeader("Content-Length", "66824")], payload: .streamingSigned,
            date: Self.s3Date)
        #expect(
            signed.signedHeaders
                == "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                + "x-amz-decoded-content-length;x-amz-storage-class")
        #expect(signed.signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")

        var chain = signed.chunkSigner()
        let step1 = chain.sign(chunk: [UInt8](repeating: 0x61, count: 65_536))
        #expect(step1 == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")
        let step2 = chain.sign(chunk: [UInt8](repeating: 0x61, count: 1024))
        #expect(step2 == "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497")
        let step3 = chain.sign(chunk: [UInt8]())
        #expect(step3 == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")

        // The server side: verify the request head, then each chunk; a forged chunk breaks the chain.
        let request = VerificationRequest(
            method: "PUT", path: "/examplebucket/chunkObject.txt", headers: signed.headers, bodySHA256: nil)
        let verified = try Verifier().authenticate(request, now: Self.s3Date) { _ in
            Self.s3Credentials.secretAccessKey
        }
        #expect(verified.payload == .streamingSigned)
        var serverChain = try #require(verified.chunkSigner())
        let check8 = serverChain.verify(
            chunk: [UInt8](repeating: 0x61, count: 65_536),
            signature: "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")
        #expect(check8)
        let check9 = serverChain.verify(
            chunk: [UInt8](repeating: 0x62, count: 1024),
            signature: "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497")
        #expect(!check9)
    }

    @Test func signsTheS3StreamingTrailerExample() {
        let signed = Self.s3Signer.sign(
            method: "PUT", path: "/examplebucket/chunkObject.txt",
            headers: Self.chunkObjectHeaders + [HTTPHeader("x-amz-trailer", "x-amz-checksum-crc32c")],
            payload: .streamingSignedWithTrailer, date: Self.s3Date)
        #expect(signed.signature == "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")
        var chain = signed.chunkSigner()
        let step4 = chain.sign(chunk: [UInt8](repeating: 0x61, count: 65_536))
        #expect(step4 == "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2")
        let step5 = chain.sign(chunk: [UInt8](repeating: 0x61, count: 1024))
        #expect(step5 == "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7")
        let step6 = chain.sign(chunk: [UInt8]())
        #expect(step6 == "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992")
        let step7 = chain.signTrailer([HTTPHeader("x-amz-checksum-crc32c", "sOO8/Q==")])
        #expect(step7 == "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435")
    }
}
