import Engine
import Foundation
import Synchronization

// The rule: the store is the source of truth, and a cached deployment is used only while it is the stored one.
//
// Every save of a deployment stores a new state token (`deploymentState`) and installs the saved deployment here
// with that token. A transaction reads the stored token and uses the entry only if the tokens match; otherwise it
// decodes the deployment from the store. A transaction installs what it saves before it commits: if it rolls back
// instead, the entry's token is one no stored record has, so it is never used. A transaction that will change a
// deployment takes its entry out (`taking`), so that it holds the only copy and changes it in place; it puts it back
// when it saves, or when it leaves it unchanged.

/// What never changes about a deployment once created, for the command API's checks and answers without a read.
package struct DeploymentFacts: Sendable {
    package var deploymentGroupId: String
    /// The specification as agents fetch it, encoded with sorted keys for signing.
    package var specificationJSON: Data
    /// The host identifier of each instance.
    package var hostIdentifiers: [String: String]
    /// The instance of each host identifier.
    package var instances: [String: String]
}

/// Decoded deployments by id, so that an event on a deployment of a thousand hosts reads one small record instead of
/// decoding the deployment and its hosts.
package final class DeploymentCache: Sendable {
    private let entries = Mutex<[String: LoadedDeployment]>([:])
    private let facts = Mutex<[String: DeploymentFacts]>([:])
    /// Entries kept at most; beyond, arbitrary ones are dropped (they are reloaded when needed).
    let capacity: Int

    package init(capacity: Int = 256) {
        self.capacity = capacity
    }

    /// The cached deployment `id` if `token` is its stored state token. `taking` removes the entry, for a
    /// transaction about to change the deployment: it then holds the only copy and changes it in place instead of
    /// copying every host. It installs the deployment again when it saves (or leaves it unchanged); if it rolls back
    /// instead, the deployment is decoded from the store next time.
    func deployment(_ id: String, token: String, taking: Bool = false) -> LoadedDeployment? {
        entries.withLock { entries in
            guard let entry = entries[id], entry.token == token else { return nil }
            if taking { entries[id] = nil }
            return entry
        }
    }

    /// Keeps `deployment`, whose `token` is the one the current transaction stored.
    func install(_ deployment: LoadedDeployment) {
        if facts.withLock({ $0[deployment.id] == nil }), let new = try? Self.facts(of: deployment) {
            facts.withLock { facts in
                if facts.count >= capacity, let victim = facts.keys.first { facts[victim] = nil }
                facts[deployment.id] = new
            }
        }
        entries.withLock { entries in
            if deployment.machine.isFinished || deployment.token == nil {
                entries[deployment.id] = nil
            } else {
                if entries.count >= capacity, entries[deployment.id] == nil, let victim = entries.keys.first {
                    entries[victim] = nil
                }
                entries[deployment.id] = deployment
            }
        }
    }

    /// The unchanging facts of deployment `id`, once a transaction saved it since the server started.
    package func facts(_ id: String) -> DeploymentFacts? {
        facts.withLock { $0[id] }
    }

    private static func facts(of deployment: LoadedDeployment) throws -> DeploymentFacts {
        let targets = deployment.machine.snapshot.targets
        return DeploymentFacts(
            deploymentGroupId: deployment.record.deploymentGroupId,
            specificationJSON: try deployment.record.specificationText(),
            hostIdentifiers: Dictionary(targets.map { ($0.instanceName, $0.hostIdentifier) }) { first, _ in first },
            instances: Dictionary(targets.map { ($0.hostIdentifier, $0.instanceName) }) { first, _ in first })
    }
}
