import Foundation
import HTTPTypes
import Hummingbird
import SigV4
import SlipwayModel
import Store
import Testing

@testable import Server

/// A captured JSON or query request cannot be replayed as another operation: the operation's name (`X-Amz-Target`,
/// or the body) must be covered by the signature.
@Suite("Replay across operations")
struct AuthenticationReplayTests {
    static let now = Date(timeIntervalSince1970: 1_773_480_413)

    struct Fixture {
        let base: AuthenticatorFixture
        var authenticator: Authenticator { base.authenticator }
        var credentials: Credentials { base.credentials }

        init() async throws { base = try await AuthenticatorFixture(role: .admin) }

        func remove() { base.remove() }

        /// A POST signed for `service` over `signed` headers with `payload`, sent with `extra` headers too.
        func request(
            service: String, body: String, signed: [HTTPHeader], payload: PayloadHash? = nil,
            extra: [HTTPHeader] = []
        ) -> Request {
            let signer = Signer(credentials: credentials, region: "us-east-1", service: service)
            let headers = signer.sign(
                method: "POST", path: "/", headers: [HTTPHeader("host", "slipway.test")] + signed,
                payload: payload ?? PayloadHash.of(Data(body.utf8)), date: AuthenticationReplayTests.now,
                addContentSHA256Header: payload != nil
            ).headers
            var fields = HTTPFields()
            for header in headers + extra where header.name != "host" {
                fields.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value))
            }
            return Request(
                head: HTTPRequest(
                    method: .post, scheme: "http", authority: "slipway.test", path: "/", headerFields: fields),
                body: RequestBody(buffer: ByteBuffer(string: body)))
        }
    }

    static let json = HTTPHeader("Content-Type", "application/x-amz-json-1.1")

    @Test("a CodeDeploy request whose X-Amz-Target is not signed is refused with InvalidSignatureException")
    func unsignedTargetIsRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let body = #"{"applicationName":"web"}"#
        let signed = fixture.request(
            service: "codedeploy", body: body,
            signed: [Self.json, HTTPHeader("X-Amz-Target", "CodeDeploy_20141006.GetApplication")])
        _ = try await fixture.authenticator.authenticate(
            signed, body: Data(body.utf8), service: "codedeploy", now: Self.now)
        let replayed = fixture.request(
            service: "codedeploy", body: body, signed: [Self.json],
            extra: [HTTPHeader("X-Amz-Target", "CodeDeploy_20141006.DeleteApplication")])
        await #expect {
            try await fixture.authenticator.authenticate(
                replayed, body: Data(body.utf8), service: "codedeploy", now: Self.now)
        } throws: { error in
            guard let error = error as? AWSJSONError else { return false }
            return error.type == "InvalidSignatureException" && error.status == 403
                && error.message.contains("x-amz-target")
        }
    }

    @Test("an agent command or CodeDeploy request with UNSIGNED-PAYLOAD is refused")
    func unsignedPayloadIsRefusedForJSON() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let body = #"{"HostIdentifier":"arn:aws:iam::000000000000:user/host-1"}"#
        for service in ["codedeploy-commands-secure", "codedeploy"] {
            let request = fixture.request(
                service: service, body: body,
                signed: [Self.json, HTTPHeader("X-Amz-Target", "CodeDeployCommandService.PollHostCommand")],
                payload: .unsigned)
            await #expect {
                try await fixture.authenticator.authenticate(
                    request, body: Data(body.utf8), service: service, now: Self.now)
            } throws: { error in
                (error as? AWSJSONError)?.type == "InvalidSignatureException"
            }
        }
    }

    @Test("an IAM request with UNSIGNED-PAYLOAD or a streaming payload is refused; its SHA-256 is accepted")
    func unsignedPayloadIsRefusedForIAM() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let body = "Action=ListUsers&Version=2010-05-08"
        let form = HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        _ = try await fixture.authenticator.authenticateIAM(
            fixture.request(service: "iam", body: body, signed: [form]), body: Data(body.utf8), now: Self.now)
        for payload in [PayloadHash.unsigned, .streamingUnsignedWithTrailer] {
            let request = fixture.request(service: "iam", body: body, signed: [form], payload: payload)
            await #expect {
                try await fixture.authenticator.authenticateIAM(request, body: Data(body.utf8), now: Self.now)
            } throws: { error in
                guard let error = error as? IAMError else { return false }
                return error.code == "SignatureDoesNotMatch" && error.status == 403
            }
        }
    }
}
