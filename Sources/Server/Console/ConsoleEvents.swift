import Deployments
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import SlipwayModel
import Store

/// Live pages: Server-Sent Events that carry the parts of a page that changed, rendered by the same code as the page.
///
/// A stream looks at the store every ``Console/updateInterval``; whatever changed in between goes out as one
/// message, so a fleet moving fast costs the browser one update per interval, never one per host event. Each message
/// has an `id` (the stored state it shows): a browser that reconnects sends it as `Last-Event-ID`, and gets nothing
/// until the state moves on from it, then the whole state.
extension Console {
    /// How long one stream stays open before the browser is asked to reconnect (it then resumes with its last id).
    static let streamLifetime: Duration = .seconds(600)
    /// A comment sent when nothing changed for this long, so that proxies do not close a quiet stream.
    static let keepAlive: Duration = .seconds(15)

    /// What a deployment page's stream sends.
    struct DeploymentUpdate: Encodable {
        /// The heading, counts, links and actions.
        var head: String
        /// The rows of the hosts that changed, by their place in the table; all of them when `full`.
        var rows: [Row]
        var full: Bool
        /// The view box of every bar's SVG now.
        var axis: String
        /// Nothing more will change: the browser may close the stream.
        var finished: Bool

        struct Row: Encodable {
            var index: Int
            var html: String
        }
    }

    func deploymentEvents(_ id: String, _ context: ConsoleContext) async throws -> Response {
        // Authorised once here, on the record it shows; the stream then reads the same deployment only.
        let first = try await deploymentView(id, context, withHosts: false)
        let resumeFrom = context.request.headers[HTTPField.Name("Last-Event-ID")!]
        let interval = updateInterval
        return Self.eventStream { send in
            // A browser that saw the end already is told so, and stops asking.
            if first.settled && resumeFrom == first.token {
                try await send(Self.event("end", id: first.token, data: Data("{}".utf8)))
                return
            }
            var sentToken = resumeFrom == first.token ? first.token : nil
            var sentHosts: [HostLifecycle] = []
            let opened = ContinuousClock.now
            var lastSend = opened
            while !Task.isCancelled && !Task.isShuttingDownGracefully && opened.duration(to: .now) < Self.streamLifetime
            {
                let token = try await store.record(.deploymentState, scope: "", name: id).map {
                    String(decoding: $0.document, as: UTF8.self)
                }
                if let token, token != sentToken {
                    // A session signed out, expired, or whose key was deleted meanwhile gets no more.
                    guard try await stillSignedIn(context) else {
                        try await send(Self.event("end", id: sentToken ?? "", data: Data("{}".utf8)))
                        return
                    }
                    let view = try await deploymentView(id, context)
                    let axis = TimelineAxis(view.record.info, now: context.now)
                    let full = sentHosts.count != view.hosts.count
                    var rows: [DeploymentUpdate.Row] = []
                    for (index, host) in view.hosts.enumerated() where full || sentHosts[index] != host {
                        rows.append(
                            .init(
                                index: index,
                                html: hostRow(host, index: index, deployment: id, axis: axis, now: context.now).text))
                    }
                    let update = DeploymentUpdate(
                        head: deploymentHead(view, context).text, rows: rows, full: full, axis: axis.viewBox,
                        finished: view.settled)
                    try await send(Self.event("update", id: view.token, data: try JSONEncoder().encode(update)))
                    lastSend = .now
                    sentToken = view.token
                    sentHosts = view.hosts
                    if view.settled { return }
                } else if lastSend.duration(to: .now) > Self.keepAlive {
                    try await send(": waiting\n\n")
                    lastSend = .now
                }
                try await Task.sleep(for: interval)
            }
            // A deployment that ended long ago and never linked the rollback it asked for: nothing more will come.
            if !Task.isCancelled, let record = try await store.read({ try $0.deployment(id) }), record.isFinished {
                try await send(Self.event("end", id: sentToken ?? "", data: Data("{}".utf8)))
            }
        }
    }

    /// The overview's stream: its two tables, whenever a deployment starts, moves or ends.
    func overviewEvents(_ context: ConsoleContext) async throws -> Response {
        let interval = max(updateInterval, .seconds(1))
        let resumeFrom = context.request.headers[HTTPField.Name("Last-Event-ID")!]
        return Self.eventStream { send in
            var sent = resumeFrom
            let opened = ContinuousClock.now
            var lastSend = opened
            while !Task.isCancelled && !Task.isShuttingDownGracefully && opened.duration(to: .now) < Self.streamLifetime
            {
                let data = try await overviewData(context)
                let signature = Self.shortHash(data.signature)
                if signature != sent {
                    guard try await stillSignedIn(context) else {
                        try await send(Self.event("end", id: sent ?? "", data: Data("{}".utf8)))
                        return
                    }
                    struct Update: Encodable { var html: String }
                    let update = Update(html: overviewSections(data).text)
                    try await send(Self.event("update", id: signature, data: try JSONEncoder().encode(update)))
                    sent = signature
                    lastSend = .now
                } else if lastSend.duration(to: .now) > Self.keepAlive {
                    try await send(": waiting\n\n")
                    lastSend = .now
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    /// Whether the stream's session still stands, with the same key.
    private func stillSignedIn(_ context: ConsoleContext) async throws -> Bool {
        let cookie = context.request.cookies[ConsoleSessions.cookieName]?.value
        guard let (session, principal) = try await sessions.session(cookie: cookie, now: clock()) else { return false }
        return session.accessKeyId == context.session.accessKeyId && principal == context.principal
    }

    /// A response that runs `produce` while the browser listens; `produce` ends the stream by returning, and a
    /// closed connection ends it by making `send` throw.
    static func eventStream(
        _ produce: @escaping @Sendable (_ send: (String) async throws -> Void) async throws -> Void
    ) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        securityHeaders(&headers)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                // A browser retries after this long when the stream ends.
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                do {
                    try await produce { text in try await writer.write(ByteBuffer(string: text)) }
                } catch is CancellationError {
                    // The server is stopping or the browser went away.
                }
                try await writer.finish(nil)
            })
    }

    /// One event: its name, its id, and its data on one line (JSON has no raw line breaks).
    static func event(_ name: String, id: String, data: Data) -> String {
        "event: \(name)\nid: \(id.filter { $0 != "\n" && $0 != "\r" })\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
    }

    static func shortHash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
