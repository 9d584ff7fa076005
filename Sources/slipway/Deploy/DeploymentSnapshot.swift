import Foundation

/// What one poll saw of a deployment: GetDeployment's `deploymentInfo` and the instance targets with their lifecycle
/// events, read from the JSON answers (the raw objects are kept for `--json`).
struct DeploymentSnapshot {
    struct LifecycleEvent: Equatable {
        var name: String
        var status: String
        var startTime: Double?
        var endTime: Double?
        var errorCode: String?
        var message: String?
        var scriptName: String?
        var logTail: String?

        var isDone: Bool { ["Succeeded", "Failed", "Skipped"].contains(status) }
    }

    struct Host: Equatable {
        var name: String
        var status: String
        var events: [LifecycleEvent]
        /// `Blue` or `Green` in a blue/green deployment.
        var label: String? = nil

        /// The event a reader wants to see: the running one, else the failed one, else the next pending one, else
        /// the last one.
        var currentEvent: LifecycleEvent? {
            events.first { $0.status == "InProgress" } ?? events.first { $0.status == "Failed" }
                ?? (["Pending", "InProgress"].contains(status) ? events.first { $0.status == "Pending" } : nil)
                ?? events.last { $0.status != "Pending" && $0.status != "Skipped" } ?? events.last
        }

        var doneCount: Int { events.filter(\.isDone).count }

        /// Seconds from the first event's start to the last event's end (or to `now` while one runs).
        func elapsed(now: Date) -> Double? {
            guard let start = events.compactMap(\.startTime).min() else { return nil }
            let running = events.contains { $0.status == "InProgress" } || status == "InProgress"
            let end = running ? now.timeIntervalSince1970 : (events.compactMap(\.endTime).max() ?? start)
            return max(0, end - start)
        }
    }

    var info: [String: Any]
    var targets: [[String: Any]]

    var id: String { info["deploymentId"] as? String ?? "" }
    var status: String { info["status"] as? String ?? "Unknown" }
    var applicationName: String { info["applicationName"] as? String ?? "" }
    var deploymentGroupName: String { info["deploymentGroupName"] as? String ?? "" }
    var createTime: Double? { Self.number(info["createTime"]) }
    var completeTime: Double? { Self.number(info["completeTime"]) }
    var errorCode: String? { (info["errorInformation"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (info["errorInformation"] as? [String: Any])?["message"] as? String }
    var rollbackDeploymentId: String? {
        (info["rollbackInfo"] as? [String: Any])?["rollbackDeploymentId"] as? String
    }
    var rollbackMessage: String? { (info["rollbackInfo"] as? [String: Any])?["rollbackMessage"] as? String }

    /// The `deploymentOverview` counts in CodeDeploy's order; `Ready` only in a blue/green deployment.
    var overview: [(name: String, count: Int)] {
        let counts = info["deploymentOverview"] as? [String: Any] ?? [:]
        let blueGreen = (info["deploymentStyle"] as? [String: Any])?["deploymentType"] as? String == "BLUE_GREEN"
        let names = ["Pending", "InProgress"] + (blueGreen ? ["Ready"] : []) + ["Succeeded", "Failed", "Skipped"]
        return names.map { name in (name, (counts[name] as? NSNumber)?.intValue ?? 0) }
    }

    /// The `deploymentStatusMessages`: a stop under way, a blue/green wait, the share of a traffic split.
    var statusMessages: [String] { info["deploymentStatusMessages"] as? [String] ?? [] }

    var isFinished: Bool { Self.finalStatuses.contains(status) }
    static let finalStatuses: Set<String> = ["Succeeded", "Failed", "Stopped"]

    /// The instance targets, by name.
    var hosts: [Host] {
        targets.compactMap { target -> Host? in
            guard let instance = target["instanceTarget"] as? [String: Any] else { return nil }
            let events = (instance["lifecycleEvents"] as? [[String: Any]] ?? []).map { event in
                let diagnostics = event["diagnostics"] as? [String: Any] ?? [:]
                return LifecycleEvent(
                    name: event["lifecycleEventName"] as? String ?? "?", status: event["status"] as? String ?? "?",
                    startTime: Self.number(event["startTime"]), endTime: Self.number(event["endTime"]),
                    errorCode: diagnostics["errorCode"] as? String, message: diagnostics["message"] as? String,
                    scriptName: diagnostics["scriptName"] as? String, logTail: diagnostics["logTail"] as? String)
            }
            return Host(
                name: instance["targetId"] as? String ?? "?", status: instance["status"] as? String ?? "?",
                events: events, label: instance["instanceLabel"] as? String)
        }.sorted { ($0.label ?? "", $0.name) < ($1.label ?? "", $1.name) }
    }

    /// The exit status for this deployment's state: 0 succeeded, 1 failed, 2 stopped, 4 not finished.
    var exitCode: Int32 {
        switch status {
        case "Succeeded": 0
        case "Failed": 1
        case "Stopped": 2
        default: DeployExit.stillRunning
        }
    }

    /// The document `--json` prints.
    var jsonDocument: [String: Any] {
        ["deploymentInfo": info, "deploymentTargets": targets]
    }

    static func number(_ value: Any?) -> Double? {
        (value as? NSNumber)?.doubleValue ?? (value as? String).flatMap(Double.init)
    }
}

/// Exit statuses of `slipway deploy`.
enum DeployExit {
    static let succeeded: Int32 = 0
    static let failed: Int32 = 1
    static let stopped: Int32 = 2
    /// A usage error, an invalid bundle, or an error talking to the server.
    static let usage: Int32 = 3
    /// `slipway deploy status` of a deployment that has not finished.
    static let stillRunning: Int32 = 4
}
