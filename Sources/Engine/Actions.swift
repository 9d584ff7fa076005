import Foundation
import SlipwayModel

/// What the engine asks its driver to do. The driver stores the new state and these actions in one transaction,
/// then performs them.
public enum DeploymentAction: Codable, Sendable, Hashable {
    /// Make a command available to a host: store it and wake that host's long poll. Deliver it once.
    case offerCommand(HostCommand)
    /// Take back an offered command that was not acknowledged (its host timed out, or the deployment stopped).
    /// A later acknowledgement of it is answered `Failed`.
    case withdrawCommand(HostCommandID)
    /// The command the host ran has ended (reported or timed out): the host may be handed its next command.
    case releaseHost(HostCommandID)
    /// Perform a load-balancer event for a host, then report it with ``Deployment/trafficCompleted(_:_:now:)``.
    case performTraffic(TrafficRequest)
    /// The deployment is over.
    case finish(DeploymentOutcome)
    /// Create the automatic rollback deployment, then record it with ``Deployment/recordRollback(deploymentId:message:)``.
    case requestRollback(RollbackRequest)
    /// A blue/green deployment succeeded: its replacement hosts become the deployment group's fleet, and its
    /// original hosts leave it (and are deregistered, for `TERMINATE`).
    case replaceFleet(FleetReplacement)
    /// Change the share of requests the load balancer sends to the replacement backend, at once, then report it
    /// with ``Deployment/routeCompleted(_:_:now:)``.
    case routeTraffic(TrafficRoute)
}

/// A change of a blue/green deployment's traffic split.
public struct TrafficRoute: Codable, Sendable, Hashable {
    /// The deployment.
    public var deploymentId: String
    /// Which change: the step of the plan, or ``TrafficRoute/restoreStep`` for sending everything back.
    public var step: Int
    /// The map, the backends and the replacement backend's new share.
    public var map: String
    public var originalBackend: String
    public var replacementBackend: String
    public var replacementPercent: Int

    /// A route.
    public init(
        deploymentId: String, step: Int, map: String, originalBackend: String, replacementBackend: String,
        replacementPercent: Int
    ) {
        self.deploymentId = deploymentId
        self.step = step
        self.map = map
        self.originalBackend = originalBackend
        self.replacementBackend = replacementBackend
        self.replacementPercent = replacementPercent
    }

    /// The step of a route that sends all traffic back to the original backend after a failure or stop.
    public static let restoreStep = -1
}

/// A command for one host: one lifecycle event the agent runs.
public struct HostCommand: Codable, Sendable, Hashable {
    /// The `HostCommandIdentifier`.
    public var id: HostCommandID
    /// The `HostIdentifier` the command is for (the host's IAM ARN).
    public var hostIdentifier: String
    /// When the command was offered.
    public var offeredAt: Date

    /// A command.
    public init(id: HostCommandID, hostIdentifier: String, offeredAt: Date) {
        self.id = id
        self.hostIdentifier = hostIdentifier
        self.offeredAt = offeredAt
    }

    /// The on-premises instance the command is for.
    public var instanceName: String { id.instanceName }
    /// The `CommandName`: the lifecycle event's name.
    public var commandName: String { id.event.rawValue }
}

/// A load-balancer event the server performs for a host (`BlockTraffic` or `AllowTraffic`); the agent never runs
/// these.
public struct TrafficRequest: Codable, Sendable, Hashable {
    /// Identifies the request when it is reported back; shaped like a host command's.
    public var id: HostCommandID
    /// The host's `HostIdentifier`.
    public var hostIdentifier: String
    /// The load balancer's names for the backends to change (the deployment group's load balancer info).
    public var loadBalancerNames: [String]
    /// The host's server in those backends.
    public var serverName: String

    /// A traffic request.
    public init(id: HostCommandID, hostIdentifier: String, loadBalancerNames: [String] = [], serverName: String? = nil)
    {
        self.id = id
        self.hostIdentifier = hostIdentifier
        self.loadBalancerNames = loadBalancerNames
        self.serverName = serverName ?? id.instanceName
    }

    /// The on-premises instance.
    public var instanceName: String { id.instanceName }
    /// `.blockTraffic` or `.allowTraffic`.
    public var event: LifecycleEvent { id.event }
}

/// How a traffic request ended.
public enum TrafficResult: Codable, Sendable, Hashable {
    /// The host is (de)registered.
    case succeeded
    /// It could not be; `message` becomes the event's diagnostics.
    case failed(message: String)
    /// There was no traffic to change (the group's load balancer is not one Slipway drives); the event succeeds with
    /// `message` as its diagnostics, so that nobody takes it for a host taken out of service.
    case notPerformed(message: String)
}

/// How a deployment ended.
public enum DeploymentOutcome: Codable, Sendable, Hashable {
    /// At least `max(m, 1)` hosts succeeded.
    case succeeded
    /// The deployment failed, with its `errorInformation`.
    case failed(CodeDeploy.ErrorInformation)
    /// The deployment stopped (`MANUAL_STOP`).
    case stopped(CodeDeploy.ErrorInformation)

    /// The deployment status this outcome shows as.
    public var status: CodeDeploy.DeploymentStatus {
        switch self {
        case .succeeded: .succeeded
        case .failed: .failed
        case .stopped: .stopped
        }
    }

    /// The `errorInformation` of the deployment.
    public var errorInformation: CodeDeploy.ErrorInformation? {
        switch self {
        case .succeeded: nil
        case .failed(let information), .stopped(let information): information
        }
    }
}

/// The engine wants an automatic rollback: a new deployment (creator `codeDeployRollback`) of the last revision that
/// deployed successfully to the group, whose snapshot has `rollbackOf` set to `triggeringDeploymentId`.
public struct RollbackRequest: Codable, Sendable, Hashable {
    /// The deployment that failed or stopped.
    public var triggeringDeploymentId: String
    /// Why: `DEPLOYMENT_FAILURE` or `DEPLOYMENT_STOP_ON_REQUEST`.
    public var reason: CodeDeploy.AutoRollbackEvent
    /// A `rollbackMessage` for both deployments' `rollbackInfo`.
    public var message: String

    /// A rollback request.
    public init(triggeringDeploymentId: String, reason: CodeDeploy.AutoRollbackEvent, message: String) {
        self.triggeringDeploymentId = triggeringDeploymentId
        self.reason = reason
        self.message = message
    }
}
