import Foundation
import Synchronization

/// A clock a test moves by hand: the server reads `now` wherever it would read the time (request dates, command
/// redelivery, deployment deadlines), and the time stands still between ``advance(by:)`` calls.
///
/// It starts at the real time, so that requests signed with the real time stay within the server's clock skew
/// (15 minutes) until the test advances it that far.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date()) {
        current = Mutex(start)
    }

    /// The time the server sees.
    var now: Date { current.withLock { $0 } }

    /// Moves the time on by `seconds`.
    func advance(by seconds: TimeInterval) {
        current.withLock { $0.addTimeInterval(seconds) }
    }
}
