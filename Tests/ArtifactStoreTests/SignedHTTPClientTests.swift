import AsyncHTTPClient
import Foundation
import S3Transfer
import SigV4
import Synchronization
import Testing

/// The one signed client of the agent, the CLI and `S3Client`: what it signs must pass the server's `Verifier`,
/// with each protocol's requirements, at the time it was signed.
@Suite("The signed HTTP client")
struct SignedHTTPClientTests {
    static let credentials = Credentials(
        accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2026-11-27T12:00:00Z.
    static let signedAt = Date(timeIntervalSince1970: 1_795_780_800)
    static let endpoint = URL(string: "https://slipway.example.com:7443")!

    static func client(_ credentials: any CredentialsProvider = credentials) -> SignedHTTPClient {
        SignedHTTPClient(endpoint: endpoint, region: "eu-west-1", credentials: credentials)
    }

    /// The request as the server sees it, with the hash of the body it read (nil for a streamed body).
    static func received(_ signed: SignedAWSRequest, bodySHA256: String?) -> VerificationRequest {
        VerificationRequest(
            method: signed.method.rawValue, path: signed.path, query: signed.query, headers: signed.headers,
            bodySHA256: bodySHA256)
    }

    static func verify(
        _ request: VerificationRequest, service: String, requirements: SigningRequirements,
        secret: String = credentials.secretAccessKey, now: Date = signedAt
    ) throws -> VerifiedRequest {
        try Verifier().authenticate(
            request, now: now, expectedRegion: "eu-west-1", expectedService: service, requirements: requirements
        ) { _ in secret }
    }

    static func sha256(_ data: Data) -> String { PayloadHash.of(data).headerValue }

    @Test("a JSON operation verifies with X-Amz-Target and the body's SHA-256 signed, as the JSON endpoints demand")
    func jsonOperation() throws {
        let body = Data(#"{"applicationName":"web"}"#.utf8)
        let signed = try Self.client().sign(
            .json(service: "codedeploy", target: "CodeDeploy_20141006.GetApplication", body: body),
            date: Self.signedAt)
        #expect(signed.url == "https://slipway.example.com:7443/")
        #expect(signed.headers.first(named: "Host") == "slipway.example.com:7443")
        #expect(signed.headers.first(named: "Content-Type") == "application/x-amz-json-1.1")
        #expect(!signed.headers.contains(named: "x-amz-content-sha256"))
        let verified = try Self.verify(
            Self.received(signed, bodySHA256: Self.sha256(body)), service: "codedeploy", requirements: .awsJSON)
        #expect(verified.payload == .sha256(Self.sha256(body)))
        #expect(verified.authorization.signedHeaders.contains("x-amz-target"))

        // Another operation's target or another body does not pass with this signature.
        var retargeted = Self.received(signed, bodySHA256: Self.sha256(body))
        retargeted.headers =
            retargeted.headers.removing(named: "X-Amz-Target")
            + [HTTPHeader("X-Amz-Target", "CodeDeploy_20141006.DeleteApplication")]
        #expect(throws: SigV4Error.self) {
            try Self.verify(retargeted, service: "codedeploy", requirements: .awsJSON)
        }
        #expect(throws: SigV4Error.self) {
            try Self.verify(
                Self.received(signed, bodySHA256: Self.sha256(Data("{}".utf8))), service: "codedeploy",
                requirements: .awsJSON)
        }
    }

    @Test("the agent's command requests also send their body's SHA-256 as x-amz-content-sha256, and keep their path")
    func commandRequest() throws {
        let body = Data(#"{"HostIdentifier":"arn:aws:iam::000000000000:user/web-1"}"#.utf8)
        let signed = try Self.client().sign(
            .json(
                service: "codedeploy-commands", target: "CodeDeployCommandService_v20141006.PollHostCommand",
                body: body, path: "/commands", headers: [HTTPHeader("x-amz-codedeploy-agent-version", "SLIPWAY_0.1.0")],
                contentSHA256Header: true),
            date: Self.signedAt)
        #expect(signed.url == "https://slipway.example.com:7443/commands")
        #expect(signed.headers.first(named: "x-amz-content-sha256") == Self.sha256(body))
        let verified = try Self.verify(
            Self.received(signed, bodySHA256: Self.sha256(body)), service: "codedeploy-commands",
            requirements: .awsJSON)
        #expect(verified.authorization.signedHeaders.contains("x-amz-codedeploy-agent-version"))
    }

    @Test("an IAM query action verifies with its form body signed; fields are sorted and percent-encoded")
    func queryAction() throws {
        let signed = try Self.client().sign(
            .query(
                service: "iam", action: "PutUserPolicy", version: "2010-05-08",
                parameters: ["UserName": "web 1", "PolicyDocument": #"{"a":"b/c&d"}"#]),
            date: Self.signedAt)
        guard case .bytes(let body) = signed.body else {
            Issue.record("the query body is not in memory")
            return
        }
        #expect(
            String(decoding: body, as: UTF8.self)
                == "Action=PutUserPolicy&PolicyDocument=%7B%22a%22%3A%22b%2Fc%26d%22%7D&UserName=web%201"
                + "&Version=2010-05-08")
        _ = try Self.verify(
            Self.received(signed, bodySHA256: Self.sha256(body)), service: "iam", requirements: .awsQuery)
    }

    @Test("an S3 request is path-style with its key encoded once, sends x-amz-content-sha256, and verifies")
    func s3Request() throws {
        let signed = try Self.client().sign(
            .s3(
                .GET, bucket: "revisions", key: "web/a b+c.zip", versionID: "v 1",
                headers: [HTTPHeader("Range", "bytes=10-"), HTTPHeader("If-Match", "\"etag\"")]),
            date: Self.signedAt)
        #expect(signed.path == "/revisions/web/a%20b%2Bc.zip")
        #expect(signed.query == "versionId=v%201")
        #expect(signed.url == "https://slipway.example.com:7443/revisions/web/a%20b%2Bc.zip?versionId=v%201")
        #expect(signed.headers.first(named: "x-amz-content-sha256") == PayloadHash.emptySHA256)
        let verified = try Self.verify(
            Self.received(signed, bodySHA256: PayloadHash.emptySHA256), service: "s3", requirements: .none)
        #expect(verified.authorization.signedHeaders.contains("range"))
        #expect(verified.authorization.signedHeaders.contains("if-match"))
    }

    @Test("a streamed upload is signed with the hash declared beforehand, and the server checks it against the body")
    func streamedUpload() throws {
        let content = Data("zip bytes".utf8)
        let signed = try Self.client().sign(
            .s3(
                .PUT, bucket: "revisions", key: "web/bundle.zip",
                headers: [HTTPHeader("Content-Type", "application/zip")],
                body: .stream(.bytes(content), payload: .sha256(Self.sha256(content)))),
            date: Self.signedAt)
        #expect(signed.headers.first(named: "x-amz-content-sha256") == Self.sha256(content))
        _ = try Self.verify(Self.received(signed, bodySHA256: nil), service: "s3", requirements: .none)
        #expect(throws: SigV4Error.self) {
            try Self.verify(
                Self.received(signed, bodySHA256: Self.sha256(Data("other".utf8))), service: "s3",
                requirements: .none)
        }
    }

    @Test("a signature is valid only around the time it was made")
    func signedAtItsTime() throws {
        let signed = try Self.client().sign(
            .json(service: "codedeploy", target: "CodeDeploy_20141006.ListApplications", body: Data("{}".utf8)),
            date: Self.signedAt)
        let request = Self.received(signed, bodySHA256: Self.sha256(Data("{}".utf8)))
        #expect(signed.headers.first(named: "X-Amz-Date") == "20261127T120000Z")
        _ = try Self.verify(request, service: "codedeploy", requirements: .awsJSON, now: Self.signedAt + 60)
        #expect(throws: SigV4Error.self) {
            try Self.verify(request, service: "codedeploy", requirements: .awsJSON, now: Self.signedAt + 3600)
        }
    }

    /// Keys that change between requests, as an agent's session credentials file does.
    final class RotatingKeys: CredentialsProvider {
        let keys = Mutex([
            Credentials(accessKeyId: "ASIAFIRST", secretAccessKey: "first-secret", sessionToken: "token-1"),
            Credentials(accessKeyId: "ASIASECOND", secretAccessKey: "second-secret", sessionToken: "token-2"),
        ])

        func current() throws -> Credentials {
            keys.withLock { keys in keys.count > 1 ? keys.removeFirst() : keys[0] }
        }
    }

    @Test("a credentials provider is asked for every request, and its session token is sent and signed")
    func providerPerRequest() throws {
        let client = Self.client(RotatingKeys())
        let request = AWSRequest.s3(.HEAD, bucket: "revisions", key: "web/bundle.zip")
        let first = try client.sign(request, date: Self.signedAt)
        let second = try client.sign(request, date: Self.signedAt)
        #expect(first.headers.first(named: "X-Amz-Security-Token") == "token-1")
        #expect(second.headers.first(named: "X-Amz-Security-Token") == "token-2")
        let verified = try Self.verify(
            Self.received(second, bodySHA256: nil), service: "s3", requirements: .none, secret: "second-secret")
        #expect(verified.authorization.accessKeyId == "ASIASECOND")
        #expect(verified.authorization.signedHeaders.contains("x-amz-security-token"))
    }

    @Test("the Host signed is the Host sent, an IPv6 address in brackets; an endpoint that is not http(s) is refused")
    func hostAndEndpoint() throws {
        let plain = SignedHTTPClient(
            endpoint: URL(string: "http://127.0.0.1")!, region: "eu-west-1", credentials: Self.credentials)
        let signed = try plain.sign(.s3(.HEAD, bucket: "revisions"), date: Self.signedAt)
        #expect(signed.url == "http://127.0.0.1/revisions")
        #expect(signed.headers.first(named: "Host") == "127.0.0.1")
        #expect(signed.httpClientRequest.headers.first(name: "Host") == "127.0.0.1")

        let ipv6 = SignedHTTPClient(
            endpoint: URL(string: "http://[::1]:9000")!, region: "eu-west-1", credentials: Self.credentials)
        let bracketed = try ipv6.sign(.s3(.HEAD, bucket: "revisions"), date: Self.signedAt)
        #expect(bracketed.url == "http://[::1]:9000/revisions")
        #expect(bracketed.headers.first(named: "Host") == "[::1]:9000")

        let file = SignedHTTPClient(
            endpoint: URL(fileURLWithPath: "/revisions"), region: "eu-west-1", credentials: Self.credentials)
        #expect(throws: SignedHTTPClientError.self) {
            try file.sign(.s3(.HEAD, bucket: "revisions"), date: Self.signedAt)
        }
    }
}

@Suite("AWS error answers")
struct AWSErrorAnswerTests {
    @Test("a JSON error's code is the part of __type after #, its message message or Message; other bodies have none")
    func json() {
        let namespaced = AWSErrorAnswer(
            json: Data(#"{"__type":"com.amazonaws.codedeploy#ThrottlingException","message":"slow down"}"#.utf8))
        #expect(namespaced == AWSErrorAnswer(code: "ThrottlingException", message: "slow down"))
        let plain = AWSErrorAnswer(json: Data(#"{"__type":"ClientException","Message":"no such host"}"#.utf8))
        #expect(plain == AWSErrorAnswer(code: "ClientException", message: "no such host"))
        #expect(AWSErrorAnswer(json: Data("<html>bad gateway</html>".utf8)) == AWSErrorAnswer(code: nil, message: nil))
    }

    @Test("an XML error's code and message are read with their entities decoded")
    func xml() {
        let answer = AWSErrorAnswer(
            xml: "<ErrorResponse><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code>"
                + "<Message>User &quot;web&amp;1&quot; exists</Message></Error></ErrorResponse>")
        #expect(answer == AWSErrorAnswer(code: "EntityAlreadyExists", message: "User \"web&1\" exists"))
        #expect(
            AWSXML.element("Arn", in: "<User><Arn>arn:aws:iam::000000000000:user/web</Arn></User>")
                == "arn:aws:iam::000000000000:user/web")
        #expect(AWSXML.element("Arn", in: "<User></User>") == nil)
    }
}
