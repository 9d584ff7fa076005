import Engine
import Foundation
import SlipwayModel
import Store
import Synchronization

extension RecordKind {
    /// Deployments by id (scope ""): a ``DeploymentRecord``, rewritten on every event.
    static let deployment = RecordKind(rawValue: "deployment")
    /// The engine snapshot of a deployment (scope "", name: id), written once.
    static let deploymentSnapshot = RecordKind(rawValue: "deploymentSnapshot")
    /// The hosts of a deployment (scope: deployment id, name: instance name): a ``StoredHost``.
    static let deploymentHost = RecordKind(rawValue: "deploymentHost")
    /// The instance name of each host identifier of a deployment (scope: deployment id, name: host identifier).
    static let deploymentHostIdentifier = RecordKind(rawValue: "deploymentHostIdentifier")
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
    /// The full log of one lifecycle event on one host, as its agent uploaded it (scope: deployment id, name:
    /// `<instance name>/<event>`): a ``LifecycleEventLogRecord``.
    static let lifecycleEventLog = RecordKind(rawValue: "lifecycleEventLog")
}

/// The full log of a lifecycle event on one host (`PutHostCommandLog`); the latest attempt's upload wins.
struct LifecycleEventLogRecord: Codable, Sendable {
    var log: String
    var uploadTime: Date
}

/// A deployment as the API shows it, with the engine's progress; its snapshot and hosts are stored apart (see
/// ``Deployment/Progress``).
struct DeploymentRecord: Codable, Sendable {
    /// `DeploymentInfo` as of the last event: status, times, overview and rollback links included.
    var info: CodeDeploy.DeploymentInfo
    var progress: Deployment.Progress
    var deploymentGroupId: String
    /// The document agents fetch with `GetDeploymentSpecification`.
    var specification: DeploymentSpecificationDocument
    /// Drawn anew on every save: names the stored state, so a cached decoding of it is used only for that state
    /// (a transaction that rolls back leaves a token that no stored record has).
    var stateToken: String = UUID().uuidString

    var id: String { info.deploymentId ?? "" }

    /// Whether the deployment has ended.
    var isFinished: Bool {
        switch info.status {
        case .succeeded?, .failed?, .stopped?: true
        default: false
        }
    }
}

/// One host of a deployment as stored, with its place in the deployment's scheduling order.
struct StoredHost: Codable, Sendable {
    var index: Int
    var host: HostLifecycle
}

/// A deployment with its engine state, as a transaction works on it.
struct LoadedDeployment: Sendable {
    var record: DeploymentRecord
    var machine: Deployment

    var id: String { machine.deploymentId }
}

/// Decoded deployments by id, with the state token of their stored record: an event on a deployment of a thousand
/// hosts then decodes one small record instead of every host. The store stays the source of truth: an entry is used
/// only while its token is the stored one. Transactions install entries as they save, before they commit; one that
/// rolls back leaves an entry whose token no stored record carries, which is never used.
final class DeploymentCache: Sendable {
    private let entries = Mutex<[String: (token: String, machine: Deployment)]>([:])
    /// Entries kept at most; beyond, arbitrary ones are dropped (they are reloaded when needed).
    let capacity: Int

    init(capacity: Int = 256) {
        self.capacity = capacity
    }

    func machine(_ id: String, token: String) -> Deployment? {
        entries.withLock { entries in
            guard let entry = entries[id], entry.token == token else { return nil }
            return entry.machine
        }
    }

    func install(_ deployment: LoadedDeployment) {
        entries.withLock { entries in
            if deployment.machine.isFinished {
                entries[deployment.id] = nil
            } else {
                if entries.count >= capacity, entries[deployment.id] == nil, let victim = entries.keys.first {
                    entries[victim] = nil
                }
                entries[deployment.id] = (deployment.record.stateToken, deployment.machine)
            }
        }
    }
}

/// The deployments a group is running and those waiting behind it, oldest first.
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

    /// One host of a deployment.
    func deploymentHost(_ id: String, instanceName: String) throws -> HostLifecycle? {
        try get(StoredHost.self, .deploymentHost, scope: id, name: instanceName)?.host
    }

    /// The hosts of a deployment in scheduling order.
    func deploymentHosts(_ id: String) throws -> [HostLifecycle] {
        try list(StoredHost.self, .deploymentHost, scope: id).map(\.value).sorted { $0.index < $1.index }.map(\.host)
    }

    /// The instance a host identifier stands for in a deployment, if it is one of its hosts.
    func deploymentInstance(_ id: String, hostIdentifier: String) throws -> String? {
        try get(String.self, .deploymentHostIdentifier, scope: id, name: hostIdentifier)
    }

    /// A deployment with its engine state: from the cache when it holds the stored state.
    func loadDeployment(_ id: String, cache: DeploymentCache) throws -> LoadedDeployment? {
        guard let record = try deployment(id) else { return nil }
        if let machine = cache.machine(id, token: record.stateToken) {
            return LoadedDeployment(record: record, machine: machine)
        }
        guard let snapshot = try get(DeploymentSnapshot.self, .deploymentSnapshot, name: id) else {
            throw StoreError("the deployment \(id) has no stored snapshot")
        }
        let machine = Deployment(snapshot: snapshot, progress: record.progress, hosts: try deploymentHosts(id))
        return LoadedDeployment(record: record, machine: machine)
    }
}
