import Deployments
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Notifications
import SlipwayModel
import Store

/// Slipway's SNS subset, in SNS's query protocol (`POST /` form-encoded, signed for `sns`, XML answers): topics,
/// HTTP(S) subscriptions with SNS's confirmation handshake, Slipway's `slack` webhooks, `Publish`, raw delivery.
/// Every action is authorised as `sns:<Action>` on the topic it acts on.
///
/// Two requests come unsigned, as to SNS: the `SubscribeURL` and `UnsubscribeURL` of the messages sent to endpoints
/// (`GET /?Action=ConfirmSubscription&TopicArn=…&Token=…`, `GET /?Action=Unsubscribe&SubscriptionArn=…`): the token,
/// and the subscription's random id, are what authorise them. The signing certificate is public too.
struct SNSAPI: Sendable {
    static let namespace = "http://sns.amazonaws.com/doc/2010-03-31/"
    static let version = "2010-03-31"
    static let signingName = "sns"
    static let maximumBody = 1 << 20
    /// SNS's largest message.
    static let maximumMessage = 256 * 1024
    static let certificatePath = "/sns/signing-certificate.pem"
    /// How many topics, and subscriptions per topic, Slipway keeps.
    static let maximumTopics = 1000
    static let maximumSubscriptions = 1000

    let store: any Store
    let authenticator: Authenticator
    let names: SNSNames
    /// The signing certificate, PEM.
    let certificatePEM: String
    let clock: @Sendable () -> Date

    /// Whether a request is one of SNS's: a form-encoded POST to `/` signed for `sns`.
    static func accepts(_ request: Request) -> Bool {
        IAMAPI.accepts(request) && (request.headers[.authorization]?.contains("/sns/aws4_request") ?? false)
    }

    /// Whether a request is one of the unsigned ones (confirmation and unsubscribe links, the certificate).
    static func acceptsUnsigned(_ request: Request) -> Bool {
        guard request.method == .get else { return false }
        if request.uri.path == certificatePath { return true }
        guard request.uri.path == "/", request.headers[.authorization] == nil else { return false }
        let action = IAMQuery(form: Data(), url: request.uri.query ?? "")["Action"]
        return action == "ConfirmSubscription" || action == "Unsubscribe"
    }

    func respond(to request: Request, requestID: String, logger: Logger) async -> Response {
        var logger = logger
        do {
            let query: IAMQuery
            var principal: Principal?
            if request.method == .get {
                if request.uri.path == Self.certificatePath {
                    return Response(
                        status: .ok, headers: [.contentType: "application/x-pem-file"],
                        body: .init(byteBuffer: ByteBuffer(string: certificatePEM)))
                }
                query = IAMQuery(form: Data(), url: request.uri.query ?? "")
            } else {
                let admission = try await authenticator.admitIAM(request)
                let body: Data
                do {
                    body = Data(try await request.body.collect(upTo: Self.maximumBody).readableBytesView)
                } catch {
                    throw IAMError(
                        code: "InvalidParameter", message: "The request body is larger than \(Self.maximumBody) bytes.",
                        status: 413)
                }
                principal = try authenticator.authenticateQuery(
                    admission, body: body, service: Self.signingName, regions: [names.region], now: clock())
                query = IAMQuery(form: body, url: request.uri.query ?? "")
                guard query["Version"] == Self.version else {
                    throw IAMError(
                        code: "InvalidParameter",
                        message: "Version must be \(Self.version), the SNS API version Slipway speaks.", status: 400)
                }
            }
            guard let action = query["Action"] else {
                throw IAMError(code: "MissingAction", message: "The request has no Action parameter.", status: 400)
            }
            logger[metadataKey: "operation"] = .string(action)
            let result = try await handle(action, query, principal: principal, now: clock())
            var document = IAMXML.declaration + #"<\#(action)Response xmlns="\#(Self.namespace)">"#
            if let result { document += "<\(action)Result>\(result)</\(action)Result>" }
            document += "<ResponseMetadata>\(IAMXML.element("RequestId", requestID))</ResponseMetadata>"
            document += "</\(action)Response>"
            return Self.xml(document, status: .ok, requestID: requestID)
        } catch let error as IAMError {
            logger.info("SNS request refused", metadata: ["error": .string(error.code)])
            return Self.xml(
                error.xml(requestID: requestID, namespace: Self.namespace), status: .init(code: error.status),
                requestID: requestID)
        } catch {
            logger.error("SNS internal error", metadata: ["error": .string(String(describing: error))])
            let failure = IAMError(
                code: "InternalError",
                message: "The server failed to handle the request; its log has the details under request id "
                    + "\(requestID).",
                status: 500)
            return Self.xml(
                failure.xml(requestID: requestID, namespace: Self.namespace), status: .internalServerError,
                requestID: requestID)
        }
    }

    private static func xml(_ document: String, status: HTTPResponse.Status, requestID: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/xml", .amzRequestID: requestID],
            body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    // MARK: Actions

    /// The inner XML of the action's result; nil for an empty one. `principal` is nil for the unsigned links.
    private func handle(_ action: String, _ query: IAMQuery, principal: Principal?, now: Date) async throws -> String? {
        guard let principal else {
            switch action {
            case "ConfirmSubscription": return try await confirm(query, principal: nil)
            case "Unsubscribe":
                try await unsubscribe(query, principal: nil)
                return nil
            default: throw invalid("\(action) needs a signed request.")
            }
        }
        switch action {
        case "CreateTopic": return try await createTopic(query, principal: principal, now: now)
        case "DeleteTopic":
            let (name, arn) = try topic(query)
            try authorize(principal, action, arn)
            try await store.write { tx in
                for record in try tx.records(.snsSubscription, scope: name, after: nil, limit: .max) {
                    _ = try tx.deleteAll(.snsDelivery, scope: record.name)
                }
                _ = try tx.deleteAll(.snsSubscription, scope: name)
                _ = try tx.delete(.snsTopic, scope: "", name: name)
            }
            return nil
        case "ListTopics":
            try authorize(principal, action, nil)
            let (page, next) = try await self.page(.snsTopic, scope: "", query) { (topic: SNSTopic) in
                "<member>\(IAMXML.element("TopicArn", topic.arn))</member>"
            }
            return "<Topics>\(page)</Topics>" + (next.map { IAMXML.element("NextToken", $0) } ?? "")
        case "GetTopicAttributes":
            let (name, arn) = try topic(query)
            try authorize(principal, action, arn)
            let topic = try await existingTopic(name)
            let subscriptions = try await store.read { try $0.count(.snsSubscription, scope: name) }
            var attributes = topic.attributes
            attributes["TopicArn"] = topic.arn
            attributes["Owner"] = names.accountID
            attributes["SubscriptionsConfirmed"] = String(subscriptions)
            attributes["SignatureVersion"] = topic.signatureVersion
            return Self.attributes(attributes)
        case "Subscribe": return try await subscribe(query, principal: principal, now: now)
        case "ConfirmSubscription": return try await confirm(query, principal: principal)
        case "Unsubscribe":
            try await unsubscribe(query, principal: principal)
            return nil
        case "ListSubscriptionsByTopic":
            let (name, arn) = try topic(query)
            try authorize(principal, action, arn)
            _ = try await existingTopic(name)
            let (page, next) = try await self.page(.snsSubscription, scope: name, query, render: Self.member)
            return "<Subscriptions>\(page)</Subscriptions>" + (next.map { IAMXML.element("NextToken", $0) } ?? "")
        case "ListSubscriptions":
            try authorize(principal, action, nil)
            let all = try await store.read { tx in
                try tx.allRecords(.snsSubscription).map { try RecordCoding.decode(SNSSubscription.self, from: $0) }
            }
            return "<Subscriptions>\(all.prefix(1000).map(Self.member).joined())</Subscriptions>"
        case "GetSubscriptionAttributes":
            let subscription = try await existingSubscription(query, principal: principal, action: action)
            return Self.attributes([
                "SubscriptionArn": subscription.arn, "TopicArn": subscription.topicArn,
                "Protocol": subscription.protocolName.rawValue, "Endpoint": subscription.endpoint,
                "Owner": subscription.owner, "PendingConfirmation": String(!subscription.confirmed),
                "ConfirmationWasAuthenticated": String(subscription.confirmed),
                "RawMessageDelivery": String(subscription.rawMessageDelivery),
                "DeliveredCount": String(subscription.delivered), "FailedCount": String(subscription.failed),
                "LastDeliveryError": subscription.lastError ?? "",
                "PendingDeliveries": String(
                    try await store.read { try $0.count(.snsDelivery, scope: subscription.id) }),
            ])
        case "SetSubscriptionAttributes":
            guard query["AttributeName"] == "RawMessageDelivery" else {
                throw invalid("Slipway sets one subscription attribute: RawMessageDelivery.")
            }
            let raw = try Self.flag(query["AttributeValue"], "AttributeValue")
            var subscription = try await existingSubscription(query, principal: principal, action: action)
            subscription.rawMessageDelivery = raw
            let stored = subscription
            try await store.write { tx in
                guard
                    try tx.get(SNSSubscription.self, .snsSubscription, scope: stored.topicName, name: stored.id)
                        != nil
                else { throw notFound("Subscription does not exist") }
                try tx.set(stored, .snsSubscription, scope: stored.topicName, name: stored.id)
            }
            return nil
        case "Publish":
            let (name, arn) = try topic(query)
            try authorize(principal, action, arn)
            guard let message = query["Message"], !message.isEmpty else { throw invalid("Message is required.") }
            guard message.utf8.count <= Self.maximumMessage else {
                throw invalid("Message is longer than \(Self.maximumMessage) bytes.")
            }
            let subject = query["Subject"]
            if let subject {
                guard (1...100).contains(subject.count), subject.unicodeScalars.allSatisfy({ $0.value >= 0x20 }) else {
                    throw invalid("Subject must be 1 to 100 characters, without control characters.")
                }
            }
            let id = try await store.write { tx in
                guard try tx.get(SNSTopic.self, .snsTopic, name: name) != nil else {
                    throw notFound("Topic does not exist")
                }
                return try NotificationOutbox.add(
                    OutboxMessage(topicArn: arn, subject: subject, message: message, createdAt: now), in: tx)
            }
            return IAMXML.element("MessageId", Self.messageId(outboxName: id))
        default:
            throw IAMError(
                code: "InvalidAction",
                message: "The action \(action) is not valid for this web service: Slipway's SNS serves topics, "
                    + "HTTP(S) subscriptions and Publish.",
                status: 400)
        }
    }

    private func createTopic(_ query: IAMQuery, principal: Principal, now: Date) async throws -> String {
        guard let name = query["Name"], SNSNames.isTopicName(name) else {
            throw invalid("Topic Name must be 1 to 256 of the characters A-Z, a-z, 0-9, - and _.")
        }
        let arn = names.topicARN(name)
        try authorize(principal, "CreateTopic", arn)
        var attributes: [String: String] = [:]
        for (key, value) in try Self.entries(query, "Attributes") {
            switch key {
            case "DisplayName":
                guard value.count <= 100 else { throw invalid("DisplayName is longer than 100 characters.") }
                attributes[key] = value
            case "SignatureVersion":
                guard value == "1" || value == "2" else { throw invalid("SignatureVersion must be 1 or 2.") }
                attributes[key] = value
            default:
                throw invalid("Slipway's topics take the attributes DisplayName and SignatureVersion, not \(key).")
            }
        }
        let topic = SNSTopic(name: name, arn: arn, createdAt: now, attributes: attributes)
        try await store.write { tx in
            // CreateTopic of an existing topic answers its ARN, as SNS does.
            guard try tx.get(SNSTopic.self, .snsTopic, name: name) == nil else { return }
            guard try tx.count(.snsTopic, scope: "") < Self.maximumTopics else {
                throw IAMError(
                    code: "TopicLimitExceeded", message: "Slipway keeps at most \(Self.maximumTopics) topics.",
                    status: 403)
            }
            try tx.set(topic, .snsTopic, name: name)
        }
        return IAMXML.element("TopicArn", arn)
    }

    private func subscribe(_ query: IAMQuery, principal: Principal, now: Date) async throws -> String {
        let (name, arn) = try topic(query)
        try authorize(principal, "Subscribe", arn)
        guard let protocolName = query["Protocol"].flatMap(SNSSubscription.Endpoint.init(rawValue:)) else {
            throw invalid("Protocol must be http, https or slack (a chat webhook); Slipway delivers to no other.")
        }
        guard let endpoint = query["Endpoint"], let url = URL(string: endpoint),
            url.scheme?.lowercased() == (protocolName == .http ? "http" : "https"), let host = url.host,
            !host.isEmpty, endpoint.count <= 2048, endpoint.unicodeScalars.allSatisfy({ $0.value > 0x20 })
        else {
            throw invalid(
                "Endpoint must be an \(protocolName == .http ? "http" : "https"):// URL of at most 2048 characters.")
        }
        var raw = false
        for (key, value) in try Self.entries(query, "Attributes") {
            guard key == "RawMessageDelivery" else {
                throw invalid("Slipway's subscriptions take the attribute RawMessageDelivery, not \(key).")
            }
            raw = try Self.flag(value, key)
        }
        let rawMessageDelivery = raw
        let returnARN = try query["ReturnSubscriptionArn"].map { try Self.flag($0, "ReturnSubscriptionArn") } ?? false
        let subscription = try await store.write { tx -> SNSSubscription in
            guard try tx.get(SNSTopic.self, .snsTopic, name: name) != nil else {
                throw notFound("Topic does not exist")
            }
            let existing = try tx.list(SNSSubscription.self, .snsSubscription, scope: name).map(\.value)
            // Subscribing an endpoint again gives the same subscription, as SNS does.
            if let same = existing.first(where: { $0.protocolName == protocolName && $0.endpoint == endpoint }) {
                return same
            }
            guard existing.count < Self.maximumSubscriptions else {
                throw IAMError(
                    code: "SubscriptionLimitExceeded",
                    message: "A topic has at most \(Self.maximumSubscriptions) subscriptions.", status: 403)
            }
            let subscription = SNSSubscription(
                id: UUID().uuidString.lowercased(), topicName: name, topicArn: arn, protocolName: protocolName,
                endpoint: endpoint, owner: names.accountID, rawMessageDelivery: rawMessageDelivery, token: Self.token(),
                createdAt: now)
            try tx.set(subscription, .snsSubscription, scope: name, name: subscription.id)
            if !subscription.confirmed {
                let name = try NotificationOutbox.nextName(in: tx)
                try tx.set(
                    SNSDelivery(
                        kind: .subscriptionConfirmation, messageId: Self.messageId(outboxName: name), subject: nil,
                        message: SNSHTTPMessage.confirmationText(topicArn: arn), timestamp: now),
                    .snsDelivery, scope: subscription.id, name: name)
            }
            return subscription
        }
        let shown = subscription.confirmed || returnARN ? subscription.arn : "pending confirmation"
        return IAMXML.element("SubscriptionArn", shown)
    }

    /// ConfirmSubscription: the token sent to the endpoint confirms its subscription.
    private func confirm(_ query: IAMQuery, principal: Principal?) async throws -> String {
        let (name, arn) = try topic(query)
        if let principal { try authorize(principal, "ConfirmSubscription", arn) }
        guard let token = query["Token"], !token.isEmpty, token.count <= 256 else {
            throw invalid("Token is required.")
        }
        let subscription = try await store.write { tx -> SNSSubscription in
            let all = try tx.list(SNSSubscription.self, .snsSubscription, scope: name).map(\.value)
            guard var subscription = all.first(where: { Self.equalInConstantTime($0.token, token) }) else {
                throw invalid("Invalid token")
            }
            subscription.confirmed = true
            try tx.set(subscription, .snsSubscription, scope: name, name: subscription.id)
            return subscription
        }
        return IAMXML.element("SubscriptionArn", subscription.arn)
    }

    private func unsubscribe(_ query: IAMQuery, principal: Principal?) async throws {
        guard let arn = query["SubscriptionArn"], let (topic, id) = names.subscription(of: arn) else {
            throw invalid("SubscriptionArn is not the ARN of a subscription of this server.")
        }
        if let principal { try authorize(principal, "Unsubscribe", names.topicARN(topic)) }
        try await store.write { tx in
            guard try tx.delete(.snsSubscription, scope: topic, name: id) else {
                throw notFound("Subscription does not exist")
            }
            _ = try tx.deleteAll(.snsDelivery, scope: id)
        }
    }

    // MARK: Helpers

    private func topic(_ query: IAMQuery) throws -> (name: String, arn: String) {
        guard let arn = query["TopicArn"] else { throw invalid("TopicArn is required.") }
        guard let name = names.topicName(of: arn) else {
            throw invalid("TopicArn \(arn) is not the ARN of a topic of this server (\(names.topicARN("NAME"))).")
        }
        return (name, arn)
    }

    private func existingTopic(_ name: String) async throws -> SNSTopic {
        guard let topic = try await store.read({ try $0.get(SNSTopic.self, .snsTopic, name: name) }) else {
            throw notFound("Topic does not exist")
        }
        return topic
    }

    private func existingSubscription(_ query: IAMQuery, principal: Principal, action: String) async throws
        -> SNSSubscription
    {
        guard let arn = query["SubscriptionArn"], let (topic, id) = names.subscription(of: arn) else {
            throw invalid("SubscriptionArn is not the ARN of a subscription of this server.")
        }
        try authorize(principal, action, names.topicARN(topic))
        guard
            let subscription = try await store.read({
                try $0.get(SNSSubscription.self, .snsSubscription, scope: topic, name: id)
            })
        else { throw notFound("Subscription does not exist") }
        return subscription
    }

    private func authorize(_ principal: Principal, _ action: String, _ arn: String?) throws {
        do {
            try principal.authorize("sns:\(action)", resources: arn.map { [$0] })
        } catch {
            throw IAMError(code: "AuthorizationError", message: error.message, status: 403)
        }
    }

    /// A page of records of `kind`, 100 at a time, with the last name as the next token.
    private func page<Value: Decodable & Sendable>(
        _ kind: RecordKind, scope: String, _ query: IAMQuery, render: @escaping @Sendable (Value) -> String
    ) async throws -> (String, String?) {
        let token = query["NextToken"]
        if let token, token.count > 512 { throw invalid("NextToken is not valid.") }
        let records = try await store.read { tx in
            try tx.list(Value.self, kind, scope: scope, after: token, limit: 101)
        }
        let shown = records.prefix(100)
        return (shown.map { render($0.value) }.joined(), records.count > 100 ? shown.last?.name : nil)
    }

    private static func member(_ subscription: SNSSubscription) -> String {
        "<member>"
            + IAMXML.element("SubscriptionArn", subscription.confirmed ? subscription.arn : "PendingConfirmation")
            + IAMXML.element("Owner", subscription.owner)
            + IAMXML.element("Protocol", subscription.protocolName.rawValue)
            + IAMXML.element("Endpoint", subscription.endpoint) + IAMXML.element("TopicArn", subscription.topicArn)
            + "</member>"
    }

    private static func attributes(_ attributes: [String: String]) -> String {
        "<Attributes>"
            + attributes.sorted { $0.key < $1.key }.map {
                "<entry>" + IAMXML.element("key", $0.key) + IAMXML.element("value", $0.value) + "</entry>"
            }.joined() + "</Attributes>"
    }

    /// `Prefix.entry.N.key` / `Prefix.entry.N.value` pairs, N from 1; at most 10.
    static func entries(_ query: IAMQuery, _ prefix: String) throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        for index in 1...11 {
            guard let key = query["\(prefix).entry.\(index).key"] else { break }
            guard index <= 10 else { throw invalidParameter("\(prefix) holds at most 10 entries.") }
            pairs.append((key, query["\(prefix).entry.\(index).value"] ?? ""))
        }
        return pairs
    }

    static func flag(_ value: String?, _ name: String) throws -> Bool {
        switch value?.lowercased() {
        case "true": return true
        case "false": return false
        default: throw invalidParameter("\(name) must be true or false.")
        }
    }

    /// A confirmation token: 64 random hex digits.
    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let value = generator.next() as UInt64
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }

    /// The message id of an outbox message, as a UUID-shaped string made from its sequence name and the server's
    /// random id prefix.
    static func messageId(outboxName: String) -> String {
        let digits = Array(outboxName.suffix(12))
        return UniqueIDs.make().dropLast(12) + String(digits)
    }

    static func equalInConstantTime(_ left: String, _ right: String) -> Bool {
        let (a, b) = (Array(left.utf8), Array(right.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func invalidParameter(_ message: String) -> IAMError {
        IAMError(code: "InvalidParameter", message: "Invalid parameter: \(message)", status: 400)
    }

    private func invalid(_ message: String) -> IAMError { Self.invalidParameter(message) }
    private func notFound(_ message: String) -> IAMError { IAMError(code: "NotFound", message: message, status: 404) }
}
