import Engine

/// Why the Deployments module refused a request, in its own terms. The API layer maps each case to its wire error
/// (the server's `DeploymentError.awsError`).
package enum DeploymentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No deployment has this id.
    case deploymentDoesNotExist(String)
    /// The deployment has ended, so it cannot be stopped.
    case deploymentAlreadyCompleted(String)
    /// No predefined or custom deployment configuration has this name.
    case deploymentConfigDoesNotExist(String)
    /// The named configuration has no minimum healthy hosts: it is for another compute platform.
    case deploymentConfigNotForServer(String)
    /// The named deployment group selects its targets by both tag filters and a tag set.
    case ambiguousTargetSelection(group: String)
    /// The revision is neither in S3 nor on GitHub, the only revisions of Server deployments.
    case revisionNotForServer
    /// ContinueDeployment (or SkipWaitTimeForInstanceTermination) for a deployment not waiting for it.
    case cannotContinue(String, ContinueRefusal)
    /// A blue/green deployment's replacement instances, as its `targetInstances` select them, cannot be used.
    case invalidTargetInstances(String)
    /// The deployment configuration shifts traffic (canary, linear), which needs a blue/green group with a traffic
    /// split; the message says what is missing.
    case trafficRoutingNotPossible(String)

    package var description: String {
        switch self {
        case .deploymentDoesNotExist(let id): "no deployment \(id)"
        case .deploymentAlreadyCompleted(let id): "deployment \(id) has already completed"
        case .deploymentConfigDoesNotExist(let name): "no deployment configuration \(name)"
        case .deploymentConfigNotForServer(let name): "deployment configuration \(name) is not for Server deployments"
        case .ambiguousTargetSelection(let group): "deployment group \(group) has both tag filters and a tag set"
        case .revisionNotForServer: "the revision is neither in S3 nor on GitHub"
        case .cannotContinue(let id, let refusal): "deployment \(id) cannot be continued: \(refusal)"
        case .invalidTargetInstances(let message): message
        case .trafficRoutingNotPossible(let message): message
        }
    }
}
