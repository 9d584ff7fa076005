import Crypto
import Foundation
import SigV4
import Testing

@testable import Server

extension TestServer.Client {
    /// An SNS query-protocol request: `parameters` form-encoded, signed for `sns`.
    fileprivate func sns(_ parameters: [(String, String)], as credentials: Credentials) async throws -> Answer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let form = (parameters + [("Version", "2010-03-31")]).map {
            "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)="
                + $0.1.addingPercentEncoding(withAllowedCharacters: allowed)!
        }.joined(separator: "&")
        let body = Data(form.utf8)
        let headers = [
            HTTPHeader("host", "localhost"), HTTPHeader("content-type", "application/x-www-form-urlencoded"),
        ]
        let signed = Signer(credentials: credentials, region: "us-east-1", service: "sns").sign(
            method: "POST", path: "/", headers: headers,
            payload: .sha256(SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()), date: Date(),
            addContentSHA256Header: false)
        return try await send(.post, "/", headers: signed.headers, body: body)
    }
}

extension TestServer.Client.Answer {
    /// The `<Code>` of an XML error.
    fileprivate var code: String? {
        let text = String(decoding: body, as: UTF8.self)
        guard let start = text.range(of: "<Code>"), let end = text.range(of: "</Code>") else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }
}

@Suite("The SNS API")
struct SNSAPITests {
    private static let topic = "arn:aws:sns:us-east-1:000000000000:releases"

    @Test("hostile and wrong parameters are refused with SNS's errors, and nothing is created")
    func hostileParameters() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let deployer = try await server.key(.deployer)
        try await server.run { client in
            #expect(
                try await client.sns([("Action", "CreateTopic"), ("Name", "releases")], as: deployer).status == 200)
            let subscription = "arn:aws:sns:us-east-1:000000000000:releases:00000000-0000-0000-0000-000000000000"
            let cases: [([(String, String)], String)] = [
                ([("Action", "CreateTopic"), ("Name", "a\u{0}b")], "InvalidParameter"),
                ([("Action", "CreateTopic"), ("Name", String(repeating: "a", count: 257))], "InvalidParameter"),
                ([("Action", "CreateTopic"), ("Name", "../etc")], "InvalidParameter"),
                (
                    [("Action", "CreateTopic"), ("Name", "t")]
                        + (1...11).flatMap {
                            [("Attributes.entry.\($0).key", "DisplayName"), ("Attributes.entry.\($0).value", "x")]
                        }, "InvalidParameter"
                ),
                (
                    [
                        ("Action", "CreateTopic"), ("Name", "t"), ("Attributes.entry.1.key", "SignatureVersion"),
                        ("Attributes.entry.1.value", "3"),
                    ], "InvalidParameter"
                ),
                (
                    [
                        ("Action", "Subscribe"), ("TopicArn", Self.topic), ("Protocol", "https"),
                        ("Endpoint", "https://a.test/\u{0}"),
                    ], "InvalidParameter"
                ),
                (
                    [
                        ("Action", "Subscribe"), ("TopicArn", Self.topic), ("Protocol", "https"),
                        ("Endpoint", "https://a.test/" + String(repeating: "x", count: 3000)),
                    ], "InvalidParameter"
                ),
                (
                    [
                        ("Action", "Subscribe"), ("TopicArn", Self.topic), ("Protocol", "http"),
                        ("Endpoint", "https://a.test/"),
                    ], "InvalidParameter"
                ),
                (
                    [
                        ("Action", "Subscribe"), ("TopicArn", Self.topic), ("Protocol", "lambda"),
                        ("Endpoint", "arn:aws:lambda:us-east-1:000000000000:function:f"),
                    ], "InvalidParameter"
                ),
                (
                    [
                        ("Action", "Subscribe"), ("TopicArn", Self.topic), ("Protocol", "https"),
                        ("Endpoint", "https://a.test/"), ("Attributes.entry.1.key", "RawMessageDelivery"),
                        ("Attributes.entry.1.value", "maybe"),
                    ], "InvalidParameter"
                ),
                (
                    [
                        ("Action", "Subscribe"), ("TopicArn", Self.topic + "x"), ("Protocol", "https"),
                        ("Endpoint", "https://a.test/"),
                    ], "NotFound"
                ),
                (
                    [
                        ("Action", "ConfirmSubscription"), ("TopicArn", Self.topic),
                        ("Token", String(repeating: "f", count: 100_000)),
                    ], "InvalidParameter"
                ),
                ([("Action", "Unsubscribe"), ("SubscriptionArn", Self.topic + ":../../x")], "InvalidParameter"),
                ([("Action", "Unsubscribe"), ("SubscriptionArn", subscription)], "NotFound"),
                ([("Action", "Publish"), ("TopicArn", Self.topic), ("Message", "")], "InvalidParameter"),
                (
                    [
                        ("Action", "Publish"), ("TopicArn", Self.topic),
                        ("Message", String(repeating: "m", count: 256 * 1024 + 1)),
                    ], "InvalidParameter"
                ),
                (
                    [("Action", "Publish"), ("TopicArn", Self.topic), ("Message", "m"), ("Subject", "a\u{7}")],
                    "InvalidParameter"
                ),
                ([("Action", "ListTopics"), ("NextToken", String(repeating: "n", count: 600))], "InvalidParameter"),
                (
                    [
                        ("Action", "SetSubscriptionAttributes"), ("SubscriptionArn", subscription),
                        ("AttributeName", "DeliveryPolicy"), ("AttributeValue", "{}"),
                    ], "InvalidParameter"
                ),
                ([("Action", "DeleteEverything")], "InvalidAction"),
            ]
            for (parameters, code) in cases {
                let answer = try await client.sns(parameters, as: deployer)
                #expect(
                    answer.code == code,
                    "\(parameters.first!.1) \(parameters.dropFirst().first?.1.prefix(40) ?? ""): \(answer.code ?? "none")"
                )
            }
            let topics = try await client.sns([("Action", "ListTopics")], as: deployer)
            #expect(String(decoding: topics.body, as: UTF8.self).components(separatedBy: "<TopicArn>").count == 2)
            let subscriptions = try await client.sns([("Action", "ListSubscriptions")], as: deployer)
            #expect(!String(decoding: subscriptions.body, as: UTF8.self).contains("<member>"))
        }
    }

    @Test("an agent key may not create topics or publish; a request signed for IAM is not SNS's")
    func authorization() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let deployer = try await server.key(.deployer)
        try await server.run { client in
            let agent = try await server.registeredAgentKey("web-1", client: client, admin: deployer)
            let refused = try await client.sns([("Action", "CreateTopic"), ("Name", "releases")], as: agent)
            #expect(refused.status == 403 && refused.code == "AuthorizationError")
            #expect(
                try await client.sns([("Action", "CreateTopic"), ("Name", "releases")], as: deployer).status == 200)
            let publish = try await client.sns(
                [("Action", "Publish"), ("TopicArn", Self.topic), ("Message", "m")], as: agent)
            #expect(publish.status == 403)
        }
    }

    @Test("the unsigned links need the subscription's token or id; the certificate is public")
    func unsignedLinks() async throws {
        let server = try TestServer()
        defer { server.remove() }
        try await server.run { client in
            let wrong = try await client.send(
                .get, "/?Action=ConfirmSubscription&TopicArn=\(Self.topic)&Token=0000", headers: [])
            #expect(wrong.status == 400 && wrong.code == "InvalidParameter")
            let other = try await client.send(.get, "/?Action=Publish&TopicArn=\(Self.topic)&Message=m", headers: [])
            #expect(other.status != 200)
            let certificate = try await client.send(.get, "/sns/signing-certificate.pem", headers: [])
            #expect(certificate.status == 200)
            #expect(String(decoding: certificate.body, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        }
    }
}
