import Engine
import Foundation
import Store

extension RecordKind {
    /// What the load balancers should look like (scope "", name ``TrafficState/recordName``): a ``TrafficState``.
    package static let trafficState = RecordKind(rawValue: "trafficState")
}

/// What Slipway last made of the load balancers' traffic, server by server and map by map: the state it converges
/// them back to when one of them lost it (an HAProxy reload forgets runtime changes) or a change was lost with a
/// server restart.
///
/// The driver writes it in the transactions that queue traffic work (the servers and maps being changed are marked
/// ``changing``, and left alone) and that record its results (the state a change reached).
package struct TrafficState: Codable, Sendable, Hashable {
    /// A server's wanted state.
    package enum ServerState: String, Codable, Sendable, Hashable {
        /// In service (after an AllowTraffic).
        case ready
        /// Out of service (after a BlockTraffic, or an AllowTraffic that failed).
        case maintenance
    }

    /// A map's wanted split.
    package struct Split: Codable, Sendable, Hashable {
        package var originalBackend: String
        package var replacementBackend: String
        package var replacementPercent: Int
    }

    /// By ``key(backend:server:)``.
    package var servers: [String: ServerState] = [:]
    /// By map.
    package var maps: [String: Split] = [:]
    /// The servers and maps a change is under way for.
    package var changing: Set<String> = []

    package init() {}

    package static let recordName = "load-balancers"

    /// The key of a server of a backend.
    package static func key(backend: String, server: String) -> String { "\(backend)/\(server)" }

    /// The keys a piece of traffic work changes.
    static func keys(of work: TrafficWork) -> [String] {
        switch work {
        case .host(let request): request.loadBalancerNames.map { key(backend: $0, server: request.serverName) }
        case .route(let route): [route.map]
        }
    }

    /// The work is queued: its servers and maps are being changed.
    mutating func started(_ work: TrafficWork) {
        changing.formUnion(Self.keys(of: work))
    }

    /// The work ended with `result`: what its servers or map are now.
    mutating func ended(_ work: TrafficWork, _ result: TrafficResult) {
        let keys = Self.keys(of: work)
        changing.subtract(keys)
        switch (work, result) {
        case (_, .notPerformed):
            break
        case (.host(let request), .succeeded):
            for key in keys { servers[key] = request.event == .allowTraffic ? .ready : .maintenance }
        case (.host(let request), .failed):
            // A failed AllowTraffic leaves its server in maintenance; after a failed BlockTraffic nobody knows.
            for key in keys {
                servers[key] = request.event == .allowTraffic ? .maintenance : nil
            }
        case (.route(let route), .succeeded):
            maps[route.map] = Split(
                originalBackend: route.originalBackend, replacementBackend: route.replacementBackend,
                replacementPercent: route.replacementPercent)
        case (.route(let route), .failed):
            maps[route.map] = nil
        }
    }
}

extension StoreReader {
    /// The wanted traffic state.
    package func trafficState() throws -> TrafficState {
        try get(TrafficState.self, .trafficState, name: TrafficState.recordName) ?? TrafficState()
    }
}
