import Foundation
import SlipwayModel

/// What a deployment knows about its hosts without looking at each of them: where each instance sits in the
/// scheduling order, how many hosts are in each status, where the first pending host is, the deadlines in flight
/// (a min-heap), and which hosts changed since they were last saved.
///
/// Derived from the hosts alone: never stored, rebuilt when a deployment is decoded or reassembled, and kept current
/// by the deployment on every change of a host, so that an event costs the same in a fleet of a thousand hosts as in
/// a fleet of three.
struct FleetIndex: Sendable {
    /// Each instance's position in the hosts.
    private(set) var positions: [String: Int] = [:]
    /// Hosts per status.
    private(set) var statusCounts: [CodeDeploy.TargetStatus: Int] = [:]
    /// Hosts per scheduler phase.
    private(set) var tally = FleetScheduler.Tally()
    /// No host before this position is pending. Hosts never return to pending, so it only moves forward.
    private var firstPending = 0
    /// (deadline, position) of hosts in flight; an entry whose host no longer has that deadline is stale and is
    /// dropped when it reaches the top. The top is never stale between events.
    private var deadlines: [(deadline: Date, position: Int)] = []
    /// Positions of hosts changed since ``markSaved()``.
    private(set) var unsaved: Set<Int> = []
    /// The hosts whose status changed since ``takeStatusChanges()``, in order, with the status each had before.
    private(set) var statusChanges: [(position: Int, from: CodeDeploy.TargetStatus)] = []

    /// The index of `hosts`; `saved` tells whether they are stored already.
    init(_ hosts: [HostLifecycle], saved: Bool) {
        for (position, host) in hosts.enumerated() {
            // A target named twice keeps its first position, as a linear search would find it.
            if positions[host.instanceName] == nil { positions[host.instanceName] = position }
            count(host, by: 1)
            if let deadline = host.deadline { deadlines.append((deadline, position)) }
        }
        deadlines.sort { $0.deadline < $1.deadline }  // a sorted array is a heap
        if !saved { unsaved = Set(hosts.indices) }
        advanceFirstPending(hosts)
    }

    /// Host `position` changed from `before` to what `hosts` now holds.
    mutating func update(_ position: Int, from before: HostLifecycle.Summary, in hosts: [HostLifecycle]) {
        let host = hosts[position]
        unsaved.insert(position)
        let after = host.summary
        guard after != before else { return }
        if after.status != before.status { statusChanges.append((position, before.status)) }
        count(before, by: -1)
        count(after, by: 1)
        if position == firstPending { advanceFirstPending(hosts) }
        if let deadline = after.deadline, deadline != before.deadline {
            push((deadline, position))
        }
        dropStaleDeadlines(hosts)
        if deadlines.count > 2 * hosts.count + 16 {
            // Mostly stale entries: start again from the hosts in flight.
            deadlines = hosts.enumerated().compactMap { position, host in host.deadline.map { ($0, position) } }
            deadlines.sort { $0.deadline < $1.deadline }
        }
    }

    /// Returns the status changes recorded so far and forgets them.
    mutating func takeStatusChanges() -> [(position: Int, from: CodeDeploy.TargetStatus)] {
        defer { statusChanges = [] }
        return statusChanges
    }

    /// The earliest deadline in flight.
    var earliestDeadline: Date? { deadlines.first?.deadline }

    /// The pending hosts' names in scheduling order, read lazily.
    func pendingNames(_ hosts: [HostLifecycle]) -> some Sequence<String> {
        hosts[firstPending...].lazy.filter { $0.status == .pending }.map(\.instanceName)
    }

    /// The stored hosts are those now held.
    mutating func markSaved() {
        unsaved.removeAll(keepingCapacity: true)
    }

    // MARK: Internals

    private mutating func count(_ host: HostLifecycle, by delta: Int) {
        count(host.summary, by: delta)
    }

    private mutating func count(_ summary: HostLifecycle.Summary, by delta: Int) {
        statusCounts[summary.status, default: 0] += delta
        tally[summary.phase] += delta
    }

    private mutating func advanceFirstPending(_ hosts: [HostLifecycle]) {
        while firstPending < hosts.count && hosts[firstPending].status != .pending { firstPending += 1 }
    }

    private mutating func dropStaleDeadlines(_ hosts: [HostLifecycle]) {
        while let top = deadlines.first, hosts[top.position].deadline != top.deadline {
            popTop()
        }
    }

    // A binary min-heap on `deadlines`, written out because the standard library has no priority queue and the
    // package takes no dependency for twenty lines.
    private mutating func push(_ entry: (deadline: Date, position: Int)) {
        deadlines.append(entry)
        var child = deadlines.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard deadlines[child].deadline < deadlines[parent].deadline else { break }
            deadlines.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = deadlines.removeLast()
        guard !deadlines.isEmpty else { return }
        deadlines[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < deadlines.count && deadlines[left].deadline < deadlines[smallest].deadline { smallest = left }
            if right < deadlines.count && deadlines[right].deadline < deadlines[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            deadlines.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

extension HostLifecycle {
    /// What the deployment's index keeps of a host.
    struct Summary: Equatable {
        var status: CodeDeploy.TargetStatus
        var phase: FleetScheduler.HostPhase
        var deadline: Date?
    }

    var summary: Summary {
        let status = self.status
        let phase: FleetScheduler.HostPhase
        switch self.phase {
        case .pending: phase = .pending
        case .working: phase = .inFlight
        // Waits for its deployment, in flight for nothing; only blue/green deployments, which plan their fleets
        // themselves, hold hosts.
        case .ready: phase = .succeeded
        case .finished(.succeeded): phase = .succeeded
        case .finished(.failed): phase = .failed
        case .finished: phase = .skipped
        }
        return Summary(status: status, phase: phase, deadline: deadline)
    }
}
