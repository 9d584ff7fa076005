import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections shared by many concurrent callers: a request takes an idle connection (or waits
/// for one), is answered on it, and gives it back.
///
/// Written on NIO for the same reason as ``LoadGenerator``: a thousand simulated agents send tens of thousands of
/// small requests on the cores the server runs on, so the client must spend less CPU per request than the server
/// does. Here a request costs a promise, a continuation and a lock.
final class ConnectionPool: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channels: [Channel]
    private let state = Mutex(State())

    private struct State {
        var idle: [Channel] = []
        var waiting: [CheckedContinuation<Channel, Never>] = []
    }

    /// Opens `connections` connections to `host`:`port` on one event-loop thread.
    init(host: String, port: Int, connections: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var opened: [Channel] = []
        do {
            for _ in 0..<connections {
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                        }
                    }
                    .connect(host: host, port: port).get()
                opened.append(channel)
            }
        } catch {
            for channel in opened { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        self.group = group
        self.channels = opened
        state.withLock { $0.idle = opened }
    }

    /// Sends one request and returns the response's status and body.
    func send(_ head: HTTPRequestHead, body: ByteBuffer?) async throws -> (status: UInt, body: ByteBuffer) {
        let channel = await checkOut()
        defer { checkIn(channel) }
        let promise = channel.eventLoop.makePromise(of: (status: UInt, body: ByteBuffer).self)
        channel.writeAndFlush(Exchange(head: head, body: body, response: promise)).cascadeFailure(to: promise)
        return try await promise.futureResult.get()
    }

    func close() async {
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
    }

    private func checkOut() async -> Channel {
        await withCheckedContinuation { continuation in
            let channel = state.withLock { state -> Channel? in
                if let channel = state.idle.popLast() { return channel }
                state.waiting.append(continuation)
                return nil
            }
            if let channel { continuation.resume(returning: channel) }
        }
    }

    private func checkIn(_ channel: Channel) {
        let next = state.withLock { state -> CheckedContinuation<Channel, Never>? in
            if state.waiting.isEmpty {
                state.idle.append(channel)
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: channel)
    }
}

/// A request and the promise of its response.
private struct Exchange {
    let head: HTTPRequestHead
    let body: ByteBuffer?
    let response: EventLoopPromise<(status: UInt, body: ByteBuffer)>
}

/// Writes one exchange's request and completes its promise with the whole response.
private final class ExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<(status: UInt, body: ByteBuffer)>?
    private var status: UInt = 0
    private var body = ByteBuffer()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            exchange.response.fail(BenchError("a connection was given a second request while it had one"))
            promise?.succeed()
            return
        }
        pending = exchange.response
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            let promise = pending
            pending = nil
            promise?.succeed((status, body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(BenchError("the server closed a connection"))
    }

    private func fail(_ error: Error) {
        let promise = pending
        pending = nil
        promise?.fail(error)
    }
}
