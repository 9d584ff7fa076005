import Foundation
import Metrics
import SlipwayModel

/// The agent's series, through swift-metrics: `slipway agent --metrics-listen` exports them in Prometheus' format.
/// Without a backend bootstrapped, recording costs nothing.
package enum AgentMetrics {
    package static let polls = "slipway_agent_polls_total"
    package static let commands = "slipway_agent_commands_total"
    package static let commandDuration = "slipway_agent_command_duration_seconds"

    /// One `PollHostCommand`: `command`, `empty` or `error`.
    static func poll(_ outcome: String) {
        Counter(label: polls, dimensions: [("outcome", outcome)]).increment()
    }

    /// One command run to its end. Event names come from the server: one that is not a lifecycle event is counted as
    /// `other`, so that a server cannot make up series.
    static func command(_ name: String, succeeded: Bool, duration: Duration) {
        let event = LifecycleEvent(rawValue: name).map(\.rawValue) ?? "other"
        Counter(label: commands, dimensions: [("event", event), ("outcome", succeeded ? "succeeded" : "failed")])
            .increment()
        Timer(label: commandDuration, dimensions: [("event", event)]).record(duration: duration)
    }
}
