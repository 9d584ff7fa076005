import Engine
import Foundation
import SlipwayModel
import Store

extension RecordKind {
    /// Deployments by id (scope ""): a ``DeploymentRecord``, rewritten when an event changes what it shows.
    package static let deployment = RecordKind(rawValue: "deployment")
    /// The state token of a deployment (scope "", name: id), drawn anew on every save of its record or hosts: it
    /// names the stored state, so that ``DeploymentCache`` uses a decoded deployment only for that state.
    package static let deploymentState = RecordKind(rawValue: "deploymentState")
    /// The engine snapshot of a deployment (scope "", name: id), written once.
    package static let deploymentSnapshot = RecordKind(rawValue: "deploymentSnapshot")
    /// The hosts of a deployment (scope: deployment id, name: instance name): a ``StoredHost``.
    package static let deploymentHost = RecordKind(rawValue: "deploymentHost")
    /// The instance name of each host identifier of a deployment (scope: deployment id, name: host identifier).
    package static let deploymentHostIdentifier = RecordKind(rawValue: "deploymentHostIdentifier")
    /// Deployments not yet ended, by id (scope ""): their next deadline, for the timer and for a restart.
    package static let liveDeployment = RecordKind(rawValue: "liveDeployment")
    /// The in-progress and queued deployments of a deployment group (scope "", name: deployment group id, which a
    /// rename does not change).
    package static let groupQueue = RecordKind(rawValue: "groupQueue")
    /// How a host's commands reach it (scope "", name: host identifier): a ``HostCommandDelivery`` while the host has
    /// a command offered or holds one.
    package static let commandDelivery = RecordKind(rawValue: "commandDelivery")
    /// An instance's state within a deployment group (scope: deployment group id, name: instance name).
    package static let instanceGroupState = RecordKind(rawValue: "instanceGroupState")
    /// The instances a blue/green deployment group's next deployment replaces (scope "", name: deployment group id):
    /// a ``BlueGreenFleet``, written when a blue/green deployment succeeds.
    package static let blueGreenFleet = RecordKind(rawValue: "blueGreenFleet")
}

/// The original (blue) fleet of a blue/green deployment group's next deployment: the replacement hosts that took the
/// traffic in its last successful one. Before the first, the group's tag filters select the original hosts.
package struct BlueGreenFleet: Codable, Sendable, Hashable {
    package var instanceNames: [String]
    /// The deployment that made them the fleet.
    package var deploymentId: String
    /// With a traffic split, the backend of the pair they serve in: the next deployment readies its replacement
    /// hosts in the other.
    package var backend: String?

    package init(instanceNames: [String], deploymentId: String, backend: String? = nil) {
        self.instanceNames = instanceNames
        self.deploymentId = deploymentId
        self.backend = backend
    }
}

/// A deployment as the API shows it, with the engine's progress; its snapshot and hosts are stored apart (see
/// ``Deployment/Progress``).
///
/// It is rewritten whenever an event changes what it shows (on a large fleet, thousands of times), so it writes
/// itself (``writeJSON(to:)``) in the form the synthesized `Codable` conformance reads.
package struct DeploymentRecord: Codable, Sendable, JSONWritable {
    /// `DeploymentInfo` as of the last event: status, times, overview and rollback links included.
    package var info: CodeDeploy.DeploymentInfo
    package var progress: Deployment.Progress
    package var deploymentGroupId: String
    /// The document agents fetch with `GetDeploymentSpecification`.
    package var specification: DeploymentSpecificationDocument {
        didSet { specificationJSON = nil }
    }
    /// `specification` as signed JSON (sorted keys), once made: it does not change after creation, and it is both
    /// what agents fetch and the member of every rewrite of the record.
    private(set) var specificationJSON: Data?
    /// The group's `triggerConfigurations` when the deployment was created (nil: none), for its notifications:
    /// like the rest of the group, a later change does not reach a deployment under way.
    package var triggers: [CodeDeploy.TriggerConfig]?
    /// Who asked for the deployment (``DeploymentPlan/createdBy``); `nil` for a rollback and for deployments made
    /// before Slipway kept it.
    package var createdBy: String?

    private enum CodingKeys: String, CodingKey {
        case info, progress, deploymentGroupId, specification, triggers, createdBy
    }

    package init(
        info: CodeDeploy.DeploymentInfo, progress: Deployment.Progress, deploymentGroupId: String,
        specification: DeploymentSpecificationDocument
    ) {
        self.info = info
        self.progress = progress
        self.deploymentGroupId = deploymentGroupId
        self.specification = specification
    }

    package var id: String { info.deploymentId ?? "" }

    /// The specification as agents fetch it.
    package func specificationText() throws -> Data {
        try specificationJSON ?? JSONEncoder.sortedKeys.encode(specification)
    }

    /// Keeps ``specificationText()`` with the record, for its later rewrites.
    package mutating func keepSpecificationText() throws {
        if specificationJSON == nil { specificationJSON = try specificationText() }
    }

    package func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("info", info, in: &object)
        output.member("progress", progress, in: &object)
        output.member("deploymentGroupId", deploymentGroupId, in: &object)
        output.member("triggers", triggers, in: &object)
        output.member("createdBy", createdBy, in: &object)
        // Kept by `keepSpecificationText()` before a save; encoding a struct of strings does not fail.
        if let json = try? specificationText() {
            output.member("specification", rawJSON: json, in: &object)
        }
        output.endObject(object)
    }

    /// Brings `info` and `progress` up to `machine`: the one place a record takes in the engine's side of its
    /// `DeploymentInfo` (status, times, overview, errors, rollback links). Returns whether either changed.
    @discardableResult
    package mutating func show(_ machine: Deployment) -> Bool {
        let info = machine.deploymentInfo(self.info)
        let progress = machine.progress
        guard info != self.info || progress != self.progress else { return false }
        self.info = info
        self.progress = progress
        return true
    }

    /// Whether the deployment has ended.
    package var isFinished: Bool {
        switch info.status {
        case .succeeded?, .failed?, .stopped?: true
        default: false
        }
    }
}

extension JSONEncoder {
    /// An encoder with stable key order, for documents that are signed.
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// One host of a deployment as stored, with its place in the deployment's scheduling order.
package struct StoredHost: Codable, Sendable, JSONWritable {
    var index: Int
    var host: HostLifecycle

    /// The synthesized `Encodable` form, written directly (see the Engine's `JSONWriters.swift`).
    package func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("index", index, in: &object)
        output.member("host", host, in: &object)
        output.endObject(object)
    }
}

/// A deployment with its engine state, as a transaction works on it.
package struct LoadedDeployment: Sendable {
    package var record: DeploymentRecord
    package var machine: Deployment
    /// The state token stored with this state (``RecordKind/deploymentState``), when this is the stored state.
    var token: String? = nil

    package var id: String { machine.deploymentId }
}

/// The deployments a group is running and those waiting behind it, oldest first, and where the group is now: its
/// deployments keep the names it had when they were created, and a rename must not leave them behind.
package struct GroupQueue: Codable, Sendable {
    package var active: String?
    package var waiting: [String]
    /// The group's application and name, moved by renames.
    package var application: String
    package var group: String
}

extension StoreReader {
    /// The deployments of deployment group `groupId` running and waiting, if any.
    package func groupQueue(_ groupId: String) throws -> GroupQueue? {
        try get(GroupQueue.self, .groupQueue, name: groupId)
    }
}

extension StoreWriter {
    /// Deployment group `groupId` is now `group` of `application` (a rename of either): its deployments follow it.
    package func moveGroupQueue(of groupId: String, toApplication application: String, group: String) throws {
        guard var queue = try groupQueue(groupId) else { return }
        queue.application = application
        queue.group = group
        try set(queue, .groupQueue, name: groupId)
    }
}

/// A deployment not yet ended. Written whenever its next deadline moves, so, like the model's shapes, it reads and
/// writes itself, in the form its synthesized `Codable` conformance reads and writes.
package struct LiveDeploymentRecord: Codable, Sendable, Hashable, JSONReadable, JSONWritable {
    var nextDeadline: Date?
    /// The alarms the deployment watches now (see ``Deployment/watchedAlarms``), for the alarm watcher; `nil` when
    /// none.
    var watchedAlarms: [String]?

    init(nextDeadline: Date?, watchedAlarms: [String]? = nil) {
        self.nextDeadline = nextDeadline
        self.watchedAlarms = watchedAlarms
    }

    /// The record of `machine` as it is now.
    init(_ machine: Deployment) {
        let alarms = machine.watchedAlarms
        self.init(nextDeadline: machine.nextDeadline, watchedAlarms: alarms.isEmpty ? nil : alarms)
    }

    package init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(nextDeadline: try members.value("nextDeadline"), watchedAlarms: try members.value("watchedAlarms"))
    }

    package func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("nextDeadline", nextDeadline, in: &object)
        output.member("watchedAlarms", watchedAlarms, in: &object)
        output.endObject(object)
    }
}

/// An instance's history in one deployment group: the basis of instance and revision health.
package struct InstanceGroupState: Codable, Sendable {
    /// Whether the last deployment that changed the instance succeeded on it.
    package var lastDeploymentSucceeded: Bool
    /// The revision (``RevisionKey``) it last received successfully.
    var revisionKey: String?
    /// That deployment and when it ended (kept since the console shows them; absent in older records).
    package var lastDeploymentId: String?
    package var lastDeploymentTime: Date?
}

extension StoreReader {
    package func deployment(_ id: String) throws -> DeploymentRecord? {
        try get(DeploymentRecord.self, .deployment, name: id)
    }

    /// The deployment, or ``DeploymentError/deploymentDoesNotExist(_:)``.
    package func existingDeployment(_ id: String) throws -> DeploymentRecord {
        guard let record = try deployment(id) else { throw DeploymentError.deploymentDoesNotExist(id) }
        return record
    }

    /// One host of a deployment.
    package func deploymentHost(_ id: String, instanceName: String) throws -> HostLifecycle? {
        try get(StoredHost.self, .deploymentHost, scope: id, name: instanceName)?.host
    }

    /// The hosts of a deployment in scheduling order.
    package func deploymentHosts(_ id: String) throws -> [HostLifecycle] {
        try list(StoredHost.self, .deploymentHost, scope: id).map(\.value).sorted { $0.index < $1.index }.map(\.host)
    }

    /// How `host`'s commands reach it; `nil` when it has none offered and holds none.
    package func commandDelivery(of host: String) throws -> HostCommandDelivery? {
        try get(HostCommandDelivery.self, .commandDelivery, name: host)
    }

    /// The command a host was handed and has not completed, if any.
    package func heldCommand(of host: String) throws -> HostCommandID? {
        try commandDelivery(of: host)?.held?.id
    }

    /// The instance a host identifier stands for in a deployment, if it is one of its hosts.
    package func deploymentInstance(_ id: String, hostIdentifier: String) throws -> String? {
        try get(String.self, .deploymentHostIdentifier, scope: id, name: hostIdentifier)
    }

    /// A deployment with its engine state: from the cache when it holds the stored state.
    func loadDeployment(_ id: String, cache: DeploymentCache, taking: Bool = false) throws -> LoadedDeployment? {
        let token = try record(.deploymentState, scope: "", name: id).map {
            String(decoding: $0.document, as: UTF8.self)
        }
        if let token, let cached = cache.deployment(id, token: token, taking: taking) { return cached }
        guard let stored = try record(.deployment, scope: "", name: id) else { return nil }
        let record = try RecordCoding.decode(DeploymentRecord.self, from: stored)
        guard let snapshot = try get(DeploymentSnapshot.self, .deploymentSnapshot, name: id) else {
            throw StoreError("the deployment \(id) has no stored snapshot")
        }
        let machine = Deployment(snapshot: snapshot, progress: record.progress, hosts: try deploymentHosts(id))
        return LoadedDeployment(record: record, machine: machine, token: token)
    }
}
