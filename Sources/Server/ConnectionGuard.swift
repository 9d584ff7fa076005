import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Limits what a connection can hold before it has proved anything: how many connections are open at once, how long
/// a new connection may take to complete its TLS handshake and send a request head, how long a kept-alive
/// connection may sit idle, and how long a request body may pause.
///
/// Written here because Hummingbird's idle timeout starts only once a request head has been decoded and does not
/// bound a body that stalls, and NIO has no connection limit of its own.
public struct ConnectionLimits: Sendable, Hashable {
    /// The most connections open at once; a connection beyond it is closed as soon as it is accepted.
    public var maximumConnections: Int
    /// From accepting a connection to its first request head (TLS handshake included).
    public var requestHeadTimeout: Duration
    /// Between requests on a kept-alive connection, and between two parts of a request body.
    public var idleTimeout: Duration

    public init(
        maximumConnections: Int = 10_000, requestHeadTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(120)
    ) {
        self.maximumConnections = maximumConnections
        self.requestHeadTimeout = requestHeadTimeout
        self.idleTimeout = idleTimeout
    }
}

/// The count of open connections shared by every ``ConnectionGuard`` of a server.
final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)
    /// When the limit was last reported, so that a flood writes one log line a minute rather than one per connection.
    private let lastReport = Mutex<ContinuousClock.Instant?>(nil)

    var count: Int { open.load(ordering: .relaxed) }

    /// Counts a new connection; false when that would exceed `limit` (it is then not counted).
    func admit(limit: Int) -> Bool {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        if now <= limit { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() { open.wrappingSubtract(1, ordering: .relaxed) }

    /// Whether a refusal should be logged now (at most once a minute).
    func shouldReport(now: ContinuousClock.Instant = .now) -> Bool {
        lastReport.withLock { last in
            if let last, last.duration(to: now) < .seconds(60) { return false }
            last = now
            return true
        }
    }
}

/// Enforces ``ConnectionLimits`` on one connection. It sits after HTTP decoding, so it sees request heads, body
/// parts and the end of each request and response.
///
/// One timer at most is pending per connection: events move a deadline (a read of the event loop's clock), and the
/// timer, when it fires, closes the connection if the deadline has passed or waits for the new one. A request thus
/// reads a clock instead of scheduling and cancelling a timer.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private let counter: ConnectionCounter
    private let logger: Logger
    private var admitted = false
    private var started = false
    /// Whether a request is being read (head seen, end not yet).
    private var readingBody = false
    /// Requests whose response has not ended yet; while one is being answered (a held poll), nothing times out.
    private var unanswered = 0
    /// When the connection is closed unless something happens first; nil while a request is being answered.
    private var deadline: NIODeadline?
    private var reason = ""
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits, counter: ConnectionCounter, logger: Logger) {
        self.limits = limits
        self.counter = counter
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        guard counter.admit(limit: limits.maximumConnections) else {
            if counter.shouldReport() {
                logger.warning(
                    "refusing connections: \(limits.maximumConnections) are open, the most --max-connections allows")
            }
            context.close(promise: nil)
            return
        }
        admitted = true
        arm(context, after: limits.requestHeadTimeout, reason: "no request head")
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        deadline = nil
        if admitted {
            admitted = false
            counter.release()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            readingBody = true
            arm(context, after: limits.idleTimeout, reason: "request body stalled")
        case .body:
            if readingBody { arm(context, after: limits.idleTimeout, reason: "request body stalled") }
        case .end:
            readingBody = false
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered = max(0, unanswered - 1)
            if unanswered == 0 && !readingBody { arm(context, after: limits.idleTimeout, reason: "idle") }
        }
        context.write(data, promise: promise)
    }

    /// Moves the deadline to `delay` from now, scheduling the timer only when none is pending.
    private func arm(_ context: ChannelHandlerContext, after delay: Duration, reason: String) {
        let nanoseconds = delay.components.seconds &* 1_000_000_000 &+ delay.components.attoseconds / 1_000_000_000
        deadline = context.eventLoop.now + .nanoseconds(nanoseconds)
        self.reason = reason
        if timer == nil { schedule(context) }
    }

    private func schedule(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timer = nil
            guard let deadline = handler.deadline else { return }
            if context.eventLoop.now >= deadline {
                handler.logger.debug("closing a connection: \(handler.reason)")
                context.close(promise: nil)
            } else {
                handler.schedule(context)
            }
        }
    }
}
