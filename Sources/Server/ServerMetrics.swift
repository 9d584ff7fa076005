import Deployments
import Engine
import Foundation
import Metrics
import Notifications
import Prometheus
import Store

/// The server's own series (the deployments' are in `DeploymentMetrics`), and the `/metrics` export.
enum ServerMetrics {
    static let apiRequests = "slipway_api_requests_total"
    static let apiRequestDuration = "slipway_api_request_duration_seconds"
    static let heldPolls = "slipway_held_polls"
    static let artifactBytesIn = "slipway_artifact_bytes_in_total"
    static let artifactBytesOut = "slipway_artifact_bytes_out_total"
    static let notificationDeliveries = "slipway_notification_deliveries_total"
    static let commandsWaiting = "slipway_host_commands_waiting"
    static let commandsRunning = "slipway_host_commands_running"
    static let deploymentsInProgress = "slipway_deployments_in_progress"
    static let notificationsPending = "slipway_notifications_pending"

    /// One API request: its protocol (`codedeploy`, `commands`, `cloudwatch`, `events`, `s3`, `iam`, `sns`), its
    /// operation (the JSON protocols' operation names; the HTTP method for the others, whose operations are read from
    /// the body or path and would let a caller make up label values), its outcome and its latency.
    static func request(protocol name: String, operation: String, status: Int, started: ContinuousClock.Instant) {
        let outcome =
            switch status {
            case ..<400: "success"
            case ..<500: "client_error"
            default: "server_error"
            }
        Counter(label: apiRequests, dimensions: [("protocol", name), ("operation", operation), ("outcome", outcome)])
            .increment()
        Timer(label: apiRequestDuration, dimensions: [("protocol", name), ("operation", operation)])
            .record(duration: ContinuousClock.now - started)
    }

    static func notificationAttempt(delivered: Bool) {
        Counter(label: notificationDeliveries, dimensions: [("outcome", delivered ? "delivered" : "failed")])
            .increment()
    }

    /// The histogram buckets of the series whose values are not request latencies.
    static var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
        let minutes: [Duration] = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200].map { .seconds($0) }
        factory.durationHistogramBuckets[DeploymentMetrics.deploymentDuration] = minutes
        factory.durationHistogramBuckets[DeploymentMetrics.lifecycleEventDuration] =
            [.milliseconds(100), .milliseconds(500)] + [1, 5, 10, 30, 60, 300, 1800, 3600].map { .seconds($0) }
        factory.durationHistogramBuckets[StoreMetrics.transactionDuration] =
            [100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250_000].map { .microseconds($0) }
        return factory
    }
}

/// Makes the process's swift-metrics backend a Prometheus registry with Slipway's histogram buckets, and returns
/// the registry for `GET /metrics`. Call once per process.
public func bootstrapMetrics() -> PrometheusCollectorRegistry {
    let factory = ServerMetrics.factory
    MetricsSystem.bootstrap(factory)
    return factory.registry
}

/// `GET /metrics`: the registry in Prometheus' text format, after the gauges read from the store are brought up to
/// date. Answered without authentication only with `--metrics-public`; otherwise it needs `Authorization: Bearer`
/// with the token of `--metrics-token-file`.
struct MetricsExport: Sendable {
    let registry: PrometheusCollectorRegistry
    /// The bearer token a scrape must present; nil: none needed (`--metrics-public`).
    let token: String?

    func authorises(_ authorization: String?) -> Bool {
        guard let token else { return true }
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let given = Array(authorization.dropFirst("Bearer ".count).utf8)
        let expected = Array(token.utf8)
        return given.count == expected.count && zip(given, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The text of the series, after reading the store's current counts into the gauges.
    func text(store: any Store) async -> [UInt8] {
        if let counts = try? await store.read({ tx in
            var (waiting, running) = (0, 0)
            for (_, delivery) in try tx.list(HostCommandDelivery.self, .commandDelivery) {
                if delivery.held != nil { running += 1 } else if !delivery.offers.isEmpty { waiting += 1 }
            }
            return (
                waiting, running, try tx.count(.liveDeployment, scope: ""),
                try tx.allRecords(.snsDelivery).count + tx.count(.notificationOutbox, scope: "")
            )
        }) {
            Gauge(label: ServerMetrics.commandsWaiting).record(counts.0)
            Gauge(label: ServerMetrics.commandsRunning).record(counts.1)
            Gauge(label: ServerMetrics.deploymentsInProgress).record(counts.2)
            Gauge(label: ServerMetrics.notificationsPending).record(counts.3)
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 << 10)
        registry.emit(into: &buffer)
        return buffer
    }
}
