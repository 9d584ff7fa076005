import Deployments
import Foundation
import Logging
import Store
import Testing

@testable import Notifications

/// A signer that writes what it signed, so that tests can see the text.
private struct EchoSigner: SNSMessageSigner {
    var certificateURL: String { "https://slipway.test/sns/signing-certificate.pem" }
    func signature(of text: String, version: String) throws -> String {
        Data("\(version):\(text)".utf8).base64EncodedString()
    }
}

/// A notification service over a real SQLite store, at a time the test sets.
private final class Harness: @unchecked Sendable {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-sns-\(UUID())")
    let store: SQLiteStore
    let names = SNSNames(region: "us-east-1", accountID: "000000000000")
    var now = Date(timeIntervalSince1970: 1_800_000_000)
    /// A refused connection fails its attempt after this deadline: the HTTP client retries connecting until then.
    let policy = {
        var policy = NotificationService.Policy()
        policy.requestTimeout = .milliseconds(500)
        return policy
    }()
    lazy var service = NotificationService(
        store: store, names: names, signer: EchoSigner(), publicURL: { "https://slipway.test" }, policy: policy,
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), clock: { [unowned self] in now })

    init() throws {
        store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The topic `releases` with a subscription per (endpoint, confirmed).
    func topic(_ subscriptions: [(String, Bool)]) async throws -> [SNSSubscription] {
        let (names, now) = (names, now)
        return try await store.write { tx in
            try tx.set(
                SNSTopic(name: "releases", arn: names.topicARN("releases"), createdAt: now), .snsTopic,
                name: "releases")
            return try subscriptions.enumerated().map { index, entry in
                var subscription = SNSSubscription(
                    id: "00000000-0000-0000-0000-00000000000\(index)", topicName: "releases",
                    topicArn: names.topicARN("releases"), protocolName: .https, endpoint: entry.0,
                    owner: "000000000000", rawMessageDelivery: false, token: "t\(index)", createdAt: now)
                subscription.confirmed = entry.1
                try tx.set(subscription, .snsSubscription, scope: "releases", name: subscription.id)
                return subscription
            }
        }
    }

    func publish(_ message: String, to topic: String = "releases") async throws {
        let (arn, now) = (names.topicARN(topic), now)
        try await store.write { tx in
            try NotificationOutbox.add(
                OutboxMessage(topicArn: arn, subject: nil, message: message, createdAt: now), in: tx)
        }
    }

    func queue(_ subscription: SNSSubscription) async throws -> [SNSDelivery] {
        try await store.read { try $0.list(SNSDelivery.self, .snsDelivery, scope: subscription.id).map(\.value) }
    }

    func subscription(_ subscription: SNSSubscription) async throws -> SNSSubscription? {
        try await store.read {
            try $0.get(SNSSubscription.self, .snsSubscription, scope: "releases", name: subscription.id)
        }
    }
}

@Suite("Notifications")
struct NotificationTests {
    @Test("a message reaches the queues of the confirmed subscriptions only, and leaves the outbox")
    func fanOutToConfirmed() async throws {
        let harness = try Harness()
        let subscriptions = try await harness.topic([("https://a.test/", true), ("https://b.test/", false)])
        try await harness.publish("one")
        try await harness.publish("two")
        try await harness.publish("lost", to: "nowhere")
        #expect(try await harness.service.fanOut() == 3)
        #expect(try await harness.queue(subscriptions[0]).map(\.message) == ["one", "two"])
        #expect(try await harness.queue(subscriptions[1]).isEmpty)
        #expect(try await harness.store.read { try $0.count(.notificationOutbox, scope: "") } == 0)
    }

    @Test("a failed attempt keeps the message at the head of the queue, due again after a growing delay")
    func failureBacksOff() async throws {
        let harness = try Harness()
        // Nothing listens on port 9 of loopback: the connection is refused.
        let subscriptions = try await harness.topic([("https://127.0.0.1:9/", true)])
        try await harness.publish("one")
        try await harness.publish("two")
        try await harness.service.sendDueNow()
        var queue = try await harness.queue(subscriptions[0])
        #expect(queue.map(\.message) == ["one", "two"])
        #expect(queue[0].attempts == 1)
        #expect(queue[0].nextAttempt == harness.now + 1)
        let stored = try #require(try await harness.subscription(subscriptions[0]))
        #expect(stored.lastError?.isEmpty == false)
        #expect(stored.delivered == 0 && stored.failed == 0)
        // Not due yet: nothing is sent.
        try await harness.service.sendDueNow()
        #expect(try await harness.queue(subscriptions[0])[0].attempts == 1)
        harness.now += 1
        try await harness.service.sendDueNow()
        queue = try await harness.queue(subscriptions[0])
        #expect(queue[0].attempts == 2)
        #expect(queue[0].nextAttempt == harness.now + 2)
    }

    @Test("a message not delivered within a day is dropped and counted as failed; the next one goes on")
    func giveUp() async throws {
        let harness = try Harness()
        let subscriptions = try await harness.topic([("https://127.0.0.1:9/", true)])
        try await harness.publish("old")
        try await harness.service.fanOut()
        harness.now += 24 * 3600
        try await harness.publish("new")
        try await harness.service.sendDueNow()
        #expect(try await harness.queue(subscriptions[0]).map(\.message) == ["new"])
        #expect(try await harness.subscription(subscriptions[0])?.failed == 1)
    }

    @Test("delays double from 1 s up to a minute")
    func delays() {
        let policy = NotificationService.Policy()
        #expect((1...8).map { policy.delay(after: $0) } == [1, 2, 4, 8, 16, 32, 60, 60])
        #expect(policy.delay(after: Int.max) == 60)
        #expect(policy.delay(after: -3) == 1)
    }

    @Test("the signed text holds the members SNS signs, in its order, Subject only when there is one")
    func stringToSign() {
        let notification = [
            "Type": "Notification", "MessageId": "m", "TopicArn": "t", "Message": "hello\nworld", "Timestamp": "ts",
            "SignatureVersion": "1", "UnsubscribeURL": "u",
        ]
        #expect(
            SNSHTTPMessage.stringToSign(notification)
                == "Message\nhello\nworld\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n")
        var withSubject = notification
        withSubject["Subject"] = "s"
        #expect(SNSHTTPMessage.stringToSign(withSubject).contains("MessageId\nm\nSubject\ns\nTimestamp"))
        let confirmation = [
            "Type": "SubscriptionConfirmation", "MessageId": "m", "TopicArn": "t", "Message": "x", "Timestamp": "ts",
            "Token": "k", "SubscribeURL": "https://s",
        ]
        #expect(
            SNSHTTPMessage.stringToSign(confirmation)
                == "Message\nx\nMessageId\nm\nSubscribeURL\nhttps://s\nTimestamp\nts\nToken\nk\nTopicArn\nt\n"
                + "Type\nSubscriptionConfirmation\n")
    }

    @Test("a notification's document is signed over its text; raw delivery sends the message alone")
    func documents() throws {
        let names = SNSNames(region: "us-east-1", accountID: "000000000000")
        var subscription = SNSSubscription(
            id: "00000000-0000-0000-0000-000000000001", topicName: "releases", topicArn: names.topicARN("releases"),
            protocolName: .https, endpoint: "https://a.test/", owner: "000000000000", rawMessageDelivery: false,
            token: "secret", createdAt: Date(timeIntervalSince1970: 0))
        let delivery = SNSDelivery(
            kind: .notification, messageId: "id-1", subject: "s", message: "<b>&\"é\"</b>",
            timestamp: Date(timeIntervalSince1970: 1_800_000_000.25))
        let (body, headers) = try SNSHTTPMessage.request(
            delivery, to: subscription, signatureVersion: "2", signer: EchoSigner(), publicURL: "https://slipway.test")
        let document = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
        #expect(document["Timestamp"] == "2027-01-15T08:00:00.250Z")
        #expect(document["Message"] == delivery.message)
        #expect(document["SignatureVersion"] == "2")
        let signed = String(decoding: Data(base64Encoded: document["Signature"]!)!, as: UTF8.self)
        #expect(signed == "2:" + SNSHTTPMessage.stringToSign(document))
        #expect(
            document["UnsubscribeURL"]
                == "https://slipway.test/?Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000"
                + "%3Areleases%3A00000000-0000-0000-0000-000000000001")
        #expect(headers.contains { $0 == ("x-amz-sns-message-type", "Notification") })
        subscription.rawMessageDelivery = true
        let raw = try SNSHTTPMessage.request(
            delivery, to: subscription, signatureVersion: "1", signer: EchoSigner(), publicURL: "https://slipway.test")
        #expect(String(decoding: raw.body, as: UTF8.self) == delivery.message)
    }

    @Test("only this server's topic and subscription ARNs are read; anything else is refused")
    func hostileNames() {
        let names = SNSNames(region: "us-east-1", accountID: "000000000000")
        #expect(names.topicName(of: "arn:aws:sns:us-east-1:000000000000:releases") == "releases")
        for arn in [
            "arn:aws:sns:us-east-1:000000000000:", "arn:aws:sns:eu-west-1:000000000000:releases",
            "arn:aws:sns:us-east-1:123456789012:releases", "arn:aws:sns:us-east-1:000000000000:a/b",
            "arn:aws:sns:us-east-1:000000000000:a\u{0}b", "arn:aws:sns:us-east-1:000000000000:../x",
            "arn:aws:sns:us-east-1:000000000000:" + String(repeating: "a", count: 257), "", "releases",
        ] {
            #expect(names.topicName(of: arn) == nil, "\(arn)")
        }
        let subscription = "arn:aws:sns:us-east-1:000000000000:releases:00000000-0000-0000-0000-000000000001"
        #expect(names.subscription(of: subscription)?.topic == "releases")
        #expect(names.subscription(of: subscription)?.id == "00000000-0000-0000-0000-000000000001")
        #expect(names.subscription(of: "arn:aws:sns:us-east-1:000000000000:releases:../../x") == nil)
        #expect(names.subscription(of: "arn:aws:sns:us-east-1:000000000000:releases") == nil)
    }
}

@Suite("Forwarding to another SNS")
struct ForwardingTests {
    @Test("a topic ARN of another region or account is forwarded in its own region; anything else is not an ARN")
    func regions() {
        #expect(SNSForwarder.region(of: "arn:aws:sns:eu-west-1:123456789012:releases") == "eu-west-1")
        for arn in [
            "arn:aws:sns::123456789012:releases", "arn:aws:sqs:eu-west-1:123456789012:q",
            "arn:aws:sns:eu-west-1:1234:releases", "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:a:b", "arn:aws:sns:EU/west:123456789012:releases",
            "arn:aws:sns:eu-west-1:123456789012:bad name", "", "releases",
        ] {
            #expect(SNSForwarder.region(of: arn) == nil, "\(arn)")
        }
    }
}
