import Foundation
import Testing

@testable import SigV4

/// What the JSON and query endpoints demand of a signature, so that a captured request cannot be replayed as another
/// operation: a signed `X-Amz-Target`, and the body signed as its SHA-256.
@Suite struct SigningRequirementsTests {
    static let credentials = RejectionTests.credentials
    static let signedAt = RejectionTests.signedAt
    static let body = RejectionTests.body
    static let target = HTTPHeader("X-Amz-Target", "CodeDeploy_20141006.GetApplication")

    /// A CodeDeploy request signed over `signedHeaders` with `payload`, then sent with `sentHeaders` as well.
    static func request(
        signed signedHeaders: [HTTPHeader] = [target], payload: PayloadHash = .sha256(Support.sha256(body)),
        sendContentSHA256: Bool = false, alsoSent: [HTTPHeader] = []
    ) -> VerificationRequest {
        let signer = Signer(credentials: credentials, region: "eu-west-1", service: "codedeploy")
        let signed = signer.sign(
            method: "POST", path: "/",
            headers: [
                HTTPHeader("Host", "slipway.example.com"), HTTPHeader("Content-Type", "application/x-amz-json-1.1"),
            ]
                + signedHeaders,
            payload: payload, date: signedAt, addContentSHA256Header: sendContentSHA256)
        return VerificationRequest(
            method: "POST", target: "/", headers: signed.headers + alsoSent, bodySHA256: Support.sha256(body))
    }

    static func verify(_ request: VerificationRequest, _ requirements: SigningRequirements) -> SigV4Error? {
        Support.failure {
            try Verifier().authenticate(
                request, now: signedAt, expectedRegion: "eu-west-1", expectedService: "codedeploy",
                requirements: requirements
            ) { $0 == credentials.accessKeyId ? credentials.secretAccessKey : nil }
        }
    }

    @Test("a JSON request as SDKs sign it meets the JSON requirements, with or without x-amz-content-sha256")
    func sdkSignedRequestPasses() {
        #expect(Self.verify(Self.request(), .awsJSON) == nil)
        #expect(Self.verify(Self.request(sendContentSHA256: true), .awsJSON) == nil)
    }

    @Test("a JSON request whose X-Amz-Target is not signed is refused: it could be replayed as another operation")
    func unsignedTargetIsRefused() throws {
        let request = Self.request(
            signed: [], alsoSent: [HTTPHeader("X-Amz-Target", "CodeDeploy_20141006.DeleteApplication")])
        #expect(Self.verify(request, .none) == nil, "SigV4 alone accepts it")
        let error = try #require(Self.verify(request, .awsJSON))
        #expect(error.code == .headersNotSigned)
        #expect(error.message.contains("x-amz-target"))
        #expect(error.wireCode(for: .json) == "InvalidSignatureException")
        let untargeted = Self.request(signed: [])
        #expect(try #require(Self.verify(untargeted, .awsJSON)).code == .headersNotSigned)
    }

    @Test(
        "a JSON or query request whose payload line is not the body's SHA-256 is refused",
        arguments: [
            PayloadHash.unsigned, .streamingSigned, .streamingSignedWithTrailer, .streamingUnsignedWithTrailer,
        ])
    func unsignedPayloadIsRefused(_ payload: PayloadHash) throws {
        let request = Self.request(payload: payload, sendContentSHA256: true)
        for requirements in [SigningRequirements.awsJSON, .awsQuery] {
            let error = try #require(Self.verify(request, requirements))
            #expect(error.code == .unsupportedPayload)
            #expect(error.message.contains(payload.headerValue))
            #expect(error.wireCode(for: .json) == "InvalidSignatureException")
            #expect(error.wireCode(for: .query) == "SignatureDoesNotMatch")
        }
    }

    @Test("every botocore-signed JSON and query request of the fixture meets its protocol's requirements")
    func botocoreRequestsMeetTheRequirements() throws {
        for fixture in BotocoreFixtureTests.committed.cases where fixture.service != "s3" && !fixture.presigned {
            let request = VerificationRequest(
                method: fixture.method, path: fixture.path, query: fixture.query, headers: fixture.httpHeaders,
                bodySHA256: fixture.bodySHA256)
            let requirements: SigningRequirements = fixture.service == "iam" ? .awsQuery : .awsJSON
            let hasTarget = fixture.httpHeaders.contains { $0.name.lowercased() == "x-amz-target" }
            guard requirements == .awsQuery || hasTarget else { continue }
            #expect(
                throws: Never.self, "\(fixture.name)",
                performing: {
                    try Verifier().authenticate(
                        request, now: fixture.signingDate.addingTimeInterval(30), expectedRegion: fixture.region,
                        expectedService: fixture.service, requirements: requirements
                    ) { $0 == fixture.accessKeyId ? fixture.secretAccessKey : nil }
                })
        }
    }
}
