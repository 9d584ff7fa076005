import Engine
import Foundation
import SlipwayModel
import Store

extension RecordKind {
    /// Deployments by id (scope ""): a ``DeploymentRecord``.
    static let deployment = RecordKind(rawValue: "deployment")
    /// Deployments not yet ended, by id (scope ""): their next deadline, for the timer and for a restart.
    static let liveDeployment = RecordKind(rawValue: "liveDeployment")
    /// The in-progress and queued deployments of a deployment group (scope: application, name: group).
    static let groupQueue = RecordKind(rawValue: "groupQueue")
    /// Commands offered to a host and not yet handed out (scope: host identifier, name: command identifier).
    static let offeredCommand = RecordKind(rawValue: "offeredCommand")
    /// The command a host is running (scope "", name: host identifier): the next is handed out only after it.
    static let hostBusy = RecordKind(rawValue: "hostBusy")
    /// What Slipway last heard from a host's agent (scope "", name: host identifier).
    static let hostAgent = RecordKind(rawValue: "hostAgent")
    /// An instance's state within a deployment group (scope: deployment group id, name: instance name).
    static let instanceGroupState = RecordKind(rawValue: "instanceGroupState")
}

/// A deployment as stored: what `CreateDeployment` fixed, and the engine's state machine.
struct DeploymentRecord: Codable, Sendable {
    /// The fixed parts of `DeploymentInfo`; the moving parts (status, times, overview, …) come from `machine`.
    var info: CodeDeploy.DeploymentInfo
    var machine: Deployment
    var deploymentGroupId: String
    /// The document agents fetch with `GetDeploymentSpecification`.
    var specification: DeploymentSpecificationDocument

    var id: String { machine.deploymentId }

    /// `DeploymentInfo` as the API shows it now.
    var deploymentInfo: CodeDeploy.DeploymentInfo {
        var info = self.info
        info.status = machine.status
        info.startTime = machine.startTime
        info.completeTime = machine.completeTime
        info.deploymentOverview = machine.overview
        info.errorInformation = machine.errorInformation
        info.rollbackInfo = machine.rollbackInfo
        let messages = machine.statusMessages
        info.deploymentStatusMessages = messages
        return info
    }
}

/// The deployment a group is running and those waiting behind it, oldest first.
struct GroupQueue: Codable, Sendable {
    var active: String?
    var waiting: [String]
}

/// A command waiting for its host to poll.
struct OfferedCommandRecord: Codable, Sendable {
    var deploymentId: String
    var commandName: String
    var offeredAt: Date
}

/// The command a host holds.
struct HostBusyRecord: Codable, Sendable {
    var commandId: String
    var since: Date
}

/// The last poll of a host's agent.
struct HostAgentRecord: Codable, Sendable {
    var agentVersion: String?
    var lastPollTime: Date
}

/// A deployment not yet ended.
struct LiveDeploymentRecord: Codable, Sendable {
    var nextDeadline: Date?
}

/// An instance's history in one deployment group: the basis of instance and revision health.
struct InstanceGroupState: Codable, Sendable {
    /// Whether the last deployment that changed the instance succeeded on it.
    var lastDeploymentSucceeded: Bool
    /// The revision (``RevisionKey``) it last received successfully.
    var revisionKey: String?
}

extension StoreReader {
    func deployment(_ id: String) throws -> DeploymentRecord? {
        try get(DeploymentRecord.self, .deployment, name: id)
    }

    /// The deployment, or `DeploymentDoesNotExistException`.
    func existingDeployment(_ id: String) throws -> DeploymentRecord {
        guard let record = try deployment(id) else {
            throw AWSJSONError(.deploymentDoesNotExistException, "The deployment \(id) could not be found.")
        }
        return record
    }
}
