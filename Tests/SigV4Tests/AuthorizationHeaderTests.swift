import Foundation
import Testing

@testable import SigV4

@Suite("Authorization header fields")
struct AuthorizationHeaderTests {
    static let signature = String(repeating: "0123456789abcdef", count: 4)

    @Test("fields are read in any order, with spaces around them, empty parts and unknown fields ignored")
    func readsFieldsLikeAWSDoes() throws {
        let value =
            "  AWS4-HMAC-SHA256 Signature=\(Self.signature) ,, SignedHeaders=Host;X-Amz-Date  ,Extra=1,"
            + " Credential=AKIAEXAMPLE/20260314/eu-west-1/codedeploy/aws4_request"
        let header = try AuthorizationHeader(parsing: value)
        #expect(header.accessKeyId == "AKIAEXAMPLE")
        #expect(header.scope == CredentialScope(date: "20260314", region: "eu-west-1", service: "codedeploy"))
        #expect(header.signedHeaders == ["host", "x-amz-date"])
        #expect(header.signature == Self.signature)
    }

    @Test("a missing field is named, and a part without '=' is quoted")
    func namesWhatIsWrong() {
        #expect {
            try AuthorizationHeader(parsing: "AWS4-HMAC-SHA256 Signature=\(Self.signature)")
        } throws: { error in
            (error as? SigV4Error)?.message.hasSuffix("missing: Credential, SignedHeaders.") == true
        }
        #expect {
            try AuthorizationHeader(parsing: "AWS4-HMAC-SHA256 Credential")
        } throws: { error in
            (error as? SigV4Error)?.message.contains("field 'Credential' is not of the form Name=value") == true
        }
    }
}
