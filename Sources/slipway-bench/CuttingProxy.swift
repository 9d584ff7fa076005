import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP proxy on loopback, in front of a server, that cuts the first connection to carry more than `cutAfter`
/// bytes towards its client (once), and counts every byte it forwards that way: what a download resumed after a
/// dropped connection fetched in all. A thread per direction of each connection; for benchmarks only.
final class CuttingProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let cutAfter: Int64
    private let lock = NSLock()
    private var forwardedBytes: Int64 = 0
    private var cutCount = 0

    var forwarded: Int64 { lock.withLock { forwardedBytes } }
    var cuts: Int { lock.withLock { cutCount } }

    init(upstreamPort: Int, cutAfter: Int64) throws {
        self.upstreamPort = upstreamPort
        self.cutAfter = cutAfter
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, bound == 0, listen(fd, 64) == 0 else {
            throw BenchError("the proxy cannot listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// Stops accepting; connections in progress end with their peers.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(upstream)
                continue
            }
            let pair = Pair()
            Thread { [self] in pipe(from: client, to: upstream, downstream: false, pair: pair) }.start()
            Thread { [self] in pipe(from: upstream, to: client, downstream: true, pair: pair) }.start()
        }
    }

    /// The two directions of a connection: the second to end closes both sockets.
    private final class Pair: @unchecked Sendable {
        var ended = 0
    }

    private func pipe(from source: Int32, to destination: Int32, downstream: Bool, pair: Pair) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var carried: Int64 = 0
        loop: while true {
            var count = recv(source, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            var cut = false
            if downstream {
                lock.withLock {
                    if cutCount == 0 && carried + Int64(count) > cutAfter {
                        cutCount += 1
                        cut = true
                        count = Int(cutAfter - carried)
                    }
                    forwardedBytes += Int64(count)
                }
                carried += Int64(count)
            }
            var offset = 0
            while offset < count {
                let sent = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + offset, count - offset, 0) }
                guard sent > 0 else { break loop }
                offset += sent
            }
            if cut { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
        let last = lock.withLock {
            pair.ended += 1
            return pair.ended == 2
        }
        if last {
            close(source)
            close(destination)
        }
    }
}
