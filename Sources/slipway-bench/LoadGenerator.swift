import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One request of a load run: built afresh for every send, so that a signed request carries its own signature.
struct LoadRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer?
}

/// A closed-loop load generator on keep-alive connections: each connection sends a request, reads the whole
/// response, and sends the next, until the run's end.
///
/// Written on NIO directly, with one event-loop thread for every connection: the client shares the machine's cores
/// with the server it loads, so it must spend less CPU per request than the server does, and AsyncHTTPClient's
/// async API takes a task, a pool lookup and a body stream per request.
struct LoadGenerator {
    let host: String
    let port: Int

    /// Runs `connections` connections for `seconds`; `request` builds each request (it runs on the client's event
    /// loop, so it must be cheap: signing a small body is).
    func run(
        connections: Int, seconds: Double, request: @escaping @Sendable () -> LoadRequest
    ) async throws -> RunResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let result = try await run(group: group, connections: connections, seconds: seconds, request: request)
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(
        group: MultiThreadedEventLoopGroup, connections: Int, seconds: Double,
        request: @escaping @Sendable () -> LoadRequest
    ) async throws -> RunResult {
        let start = NIODeadline.now()
        let end = start + .nanoseconds(Int64(seconds * 1e9))
        let tallies = try await withThrowingTaskGroup(of: LoadTally.self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    let channel = try await ClientBootstrap(group: group)
                        .channelOption(.socketOption(.so_reuseaddr), value: 1)
                        .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                        .connect(host: host, port: port).get()
                    let done = channel.eventLoop.makePromise(of: LoadTally.self)
                    try await channel.eventLoop.submit {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            LoadConnectionHandler(request: request, end: end, done: done))
                    }.get()
                    return try await done.futureResult.get()
                }
            }
            var all: [LoadTally] = []
            for try await tally in tasks { all.append(tally) }
            return all
        }
        let elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        return RunResult(
            requests: tallies.map(\.latencies.count).reduce(0, +), errors: tallies.map(\.errors).reduce(0, +),
            seconds: elapsed, latencies: tallies.flatMap(\.latencies))
    }
}

/// What one connection counted.
struct LoadTally: Sendable {
    var latencies: [Double] = []
    /// Responses whose status was not 200.
    var errors = 0
}

/// Drives one connection: sends the first request when it becomes active, the next one after each complete
/// response, and fulfils `done` at the run's end.
private final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: @Sendable () -> LoadRequest
    private let end: NIODeadline
    private let done: EventLoopPromise<LoadTally>
    private var tally = LoadTally()
    private var sentAt = NIODeadline.now()
    private var status: UInt = 0
    private var finished = false

    init(request: @escaping @Sendable () -> LoadRequest, end: NIODeadline, done: EventLoopPromise<LoadTally>) {
        self.request = request
        self.end = end
        self.done = done
        tally.latencies.reserveCapacity(100_000)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context: context) }
    }

    private func send(context: ChannelHandlerContext) {
        let next = request()
        sentAt = .now()
        context.write(wrapOutboundOut(.head(next.head)), promise: nil)
        if let body = next.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
        case .body:
            break
        case .end:
            let now = NIODeadline.now()
            tally.latencies.append(Double((now - sentAt).nanoseconds) / 1e9)
            if status != 200 { tally.errors += 1 }
            if now < end {
                send(context: context)
            } else {
                finish(context: context, .success(tally))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(context: context, .failure(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, .failure(BenchError("the server closed a connection during the run")))
    }

    private func finish(context: ChannelHandlerContext, _ result: Result<LoadTally, Error>) {
        guard !finished else { return }
        finished = true
        done.completeWith(result)
        context.close(promise: nil)
    }
}
