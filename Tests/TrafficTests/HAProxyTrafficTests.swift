import Deployments
import Engine
import Foundation
import SlipwayModel
import Testing
import Traffic

/// BlockTraffic and AllowTraffic against a real HAProxy.
@Suite(
    "HAProxy traffic control", .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
struct HAProxyTrafficTests {
    private static let fast = HAProxyTrafficController.Timing(
        drainTimeout: .seconds(10), healthTimeout: .seconds(3), pollInterval: .milliseconds(50))

    private func request(_ event: LifecycleEvent, server: String = "s1", backends: [String] = ["app"]) -> TrafficRequest
    {
        TrafficRequest(
            id: HostCommandID(deploymentId: "d-TEST00001", instanceName: "web-1", event: event),
            hostIdentifier: "arn:aws:iam::000000000000:user/web-1", loadBalancerNames: backends, serverName: server)
    }

    @Test(
        "BlockTraffic lets a request under way finish, sends new ones elsewhere, and leaves the server in maintenance")
    func blockDrains() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        try await haproxy.runtime.setState(.maint, of: haproxy.server("s2"))
        let port = haproxy.frontendPort
        async let slow = HAProxyHarness.request(port: port, "/slow?s=1.5")
        try await waitUntil("the slow request reaches s1") {
            try await haproxy.runtime.stat(of: haproxy.server("s1")).sessions > 0
        }
        try await haproxy.runtime.setState(.ready, of: haproxy.server("s2"))
        let started = ContinuousClock.now
        async let blocked = controller.perform(request(.blockTraffic))
        try await Task.sleep(for: .milliseconds(300))
        for _ in 0..<10 {
            let answer = try await haproxy.request()
            #expect(answer.status == 200)
            #expect(answer.server == "s2", "a draining server gets no new request")
        }
        #expect(await blocked == .succeeded)
        #expect(ContinuousClock.now - started >= .milliseconds(900), "it waited for the request under way")
        let finished = try await slow
        #expect(finished.status == 200 && finished.server == "s1", "the request under way finished")
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s1")).status == "MAINT")
    }

    @Test("BlockTraffic closes what is still open once the drain timeout has passed")
    func blockTimesOut() async throws {
        let haproxy = try await HAProxyHarness()
        var timing = Self.fast
        timing.drainTimeout = .milliseconds(300)
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: timing)
        try await haproxy.runtime.setState(.maint, of: haproxy.server("s2"))
        let port = haproxy.frontendPort
        async let slow = try? HAProxyHarness.request(port: port, "/slow?s=5")
        try await waitUntil("the slow request reaches s1") {
            try await haproxy.runtime.stat(of: haproxy.server("s1")).sessions > 0
        }
        let started = ContinuousClock.now
        #expect(await controller.perform(request(.blockTraffic)) == .succeeded)
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s1")).status == "MAINT")
        _ = await slow
    }

    @Test("AllowTraffic puts a healthy server in service once its checks pass, and it takes requests")
    func allowHealthy() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        #expect(await controller.perform(request(.blockTraffic)) == .succeeded)
        #expect(await controller.perform(request(.allowTraffic)) == .succeeded)
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s1")).status.hasPrefix("UP"))
        var servers: Set<String> = []
        for _ in 0..<10 { servers.insert(try await haproxy.request().server) }
        #expect(servers.contains("s1"))
    }

    @Test("AllowTraffic fails a server whose checks do not pass, which never gets a request and stays out of service")
    func allowUnhealthy() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        #expect(await controller.perform(request(.blockTraffic)) == .succeeded)
        try haproxy.setHealthy("s1", false)
        async let allowed = controller.perform(request(.allowTraffic))
        var servers: [String] = []
        for _ in 0..<20 {
            servers.append(try await haproxy.request().server)
            try await Task.sleep(for: .milliseconds(50))
        }
        let result = await allowed
        guard case .failed(let message) = result else {
            Issue.record("AllowTraffic of an unhealthy server answered \(result)")
            return
        }
        #expect(message.contains("app/s1") && message.contains("did not pass its health checks"), "\(message)")
        #expect(!servers.contains("s1"), "the unhealthy server got no request")
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s1")).status == "MAINT")
    }

    @Test("a server without a health check cannot be let in blind")
    func allowWithoutCheck() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        let result = await controller.perform(request(.allowTraffic, backends: ["nocheck"]))
        guard case .failed(let message) = result else {
            Issue.record("answered \(result)")
            return
        }
        #expect(message.contains("has no health check"), "\(message)")
    }

    @Test("an unknown backend or server fails the event with what to fix; nothing else changes")
    func unknownNames() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        for (backends, server, expected) in [
            (["web"], "s1", "has no backend 'web'"), (["app"], "s9", "has no server 's9' in backend 'app'"),
        ] {
            let result = await controller.perform(request(.blockTraffic, server: server, backends: backends))
            guard case .failed(let message) = result else {
                Issue.record("answered \(result)")
                continue
            }
            #expect(message.contains(expected), "\(message)")
        }
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s1")).status == "UP")
    }

    @Test("a name that could start another command is refused before anything is sent")
    func hostileNames() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        for (backends, server) in [
            (["app"], "s1; set server app/s2 state maint"), (["app\nshow info"], "s1"), (["app"], "s1\u{0}"),
            (["app"], ""), ([String(repeating: "a", count: 101)], "s1"), (["app"], "s1 s2"), (["app"], "é"),
        ] {
            let result = await controller.perform(request(.blockTraffic, server: server, backends: backends))
            guard case .failed(let message) = result else {
                Issue.record("\(backends)/\(server) answered \(result)")
                continue
            }
            #expect(message.contains("cannot be an HAProxy"), "\(message)")
        }
        for name in ["s1", "s2"] {
            #expect(try await haproxy.runtime.stat(of: haproxy.server(name)).status == "UP")
        }
    }

    @Test("an HAProxy that does not answer fails the event, saying where Slipway looked")
    func unreachable() async throws {
        let port = try freePorts(1)[0]
        let controller = HAProxyTrafficController(
            runtimes: [HAProxyRuntime(address: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(2))],
            timing: Self.fast)
        let result = await controller.perform(request(.blockTraffic))
        guard case .failed(let message) = result else {
            Issue.record("answered \(result)")
            return
        }
        #expect(message.contains("127.0.0.1:\(port)"), "\(message)")
    }

    @Test("AllowTraffic of a server that serves already never takes it out of service, even for a moment")
    func allowWhileServing() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        // s1 is the only server in service: draining it at all would leave requests nowhere to go.
        try await haproxy.runtime.setState(.maint, of: haproxy.server("s2"))
        let load = LoadGenerator(port: haproxy.frontendPort)
        for _ in 0..<20 {
            #expect(await controller.perform(request(.allowTraffic)) == .succeeded)
        }
        let (answered, failed, _) = await load.finish()
        #expect(failed == 0, "\(failed) of \(answered + failed) requests failed")
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s2")).status == "MAINT")
    }

    @Test("a request performed twice ends as once: the controller is idempotent")
    func idempotent() async throws {
        let haproxy = try await HAProxyHarness()
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime], timing: Self.fast)
        for event in [LifecycleEvent.blockTraffic, .blockTraffic, .allowTraffic, .allowTraffic] {
            #expect(await controller.perform(request(event)) == .succeeded, "\(event)")
        }
        #expect(try await haproxy.runtime.stat(of: haproxy.server("s1")).status.hasPrefix("UP"))
    }
}

/// Without an HAProxy, or for a group that names no load balancer, traffic events change nothing and say so.
@Suite("Traffic without HAProxy")
struct NoHAProxyTests {
    @Test("with no HAProxy given, a traffic event changes nothing and says so")
    func noRuntimes() async {
        let request = TrafficRequest(
            id: HostCommandID(deploymentId: "d-TEST00001", instanceName: "web-1", event: .blockTraffic),
            hostIdentifier: "arn", loadBalancerNames: ["app"], serverName: "web-1")
        let result = await HAProxyTrafficController(runtimes: []).perform(request)
        #expect(result == .notPerformed(message: NoLoadBalancer.message))
    }
}
