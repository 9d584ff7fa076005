import Deployments
import Foundation
import Store

extension RecordKind {
    /// The alarms of Slipway's own CloudWatch API (scope "", name: alarm name): a ``LocalAlarm``.
    package static let cloudWatchAlarm = RecordKind(rawValue: "cloudWatchAlarm")
}

/// An alarm of Slipway's CloudWatch API: its definition as `PutMetricAlarm` gave it, and the state `SetAlarmState`
/// last set. Slipway keeps no metrics: it does not evaluate the definition, something outside sets the state.
package struct LocalAlarm: Codable, Sendable, Hashable {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    package enum State: String, Codable, Sendable, Hashable, CaseIterable {
        case ok = "OK"
        case alarm = "ALARM"
        case insufficientData = "INSUFFICIENT_DATA"
    }

    package var name: String
    package var description: String?
    package var actionsEnabled: Bool
    package var metricName: String?
    package var namespace: String?
    package var statistic: String?
    package var period: Int?
    package var evaluationPeriods: Int?
    package var threshold: Double?
    package var comparisonOperator: String?
    package var state: State
    package var stateReason: String
    package var stateReasonData: String?
    package var stateUpdated: Date
    package var configurationUpdated: Date

    package init(
        name: String, description: String? = nil, actionsEnabled: Bool = true, metricName: String? = nil,
        namespace: String? = nil, statistic: String? = nil, period: Int? = nil, evaluationPeriods: Int? = nil,
        threshold: Double? = nil, comparisonOperator: String? = nil, now: Date
    ) {
        self.name = name
        self.description = description
        self.actionsEnabled = actionsEnabled
        self.metricName = metricName
        self.namespace = namespace
        self.statistic = statistic
        self.period = period
        self.evaluationPeriods = evaluationPeriods
        self.threshold = threshold
        self.comparisonOperator = comparisonOperator
        self.state = .insufficientData
        self.stateReason = "Unchecked: Initial alarm creation"
        self.stateUpdated = now
        self.configurationUpdated = now
    }
}

/// The alarms of Slipway's own CloudWatch API, read from the store: always a source, whatever else is configured.
package struct LocalAlarmSource: AlarmSource {
    package let store: any Store

    package init(store: any Store) {
        self.store = store
    }

    package var description: String { "Slipway's CloudWatch alarms" }

    package func alarming(among names: Set<String>) async throws -> Set<String> {
        try await store.read { tx in
            var alarming: Set<String> = []
            for name in names where try tx.get(LocalAlarm.self, .cloudWatchAlarm, name: name)?.state == .alarm {
                alarming.insert(name)
            }
            return alarming
        }
    }
}
