import AsyncHTTPClient
import Foundation
import NIOCore
import S3Transfer
import SigV4
import Store

extension RecordKind {
    /// Messages for topics of another SNS (scope "", name: the outbox message's name): an ``SNSForward``, published
    /// there in order.
    package static let snsForward = RecordKind(rawValue: "snsForward")
}

/// A message on its way to another SNS: AWS SNS itself, or another Slipway.
package struct SNSForward: Codable, Sendable, Hashable {
    package var topicArn: String
    package var subject: String?
    package var message: String
    package var createdAt: Date
    package var attempts: Int
    package var nextAttempt: Date

    package init(topicArn: String, subject: String?, message: String, createdAt: Date) {
        self.topicArn = topicArn
        self.subject = subject
        self.message = message
        self.createdAt = createdAt
        self.attempts = 0
        self.nextAttempt = createdAt
    }
}

/// Publishes to topics that are not this server's, at an SNS endpoint given to the server, with `Publish` signed for
/// `sns` in the topic's own region.
package struct SNSForwarder: Sendable {
    package let endpoint: URL
    package let credentials: any CredentialsProvider
    package let http: HTTPClient

    package init(endpoint: URL, credentials: any CredentialsProvider, http: HTTPClient) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.http = http
    }

    /// The region of an SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`); nil for anything else.
    package static func region(of arn: String) -> String? {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sns", !parts[3].isEmpty,
            parts[3].allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }),
            parts[4].count == 12, parts[4].allSatisfy(\.isNumber), SNSNames.isTopicName(String(parts[5]))
        else { return nil }
        return String(parts[3])
    }

    /// Publishes `forward`; returns nil when the endpoint took it, else why not.
    func publish(_ forward: SNSForward, timeout: TimeAmount) async -> String? {
        guard let region = Self.region(of: forward.topicArn) else {
            return "\(forward.topicArn) is not an SNS topic ARN"
        }
        var parameters = ["TopicArn": forward.topicArn, "Message": forward.message]
        if let subject = forward.subject { parameters["Subject"] = subject }
        let client = SignedHTTPClient(endpoint: endpoint, region: region, credentials: credentials, http: http)
        do {
            let response = try await client.send(
                .query(
                    service: "sns", action: "Publish", version: "2010-03-31", parameters: parameters,
                    timeout: timeout))
            let body = try await response.body.collect(upTo: 64 << 10)
            guard (200..<300).contains(response.status.code) else {
                return "\(endpoint.absoluteString) answered HTTP \(response.status.code): "
                    + String(buffer: body).prefix(300)
            }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
