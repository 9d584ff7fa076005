import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import Server

/// The limits a connection meets before it has proved anything, on an embedded channel with a manual clock.
@Suite("Connection limits and timeouts")
struct ConnectionGuardTests {
    let limits = ConnectionLimits(maximumConnections: 2, requestHeadTimeout: .seconds(30), idleTimeout: .seconds(120))
    let logger = Logger(label: "test")

    private func connect(_ counter: ConnectionCounter) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ConnectionGuard(limits: limits, counter: counter, logger: logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: "h", path: "/"))

    @Test("a connection that sends no request head is closed after the head timeout, and not before")
    func headTimeout() throws {
        let counter = ConnectionCounter()
        let channel = try connect(counter)
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        #expect(counter.count == 0)
    }

    @Test("a request body that pauses longer than the idle timeout closes the connection")
    func stalledBody() throws {
        let channel = try connect(ConnectionCounter())
        try channel.writeInbound(head)
        channel.embeddedEventLoop.advanceTime(by: .seconds(100))
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "x")))
        channel.embeddedEventLoop.advanceTime(by: .seconds(100))
        #expect(channel.isActive, "each part of the body restarts the wait")
        channel.embeddedEventLoop.advanceTime(by: .seconds(21))
        #expect(!channel.isActive)
    }

    @Test("a request being answered (a held poll) never times out; the kept-alive connection idles out afterwards")
    func heldRequestAndKeepAlive() throws {
        let channel = try connect(ConnectionCounter())
        try channel.writeInbound(head)
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(600))
        #expect(channel.isActive)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(119))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test("connections beyond the limit are closed when accepted; a closed one frees its place")
    func connectionLimit() throws {
        let counter = ConnectionCounter()
        let first = try connect(counter)
        let second = try connect(counter)
        let third = try connect(counter)
        #expect(first.isActive && second.isActive)
        #expect(!third.isActive)
        #expect(counter.count == 2)
        _ = try first.close().wait()
        #expect(counter.count == 1)
        let fourth = try connect(counter)
        #expect(fourth.isActive)
        #expect(counter.count == 2)
    }
}
