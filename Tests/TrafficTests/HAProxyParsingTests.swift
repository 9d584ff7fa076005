import Foundation
import Testing

@testable import Traffic

/// What Slipway reads from outside: `--haproxy`'s value and HAProxy's `show stat` replies.
@Suite("HAProxy addresses and replies")
struct HAProxyParsingTests {
    private let address = HAProxyAddress.unixSocket(path: "/run/haproxy.sock")

    @Test("--haproxy takes a socket path or host:port, and refuses anything else with what to give")
    func addresses() throws {
        #expect(try HAProxyAddress(parsing: "/run/haproxy/admin.sock") == .unixSocket(path: "/run/haproxy/admin.sock"))
        #expect(try HAProxyAddress(parsing: "./haproxy.sock") == .unixSocket(path: "./haproxy.sock"))
        #expect(try HAProxyAddress(parsing: "127.0.0.1:9999") == .tcp(host: "127.0.0.1", port: 9999))
        #expect(try HAProxyAddress(parsing: "[::1]:9999") == .tcp(host: "::1", port: 9999))
        #expect(try HAProxyAddress(parsing: "[::1]:9999").description == "[::1]:9999")
        for bad in [
            "", "haproxy", "host:", ":9999", "host:0", "host:65536", "host:-1", "host:99999999999999999999", "host:9x",
            "/run/\u{0}sock", "host\n:9999", String(repeating: "a", count: 2000) + ":1",
        ] {
            #expect(throws: HAProxyError.self, "\(bad.debugDescription)") { try HAProxyAddress(parsing: bad) }
        }
    }

    @Test("a server's line of show stat is read by column name")
    func statByColumn() throws {
        let reply = """
            # pxname,svname,qcur,qmax,scur,status,check_status,check_desc,check_rise,check_fall,check_health,
            app,s1,0,0,2,DRAIN,L7OK,Layer7 check passed,2,2,3,
            app,s2,1,0,0,UP 1/2,* L7STS,HTTP status check returned code <503>,2,2,1,
            app,BACKEND,0,0,2,UP,,,,,,

            """
        let stats = try HAProxyStatReply(reply, from: address)
        let s1 = try stats.stat(of: HAProxyServer(backend: "app", server: "s1"))
        #expect(s1.status == "DRAIN" && s1.sessions == 2 && s1.queued == 0 && s1.hasFullHealth)
        let s2 = try stats.stat(of: HAProxyServer(backend: "app", server: "s2"))
        #expect(s2.status == "UP 1/2" && s2.queued == 1 && !s2.hasFullHealth)
        #expect(s2.lastCheck == "* L7STS: HTTP status check returned code <503>")
        #expect(throws: HAProxyError.self) { try stats.stat(of: HAProxyServer(backend: "app", server: "s3")) }
    }

    @Test("the servers up in a backend are those whose status starts with UP, not the backend's own line")
    func serversUp() throws {
        let reply = """
            # pxname,svname,qcur,scur,status
            app,s1,0,0,UP
            app,s2,0,0,UP 1/2
            app,s3,0,0,DOWN
            app,s4,0,0,MAINT
            other,s5,0,0,UP
            app,BACKEND,0,0,UP
            app,short

            """
        let up = try HAProxyStatReply(reply, from: address).serversUp(in: "app")
        #expect(up == ["s1", "s2"])
        #expect(try HAProxyStatReply("# pxname,svname,qcur,scur,status\n", from: address).serversUp(in: "app") == [])
    }

    @Test("a reply that is not the CSV, lacks a column, or holds numbers out of range is an error, never a trap")
    func hostileReplies() throws {
        let server = try HAProxyServer(backend: "app", server: "s1")
        let header = "# pxname,svname,qcur,scur,status\n"
        for reply in [
            "", "\n", "No such proxy.\n", "Permission denied\n", "pxname,svname\napp,s1\n", "# pxname,svname,status\n",
            header + "app,s1,0\n", header + "app,s1,x,0,UP\n", header + "app,s1,-1,0,UP\n",
            header + "app,s1,0,99999999999999999999999,UP\n", header + "app,s1,0,9223372036854775807,UP\n",
            header + "app\u{0},s1,0,0,UP\n", header,
        ] {
            #expect(throws: HAProxyError.self, "\(reply.debugDescription)") {
                try HAProxyStatReply(reply, from: address).stat(of: server)
            }
        }
        let missing = try HAProxyStatReply(header + "app,s1,0,0,UP\n", from: address).stat(of: server)
        #expect(missing.checkHealth == nil && !missing.hasFullHealth, "no check columns: not known healthy")
    }

    @Test("HAProxy's refusals become messages that say what to fix")
    func refusals() throws {
        let server = try HAProxyServer(backend: "app", server: "s1")
        #expect(
            HAProxyRuntime.explain("Permission denied", server: server, address: address, changing: "state")
                .contains("needs `level admin`"))
        #expect(
            HAProxyRuntime.explain("No such server.", server: server, address: address, changing: "state")
                .contains("has no server 's1' in backend 'app'"))
        let long = HAProxyRuntime.explain(
            String(repeating: "x", count: 10_000), server: server, address: address, changing: "state")
        #expect(long.count < 600, "an endless refusal is cut")
    }
}
