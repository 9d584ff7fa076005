import AsyncHTTPClient
import Deployments
import Foundation
import Logging
import NIOCore
import Store
import Synchronization

/// Delivers notifications: moves each message of the outbox to the confirmed subscriptions of its topic (in the
/// order they were added, one transaction each), then sends every subscription its messages one after the other,
/// each until its endpoint answers 2xx, with backoff, for up to ``NotificationService/Policy/giveUpAfter``.
///
/// Nothing is held in memory that the store does not have: a server that stops at any moment sends, once restarted,
/// whatever it had not sent (a message may then arrive twice: delivery is at least once, as SNS's). A deployment
/// never waits for any of it: the driver only writes the outbox.
package final class NotificationService: Sendable {
    package struct Policy: Sendable {
        /// The first retry's delay, doubled each time up to ``longestDelay``.
        package var firstDelay: TimeInterval = 1
        package var longestDelay: TimeInterval = 60
        /// After this long since a message was first due, it is dropped and counted as failed.
        package var giveUpAfter: TimeInterval = 24 * 3600
        /// How long one request may take.
        package var requestTimeout: TimeAmount = .seconds(15)

        package init() {}

        /// The delay before attempt `attempts + 1`.
        func delay(after attempts: Int) -> TimeInterval {
            min(longestDelay, firstDelay * pow(2, Double(min(max(attempts - 1, 0), 30))))
        }
    }

    package let store: any Store
    package let names: SNSNames
    package let signer: any SNSMessageSigner
    /// The server's address as endpoints reach it: the base of `SubscribeURL` and `UnsubscribeURL`.
    package let publicURL: @Sendable () -> String
    package let http: HTTPClient
    package let policy: Policy
    package let logger: Logger
    package let clock: @Sendable () -> Date
    /// The subscriptions a request is under way for.
    private let sending = Mutex<Set<String>>([])
    /// What each finished request came to, for the metrics: called with `true` for a delivery, `false` otherwise.
    package let onAttempt: @Sendable (Bool) -> Void
    /// Where messages for topics of another SNS go; nil: they are dropped, with an error in the log.
    package let forwarder: SNSForwarder?
    /// The key of the forwarded queue in ``sending``.
    private static let forwardQueue = "forward"

    package init(
        store: any Store, names: SNSNames, signer: any SNSMessageSigner, publicURL: @escaping @Sendable () -> String,
        http: HTTPClient = .shared, policy: Policy = Policy(), logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }, onAttempt: @escaping @Sendable (Bool) -> Void = { _ in },
        forwarder: SNSForwarder? = nil
    ) {
        self.forwarder = forwarder
        self.store = store
        self.names = names
        self.signer = signer
        self.publicURL = publicURL
        self.http = http
        self.policy = policy
        self.logger = logger
        self.clock = clock
        self.onAttempt = onAttempt
    }

    /// Moves the outbox to the subscriptions' queues; returns how many messages it moved.
    @discardableResult
    package func fanOut() async throws -> Int {
        var moved = 0
        // Most rounds find the outbox empty: look before taking the write lock.
        guard try await store.read({ try $0.count(.notificationOutbox, scope: "") }) > 0 else { return 0 }
        while true {
            let count = try await store.write { [names, logger, forwarder] tx in
                let batch = try tx.list(OutboxMessage.self, .notificationOutbox, limit: 100)
                for (name, message) in batch {
                    _ = try tx.delete(.notificationOutbox, scope: "", name: name)
                    if names.topicName(of: message.topicArn) == nil, forwarder != nil,
                        SNSForwarder.region(of: message.topicArn) != nil
                    {
                        let forward = SNSForward(
                            topicArn: message.topicArn, subject: message.subject, message: message.message,
                            createdAt: message.createdAt)
                        try tx.set(forward, .snsForward, name: name)
                        continue
                    }
                    guard let topic = names.topicName(of: message.topicArn),
                        try tx.get(SNSTopic.self, .snsTopic, name: topic) != nil
                    else {
                        logger.error(
                            "a notification names a topic Slipway does not have; it is dropped",
                            metadata: ["topic": "\(message.topicArn)"])
                        continue
                    }
                    for (id, subscription) in try tx.list(SNSSubscription.self, .snsSubscription, scope: topic)
                    where subscription.confirmed {
                        let delivery = SNSDelivery(
                            kind: .notification, messageId: Self.messageId(), subject: message.subject,
                            message: message.message, timestamp: message.createdAt)
                        try tx.set(delivery, .snsDelivery, scope: id, name: name)
                    }
                }
                return batch.count
            }
            moved += count
            if count < 100 { return moved }
        }
    }

    /// Starts a request for every subscription whose next message is due and that has none under way; returns the
    /// tasks' count. `group` runs them.
    @discardableResult
    package func sendDue(in group: inout DiscardingTaskGroup) async throws -> Int {
        let now = clock()
        let due = try await store.read { tx -> [(SNSSubscription, String, SNSDelivery, String)] in
            var due: [(SNSSubscription, String, SNSDelivery, String)] = []
            for record in try tx.allRecords(.snsSubscription) {
                let subscription = try RecordCoding.decode(SNSSubscription.self, from: record)
                guard
                    let (name, delivery) = try tx.list(SNSDelivery.self, .snsDelivery, scope: subscription.id, limit: 1)
                        .first, delivery.nextAttempt <= now
                else { continue }
                let version =
                    try tx.get(SNSTopic.self, .snsTopic, name: subscription.topicName)?.signatureVersion ?? "1"
                due.append((subscription, name, delivery, version))
            }
            return due
        }
        var started = 0
        if let forwarder,
            let (name, forward) = try await store.read({ try $0.list(SNSForward.self, .snsForward, limit: 1).first }),
            forward.nextAttempt <= now, sending.withLock({ $0.insert(Self.forwardQueue).inserted })
        {
            started += 1
            group.addTask { [self] in
                let failure = await forwarder.publish(forward, timeout: policy.requestTimeout)
                onAttempt(failure == nil)
                do {
                    try await recordForward(failure, named: name)
                } catch {
                    logger.error(
                        "cannot record a forwarded notification; it is sent again", metadata: ["error": "\(error)"])
                }
                _ = sending.withLock { $0.remove(Self.forwardQueue) }
            }
        }
        for (subscription, name, delivery, version) in due {
            guard sending.withLock({ $0.insert(subscription.id).inserted }) else { continue }
            started += 1
            group.addTask { [self] in
                await send(delivery, named: name, to: subscription, signatureVersion: version)
                _ = sending.withLock { $0.remove(subscription.id) }
            }
        }
        return started
    }

    /// Moves the outbox, sends every message due now and waits for the requests: one round of ``run(every:)``, for
    /// tests.
    package func sendDueNow() async throws {
        try await fanOut()
        let failure = Mutex<(any Error)?>(nil)
        await withDiscardingTaskGroup { group in
            do {
                _ = try await sendDue(in: &group)
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    private func send(
        _ delivery: SNSDelivery, named name: String, to subscription: SNSSubscription, signatureVersion: String
    ) async {
        let outcome: String?
        do {
            let (body, headers) = try SNSHTTPMessage.request(
                delivery, to: subscription, signatureVersion: signatureVersion, signer: signer, publicURL: publicURL())
            var request = HTTPClientRequest(url: subscription.endpoint)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.headers.add(name: "User-Agent", value: "Slipway SNS")
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await http.execute(request, timeout: policy.requestTimeout)
            _ = try? await response.body.collect(upTo: 64 << 10)
            outcome = (200..<300).contains(response.status.code) ? nil : "HTTP \(response.status.code)"
        } catch {
            outcome = "\(error)"
        }
        onAttempt(outcome == nil)
        do {
            try await record(outcome, of: delivery, named: name, for: subscription)
        } catch {
            logger.error(
                "cannot record a notification attempt; it is made again",
                metadata: ["subscription": "\(subscription.arn)", "error": "\(error)"])
        }
    }

    /// Stores what an attempt came to: the message leaves the queue once delivered, or given up.
    private func record(
        _ failure: String?, of delivery: SNSDelivery, named name: String, for subscription: SNSSubscription
    )
        async throws
    {
        let now = clock()
        try await store.write { [policy, logger] tx in
            guard
                var current = try tx.get(
                    SNSSubscription.self, .snsSubscription, scope: subscription.topicName, name: subscription.id),
                var stored = try tx.get(SNSDelivery.self, .snsDelivery, scope: subscription.id, name: name)
            else { return }
            stored.attempts += 1
            if let failure {
                current.lastError = failure
                if now.timeIntervalSince(stored.timestamp) >= policy.giveUpAfter {
                    _ = try tx.delete(.snsDelivery, scope: subscription.id, name: name)
                    current.failed += 1
                    logger.error(
                        "a notification was not delivered in time and is dropped",
                        metadata: ["subscription": "\(subscription.arn)", "error": "\(failure)"])
                } else {
                    stored.nextAttempt = now + policy.delay(after: stored.attempts)
                    logger.info(
                        "a notification was not delivered; it is sent again later",
                        metadata: [
                            "subscription": "\(subscription.arn)", "error": "\(failure)",
                            "attempts": "\(stored.attempts)",
                        ])
                    try tx.set(stored, .snsDelivery, scope: subscription.id, name: name)
                }
            } else {
                _ = try tx.delete(.snsDelivery, scope: subscription.id, name: name)
                current.delivered += 1
                current.lastDelivery = now
                current.lastError = nil
            }
            try tx.set(current, .snsSubscription, scope: subscription.topicName, name: subscription.id)
        }
    }

    /// Stores what a forwarding attempt came to.
    private func recordForward(_ failure: String?, named name: String) async throws {
        let now = clock()
        try await store.write { [policy, logger] tx in
            guard var forward = try tx.get(SNSForward.self, .snsForward, name: name) else { return }
            forward.attempts += 1
            guard let failure else {
                _ = try tx.delete(.snsForward, scope: "", name: name)
                return
            }
            if now.timeIntervalSince(forward.createdAt) >= policy.giveUpAfter {
                _ = try tx.delete(.snsForward, scope: "", name: name)
                logger.error(
                    "a notification for another SNS was not published in time and is dropped",
                    metadata: ["topic": "\(forward.topicArn)", "error": "\(failure)"])
            } else {
                forward.nextAttempt = now + policy.delay(after: forward.attempts)
                try tx.set(forward, .snsForward, name: name)
                logger.info(
                    "a notification for another SNS was not published; it is sent again later",
                    metadata: ["topic": "\(forward.topicArn)", "error": "\(failure)"])
            }
        }
    }

    /// Fans out and sends every `interval` until cancelled.
    package func run(every interval: Duration = .milliseconds(250)) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                do {
                    try await fanOut()
                    try await sendDue(in: &group)
                } catch {
                    logger.error("notifications: cannot read the store", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// A message id: a random UUID, as SNS's.
    static func messageId() -> String { UUID().uuidString.lowercased() }
}
