import Foundation
import Testing

@testable import Deployments
@testable import Server

@Suite("Request ids")
struct RequestIDTests {
    @Test("ids have the 8-4-4-4-12 lowercase hex form and never repeat")
    func formAndUniqueness() {
        let ids = (0..<20_000).map { _ in UniqueIDs.make() }
        #expect(Set(ids).count == ids.count)
        let pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
        #expect(ids.allSatisfy { $0.wholeMatch(of: pattern) != nil })
        // One server's ids share their random first half; the counter makes the rest.
        #expect(Set(ids.map { $0.prefix(18) }).count == 1)
    }
}
