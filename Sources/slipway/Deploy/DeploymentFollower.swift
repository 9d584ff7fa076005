import Foundation

/// Polls a deployment about once a second (GetDeployment, ListDeploymentTargets, BatchGetDeploymentTargets) and
/// shows every poll the way the output asks for, until the deployment ends.
struct DeploymentFollower {
    enum Display {
        /// A table redrawn in place (a terminal).
        case table(color: Bool)
        /// One line per change (a pipe or a file).
        case lines
        /// Nothing while it runs (`--json`).
        case quiet
    }

    let client: APIClient
    var interval: Duration = .seconds(1)
    /// Consecutive failed polls tolerated (a server restart, a dropped connection) before giving up.
    var maximumFailures = 15

    /// The deployment and its instance targets, as they are now.
    func snapshot(_ id: String) async throws -> DeploymentSnapshot {
        let answer = try await client.codeDeploy("GetDeployment", ["deploymentId": id])
        guard let info = answer["deploymentInfo"] as? [String: Any] else {
            throw ClientError("GetDeployment answered without deploymentInfo")
        }
        var names: [String] = []
        var token: String?
        repeat {
            var input: [String: Any] = ["deploymentId": id]
            if let token { input["nextToken"] = token }
            let page = try await client.codeDeploy("ListDeploymentTargets", input)
            names += page["targetIds"] as? [String] ?? []
            token = page["nextToken"] as? String
        } while token != nil
        var targets: [[String: Any]] = []
        var start = 0
        while start < names.count {
            let batch = Array(names[start..<min(start + 25, names.count)])
            let answer = try await client.codeDeploy(
                "BatchGetDeploymentTargets", ["deploymentId": id, "targetIds": batch])
            targets += answer["deploymentTargets"] as? [[String: Any]] ?? []
            start += 25
        }
        return DeploymentSnapshot(info: info, targets: targets)
    }

    /// Follows the deployment until it succeeds, fails or stops, and returns its last state.
    func follow(_ id: String, display: Display) async throws -> DeploymentSnapshot {
        var table = TerminalTable()
        var previous: DeploymentSnapshot?
        var failures = 0
        while true {
            let current: DeploymentSnapshot
            do {
                current = try await snapshot(id)
                failures = 0
            } catch let error as APIError where error.code == "DeploymentDoesNotExistException" {
                throw error
            } catch {
                failures += 1
                guard failures < maximumFailures else { throw error }
                try await Task.sleep(for: interval)
                continue
            }
            let now = Date()
            switch display {
            case .table(let color):
                table.draw(DeploymentView.table(current, now: now, width: TerminalTable.width, color: color))
            case .lines:
                for line in DeploymentView.changeLines(from: previous, to: current, now: now) {
                    printToStandardOutput(line)
                }
            case .quiet:
                break
            }
            if current.isFinished { return current }
            previous = current
            try await Task.sleep(for: interval)
        }
    }
}
