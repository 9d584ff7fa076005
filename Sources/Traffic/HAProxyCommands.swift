import Foundation

/// A server of an HAProxy backend, by name. The names come from API input (a deployment group's load balancer, an
/// instance's name or tag) and go into runtime API commands, so only the characters HAProxy allows in proxy and
/// server names are accepted: letters, digits, `-`, `_`, `.` and `:`. Anything else (a space or `;` would start
/// another command) is refused before a command is written.
public struct HAProxyServer: Sendable, Hashable, CustomStringConvertible {
    public let backend: String
    public let server: String

    public init(backend: String, server: String) throws(HAProxyError) {
        for (what, name) in [("backend", backend), ("server", server)] where !Self.isValidName(name) {
            throw HAProxyError(
                "'\(name.debugDescription.dropFirst().dropLast())' cannot be an HAProxy \(what) name: HAProxy allows "
                    + "letters, digits, '-', '_', '.' and ':' (at most 100 characters).")
        }
        self.backend = backend
        self.server = server
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 100
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                    UInt8(ascii: ":"):
                    true
                default:
                    false
                }
            }
    }

    public var description: String { "\(backend)/\(server)" }
}

/// The administrative state `set server … state` sets.
public enum HAProxyAdminState: String, Sendable {
    /// Takes traffic.
    case ready
    /// Takes no new traffic; health checks go on, sessions under way finish.
    case drain
    /// Out of service: no traffic, no health checks.
    case maint
}

/// A server's line of `show stat`, by column name.
public struct HAProxyServerStat: Sendable, Hashable {
    /// `UP`, `DOWN`, `MAINT`, `DRAIN`, `UP 1/2` (rising), `no check`…
    public var status: String
    /// Current sessions (`scur`) and queued requests (`qcur`).
    public var sessions: Int
    public var queued: Int
    /// The health-check counter (`check_health`) and its bounds: healthy checks passed in a row count up to
    /// `rise + fall - 1` (full health).
    public var checkHealth: Int?
    public var checkRise: Int?
    public var checkFall: Int?
    /// The last check's result (`L7OK`, `L7STS`, `L4CON`; `* ` while one runs) and its description.
    public var checkStatus: String
    public var checkDescription: String

    /// Whether its health is full: every check of the last `rise + fall - 1` passed.
    public var hasFullHealth: Bool {
        guard let checkHealth, let checkRise, let checkFall else { return false }
        return checkHealth >= checkRise + checkFall - 1
    }

    /// The last check in words, for messages.
    public var lastCheck: String {
        [checkStatus, checkDescription].filter { !$0.isEmpty }.joined(separator: ": ")
    }
}

extension HAProxyRuntime {
    /// `set server <backend>/<server> state <state>`.
    public func setState(_ state: HAProxyAdminState, of server: HAProxyServer) async throws(HAProxyError) {
        try expectNoText(try await send("set server \(server) state \(state.rawValue)"), for: server, at: "state")
    }

    /// `shutdown sessions server <backend>/<server>`: ends the sessions still open on the server.
    public func shutDownSessions(of server: HAProxyServer) async throws(HAProxyError) {
        try expectNoText(try await send("shutdown sessions server \(server)"), for: server, at: "sessions")
    }

    /// The server's line of `show stat <backend> 4 -1`.
    public func stat(of server: HAProxyServer) async throws(HAProxyError) -> HAProxyServerStat {
        let reply = try await send("show stat \(server.backend) 4 -1")
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "No such proxy." || text == "No such backend." || text == "Permission denied" {
            throw HAProxyError(Self.explain(text, server: server, address: address, changing: "state"))
        }
        return try HAProxyStatReply(reply, from: address).stat(of: server)
    }

    /// The servers of `backend` that are up (status `UP`, also while rising or falling), from `show stat`.
    public func serversUp(in backend: String) async throws(HAProxyError) -> [String] {
        _ = try HAProxyServer(backend: backend, server: "s")  // the name is checked before it reaches a command
        let reply = try await send("show stat \(backend) 4 -1")
        return try HAProxyStatReply(reply, from: address).serversUp(in: backend)
    }

    /// Success is an empty reply; any text is HAProxy's refusal.
    private func expectNoText(_ reply: String, for server: HAProxyServer, at what: String) throws(HAProxyError) {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        throw HAProxyError(Self.explain(text, server: server, address: address, changing: what))
    }

    /// HAProxy's refusal, with what to do about it.
    static func explain(_ text: String, server: HAProxyServer, address: HAProxyAddress, changing what: String)
        -> String
    {
        let shown = String(text.prefix(300))
        switch shown {
        case "No such backend.", "No such proxy.":
            return "HAProxy at \(address) has no backend '\(server.backend)': name one of its backends in the "
                + "deployment group's load balancer info."
        case "No such server.":
            return "HAProxy at \(address) has no server '\(server.server)' in backend '\(server.backend)': add it to "
                + "the backend, or give the instance the tag that names its server."
        case "Permission denied":
            return "HAProxy at \(address) refused to change the \(what) of \(server): its stats socket needs "
                + "`level admin`."
        default:
            return "HAProxy at \(address) refused to change the \(what) of \(server): \(shown)"
        }
    }
}

/// The CSV `show stat` answers: a header line starting `# ` that names the columns, then a line per proxy or server.
struct HAProxyStatReply {
    private let columns: [String: Int]
    private let rows: [[Substring]]
    private let address: HAProxyAddress

    init(_ reply: String, from address: HAProxyAddress) throws(HAProxyError) {
        self.address = address
        var lines = reply.split(whereSeparator: \.isNewline)
        guard let header = lines.first, header.hasPrefix("# ") else {
            let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
            throw HAProxyError(
                text == "No such proxy." || text == "No such backend."
                    ? "HAProxy at \(address) has no such backend: name one of its backends in the deployment "
                        + "group's load balancer info."
                    : "HAProxy at \(address) answered `show stat` with something else than its CSV: "
                        + "\(String(text.prefix(300)).debugDescription)")
        }
        lines.removeFirst()
        let names = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false)
        var columns: [String: Int] = [:]
        for (index, name) in names.enumerated() where columns[String(name)] == nil { columns[String(name)] = index }
        for required in ["pxname", "svname", "status", "scur", "qcur"] where columns[required] == nil {
            throw HAProxyError("HAProxy at \(address) answered `show stat` without its '\(required)' column.")
        }
        self.columns = columns
        rows = lines.map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    }

    func stat(of server: HAProxyServer) throws(HAProxyError) -> HAProxyServerStat {
        guard
            let row = rows.first(where: {
                value("pxname", $0) == server.backend && value("svname", $0) == server.server
            })
        else {
            throw HAProxyError(
                "HAProxy at \(address) has no server '\(server.server)' in backend '\(server.backend)': add it to "
                    + "the backend, or give the instance the tag that names its server.")
        }
        guard let sessions = number("scur", row), let queued = number("qcur", row), let status = value("status", row)
        else {
            throw HAProxyError("HAProxy at \(address) answered `show stat` for \(server) with unreadable numbers.")
        }
        return HAProxyServerStat(
            status: status, sessions: sessions, queued: queued, checkHealth: number("check_health", row),
            checkRise: number("check_rise", row), checkFall: number("check_fall", row),
            checkStatus: value("check_status", row) ?? "", checkDescription: value("check_desc", row) ?? "")
    }

    func serversUp(in backend: String) -> [String] {
        rows.compactMap { row in
            guard value("pxname", row) == backend, let name = value("svname", row), name != "BACKEND",
                name != "FRONTEND", value("status", row)?.hasPrefix("UP") == true
            else { return nil }
            return name
        }
    }

    private func value(_ column: String, _ row: [Substring]) -> String? {
        guard let index = columns[column], index < row.count else { return nil }
        return String(row[index])
    }

    /// A column's whole number; `nil` when it is empty, not a number or out of range (never a trap).
    private func number(_ column: String, _ row: [Substring]) -> Int? {
        guard let text = value(column, row), text.utf8.count <= 18, let number = Int(text), number >= 0 else {
            return nil
        }
        return number
    }
}
