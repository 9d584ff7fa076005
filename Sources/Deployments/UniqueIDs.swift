import Synchronization

/// Unique ids in the form of AWS request ids (a UUID): the `x-amzn-RequestId` of every request, logged with every
/// line, and the state token of every deployment save.
package enum UniqueIDs {
    /// 16 random hex digits drawn at start, then a counter: unique within the server's life and, as far as 64
    /// random bits go, across restarts; in the 8-4-4-4-12 form of AWS's request ids. Request ids and the state
    /// token of every deployment save are drawn here: a `UUID()` reads `/dev/urandom` on Linux, a system call per
    /// id, and ids are drawn on every request.
    private static let template: [UInt8] = {
        var random = SystemRandomNumberGenerator()
        var bytes = (0..<36).map { _ in hexDigits[Int(random.next() % 16)] }
        for dash in [8, 13, 18, 23] { bytes[dash] = UInt8(ascii: "-") }
        return bytes
    }()
    /// Where the counter's 16 hex digits go, least significant first.
    private static let counterPositions: [Int] = Array((24..<36).reversed()) + Array((19..<23).reversed())
    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let counter = Atomic<UInt64>(0)

    package static func make() -> String {
        var number = counter.add(1, ordering: .relaxed).newValue
        var bytes = template
        for position in counterPositions {
            bytes[position] = hexDigits[Int(number & 0xF)]
            number >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
