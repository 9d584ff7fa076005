import Foundation
import Testing
import Traffic

/// The runtime API client against peers that misbehave: one that never answers, one that answers without end.
@Suite("HAProxy runtime API client")
struct HAProxyRuntimeTests {
    /// A TCP peer on loopback run by python3: it accepts one connection and runs `behaviour` on it (`c`).
    private final class Peer {
        let port: Int
        private let process = Process()

        init(_ behaviour: String) async throws {
            port = try freePorts(1)[0]
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [
                "-c",
                "import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                    + "s.bind(('127.0.0.1', \(port)))\ns.listen()\nc, _ = s.accept()\n\(behaviour)\n",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await waitUntil("the peer listens") { self.listens() }
        }

        /// Whether the peer's socket listens, read from `/proc/net/tcp` (a connection would use up its one accept).
        private func listens() -> Bool {
            (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8))?.contains(
                String(format: ":%04X 00000000:0000 0A", port)) ?? false
        }

        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test("a peer that accepts and never answers is cut off at the timeout, with a message that says so")
    func silentPeer() async throws {
        let peer = try await Peer("time.sleep(60)")
        let runtime = HAProxyRuntime(address: .tcp(host: "127.0.0.1", port: peer.port), timeout: .seconds(1))
        let started = ContinuousClock.now
        let error = await #expect(throws: HAProxyError.self) { try await runtime.send("show info") }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error?.message.contains("did not answer 'show info' within") == true, "\(String(describing: error))")
    }

    @Test("a reply past 4 MiB is refused, not kept")
    func endlessReply() async throws {
        let peer = try await Peer("c.recv(100)\nc.sendall(b'x' * (5 << 20))\nc.close()")
        let runtime = HAProxyRuntime(address: .tcp(host: "127.0.0.1", port: peer.port), timeout: .seconds(10))
        let error = await #expect(throws: HAProxyError.self) { try await runtime.send("show stat") }
        #expect(error?.message.contains("more than 4194304 bytes") == true, "\(String(describing: error))")
    }
}
