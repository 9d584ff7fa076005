import Deployments
import Engine
import Foundation

/// Performs `BlockTraffic` and `AllowTraffic` on HAProxy servers through the runtime API of every HAProxy Slipway
/// drives (an HA pair gets the same changes).
///
/// - **BlockTraffic**: the server goes to `drain` (no new requests; those under way finish), Slipway waits until it
///   has no session and no queued request, at most ``Timing/drainTimeout`` (a load balancer's deregistration delay),
///   ends what is still open after that, and puts the server in `maint`.
/// - **AllowTraffic**: the server goes to `drain`, not `ready`, so that its health checks run while it takes no
///   request; once they pass in a row (full health) it goes to `ready` and must show `UP`. A host whose checks do not
///   pass within ``Timing/healthTimeout`` fails its AllowTraffic and never receives a request.
///
/// Every step is idempotent, so a request performed again after a restart does no harm.
public struct HAProxyTrafficController: TrafficController {
    /// How long each wait may last, and how often HAProxy is asked.
    public struct Timing: Sendable {
        public var drainTimeout: Duration
        public var healthTimeout: Duration
        public var pollInterval: Duration

        public init(
            drainTimeout: Duration = .seconds(300), healthTimeout: Duration = .seconds(120),
            pollInterval: Duration = .milliseconds(100)
        ) {
            self.drainTimeout = drainTimeout
            self.healthTimeout = healthTimeout
            self.pollInterval = pollInterval
        }
    }

    public let runtimes: [HAProxyRuntime]
    public let timing: Timing
    /// One change at a time per server and per map, deployments' and convergence's alike.
    private let locks = TrafficLocks()

    public init(runtimes: [HAProxyRuntime], timing: Timing = Timing()) {
        self.runtimes = runtimes
        self.timing = timing
    }

    public func perform(_ request: TrafficRequest) async -> TrafficResult {
        do {
            let servers = try request.loadBalancerNames.map { backend throws(HAProxyError) in
                try HAProxyServer(backend: backend, server: request.serverName)
            }
            guard !servers.isEmpty, !runtimes.isEmpty else {
                return .notPerformed(message: NoLoadBalancer.message)
            }
            for server in servers {
                let key = TrafficState.key(backend: server.backend, server: server.server)
                try await locks.run(key) { () async throws(HAProxyError) in
                    for runtime in runtimes {
                        switch request.event {
                        case .blockTraffic: try await block(server, on: runtime)
                        default: try await allow(server, on: runtime)
                        }
                    }
                }
            }
            return .succeeded
        } catch {
            return .failed(message: error.message)
        }
    }

    /// Puts back every server and map that differs from the wanted state on some HAProxy. A server is changed only
    /// from an administrative state (MAINT or DRAIN to UP; anything not in MAINT to MAINT): one that health checks
    /// took DOWN is HAProxy's business.
    package func converge(to current: @escaping @Sendable () async throws -> TrafficState) async -> [String] {
        guard !runtimes.isEmpty, let state = try? await current() else { return [] }
        var changes: [String] = []
        for (key, wanted) in state.servers.sorted(by: { $0.key < $1.key }) where !state.changing.contains(key) {
            guard let slash = key.firstIndex(of: "/"),
                let server = try? HAProxyServer(
                    backend: String(key[..<slash]), server: String(key[key.index(after: slash)...]))
            else { continue }
            changes += await locks.run(key) { () async -> [String] in
                // Read again under the lock: a deployment's change may have ended while this one waited.
                guard let now = try? await current(), now.servers[key] == wanted, !now.changing.contains(key) else {
                    return []
                }
                var made: [String] = []
                for runtime in runtimes {
                    guard let before = try? await runtime.stat(of: server).status else { continue }
                    do throws(HAProxyError) {
                        switch wanted {
                        case .ready where before.hasPrefix("MAINT") || before.hasPrefix("DRAIN"):
                            try await allow(server, on: runtime)
                        case .maintenance where !before.hasPrefix("MAINT"):
                            try await block(server, on: runtime)
                        default:
                            continue
                        }
                        made.append("\(server) on \(runtime.address): \(before) → \(wanted.rawValue)")
                    } catch {
                        made.append(
                            "\(server) on \(runtime.address): \(before), wanted \(wanted.rawValue): \(error.message)")
                    }
                }
                return made
            }
        }
        for (path, wanted) in state.maps.sorted(by: { $0.key < $1.key }) where !state.changing.contains(path) {
            guard let map = try? HAProxyMapFile(path: path),
                let split = try? TrafficSplit(
                    greenPercent: wanted.replacementPercent, blue: wanted.originalBackend,
                    green: wanted.replacementBackend)
            else { continue }
            changes += await locks.run(path) { () async -> [String] in
                guard let now = try? await current(), now.maps[path] == wanted, !now.changing.contains(path) else {
                    return []
                }
                var made: [String] = []
                var known = false
                for runtime in runtimes {
                    guard let entries = try? await runtime.mapEntries(of: map) else { continue }
                    known = true
                    guard TrafficSplit(entries: entries, blue: split.blueBackend, green: split.greenBackend) != split
                    else { continue }
                    do throws(HAProxyError) {
                        try await runtime.replaceMap(map, with: split.entries)
                        made.append("\(map) on \(runtime.address): \(split.greenPercent) % to \(split.greenBackend)")
                    } catch {
                        made.append("\(map) on \(runtime.address): \(error.message)")
                    }
                }
                if known, map.holdsSplitEntries,
                    (try? String(contentsOfFile: map.path, encoding: .utf8)) != split.fileContents
                {
                    try? map.write(split)
                }
                return made
            }
        }
        return changes
    }

    /// Sets the split: every HAProxy's map gets the route's entries in one commit (see ``TrafficSplit``), and the map
    /// file, when it is on this machine, is rewritten so that a reload keeps the share.
    public func route(_ route: TrafficRoute) async -> TrafficResult {
        guard !runtimes.isEmpty else {
            return .failed(
                message: "Slipway drives no HAProxy: start the server with --haproxy to split traffic between "
                    + "\(route.originalBackend) and \(route.replacementBackend).")
        }
        do {
            let map = try HAProxyMapFile(path: route.map)
            let split = try TrafficSplit(
                greenPercent: route.replacementPercent, blue: route.originalBackend, green: route.replacementBackend)
            try await locks.run(map.path) { () async throws(HAProxyError) in
                // A share for replacements none of which is up would go to the originals (the frontend's guard):
                // the deployment must hear of it instead.
                if route.replacementPercent > 0 {
                    for runtime in runtimes where try await runtime.serversUp(in: route.replacementBackend).isEmpty {
                        throw HAProxyError(
                            "no server of \(route.replacementBackend) is up on HAProxy at \(runtime.address): the "
                                + "replacement instances fail their health checks, so they get no "
                                + "\(route.replacementPercent) % of requests.")
                    }
                }
                for runtime in runtimes {
                    try await runtime.replaceMap(map, with: split.entries)
                }
                // An HAProxy on another machine reads its own copy: the file is rewritten only where it is here, and
                // only when it holds a map (every HAProxy just took the path as one of its maps).
                if map.holdsSplitEntries {
                    try map.write(split)
                }
            }
            return .succeeded
        } catch {
            return .failed(message: error.message)
        }
    }

    /// Drains `server`, waits for its sessions to end (or ends them at the deadline) and puts it in maintenance; a
    /// server in maintenance already is left as it is.
    func block(_ server: HAProxyServer, on runtime: HAProxyRuntime) async throws(HAProxyError) {
        if try await runtime.stat(of: server).status.hasPrefix("MAINT") { return }
        try await runtime.setState(.drain, of: server)
        let deadline = ContinuousClock.now.advanced(by: timing.drainTimeout)
        while true {
            let stat = try await runtime.stat(of: server)
            if stat.sessions == 0 && stat.queued == 0 { break }
            guard ContinuousClock.now < deadline else {
                try await runtime.shutDownSessions(of: server)
                break
            }
            try await pause()
        }
        try await runtime.setState(.maint, of: server)
    }

    /// Lets `server`'s health checks run without traffic, and gives it traffic only once they pass. A server that
    /// serves already is left as it is: draining it first, even for a moment, could leave its backend with no server
    /// to send a request to (a blue/green rollback allows servers that never stopped serving).
    func allow(_ server: HAProxyServer, on runtime: HAProxyRuntime) async throws(HAProxyError) {
        if try await runtime.stat(of: server).status.hasPrefix("UP") { return }
        try await runtime.setState(.drain, of: server)
        let deadline = ContinuousClock.now.advanced(by: timing.healthTimeout)
        var stat = try await runtime.stat(of: server)
        while !(stat.status.hasPrefix("DRAIN") && stat.hasFullHealth) {
            if stat.status == "no check" || stat.checkHealth == nil {
                throw HAProxyError(
                    "\(server) on HAProxy at \(runtime.address) has no health check, so Slipway cannot tell that it "
                        + "serves before sending it traffic: add `check` to the server line.")
            }
            guard ContinuousClock.now < deadline else {
                try? await runtime.setState(.maint, of: server)
                throw HAProxyError(
                    "\(server) on HAProxy at \(runtime.address) did not pass its health checks within "
                        + "\(timing.healthTimeout) (status \(stat.status), last check \(stat.lastCheck)); it was "
                        + "given no traffic.")
            }
            try await pause()
            stat = try await runtime.stat(of: server)
        }
        try await runtime.setState(.ready, of: server)
        let confirmed = try await runtime.stat(of: server)
        guard confirmed.status.hasPrefix("UP") else {
            throw HAProxyError(
                "\(server) on HAProxy at \(runtime.address) shows \(confirmed.status) after it was made ready (last "
                    + "check \(confirmed.lastCheck)).")
        }
    }

    private func pause() async throws(HAProxyError) {
        do {
            try await Task.sleep(for: timing.pollInterval)
        } catch {
            throw HAProxyError("the traffic change was cancelled: the server is stopping.")
        }
    }
}

/// Runs changes one after the other per key (a server, a map), in the order they asked.
///
/// Written here because neither the standard library nor swift-nio offers an async lock by key; a chain of tasks per
/// key is all it takes.
actor TrafficLocks {
    private var tails: [String: Task<Void, Never>] = [:]

    /// Runs `body` once every change asked before it for `key` has ended.
    func run<T: Sendable>(_ key: String, _ body: @escaping @Sendable () async -> T) async -> T {
        let previous = tails[key]
        let task = Task {
            await previous?.value
            return await body()
        }
        tails[key] = Task { _ = await task.value }
        return await task.value
    }

    /// ``run(_:_:)`` for a body that throws.
    func run(_ key: String, _ body: @escaping @Sendable () async throws(HAProxyError) -> Void)
        async throws(HAProxyError)
    {
        let result: Result<Void, HAProxyError> = await run(key) { () async -> Result<Void, HAProxyError> in
            do throws(HAProxyError) {
                try await body()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
