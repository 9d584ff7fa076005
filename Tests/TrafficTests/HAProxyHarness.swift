import Foundation
import Testing
import Traffic

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real HAProxy (Debian's `haproxy`, started as a process of the test on loopback) in front of small HTTP servers,
/// by default `s1` and `s2` of backend `app`, whose `/health` answers 503 while a flag file exists and whose
/// `/slow?s=N` answers after N seconds. Each test gets its own, in a temporary directory.
final class HAProxyHarness {
    let directory: URL
    let frontendPort: Int
    let backendPorts: [Int]
    let runtime: HAProxyRuntime
    private var processes: [Process] = []
    /// The HAProxy process serving now.
    private var haproxy: Process?

    /// Whether HAProxy is installed; the tests that need it are skipped with a note otherwise (`.ci/run` installs it).
    static let isAvailable = FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy")

    /// The map file of a harness started with `pair`, under its directory.
    var mapPath: String { directory.appendingPathComponent("app.map").path }

    /// HAProxy with `servers` in backend `app`; those in `maintenance` start in MAINT (`disabled`), taking no traffic.
    /// With `pair`, every server is in both backends `app-a` and `app-b` instead (all of `app-b` in MAINT), and a map
    /// (``mapPath``, sending everything to `app-a`) splits the requests between them the way the README tells users
    /// to write it: whichever backend is in service, a backend without a server up gets nothing.
    init(servers: [String] = ["s1", "s2"], maintenance: Set<String> = [], pair: Bool = false) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-haproxy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = try freePorts(servers.count + 1)
        frontendPort = ports[0]
        backendPorts = Array(ports[1...])
        runtime = HAProxyRuntime(address: .unixSocket(path: directory.appendingPathComponent("haproxy.sock").path))
        try Self.backendScript.write(
            to: directory.appendingPathComponent("backend.py"), atomically: true, encoding: .utf8)
        for (name, port) in zip(servers, backendPorts) {
            try start(
                "/usr/bin/python3",
                [directory.appendingPathComponent("backend.py").path, "\(port)", name, directory.path])
        }
        func serverLines(disabled: Set<String>) -> String {
            zip(servers, backendPorts).map { name, port in
                "    server \(name) 127.0.0.1:\(port) check" + (disabled.contains(name) ? " disabled" : "")
            }.joined(separator: "\n")
        }
        let backends: String
        let routing: String
        if pair {
            try "0:99 app-a\n".write(
                toFile: directory.appendingPathComponent("app.map").path, atomically: true, encoding: .utf8)
            routing = """
                    acl a_up nbsrv(app-a) gt 0
                    acl b_up nbsrv(app-b) gt 0
                    use_backend app-b if b_up { rand(100),map_int(\(directory.path)/app.map,app-a) -m str app-b }
                    use_backend app-b if !a_up
                    default_backend app-a
                """
            backends = """
                backend app-a
                \(serverLines(disabled: maintenance))
                backend app-b
                \(serverLines(disabled: Set(servers)))
                """
        } else {
            routing = "    default_backend app"
            backends = """
                backend app
                \(serverLines(disabled: maintenance))
                """
        }
        let configuration = """
            global
                stats socket \(directory.path)/haproxy.sock mode 600 level admin expose-fd listeners
            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
                option httpchk GET /health
                default-server inter 100ms rise 2 fall 2 weight 100
            frontend fe
                bind 127.0.0.1:\(frontendPort)
            \(routing)
            \(backends)
            backend nocheck
                server s1 127.0.0.1:\(backendPorts[0])

            """
        let file = directory.appendingPathComponent("haproxy.cfg")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        haproxy = try start("/usr/sbin/haproxy", ["-db", "-f", file.path])
        let serving = servers.filter { !maintenance.contains($0) }
        let backend = pair ? "app-a" : "app"
        try await waitUntil("HAProxy and its servers are up") {
            for name in serving {
                guard (try? await self.runtime.stat(of: HAProxyServer(backend: backend, server: name)))?.status == "UP"
                else { return false }
            }
            return true
        }
    }

    deinit {
        // SIGKILL: a child may inherit a signal mask that blocks SIGTERM from the thread that started it.
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    func server(_ name: String, backend: String = "app") throws -> HAProxyServer {
        try HAProxyServer(backend: backend, server: name)
    }

    /// Makes `name`'s `/health` answer 503 (or 200 again).
    func setHealthy(_ name: String, _ healthy: Bool) throws {
        let flag = directory.appendingPathComponent("\(name).unhealthy")
        if healthy {
            try? FileManager.default.removeItem(at: flag)
        } else {
            try Data().write(to: flag)
        }
    }

    /// A request through HAProxy's frontend: the status and the name of the server that answered.
    func request(_ path: String = "/") async throws -> (status: Int, server: String) {
        try await Self.request(port: frontendPort, path)
    }

    /// A request to HAProxy's frontend on `port`.
    static func request(port: Int, _ path: String = "/") async throws -> (status: Int, server: String) {
        let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
        var request = URLRequest(url: url)
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Starts a service of the test. Under root (as CI runs) it runs as `nobody`, as a service should, and the
    /// directory is handed to `nobody` so that HAProxy can make its socket there.
    @discardableResult
    private func start(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        if getuid() == 0 {
            if let nobody = getpwnam("nobody") {
                _ = chown(directory.path, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
            }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        processes.append(process)
        return process
    }

    /// Reloads HAProxy the way a package upgrade or `systemctl reload` does: a new process reads the configuration
    /// (and the map files) again, takes over the listening sockets and the old one finishes its connections. Runtime
    /// changes are lost.
    func reload() async throws {
        guard let old = haproxy else { return }
        let socket = directory.appendingPathComponent("haproxy.sock").path
        haproxy = try start(
            "/usr/sbin/haproxy",
            [
                "-db", "-f", directory.appendingPathComponent("haproxy.cfg").path, "-x", socket, "-sf",
                "\(old.processIdentifier)",
            ])
        try await waitUntil("the old HAProxy has finished") { !old.isRunning }
        try await waitUntil("the new HAProxy answers on its socket") {
            (try? await self.runtime.send("show info")) != nil
        }
    }

    /// A backend: `/health` is 503 while `<dir>/<name>.unhealthy` exists; `/slow?s=N` answers after N seconds; any
    /// other path answers the server's name.
    private static let backendScript = """
        import http.server, os, sys, time, urllib.parse
        port, name, directory = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                status = 200
                if url.path == "/health" and os.path.exists(os.path.join(directory, name + ".unhealthy")):
                    status = 503
                if url.path == "/slow":
                    time.sleep(float(urllib.parse.parse_qs(url.query).get("s", ["1"])[0]))
                body = name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """
}

/// Waits until `condition` holds, checking every 50 ms for at most `seconds`.
func waitUntil(_ what: String, seconds: Double = 15, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    struct Timeout: Error, CustomStringConvertible { let description: String }
    throw Timeout(description: "timed out waiting until \(what)")
}

/// `count` TCP ports on loopback that nothing listens on now.
func freePorts(_ count: Int) throws -> [Int] {
    var sockets: [Int32] = []
    defer { for socket in sockets { close(socket) } }
    return try (0..<count).map { _ in
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        sockets.append(fd)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
