import Foundation
import Store

extension RecordKind {
    /// SNS topics (scope "", name: topic name): an ``SNSTopic``.
    package static let snsTopic = RecordKind(rawValue: "snsTopic")
    /// SNS subscriptions (scope: topic name, name: subscription id): an ``SNSSubscription``.
    package static let snsSubscription = RecordKind(rawValue: "snsSubscription")
    /// Messages waiting for a subscription (scope: subscription id, name: a sequence name, so that they are sent in
    /// order): an ``SNSDelivery``.
    package static let snsDelivery = RecordKind(rawValue: "snsDelivery")
}

/// A topic of Slipway's SNS API.
package struct SNSTopic: Codable, Sendable, Hashable {
    package var name: String
    package var arn: String
    package var createdAt: Date
    /// `DisplayName` and `SignatureVersion` (`1`: SHA1withRSA, as SNS by default; `2`: SHA256withRSA).
    package var attributes: [String: String]

    package init(name: String, arn: String, createdAt: Date, attributes: [String: String] = [:]) {
        self.name = name
        self.arn = arn
        self.createdAt = createdAt
        self.attributes = attributes
    }

    package var signatureVersion: String { attributes["SignatureVersion"] ?? "1" }
}

/// A subscription to a topic: an HTTP(S) endpoint that confirmed it (SNS's handshake), or a chat webhook.
package struct SNSSubscription: Codable, Sendable, Hashable {
    /// `http`, `https`, or Slipway's `slack` (a chat webhook: Slack-style `{"text": …}`, no handshake).
    package enum Endpoint: String, Codable, Sendable, Hashable, CaseIterable {
        case http, https, slack
    }

    package var id: String
    package var topicName: String
    package var topicArn: String
    package var protocolName: Endpoint
    package var endpoint: String
    package var owner: String
    /// `RawMessageDelivery`: the message alone as the body, without SNS's JSON envelope.
    package var rawMessageDelivery: Bool
    /// Whether the endpoint confirmed (always for `slack`); notifications go to confirmed subscriptions only.
    package var confirmed: Bool
    /// The secret of the confirmation handshake.
    package var token: String
    package var createdAt: Date
    /// What happened to the messages it was sent: for the API and the metrics.
    package var delivered: Int
    package var failed: Int
    package var lastError: String?
    package var lastDelivery: Date?

    package var arn: String { "\(topicArn):\(id)" }

    package init(
        id: String, topicName: String, topicArn: String, protocolName: Endpoint, endpoint: String, owner: String,
        rawMessageDelivery: Bool, token: String, createdAt: Date
    ) {
        self.id = id
        self.topicName = topicName
        self.topicArn = topicArn
        self.protocolName = protocolName
        self.endpoint = endpoint
        self.owner = owner
        self.rawMessageDelivery = rawMessageDelivery
        self.confirmed = protocolName == .slack
        self.token = token
        self.createdAt = createdAt
        self.delivered = 0
        self.failed = 0
    }
}

/// A message on its way to one subscription.
package struct SNSDelivery: Codable, Sendable, Hashable {
    package enum Kind: String, Codable, Sendable, Hashable {
        case notification = "Notification"
        case subscriptionConfirmation = "SubscriptionConfirmation"
    }

    package var kind: Kind
    package var messageId: String
    package var subject: String?
    package var message: String
    package var timestamp: Date
    package var attempts: Int
    package var nextAttempt: Date

    package init(kind: Kind, messageId: String, subject: String?, message: String, timestamp: Date) {
        self.kind = kind
        self.messageId = messageId
        self.subject = subject
        self.message = message
        self.timestamp = timestamp
        self.attempts = 0
        self.nextAttempt = timestamp
    }
}

/// The ARNs of Slipway's topics and subscriptions: `arn:aws:sns:REGION:ACCOUNT:TOPIC[:SUBSCRIPTION-ID]`.
package struct SNSNames: Sendable, Hashable {
    package let region: String
    package let accountID: String

    package init(region: String, accountID: String) {
        self.region = region
        self.accountID = accountID
    }

    package func topicARN(_ name: String) -> String { "arn:aws:sns:\(region):\(accountID):\(name)" }

    /// The topic name of one of this server's topic ARNs; `nil` for another ARN.
    package func topicName(of arn: String) -> String? {
        let prefix = "arn:aws:sns:\(region):\(accountID):"
        guard arn.hasPrefix(prefix) else { return nil }
        let name = String(arn.dropFirst(prefix.count))
        return SNSNames.isTopicName(name) ? name : nil
    }

    /// The topic name and subscription id of one of this server's subscription ARNs.
    package func subscription(of arn: String) -> (topic: String, id: String)? {
        guard let colon = arn.lastIndex(of: ":"), let topic = topicName(of: String(arn[..<colon])) else { return nil }
        let id = String(arn[arn.index(after: colon)...])
        guard id.count == 36, id.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return (topic, id)
    }

    /// SNS's topic names: 1 to 256 of `A-Z a-z 0-9 - _`.
    package static func isTopicName(_ name: String) -> Bool {
        (1...256).contains(name.count)
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
            }
    }
}
