import Foundation

/// Signs SNS messages: the server's signing key, and where receivers fetch its certificate.
package protocol SNSMessageSigner: Sendable {
    /// The base64 RSA signature of `text`: PKCS #1 v1.5 with SHA-1 for `SignatureVersion` 1, SHA-256 for 2.
    func signature(of text: String, version: String) throws -> String
    /// `SigningCertURL`.
    var certificateURL: String { get }
}

/// The HTTP requests SNS sends an endpoint: the JSON document of a notification or a subscription confirmation,
/// with its signature, and its headers.
package enum SNSHTTPMessage {
    /// SNS's timestamps: ISO 8601 with milliseconds, in UTC.
    package static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// The text SNS signs for `document` (reference: the SNS developer guide's "Verifying the signatures of Amazon SNS
    /// messages"): the named members, in this order, each as its name, a newline, its value, a newline; `Subject`
    /// only when present.
    package static func stringToSign(_ document: [String: String]) -> String {
        let names =
            document["Type"] == "Notification"
            ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
            : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        var text = ""
        for name in names {
            guard let value = document[name] else { continue }
            text += "\(name)\n\(value)\n"
        }
        return text
    }

    /// The body and headers `delivery` is sent to `subscription` with.
    package static func request(
        _ delivery: SNSDelivery, to subscription: SNSSubscription, signatureVersion: String,
        signer: any SNSMessageSigner, publicURL: String
    ) throws -> (body: Data, headers: [(String, String)]) {
        var headers: [(String, String)] = [
            ("x-amz-sns-message-type", delivery.kind.rawValue), ("x-amz-sns-message-id", delivery.messageId),
            ("x-amz-sns-topic-arn", subscription.topicArn),
        ]
        if subscription.protocolName == .slack {
            let text = [delivery.subject, delivery.message].compactMap { $0 }.joined(separator: "\n")
            let body = try JSONSerialization.data(withJSONObject: ["text": text], options: [.sortedKeys])
            return (body, [("Content-Type", "application/json")])
        }
        if delivery.kind == .notification {
            headers.append(("x-amz-sns-subscription-arn", subscription.arn))
            if subscription.rawMessageDelivery {
                headers += [("x-amz-sns-rawdelivery", "true"), ("Content-Type", "text/plain; charset=UTF-8")]
                return (Data(delivery.message.utf8), headers)
            }
        }
        var document: [String: String] = [
            "Type": delivery.kind.rawValue, "MessageId": delivery.messageId, "TopicArn": subscription.topicArn,
            "Message": delivery.message, "Timestamp": timestamp(delivery.timestamp),
            "SignatureVersion": signatureVersion, "SigningCertURL": signer.certificateURL,
        ]
        let encodedTopic = query(subscription.topicArn)
        switch delivery.kind {
        case .notification:
            if let subject = delivery.subject { document["Subject"] = subject }
            document["UnsubscribeURL"] =
                "\(publicURL)/?Action=Unsubscribe&SubscriptionArn=\(query(subscription.arn))"
        case .subscriptionConfirmation:
            document["Token"] = subscription.token
            document["SubscribeURL"] =
                "\(publicURL)/?Action=ConfirmSubscription&TopicArn=\(encodedTopic)&Token=\(subscription.token)"
        }
        document["Signature"] = try signer.signature(of: stringToSign(document), version: signatureVersion)
        let body = try JSONSerialization.data(
            withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        headers.append(("Content-Type", "text/plain; charset=UTF-8"))
        return (body, headers)
    }

    /// Percent-encodes a query value.
    package static func query(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// The text of the confirmation message.
    package static func confirmationText(topicArn: String) -> String {
        "Slipway was asked to send the messages of \(topicArn) to this endpoint. Open the SubscribeURL, or call "
            + "ConfirmSubscription with the Token, to start receiving them."
    }
}
