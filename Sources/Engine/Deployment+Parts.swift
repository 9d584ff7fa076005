import Foundation

/// A deployment in the parts a driver stores apart: the snapshot (written once), the progress (small, written on
/// every event) and one lifecycle per host (written when that host changes). A fleet of a thousand hosts then costs
/// a few small writes per event instead of rewriting every host.
extension Deployment {
    /// Everything of a deployment that is neither its snapshot nor its hosts.
    public struct Progress: Codable, Sendable, Hashable {
        let createTime: Date
        let startTime: Date?
        let completeTime: Date?
        let minimumHealthyHostCount: Int
        let rollbackRequest: RollbackRequest?
        let rollbackDeploymentId: String?
        let rollbackMessage: String?
        let phase: Phase
        let blueGreenStage: BlueGreenStage?
        let replacementShare: Int?
        let bake: Bake?
    }

    /// The deployment's progress, to store apart from its snapshot and hosts.
    public var progress: Progress {
        Progress(
            createTime: createTime, startTime: startTime, completeTime: completeTime,
            minimumHealthyHostCount: minimumHealthyHostCount, rollbackRequest: rollbackRequest,
            rollbackDeploymentId: rollbackDeploymentId, rollbackMessage: rollbackMessage, phase: phase,
            blueGreenStage: blueGreenStage, replacementShare: replacementShare, bake: bake)
    }

    /// Reassembles a deployment stored in parts; `hosts` in the order of ``hosts`` when it was stored.
    public init(snapshot: DeploymentSnapshot, progress: Progress, hosts: [HostLifecycle]) {
        self.snapshot = snapshot
        self.hosts = hosts
        self.createTime = progress.createTime
        self.startTime = progress.startTime
        self.completeTime = progress.completeTime
        self.minimumHealthyHostCount = progress.minimumHealthyHostCount
        self.rollbackRequest = progress.rollbackRequest
        self.rollbackDeploymentId = progress.rollbackDeploymentId
        self.rollbackMessage = progress.rollbackMessage
        self.phase = progress.phase
        self.blueGreenStage = progress.blueGreenStage
        self.replacementShare = progress.replacementShare
        self.bake = progress.bake
        self.index = FleetIndex(hosts, saved: true)
    }
}

extension Deployment.Progress {
    /// The share of requests, in percent, that a blue/green deployment with a traffic split sends to its replacement
    /// hosts now; `nil` before its first shift and without a split.
    public var replacementTrafficPercent: Int? { replacementShare }
}
