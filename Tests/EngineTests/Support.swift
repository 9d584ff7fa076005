import Engine
import Foundation
import SlipwayModel

/// A clock the tests move by hand.
struct ManualClock {
    private(set) var now = Date(timeIntervalSince1970: 1_800_000_000)

    mutating func advance(by seconds: TimeInterval) {
        now += seconds
    }
}

/// The IAM ARN an instance's agent polls with.
func arn(_ name: String) -> String { "arn:aws:iam::123456789012:user/\(name)" }

func target(
    _ name: String, health: DeploymentTarget.InstanceHealth = .healthy,
    revision: DeploymentTarget.RevisionHealth = .unknown
) -> DeploymentTarget {
    DeploymentTarget(instanceName: name, hostIdentifier: arn(name), instanceHealth: health, revisionHealth: revision)
}

func hostNames(_ count: Int) -> [String] { (1...max(count, 1)).prefix(count).map { "host-\($0)" } }

let deploymentId = "d-TEST00001"

func snapshot(
    _ names: [String] = ["web-1"],
    minimumHealthy: MinimumHealthy = .oneAtATime,
    withLoadBalancer: Bool = false,
    ignoreApplicationStopFailures: Bool = false,
    timeouts: DeploymentTimeouts = DeploymentTimeouts(),
    autoRollback: CodeDeploy.AutoRollbackConfiguration? = nil,
    rollbackOf: String? = nil
) -> DeploymentSnapshot {
    DeploymentSnapshot(
        deploymentId: deploymentId, targets: names.map { target($0) }, minimumHealthyHosts: minimumHealthy,
        withLoadBalancer: withLoadBalancer, ignoreApplicationStopFailures: ignoreApplicationStopFailures,
        timeouts: timeouts, autoRollbackConfiguration: autoRollback, rollbackOf: rollbackOf)
}

func command(_ host: String, _ event: LifecycleEvent) -> HostCommandID {
    HostCommandID(deploymentId: deploymentId, instanceName: host, event: event)
}

func offer(_ host: String, _ event: LifecycleEvent, at date: Date) -> DeploymentAction {
    .offerCommand(HostCommand(id: command(host, event), hostIdentifier: arn(host), offeredAt: date))
}

let installEvents = LifecycleEvent.inPlaceOrder(withLoadBalancer: false)

func failure(_ code: CodeDeploy.LifecycleErrorCode = .scriptFailed, script: String = "scripts/stop.sh") -> CommandReport
{
    .failure(
        code, message: "Script at specified location: \(script) failed with exit code 1", scriptName: script,
        logTail: "[stderr]boom")
}

extension Deployment {
    /// The agent picks up, acknowledges and reports one command.
    mutating func run(_ id: HostCommandID, _ report: CommandReport = .success, now: Date) -> [DeploymentAction] {
        _ = commandDelivered(id, now: now)
        _ = commandAcknowledged(id, CommandAcknowledgement(), now: now)
        return commandCompleted(id, report, now: now)
    }

    /// Runs every event of `host` from its current one, failing at `failAt` if given; returns the last actions.
    mutating func runHost(_ host: String, failAt: LifecycleEvent? = nil, now: Date) -> [DeploymentAction] {
        var actions: [DeploymentAction] = []
        while let id = self.host(named: host)?.currentCommand {
            if id.event == .blockTraffic || id.event == .allowTraffic {
                actions = trafficCompleted(id, .succeeded, now: now)
            } else {
                actions = run(id, id.event == failAt ? failure() : .success, now: now)
            }
        }
        return actions
    }

    var inFlightNames: [String] { hosts.filter { $0.status == .inProgress }.map(\.instanceName) }
}

/// Drives a whole fleet: repeatedly runs the first host in flight to its end (failing the hosts in `failing` at
/// their first event) and records how many hosts were in flight at once and in which order they started.
struct FleetRun {
    var deployment: Deployment
    var clock = ManualClock()
    var maxInFlight = 0
    var started: [String] = []

    init(_ snapshot: DeploymentSnapshot) {
        deployment = Deployment(snapshot: snapshot, now: clock.now)
    }

    mutating func run(failing: Set<String> = []) -> DeploymentOutcome? {
        _ = deployment.start(now: clock.now)
        var guardCount = 0
        while !deployment.isFinished, let host = deployment.inFlightNames.first, guardCount < 10_000 {
            guardCount += 1
            for name in deployment.inFlightNames where !started.contains(name) { started.append(name) }
            maxInFlight = max(maxInFlight, deployment.inFlightNames.count)
            clock.advance(by: 1)
            _ = deployment.runHost(host, failAt: failing.contains(host) ? .applicationStop : nil, now: clock.now)
        }
        return deployment.outcome
    }

    var succeeded: Int { deployment.hosts.count { $0.status == .succeeded } }
}

extension DeploymentOutcome {
    var errorCode: CodeDeploy.ErrorCode? { errorInformation?.code }
}
