import Engine
import Synchronization

/// Performs the load-balancer events of hosts (`BlockTraffic`, `AllowTraffic`), which agents never run.
///
/// The driver hands it each ``Engine/DeploymentAction/performTraffic(_:)`` after the transaction that asked for it
/// has committed, off the request that led to it (draining a host's connections may take minutes), and applies
/// the result as the deployment's `trafficCompleted` event in a transaction of its own. A server that stops before
/// that performs the deployment's open requests again when it starts, so performing a request twice must be
/// harmless. A request that never ends fails its host at the event's deadline.
package protocol TrafficController: Sendable {
    /// Deregisters (`BlockTraffic`) or registers (`AllowTraffic`) the host, and says how that ended.
    func perform(_ request: TrafficRequest) async -> TrafficResult
    /// Sets a blue/green deployment's traffic split: the replacement backend's share of requests, changed at once.
    /// Setting the same share twice must be harmless.
    func route(_ route: TrafficRoute) async -> TrafficResult
    /// Brings the load balancers back to the wanted state where they lost it (a reload forgets runtime changes),
    /// leaving alone what a change is under way for; `current` reads the wanted state, again before each change.
    /// Returns one line per change made, for the log.
    func converge(to current: @escaping @Sendable () async throws -> TrafficState) async -> [String]
}

extension TrafficController {
    /// A controller that keeps no load balancer state converges nothing.
    package func converge(to current: @escaping @Sendable () async throws -> TrafficState) async -> [String] { [] }

    /// A controller that cannot split traffic says so.
    package func route(_ route: TrafficRoute) async -> TrafficResult {
        .failed(
            message: "Slipway's traffic controller cannot split traffic between \(route.originalBackend) and "
                + "\(route.replacementBackend): start the server with --haproxy.")
    }
}

/// The traffic controller of deployment groups with no load balancer Slipway drives: it changes no traffic, and
/// says so in the event's diagnostics, which show the event `Succeeded`.
package struct NoLoadBalancer: TrafficController {
    package init() {}

    package static let message =
        "Slipway drives no load balancer for this deployment group: the host's traffic was not changed."

    package func perform(_ request: TrafficRequest) async -> TrafficResult { .notPerformed(message: Self.message) }

}

/// Work for the traffic controller.
enum TrafficWork: Sendable {
    case host(TrafficRequest)
    case route(TrafficRoute)
}

/// Traffic requests whose transactions have committed, waiting to be performed, oldest first.
final class TrafficQueue: Sendable {
    private let requests = Mutex<[TrafficWork]>([])
    /// Yields when requests were added; ends when the queue is closed.
    let additions: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    init() {
        (additions, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func add(_ new: [TrafficWork]) {
        guard !new.isEmpty else { return }
        requests.withLock { $0.append(contentsOf: new) }
        signal.yield()
    }

    /// Everything queued, leaving the queue empty.
    func takeAll() -> [TrafficWork] {
        requests.withLock { requests in
            defer { requests = [] }
            return requests
        }
    }

    /// Ends ``additions``.
    func close() { signal.finish() }
}
