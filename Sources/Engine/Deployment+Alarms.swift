import Foundation
import SlipwayModel

/// The alarms a deployment watches: the enabled `alarmConfiguration` of its group, or its
/// `overrideAlarmConfiguration`.
///
/// The engine does not read alarms. Its driver polls the alarm sources for ``Deployment/watchedAlarms`` and reports
/// what it found: ``Deployment/alarmsRaised(_:now:)`` or ``Deployment/alarmsUnreadable(_:now:)``.
public struct AlarmWatch: Codable, Sendable, Hashable {
    /// The alarm names, at most 10.
    public var alarmNames: [String]
    /// `ignorePollAlarmFailure`: whether the deployment goes on when the alarms' state cannot be read.
    public var ignorePollFailure: Bool

    /// A watch.
    public init(alarmNames: [String], ignorePollFailure: Bool) {
        self.alarmNames = alarmNames
        self.ignorePollFailure = ignorePollFailure
    }
}

/// Where an in-place deployment with a bake time is between its batches: after a batch in which hosts succeeded,
/// it starts no host (and does not succeed) before `until`, watching its alarms meanwhile.
struct Bake: Codable, Sendable, Hashable {
    /// The end of the wait under way; `nil` between waits.
    var until: Date?
    /// How many hosts had succeeded when the last wait began: a batch that adds none is not waited after.
    var succeededHosts: Int
}

extension Deployment {
    /// The alarms to watch now: the snapshot's, from the deployment's start until it ends (its blue/green waits and
    /// bake times included). A rollback watches none: the alarm that stopped the deployment it rolls back is most
    /// likely still in ALARM, and would stop the rollback too.
    public var watchedAlarms: [String] {
        guard case .running = phase, snapshot.rollbackOf == nil, let watch = snapshot.alarms else { return [] }
        return watch.alarmNames
    }

    /// The alarm source reports `names` (of ``watchedAlarms``) in ALARM: the deployment stops with `ALARM_ACTIVE`,
    /// and rolls back if `DEPLOYMENT_STOP_ON_ALARM` is among its automatic rollback events. A blue/green deployment
    /// sends the traffic that moved back to its original hosts first.
    public mutating func alarmsRaised(_ names: [String], now: Date) -> [DeploymentAction] {
        let watched = Set(watchedAlarms)
        let raised = names.filter { watched.contains($0) }
        guard !raised.isEmpty else { return [] }
        let list = raised.sorted().joined(separator: ", ")
        let message =
            raised.count == 1
            ? "The deployment was stopped because the alarm \(list) is in ALARM."
            : "The deployment was stopped because the alarms \(list) are in ALARM."
        return stopForAlarms(message, now: now)
    }

    /// The state of ``watchedAlarms`` could not be read (`reason` says why): the deployment stops with `ALARM_ACTIVE`
    /// (and rolls back as for an alarm) unless it ignores poll failures (`ignorePollAlarmFailure`).
    public mutating func alarmsUnreadable(_ reason: String, now: Date) -> [DeploymentAction] {
        guard !watchedAlarms.isEmpty, snapshot.alarms?.ignorePollFailure == false else { return [] }
        return stopForAlarms(
            "The deployment was stopped because the state of its alarms could not be read (\(reason)); set "
                + "ignorePollAlarmFailure to let deployments go on when that happens.", now: now)
    }

    private mutating func stopForAlarms(_ message: String, now: Date) -> [DeploymentAction] {
        let request = StopRequest(
            requestedAt: now, rollBack: snapshot.rollsBack(on: .deploymentStopOnAlarm),
            information: CodeDeploy.ErrorInformation(code: .alarmActive, message: message))
        return stop(request, now: now)
    }

    /// With a bake time, whether an in-place deployment holds its hosts now: mid-batch (hosts still run, so no new
    /// host starts), or waiting after a batch in which hosts succeeded. Starts that wait when a batch has just ended.
    mutating func bakeHolds(now: Date) -> Bool {
        guard let time = snapshot.bakeTime, time > 0 else { return false }
        var bake = self.bake ?? Bake(until: nil, succeededHosts: 0)
        defer { self.bake = bake }
        if let until = bake.until {
            guard until <= now else { return true }
            bake.until = nil
        }
        let tally = index.tally
        if tally.inFlight > 0 { return true }
        guard tally.succeeded > bake.succeededHosts else { return false }
        bake.succeededHosts = tally.succeeded
        bake.until = now + time
        return true
    }

    /// The end of the bake wait under way, if any.
    var bakeDeadline: Date? {
        guard case .running = phase else { return nil }
        return bake?.until
    }

    /// The status message of a bake wait under way.
    var bakeMessages: [String] {
        guard case .running = phase else { return [] }
        let until: Date
        switch (bake?.until, blueGreenStage) {
        case (let date?, _): until = date
        case (_, .baking(let date)?): until = date
        default: return []
        }
        let alarms = watchedAlarms
        let watching =
            alarms.isEmpty ? "" : " watching the alarm\(alarms.count == 1 ? "" : "s") \(alarms.joined(separator: ", "))"
        return ["Baking:\(watching) until \(until.formatted(.iso8601)) before going on."]
    }
}

/// A host whose status changed: what triggers report as instance events.
public struct HostStatusChange: Sendable, Hashable {
    public var instanceName: String
    public var from: CodeDeploy.TargetStatus
    public var to: CodeDeploy.TargetStatus
}

extension Deployment {
    /// The hosts whose status changed since the deployment was created, decoded or reassembled, or since the last
    /// call, in the order they changed; forgets them. Not stored: the driver takes them after each event.
    public mutating func takeStatusChanges() -> [HostStatusChange] {
        index.takeStatusChanges().map { change in
            HostStatusChange(
                instanceName: hosts[change.position].instanceName, from: change.from, to: hosts[change.position].status)
        }
    }
}
