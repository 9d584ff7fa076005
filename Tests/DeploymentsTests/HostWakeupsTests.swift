import Testing

@testable import Deployments

@Suite("Held polls")
struct HostWakeupsTests {
    @Test("a host holds at most four polls: a fifth displaces the oldest, which is answered at once")
    func heldPollsPerHostAreBounded() async throws {
        let wakeups = HostWakeups()
        let sequence = await wakeups.sequence(of: "h")
        let started = ContinuousClock.now
        let oldest = Task { await wakeups.wait(for: "h", since: sequence, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(50))
        var others: [Task<Bool, Never>] = []
        for _ in 0..<4 {
            others.append(Task { await wakeups.wait(for: "h", since: sequence, timeout: .seconds(60)) })
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await oldest.value == false, "the displaced poll is not woken, it is answered empty")
        #expect(started.duration(to: .now) < .seconds(30))
        await wakeups.wake(["h"])
        for other in others { #expect(await other.value == true) }
    }
}
