import Engine
import Foundation
import Metrics
import SlipwayModel

/// The deployment series Slipway reports through swift-metrics (the server exports them in Prometheus' format at
/// `/metrics`; the README lists them). Without a metrics backend bootstrapped, as in tests, recording costs nothing.
package enum DeploymentMetrics {
    package static let deploymentsStarted = "slipway_deployments_started_total"
    package static let deploymentsEnded = "slipway_deployments_ended_total"
    package static let deploymentDuration = "slipway_deployment_duration_seconds"
    package static let lifecycleEventDuration = "slipway_lifecycle_event_duration_seconds"
    package static let commandsRedelivered = "slipway_host_commands_redelivered_total"
    package static let commandsTimedOut = "slipway_host_commands_timed_out_total"
    package static let alarmPolls = "slipway_alarm_polls_total"

    /// What one save of a deployment changed: it started, ended (with its duration), hosts finished (each event's
    /// duration) or timed out.
    static func record(
        _ machine: Deployment, statusBefore: CodeDeploy.DeploymentStatus?, changes: [HostStatusChange]
    ) {
        let status = machine.status
        if status != statusBefore {
            if status == .inProgress && (statusBefore == nil || statusBefore == .created || statusBefore == .queued) {
                Counter(label: deploymentsStarted).increment()
            }
            if machine.isFinished {
                let dimensions = [("status", status.rawValue)]
                Counter(label: deploymentsEnded, dimensions: dimensions).increment()
                if let end = machine.completeTime {
                    let start = machine.startTime ?? machine.createTime
                    Timer(label: deploymentDuration, dimensions: dimensions).recordSeconds(end.timeIntervalSince(start))
                }
            }
        }
        for change in changes where change.to == .succeeded || change.to == .failed {
            guard let host = machine.host(named: change.instanceName) else { continue }
            for event in host.events {
                guard let start = event.startTime, let end = event.endTime, !event.isNoop else { continue }
                Timer(
                    label: lifecycleEventDuration,
                    dimensions: [("event", event.event.rawValue), ("status", event.status.rawValue)]
                ).recordSeconds(end.timeIntervalSince(start))
            }
            switch host.failure {
            case .notPickedUp(let event, _)?, .noReport(let event)?:
                Counter(label: commandsTimedOut, dimensions: [("event", event.rawValue)]).increment()
            default:
                break
            }
        }
    }

    /// A held command was handed out again: its agent did not acknowledge it in time.
    static func redelivered() { Counter(label: commandsRedelivered).increment() }

    /// One poll of one alarm source: `ok`, `alarm` (some watched alarm in ALARM) or `error`.
    static func alarmPoll(outcome: String) {
        Counter(label: alarmPolls, dimensions: [("outcome", outcome)]).increment()
    }
}
