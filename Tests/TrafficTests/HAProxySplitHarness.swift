import Foundation
import Testing
import Traffic

/// A real HAProxy (started as a process of the test on loopback) whose frontend splits requests between backends
/// `blue` and `green` by a map, the way the Traffic README tells users to: one small HTTP server per backend, each
/// answering its backend's name. The map file is written by Slipway before HAProxy starts. Each test gets its own,
/// in a temporary directory.
final class HAProxySplitHarness {
    let directory: URL
    let frontendPort: Int
    let runtime: HAProxyRuntime
    let map: HAProxyMapFile
    private var processes: [Process] = []

    /// Starts HAProxy with `initial` in its map file, and waits until both backends' servers are up.
    init(initial: TrafficSplit) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-split-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = try freePorts(3)
        frontendPort = ports[0]
        runtime = HAProxyRuntime(address: .unixSocket(path: directory.appendingPathComponent("haproxy.sock").path))
        map = try HAProxyMapFile(path: directory.appendingPathComponent("split.map").path)
        try map.write(initial)
        let script = directory.appendingPathComponent("backend.py")
        try Self.backendScript.write(to: script, atomically: true, encoding: .utf8)
        try start("/usr/bin/python3", [script.path, "\(ports[1])", "blue"])
        try start("/usr/bin/python3", [script.path, "\(ports[2])", "green"])
        let configuration = """
            global
                stats socket \(directory.path)/haproxy.sock mode 600 level admin
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
                option httpchk GET /health
                default-server inter 100ms rise 2 fall 2
            frontend fe
                bind 127.0.0.1:\(frontendPort)
                acl green_ok nbsrv(green) gt 0
                use_backend green if green_ok { rand(100),map_int(\(map.path),blue) -m str green }
                default_backend blue
            backend blue
                server b1 127.0.0.1:\(ports[1]) check
            backend green
                server g1 127.0.0.1:\(ports[2]) check

            """
        let file = directory.appendingPathComponent("haproxy.cfg")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        try start("/usr/sbin/haproxy", ["-db", "-f", file.path])
        try await waitUntil("HAProxy and its servers are up") {
            let blue = try? await self.runtime.stat(of: HAProxyServer(backend: "blue", server: "b1"))
            let green = try? await self.runtime.stat(of: HAProxyServer(backend: "green", server: "g1"))
            return blue?.status == "UP" && green?.status == "UP"
        }
    }

    deinit {
        // SIGKILL: a child may inherit a signal mask that blocks SIGTERM from the thread that started it.
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A split between `blue` and `green`.
    static func split(_ percent: Int) throws -> TrafficSplit {
        try TrafficSplit(greenPercent: percent, blue: "blue", green: "green")
    }

    /// Sends `count` requests through the frontend, `concurrency` at a time, and counts the answers: by backend name
    /// for a 200, as `failed …` otherwise.
    func answers(_ count: Int, concurrency: Int = 8) async -> [String: Int] {
        let port = frontendPort
        return await withTaskGroup(of: [String: Int].self) { group in
            for worker in 0..<concurrency {
                let share = count / concurrency + (worker < count % concurrency ? 1 : 0)
                group.addTask {
                    var answers: [String: Int] = [:]
                    for _ in 0..<share { answers[await Self.answer(port: port), default: 0] += 1 }
                    return answers
                }
            }
            return await group.reduce(into: [:]) { total, answers in total.merge(answers, uniquingKeysWith: +) }
        }
    }

    /// One request's answer: the backend's name for a 200, `failed …` otherwise.
    static func answer(port: Int) async -> String {
        do {
            let (status, body) = try await HAProxyHarness.request(port: port)
            return status == 200 ? body : "failed with status \(status)"
        } catch {
            return "failed: \(error)"
        }
    }

    private func start(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.append(process)
    }

    /// A backend that answers every path with its name. Without Nagle's algorithm: the headers and the body are two
    /// writes, and the second would wait for the delayed acknowledgement of the first (about 40 ms a request).
    private static let backendScript = """
        import http.server, sys
        port, name = int(sys.argv[1]), sys.argv[2]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            def do_GET(self):
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """
}
