import Foundation
import Testing

@testable import SigV4

/// What a presigned S3 URL covers: the headers a holder of the URL may add, and the lifetime it may claim.
@Suite struct PresignedRequestTests {
    static let credentials = RejectionTests.credentials
    static let signedAt = RejectionTests.signedAt
    static let host = HTTPHeader("Host", "slipway.example.com")

    /// A presigned PUT of `/scratch/out.bin` over `headers` (Host plus any the signer chose to sign).
    static func presignedPUT(headers: [HTTPHeader] = [host], expires: Int = 900) -> VerificationRequest {
        let signer = Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let presigned = signer.presign(
            method: "PUT", path: "/scratch/out.bin", headers: headers, expires: expires, date: signedAt)
        return VerificationRequest(
            method: "PUT", target: "/scratch/out.bin?\(presigned.query)", headers: headers, bodySHA256: nil)
    }

    static func verify(_ request: VerificationRequest, now: Date = signedAt) -> SigV4Error? {
        RejectionTests.verify(request, now: now, region: "us-east-1", service: "s3")
    }

    @Test("a presigned PUT fetched as signed verifies, with nothing but Host and ordinary headers")
    func plainPresignedPUTVerifies() {
        var request = Self.presignedPUT()
        request.headers += [HTTPHeader("Content-Type", "application/zip"), HTTPHeader("User-Agent", "curl/8.5.0")]
        #expect(Self.verify(request) == nil)
    }

    @Test(
        "a presigned URL with an unsigned x-amz-* header is refused: it could turn a PUT into a copy",
        arguments: [
            ("x-amz-copy-source", "/prod-artifacts/app.zip"), ("X-Amz-Copy-Source", "prod-artifacts/app.zip"),
            ("x-amz-metadata-directive", "REPLACE"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-meta-owner", "mallory"), ("x-amz-", ""),
        ])
    func unsignedAmzHeaderIsRefused(name: String, value: String) throws {
        var request = Self.presignedPUT()
        request.headers.append(HTTPHeader(name, value))
        let error = try #require(Self.verify(request))
        #expect(error.code == .headersNotSigned)
        #expect(error.viaQueryParameters)
        #expect(error.wireCode(for: .s3) == "AccessDenied")
        #expect(error.httpStatus(for: .s3) == 403)
        #expect(error.message.hasPrefix("There were headers present in the request which were not signed"))
        #expect(error.message.contains(name.lowercased()))
    }

    @Test("an x-amz-* header the signer put in X-Amz-SignedHeaders is accepted, and may not be changed")
    func signedAmzHeaderIsAccepted() throws {
        let source = HTTPHeader("x-amz-copy-source", "/scratch/in.bin")
        let request = Self.presignedPUT(headers: [Self.host, source])
        #expect(Self.verify(request) == nil)
        var changed = request
        changed.headers = [Self.host, HTTPHeader("x-amz-copy-source", "/prod-artifacts/app.zip")]
        #expect(try #require(Self.verify(changed)).code == .signatureMismatch)
    }

    @Test("X-Amz-Expires of 1 and of 604800 seconds (seven days) are accepted until they run out")
    func lifetimeBounds() throws {
        for expires in [1, 604_800] {
            let request = Self.presignedPUT(expires: expires)
            #expect(Self.verify(request, now: Self.signedAt.addingTimeInterval(TimeInterval(expires))) == nil)
            let late = Self.signedAt.addingTimeInterval(TimeInterval(expires + 1))
            #expect(try #require(Self.verify(request, now: late)).code == .presignedURLExpired)
        }
    }

    /// Values that are not a whole count of seconds from 1 to 604800, percent-encoded as they would travel.
    static let badExpires = [
        "0", "-1", "%2B60", "60.0", "1e3", "inf", "nan", "%2060", "60%20", "604801", "99999999999999999999999",
        "9223372036854775808", "", "0x10", "%EF%BC%96%EF%BC%90", "60%00", "6%0A0", "-0",
    ]

    @Test("X-Amz-Expires that is not a whole count of seconds from 1 to 604800 is refused", arguments: badExpires)
    func badLifetimeIsRefused(encoded: String) throws {
        var request = Self.presignedPUT()
        request.query = request.query.replacingOccurrences(of: "X-Amz-Expires=900", with: "X-Amz-Expires=\(encoded)")
        let error = try #require(Self.verify(request))
        #expect(error.code == .malformedAuthorization)
        #expect(error.wireCode(for: .s3) == "AuthorizationQueryParametersError")
        #expect(error.message.contains("X-Amz-Expires"))
    }
}
