import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Where an HAProxy's runtime API listens: a Unix socket (`stats socket /run/haproxy/admin.sock level admin`) or a
/// TCP address (`stats socket ipv4@127.0.0.1:9999 level admin`).
public enum HAProxyAddress: Sendable, Hashable, CustomStringConvertible {
    case unixSocket(path: String)
    case tcp(host: String, port: Int)

    /// Reads `slipway server --haproxy`'s value: a path (it holds a `/`) names a socket, anything else is
    /// `host:port` (`[::1]:9999` for IPv6).
    public init(parsing text: String) throws(HAProxyError) {
        guard !text.isEmpty, text.utf8.count <= 1024,
            !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw HAProxyError(
                "'\(text.debugDescription)' is not an HAProxy runtime API address: give a socket path or host:port.")
        }
        if text.contains("/") {
            self = .unixSocket(path: text)
            return
        }
        var host = Substring(text)
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            throw HAProxyError(
                "'\(text)' is not an HAProxy runtime API address: give a socket path (with a /) or host:port.")
        }
        host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else {
            throw HAProxyError("'\(text)' is not an HAProxy runtime API address: the host is missing.")
        }
        self = .tcp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .unixSocket(let path): path
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// Why HAProxy could not do what Slipway asked, worded for a lifecycle event's diagnostics: what failed and what to
/// fix.
public struct HAProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// One HAProxy's runtime API (https://docs.haproxy.org/2.6/management.html#9.3): a command per connection, its reply
/// read to the end. Slipway writes the commands itself; SwiftNIO carries them, as no maintained Swift library speaks
/// this protocol.
public struct HAProxyRuntime: Sendable {
    public let address: HAProxyAddress
    /// How long one command may take, connecting included.
    public let timeout: Duration
    /// Replies are small (a `show stat` of a backend is a line per server); a larger one is refused.
    static let maximumReply = 4 << 20

    public init(address: HAProxyAddress, timeout: Duration = .seconds(5)) {
        self.address = address
        self.timeout = timeout
    }

    /// Sends `command` and returns HAProxy's whole reply. A reply that has not ended by the timeout is cut off by
    /// closing the connection, so a stalled HAProxy cannot hold the caller.
    public func send(_ command: String) async throws(HAProxyError) -> String {
        precondition(!command.contains("\n"), "a runtime API command is one line")
        let timedOut = Mutex(false)
        do {
            let channel = try await connect()
            let timer = Task {
                try await Task.sleep(for: timeout)
                timedOut.withLock { $0 = true }
                try await channel.channel.close()
            }
            defer { timer.cancel() }
            let reply = try await exchange(command, on: channel)
            if timedOut.withLock({ $0 }) { throw timeoutError(command) }
            return reply
        } catch let error as HAProxyError {
            throw error
        } catch  where timedOut.withLock({ $0 }) {
            throw timeoutError(command)
        } catch {
            throw HAProxyError(
                "cannot reach HAProxy's runtime API at \(address): \(error). Check `slipway server --haproxy` and the "
                    + "`stats socket` line of HAProxy's configuration (it needs `level admin`).")
        }
    }

    private func timeoutError(_ command: String) -> HAProxyError {
        HAProxyError(
            "HAProxy at \(address) did not answer '\(command)' within \(timeout); check that it runs and that its "
                + "stats socket is reachable.")
    }

    private func connect() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.init(timeout))
        switch address {
        case .unixSocket(let path):
            return try await bootstrap.connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel(wrappingChannelSynchronously: channel) }
            }
        case .tcp(let host, let port):
            return try await bootstrap.connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel(wrappingChannelSynchronously: channel) }
            }
        }
    }

    private func exchange(_ command: String, on channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws
        -> String
    {
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: command + "\n"))
            var reply = ByteBuffer()
            for try await chunk in inbound {
                var chunk = chunk
                guard reply.readableBytes + chunk.readableBytes <= Self.maximumReply else {
                    throw HAProxyError(
                        "HAProxy at \(address) answered '\(command)' with more than \(Self.maximumReply) bytes.")
                }
                reply.writeBuffer(&chunk)
            }
            return String(decoding: reply.readableBytesView, as: UTF8.self)
        }
    }
}
