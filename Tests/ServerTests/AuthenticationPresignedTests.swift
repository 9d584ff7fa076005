import ArtifactStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SigV4
import Store
import Testing

@testable import Server

/// Presigned S3 URLs as the server authenticates them: SigV4 query signatures and the older
/// `AWSAccessKeyId`/`Expires`/`Signature` form that `aws s3 presign` and boto3 make for a custom endpoint.
@Suite("Presigned S3 URLs")
struct AuthenticationPresignedTests {
    /// 2026-03-14T09:26:53Z.
    static let now = Date(timeIntervalSince1970: 1_773_480_413)

    struct Fixture {
        let base: AuthenticatorFixture
        var authenticator: Authenticator { base.authenticator }
        var key: AccessKeyRecord { base.key }

        init() async throws { base = try await AuthenticatorFixture(role: .deployer) }

        func remove() { base.remove() }

        /// A version-2 presigned URL's query for `method path`, signed over `amzHeaders` (lowercase names).
        func queryV2(method: String, path: String, expires: String, amzHeaders: [(String, String)] = []) -> String {
            let stringToSign =
                "\(method)\n\n\n\(expires)\n" + amzHeaders.sorted { $0.0 < $1.0 }.map { "\($0.0):\($0.1)\n" }.joined()
                + path
            let mac = HMAC<Insecure.SHA1>.authenticationCode(
                for: Data(stringToSign.utf8), using: SymmetricKey(data: Data(key.secretAccessKey.utf8)))
            let signature =
                Data(mac).base64EncodedString()
                .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return "AWSAccessKeyId=\(key.accessKeyId)&Expires=\(expires)&Signature=\(signature)"
        }

        /// A SigV4 presigned URL's query for `method path`.
        func queryV4(method: String, path: String, expires: Int = 900) -> String {
            let signer = Signer(
                credentials: Credentials(accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey),
                region: "us-east-1", service: "s3")
            return signer.presign(
                method: method, path: path, headers: [HTTPHeader("host", "slipway.test")], expires: expires,
                date: AuthenticationPresignedTests.now
            ).query
        }

        /// The S3 error code authentication ends in, or nil when it succeeds.
        func failure(_ method: HTTPRequest.Method, _ target: String, headers: [(String, String)] = []) async
            -> S3Error?
        {
            var fields = HTTPFields()
            for (name, value) in headers { fields[HTTPField.Name(name)!] = value }
            let request = Request(
                head: HTTPRequest(
                    method: method, scheme: "http", authority: "slipway.test", path: target,
                    headerFields: fields),
                body: RequestBody(buffer: ByteBuffer()))
            do {
                _ = try await authenticator.authenticateS3(request, now: AuthenticationPresignedTests.now)
                return nil
            } catch let error as S3Error {
                return error
            } catch {
                Issue.record("expected an S3Error, got \(error)")
                return nil
            }
        }
    }

    static let copySource = ("x-amz-copy-source", "/prod-artifacts/app.zip")

    @Test("a SigV4 presigned PUT with an unsigned x-amz-copy-source header is refused")
    func sigV4PresignedPUTCannotBecomeACopy() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let target = "/scratch/out.bin?" + fixture.queryV4(method: "PUT", path: "/scratch/out.bin")
        #expect(await fixture.failure(.put, target) == nil)
        let error = try #require(await fixture.failure(.put, target, headers: [Self.copySource]))
        #expect(error.code == "AccessDenied")
        #expect(error.message.hasPrefix("There were headers present in the request which were not signed"))
    }

    @Test("a version-2 presigned PUT with an x-amz-copy-source header it did not sign is refused")
    func sigV2PresignedPUTCannotBecomeACopy() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let expires = String(Int(Self.now.timeIntervalSince1970) + 600)
        let target = "/scratch/out.bin?" + fixture.queryV2(method: "PUT", path: "/scratch/out.bin", expires: expires)
        #expect(await fixture.failure(.put, target) == nil)
        let error = try #require(await fixture.failure(.put, target, headers: [Self.copySource]))
        #expect(error.code == "SignatureDoesNotMatch")
        // A URL whose signer meant the copy carries it in its string to sign, and works as the signer meant it.
        let copying =
            "/scratch/out.bin?"
            + fixture.queryV2(method: "PUT", path: "/scratch/out.bin", expires: expires, amzHeaders: [Self.copySource])
        #expect(await fixture.failure(.put, copying, headers: [Self.copySource]) == nil)
    }

    @Test("a version-2 URL valid for exactly seven days is accepted, one second longer is refused")
    func sigV2LifetimeIsCappedAtSevenDays() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let nowSeconds = Int(Self.now.timeIntervalSince1970)
        for (offset, accepted) in [(0, true), (604_800, true), (604_801, false)] {
            let expires = String(nowSeconds + offset)
            let target = "/b/k?" + fixture.queryV2(method: "GET", path: "/b/k", expires: expires)
            let error = await fixture.failure(.get, target)
            #expect((error == nil) == accepted, "Expires now + \(offset)")
            if !accepted { #expect(error?.code == "AuthorizationQueryParametersError") }
        }
        let expired = "/b/k?" + fixture.queryV2(method: "GET", path: "/b/k", expires: String(nowSeconds - 1))
        let error = try #require(await fixture.failure(.get, expired))
        #expect(error.code == "AccessDenied")
        #expect(error.message == "Request has expired")
    }

    static let badExpires = [
        "inf", "nan", "Infinity", "-inf", "1e12", "1773481013.0", "1773481013.5", "%2B1773481013", "-1773481013",
        "%201773481013", "1773481013%00", "0x69B5E5F5", "99999999999999999999999999", "9223372036854775808",
        "18446744073709551616", "", "%EF%BC%91",
    ]

    @Test("a version-2 Expires that is not whole seconds since 1970 in digits is refused", arguments: badExpires)
    func sigV2ExpiresMustBeDigits(expires: String) async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let target =
            "/b/k?AWSAccessKeyId=\(fixture.key.accessKeyId)&Expires=\(expires)&Signature=c2lnbmF0dXJlc2lnbmF0dXJl"
        let error = try #require(await fixture.failure(.get, target))
        #expect(error.code == "AuthorizationQueryParametersError")
        #expect(error.status == 400)
        #expect(error.message.contains("Expires"))
    }
}
