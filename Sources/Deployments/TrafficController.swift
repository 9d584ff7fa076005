import Engine

/// Performs the load-balancer events of hosts (`BlockTraffic`, `AllowTraffic`), which agents never run.
///
/// The driver calls it for each ``Engine/DeploymentAction/performTraffic(_:)`` inside the transaction of the event
/// that led to it, and applies the result as the deployment's `trafficCompleted` event in that same transaction, so
/// the store never shows a traffic event waiting. A controller therefore answers without waiting on the network; one
/// that must (a real load balancer) needs the driver to report its completion in a later transaction. Performing the
/// same request twice must be harmless: a transaction that rolls back is tried again from the start.
package protocol TrafficController: Sendable {
    /// Deregisters (`BlockTraffic`) or registers (`AllowTraffic`) the host, and says how that ended.
    func perform(_ request: TrafficRequest) -> TrafficResult
}

/// The traffic controller of deployment groups with no load balancer Slipway drives — every group today: Slipway
/// registers hosts with no load balancer yet. It changes no traffic at all: every request is reported succeeded at
/// once, so a group that names a load balancer shows its `BlockTraffic` and `AllowTraffic` events `Succeeded`
/// while its hosts kept receiving traffic throughout.
package struct NoLoadBalancer: TrafficController {
    package init() {}

    /// Succeeds at once, having done nothing.
    package func perform(_ request: TrafficRequest) -> TrafficResult { .succeeded }
}
