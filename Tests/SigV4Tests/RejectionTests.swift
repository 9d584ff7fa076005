import Foundation
import Testing

@testable import SigV4

/// Requests that must not verify, and the typed error (with its AWS wire names) each one produces.
@Suite struct RejectionTests {
    static let credentials = Credentials(
        accessKeyId: "AKIASLIPWAYTEST00001", secretAccessKey: "verify/me+Secret0123456789abcdefghijklmn")
    /// 2026-03-14T09:26:53Z.
    static let signedAt = Date(timeIntervalSince1970: 1_773_480_413)
    static let body = #"{"applicationName":"web"}"#

    /// A CodeDeploy JSON request signed by ``Signer``, as the server would receive it.
    static func codeDeployRequest(
        region: String = "eu-west-1", service: String = "codedeploy", credentials: Credentials = credentials
    ) -> VerificationRequest {
        let signer = Signer(credentials: credentials, region: region, service: service)
        let signed = signer.sign(
            method: "POST", path: "/",
            headers: [
                HTTPHeader("Host", "slipway.example.com"), HTTPHeader("Content-Type", "application/x-amz-json-1.1"),
                HTTPHeader("X-Amz-Target", "CodeDeploy_20141006.GetApplication"),
            ],
            payload: .sha256(Support.sha256(body)), date: signedAt)
        return VerificationRequest(
            method: "POST", target: "/", headers: signed.headers, bodySHA256: Support.sha256(body))
    }

    /// An S3 PUT signed by ``Signer`` with `x-amz-content-sha256`.
    static func s3Put(body: String = "object bytes") -> VerificationRequest {
        let signer = Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let signed = signer.sign(
            method: "PUT", path: "/bucket/key.txt", headers: [HTTPHeader("Host", "slipway.example.com")],
            payload: .sha256(Support.sha256(body)), date: signedAt)
        return VerificationRequest(
            method: "PUT", path: "/bucket/key.txt", headers: signed.headers, bodySHA256: Support.sha256(body))
    }

    static func verify(
        _ request: VerificationRequest, secret: String = credentials.secretAccessKey, now: Date = signedAt,
        region: String? = "eu-west-1", service: String? = "codedeploy"
    ) -> SigV4Error? {
        Support.failure {
            try Verifier().authenticate(request, now: now, expectedRegion: region, expectedService: service) {
                $0 == credentials.accessKeyId ? secret : nil
            }
        }
    }

    static func replacing(_ name: String, with value: String, in request: VerificationRequest) -> VerificationRequest {
        var copy = request
        copy.headers = copy.headers.map {
            Bytes.equalsIgnoringASCIICase($0.name, name) ? HTTPHeader($0.name, value) : $0
        }
        return copy
    }

    @Test func theUntamperedRequestVerifies() throws {
        #expect(Self.verify(Self.codeDeployRequest()) == nil)
        #expect(Self.verify(Self.s3Put(), region: "us-east-1", service: "s3") == nil)
    }

    @Test func aChangedHeaderValueFailsAsSignatureMismatch() throws {
        let request = Self.replacing(
            "X-Amz-Target", with: "CodeDeploy_20141006.DeleteApplication", in: Self.codeDeployRequest())
        let error = try #require(Self.verify(request))
        #expect(error.code == .signatureMismatch)
        #expect(error.wireCode(for: .json) == "InvalidSignatureException")
        #expect(error.wireCode(for: .query) == "SignatureDoesNotMatch")
        #expect(error.wireCode(for: .s3) == "SignatureDoesNotMatch")
        #expect(error.httpStatus(for: .s3) == 403)
        #expect(error.canonicalRequest?.contains("x-amz-target:CodeDeploy_20141006.DeleteApplication") == true)
        #expect(error.stringToSign?.hasPrefix("AWS4-HMAC-SHA256\n20260314T092653Z\n") == true)
    }

    @Test func aChangedBodyFailsTheSignature() throws {
        var request = Self.codeDeployRequest()
        request.bodySHA256 = Support.sha256(#"{"applicationName":"other"}"#)
        #expect(try #require(Self.verify(request)).code == .signatureMismatch)
    }

    @Test func aBodyThatDiffersFromTheSignedContentHashFailsAsPayloadMismatch() throws {
        var request = Self.s3Put(body: "object bytes")
        request.bodySHA256 = Support.sha256("tampered bytes")
        let error = try #require(Self.verify(request, region: "us-east-1", service: "s3"))
        #expect(error.code == .payloadHashMismatch)
        #expect(error.wireCode(for: .s3) == "XAmzContentSHA256Mismatch")
        // A changed declared hash is a changed signed header.
        let relabelled = Self.replacing("x-amz-content-sha256", with: Support.sha256("tampered bytes"), in: request)
        #expect(try #require(Self.verify(relabelled, region: "us-east-1", service: "s3")).code == .signatureMismatch)
    }

    @Test func aChangedDateFailsTheSignatureOrTheScope() throws {
        let sameDay = Self.replacing("X-Amz-Date", with: "20260314T092654Z", in: Self.codeDeployRequest())
        #expect(try #require(Self.verify(sameDay)).code == .signatureMismatch)
        let nextDay = Self.replacing("X-Amz-Date", with: "20260315T000100Z", in: Self.codeDeployRequest())
        let error = try #require(Self.verify(nextDay, now: Date(timeIntervalSince1970: 1_773_532_860)))
        #expect(error.code == .credentialDateMismatch)
        #expect(error.wireCode(for: .s3) == "AuthorizationHeaderMalformed")
    }

    @Test func aWrongSecretFailsAsSignatureMismatch() throws {
        let error = try #require(Self.verify(Self.codeDeployRequest(), secret: "not/the+right/secret"))
        #expect(error.code == .signatureMismatch)
    }

    @Test func aWrongRegionIsNamedAsSuch() throws {
        let error = try #require(Self.verify(Self.codeDeployRequest(region: "us-west-2")))
        #expect(error.code == .wrongRegion)
        #expect(error.message.contains("'us-west-2'") && error.message.contains("'eu-west-1'"))
        #expect(error.wireCode(for: .json) == "InvalidSignatureException")
        #expect(error.wireCode(for: .query) == "SignatureDoesNotMatch")
        #expect(error.wireCode(for: .s3) == "AuthorizationHeaderMalformed")
        // Rewriting the region in the credential to pass the check breaks the signature instead.
        let request = Self.codeDeployRequest(region: "us-west-2")
        let authorization = try #require(request.headers.first(named: "Authorization"))
        let forged = Self.replacing(
            "Authorization", with: authorization.replacingOccurrences(of: "/us-west-2/", with: "/eu-west-1/"),
            in: request)
        #expect(try #require(Self.verify(forged)).code == .signatureMismatch)
    }

    @Test func aWrongServiceIsNamedAsSuch() throws {
        let error = try #require(Self.verify(Self.codeDeployRequest(service: "codedeploy-commands")))
        #expect(error.code == .wrongService)
        #expect(error.wireCode(for: .json) == "InvalidSignatureException")
    }

    @Test(arguments: [-1, 1])
    func aRequestMoreThanFifteenMinutesFromTheClockIsTooSkewed(direction: Int) throws {
        let request = Self.codeDeployRequest()
        let edge = Self.signedAt.addingTimeInterval(TimeInterval(direction * 15 * 60))
        #expect(Self.verify(request, now: edge) == nil, "exactly 15 minutes is still accepted")
        let error = try #require(Self.verify(request, now: edge.addingTimeInterval(TimeInterval(direction))))
        #expect(error.code == .requestTimeTooSkewed)
        #expect(error.message.contains(direction > 0 ? "Signature expired" : "Signature not yet current"))
        #expect(error.wireCode(for: .json) == "InvalidSignatureException")
        #expect(error.wireCode(for: .s3) == "RequestTimeTooSkewed")
        #expect(error.httpStatus(for: .s3) == 403)
    }

    static func presignedGET(expires: Int = 600) -> VerificationRequest {
        let signer = Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let host = HTTPHeader("Host", "slipway.example.com")
        let presigned = signer.presign(
            method: "GET", path: "/bucket/bundle.zip", headers: [host], expires: expires, date: signedAt)
        return VerificationRequest(
            method: "GET", target: "/bucket/bundle.zip?\(presigned.query)", headers: [host], bodySHA256: nil)
    }

    @Test func anExpiredPresignedURLIsRejected() throws {
        let request = Self.presignedGET(expires: 600)
        #expect(
            Self.verify(request, now: Self.signedAt.addingTimeInterval(600), region: "us-east-1", service: "s3") == nil)
        let late = Self.signedAt.addingTimeInterval(601)
        let error = try #require(Self.verify(request, now: late, region: "us-east-1", service: "s3"))
        #expect(error.code == .presignedURLExpired)
        #expect(error.message.hasPrefix("Request has expired"))
        #expect(error.wireCode(for: .s3) == "AccessDenied")
        #expect(error.httpStatus(for: .s3) == 403)
        let early = Self.signedAt.addingTimeInterval(-16 * 60)
        #expect(
            try #require(Self.verify(request, now: early, region: "us-east-1", service: "s3")).code
                == .presignedURLNotYetValid)
    }

    @Test func aTamperedPresignedURLFailsTheSignature() throws {
        var request = Self.presignedGET()
        request.path = "/bucket/other.zip"
        let error = try #require(Self.verify(request, region: "us-east-1", service: "s3"))
        #expect(error.code == .signatureMismatch)
        #expect(error.viaQueryParameters)
        var longer = Self.presignedGET()
        longer.query = longer.query.replacingOccurrences(of: "X-Amz-Expires=600", with: "X-Amz-Expires=6000")
        #expect(try #require(Self.verify(longer, region: "us-east-1", service: "s3")).code == .signatureMismatch)
    }

    @Test func aRequestWithoutAnyAuthenticationIsNamedMissing() throws {
        let request = VerificationRequest(
            method: "POST", target: "/", headers: [HTTPHeader("Host", "h")], bodySHA256: PayloadHash.emptySHA256)
        let error = try #require(Self.verify(request))
        #expect(error.code == .missingAuthentication)
        #expect(error.wireCode(for: .json) == "MissingAuthenticationTokenException")
        #expect(error.wireCode(for: .query) == "MissingAuthenticationToken")
        #expect(error.wireCode(for: .s3) == "AccessDenied")
    }

    static let malformed: [String] = [
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/codedeploy/aws4_request, "
            + "SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/codedeploy/aws5_request, "
            + "SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/2026-03-14/eu-west-1/codedeploy/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/codedeploy/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=not-hex",
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/codedeploy/aws4_request, "
            + "SignedHeaders=, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 garbage",
        "",
        // Signed header names that are not HTTP tokens: U+037E reads as ';' to Swift's Character comparison.
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/codedeploy/aws4_request, "
            + "SignedHeaders=host;x\u{37E}y, Signature=" + String(repeating: "a", count: 64),
        "AWS4-HMAC-SHA256 Credential=AKIASLIPWAYTEST00001/20260314/eu-west-1/codedeploy/aws4_request, "
            + "SignedHeaders=host;x-amz-date\u{0}, Signature=" + String(repeating: "a", count: 64),
    ]

    @Test(arguments: malformed)
    func aMalformedAuthorizationHeaderIsIncomplete(_ header: String) throws {
        let request = Self.replacing("Authorization", with: header, in: Self.codeDeployRequest())
        let error = try #require(Self.verify(request))
        #expect(error.code == .malformedAuthorization)
        #expect(error.wireCode(for: .json) == "IncompleteSignatureException")
        #expect(error.wireCode(for: .query) == "IncompleteSignature")
        #expect(error.wireCode(for: .s3) == "AuthorizationHeaderMalformed")
        #expect(error.httpStatus(for: .s3) == 400)
        #expect(!error.message.isEmpty)
    }

    @Test func otherSignatureSchemesAreUnsupported() throws {
        for header in ["AWS AKIASLIPWAYTEST00001:c2lnbmF0dXJl", "AWS4-ECDSA-P256-SHA256 Credential=x"] {
            let request = Self.replacing("Authorization", with: header, in: Self.codeDeployRequest())
            let error = try #require(Self.verify(request))
            #expect(error.code == .unsupportedAlgorithm)
            #expect(error.wireCode(for: .s3) == "InvalidRequest")
        }
    }

    @Test func aBadOrMissingDateIsNamed() throws {
        let bad = Self.replacing("X-Amz-Date", with: "2026-03-14T09:26:53Z", in: Self.codeDeployRequest())
        #expect(try #require(Self.verify(bad)).code == .malformedAuthorization)
        var missing = Self.codeDeployRequest()
        missing.headers = missing.headers.removing(named: "X-Amz-Date")
        #expect(try #require(Self.verify(missing)).code == .missingDate)
    }

    @Test func malformedPresignedParametersUseTheQueryErrorName() throws {
        var request = Self.presignedGET()
        request.query = request.query.split(separator: "&").filter { !$0.hasPrefix("X-Amz-Credential") }
            .joined(separator: "&")
        let error = try #require(Self.verify(request, region: "us-east-1", service: "s3"))
        #expect(error.code == .malformedAuthorization)
        #expect(error.message.contains("X-Amz-Credential"))
        #expect(error.wireCode(for: .s3) == "AuthorizationQueryParametersError")
        var tooLong = Self.presignedGET()
        tooLong.query = tooLong.query.replacingOccurrences(of: "X-Amz-Expires=600", with: "X-Amz-Expires=604801")
        #expect(try #require(Self.verify(tooLong, region: "us-east-1", service: "s3")).code == .malformedAuthorization)
    }

    @Test func headerAndQueryAuthenticationTogetherConflict() throws {
        var request = Self.presignedGET()
        request.headers.append(HTTPHeader("Authorization", "AWS4-HMAC-SHA256 Credential=x"))
        let error = try #require(Self.verify(request, region: "us-east-1", service: "s3"))
        #expect(error.code == .conflictingAuthentication)
        #expect(error.wireCode(for: .s3) == "InvalidArgument")
    }

    @Test func anUnknownAccessKeyIsReportedWithEachProtocolsName() throws {
        let stranger = Credentials(accessKeyId: "AKIAUNKNOWNKEY000000", secretAccessKey: "whatever")
        let error = try #require(Self.verify(Self.codeDeployRequest(credentials: stranger)))
        #expect(error.code == .unknownAccessKey)
        #expect(error.message.contains("AKIAUNKNOWNKEY000000"))
        #expect(error.wireCode(for: .json) == "UnrecognizedClientException")
        #expect(error.wireCode(for: .query) == "InvalidClientTokenId")
        #expect(error.wireCode(for: .s3) == "InvalidAccessKeyId")
    }

    @Test func unsignedAmzHeadersAreRejectedForS3() throws {
        var request = Self.s3Put()
        request.headers.append(HTTPHeader("x-amz-acl", "public-read"))
        let error = try #require(Self.verify(request, region: "us-east-1", service: "s3"))
        #expect(error.code == .headersNotSigned)
        #expect(error.message.contains("x-amz-acl"))
        #expect(error.wireCode(for: .s3) == "AccessDenied")
    }

    @Test func payloadDeclarationsAreChecked() throws {
        let invalid = Self.replacing("x-amz-content-sha256", with: "not-a-hash", in: Self.s3Put())
        #expect(try #require(Self.verify(invalid, region: "us-east-1", service: "s3")).code == .invalidPayloadHash)
        let sigv4a = Self.replacing(
            "x-amz-content-sha256", with: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", in: Self.s3Put())
        let error = try #require(Self.verify(sigv4a, region: "us-east-1", service: "s3"))
        #expect(error.code == .unsupportedPayload)
        #expect(error.wireCode(for: .s3) == "NotImplemented")
        var noHash = Self.codeDeployRequest()
        noHash.bodySHA256 = nil
        #expect(try #require(Self.verify(noHash)).code == .missingPayloadHash)
    }

    @Test func everyErrorCodeHasANameInEveryProtocol() {
        for code in SigV4Error.Code.allCases {
            for wire in SigV4Error.WireProtocol.allCases {
                let error = SigV4Error(code, "message")
                #expect(!error.wireCode(for: wire).isEmpty)
                #expect([400, 403, 501].contains(error.httpStatus(for: wire)))
                if wire == .json { #expect(error.wireCode(for: wire).hasSuffix("Exception")) }
            }
        }
    }
}
