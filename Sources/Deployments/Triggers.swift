import Engine
import Foundation
import SlipwayModel
import Store

extension RecordKind {
    /// Messages to publish, in order (scope "", name: ``NotificationOutbox/sequenceName(_:)``): an ``OutboxMessage``,
    /// written in the transaction of the event it tells of and deleted once handed on.
    package static let notificationOutbox = RecordKind(rawValue: "notificationOutbox")
    /// The number of the next outbox message (scope "", name "next").
    package static let outboxSequence = RecordKind(rawValue: "outboxSequence")
}

/// A message for an SNS topic: a trigger's notification, or a `Publish` request.
package struct OutboxMessage: Codable, Sendable, Hashable {
    package var topicArn: String
    package var subject: String?
    package var message: String
    package var createdAt: Date

    package init(topicArn: String, subject: String?, message: String, createdAt: Date) {
        self.topicArn = topicArn
        self.subject = subject
        self.message = message
        self.createdAt = createdAt
    }
}

/// The transactional outbox of notifications: a message is stored in the same transaction as what it tells of, so
/// that it is sent once that is stored, and never lost however the server stops. Sequence names keep their order.
package enum NotificationOutbox {
    /// Adds `message` after every message added before; returns its name.
    @discardableResult
    package static func add(_ message: OutboxMessage, in tx: any StoreWriter) throws -> String {
        let name = try nextName(in: tx)
        try tx.set(message, .notificationOutbox, name: name)
        return name
    }

    /// The next sequence name: after every one drawn before.
    package static func nextName(in tx: any StoreWriter) throws -> String {
        let next = try tx.get(Int.self, .outboxSequence, name: "next") ?? 0
        try tx.set(next + 1, .outboxSequence, name: "next")
        return sequenceName(next)
    }

    /// A number as a name that sorts as the number does.
    package static func sequenceName(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}

/// The message JSON of CodeDeploy's triggers (reference §7.3): what a trigger of a deployment group publishes for a
/// deployment or an instance event.
package enum TriggerMessages {
    /// The trigger events a change of a deployment's status raises.
    static func events(from before: CodeDeploy.DeploymentStatus?, to after: CodeDeploy.DeploymentStatus)
        -> [CodeDeploy.TriggerEventType]
    {
        guard before != after else { return [] }
        switch after {
        case .inProgress where before != .ready: return [.deploymentStart]
        case .ready: return [.deploymentReady]
        case .succeeded: return [.deploymentSuccess]
        case .failed: return [.deploymentFailure]
        case .stopped: return [.deploymentStop]
        default: return []
        }
    }

    /// The trigger event a change of a host's status raises.
    static func event(of change: HostStatusChange) -> CodeDeploy.TriggerEventType? {
        switch change.to {
        case .inProgress where change.from == .pending: .instanceStart
        case .ready: .instanceReady
        case .succeeded: .instanceSuccess
        case .failed: .instanceFailure
        default: nil
        }
    }

    /// Epoch seconds with milliseconds, as a string.
    static func time(_ date: Date?) -> String? {
        date.map { String(format: "%.3f", $0.timeIntervalSince1970) }
    }

    /// The `status` of a deployment message: the deployment status in capitals (`SUCCEEDED`, `IN_PROGRESS`).
    static func capitalised(_ status: CodeDeploy.DeploymentStatus) -> String { capitalised(status.rawValue) }

    /// `InProgress` as `IN_PROGRESS`.
    static func capitalised(_ status: String) -> String {
        var words = ""
        for character in status {
            if character.isUppercase && !words.isEmpty { words.append("_") }
            words.append(character)
        }
        return words.uppercased()
    }

    static func deploymentMessage(
        trigger: String, info: CodeDeploy.DeploymentInfo, region: String, accountID: String
    ) -> String {
        let overview = info.deploymentOverview
        var message: [String: JSONValue] = [
            "region": .string(region), "accountId": .string(accountID), "eventTriggerName": .string(trigger),
            "applicationName": .string(info.applicationName ?? ""), "deploymentId": .string(info.deploymentId ?? ""),
            "deploymentGroupName": .string(info.deploymentGroupName ?? ""),
            "status": .string(info.status.map(capitalised) ?? ""),
            "deploymentOverview": .object([
                "Failed": .string(String(overview?.failed ?? 0)),
                "InProgress": .string(String(overview?.inProgress ?? 0)),
                "Pending": .string(String(overview?.pending ?? 0)),
                "Skipped": .string(String(overview?.skipped ?? 0)),
                "Succeeded": .string(String(overview?.succeeded ?? 0)),
            ]),
        ]
        if let created = time(info.createTime) { message["createTime"] = .string(created) }
        if let completed = time(info.completeTime) { message["completeTime"] = .string(completed) }
        if let error = info.errorInformation {
            message["errorInformation"] = .object([
                "ErrorCode": .string(error.code?.rawValue ?? ""), "ErrorMessage": .string(error.message ?? ""),
            ])
        }
        return encode(message)
    }

    static func instanceMessage(
        trigger: String, deploymentId: String, target: CodeDeploy.InstanceTarget, instanceARN: String, region: String,
        accountID: String
    ) -> String {
        let events: [JSONValue] = (target.lifecycleEvents ?? []).map { event in
            var members: [String: JSONValue] = [
                "LifecycleEvent": .string(event.lifecycleEventName ?? ""),
                "LifecycleEventStatus": .string(event.status?.rawValue ?? ""),
            ]
            if let start = time(event.startTime) { members["StartTime"] = .string(start) }
            if let end = time(event.endTime) { members["EndTime"] = .string(end) }
            return .object(members)
        }
        var message: [String: JSONValue] = [
            "region": .string(region), "accountId": .string(accountID), "eventTriggerName": .string(trigger),
            "deploymentId": .string(deploymentId), "instanceId": .string(instanceARN),
            "instanceStatus": .string(target.status?.rawValue ?? ""), "lifecycleEvents": .array(events),
        ]
        if let updated = time(target.lastUpdatedAt) { message["lastUpdatedAt"] = .string(updated) }
        return encode(message)
    }

    /// Compact JSON with sorted keys: the same event gives the same bytes.
    private static func encode(_ value: [String: JSONValue]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(JSONValue.object(value))) ?? Data("{}".utf8), as: UTF8.self)
    }
}

extension DriverTransaction {
    /// Puts the notifications of what changed in deployment `deployment` since it was loaded into the outbox, for
    /// every trigger of its group that asks for them: deployment events first, then its hosts' in the order they
    /// changed, then the rollback it asked for.
    mutating func notifyTriggers(
        _ deployment: LoadedDeployment, changes: [HostStatusChange], statusBefore: CodeDeploy.DeploymentStatus?,
        rollbackBefore: String?
    ) throws {
        let info = deployment.record.info
        let status = info.status ?? .created
        let deploymentEvents = TriggerMessages.events(from: statusBefore ?? .created, to: status)
        let rolledBack = rollbackBefore == nil && deployment.machine.rollbackDeploymentId != nil
        guard let triggers = deployment.record.triggers, !triggers.isEmpty,
            !changes.isEmpty || !deploymentEvents.isEmpty || rolledBack
        else { return }
        let application = info.applicationName ?? ""
        let (region, accountID) = (settings.region, settings.accountID)
        let id = deployment.machine.deploymentId
        // Finished deployments report their end; the start of their hosts and of themselves came first.
        var events: [(CodeDeploy.TriggerEventType, HostStatusChange?)] = []
        let start = deploymentEvents.filter { $0 == .deploymentStart }
        events += start.map { ($0, nil) }
        events += changes.compactMap { change in TriggerMessages.event(of: change).map { ($0, change) } }
        events += deploymentEvents.filter { $0 != .deploymentStart }.map { ($0, nil) }
        if rolledBack { events.append((.deploymentRollback, nil)) }
        for (event, change) in events {
            for trigger in triggers where (trigger.triggerEvents ?? []).contains(event) {
                guard let topic = trigger.triggerTargetArn, let name = trigger.triggerName else { continue }
                let message: String
                let subject: String
                if let change, let host = deployment.machine.host(named: change.instanceName) {
                    message = TriggerMessages.instanceMessage(
                        trigger: name, deploymentId: id, target: host.instanceTarget(deploymentId: id),
                        instanceARN: "arn:aws:codedeploy:\(region):\(accountID):instance/\(change.instanceName)",
                        region: region, accountID: accountID)
                    subject =
                        "\(TriggerMessages.capitalised(change.to.rawValue)): AWS CodeDeploy \(id) in \(region) to \(application): "
                        + "instance \(change.instanceName)"
                } else {
                    message = TriggerMessages.deploymentMessage(
                        trigger: name, info: info, region: region, accountID: accountID)
                    let shown = event == .deploymentRollback ? "ROLLBACK" : TriggerMessages.capitalised(status)
                    subject = "\(shown): AWS CodeDeploy \(id) in \(region) to \(application)"
                }
                try NotificationOutbox.add(
                    OutboxMessage(topicArn: topic, subject: subject, message: message, createdAt: now), in: tx)
            }
        }
    }
}
