import Foundation
import S3Transfer
import SigV4
import SlipwayModel
import Testing

@testable import Agent

/// What the agent sends to the command API passes the server's checks: `X-Amz-Target` and the body signed, for the
/// flavour the agent is configured with.
@Suite("The agent's command requests")
struct CommandClientTests {
    static let credentials = Credentials(accessKeyId: "AKIDAGENT", secretAccessKey: "agent-secret")
    /// 2026-11-27T12:00:00Z.
    static let signedAt = Date(timeIntervalSince1970: 1_795_780_800)

    static func client(secure: Bool) -> HTTPCommandClient {
        HTTPCommandClient(
            http: .shared, endpoint: URL(string: "https://deploy.example:7443")!, region: "eu-west-1",
            credentials: credentials, secure: secure, agentVersion: "SLIPWAY_0.1.0", readTimeout: .seconds(80))
    }

    @Test(
        "a command request verifies as the JSON endpoints demand, with the agent's version and body hash sent",
        arguments: [false, true])
    func signedAsTheServerDemands(secure: Bool) throws {
        let client = Self.client(secure: secure)
        let input = CodeDeployCommand.PollHostCommandInput(hostIdentifier: "arn:aws:iam::000000000000:user/web-1")
        let signed = try client.client.sign(try client.request("PollHostCommand", input), date: Self.signedAt)
        guard case .bytes(let body) = signed.body else {
            Issue.record("the command request's body is not in memory")
            return
        }
        let hash = PayloadHash.of(body).headerValue
        #expect(signed.url == "https://deploy.example:7443/")
        #expect(
            signed.headers.first(named: "X-Amz-Target")
                == (secure ? "CodeDeployCommandService" : "CodeDeployCommandService_v20141006") + ".PollHostCommand")
        #expect(signed.headers.first(named: "x-amz-codedeploy-agent-version") == "SLIPWAY_0.1.0")
        #expect(signed.headers.first(named: "x-amz-content-sha256") == hash)
        let verified = try Verifier().authenticate(
            VerificationRequest(
                method: "POST", path: signed.path, query: signed.query, headers: signed.headers, bodySHA256: hash),
            now: Self.signedAt, expectedRegion: "eu-west-1",
            expectedService: secure ? "codedeploy-commands-secure" : "codedeploy-commands", requirements: .awsJSON
        ) { _ in Self.credentials.secretAccessKey }
        #expect(verified.authorization.signedHeaders.contains("x-amz-codedeploy-agent-version"))
    }
}
