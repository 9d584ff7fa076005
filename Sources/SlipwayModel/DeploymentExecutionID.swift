/// The `DeploymentExecutionId` of a host command: it names the deployment whose specification the agent fetches.
///
/// Slipway writes `Slipway/<region>/<deployment group id>/<deployment id>`. CodeDeploy's ends with the deployment id
/// too (`…/arn:…:deployment/<deployment id>`), so a reader takes the deployment id after the last `/`, and the
/// deployment group's id only from Slipway's form.
public struct DeploymentExecutionID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The text agents receive and send back.
    public let rawValue: String
    /// The deployment the execution belongs to.
    public let deploymentId: String
    /// The deployment group's id, when the execution id is in Slipway's form.
    public let deploymentGroupId: String?

    /// The execution id Slipway hands out with a command of deployment `deploymentId`.
    public init(region: String, deploymentGroupId: String, deploymentId: String) {
        self.rawValue = "Slipway/\(region)/\(deploymentGroupId)/\(deploymentId)"
        self.deploymentId = deploymentId
        self.deploymentGroupId = deploymentGroupId
    }

    /// Reads an execution id; `nil` when nothing follows its last `/`.
    public init?(rawValue: String) {
        let parts = rawValue.split(separator: "/", omittingEmptySubsequences: false)
        guard let last = parts.last, !last.isEmpty else { return nil }
        self.rawValue = rawValue
        self.deploymentId = String(last)
        self.deploymentGroupId = parts.count == 4 && parts[0] == "Slipway" ? String(parts[2]) : nil
    }

    public var description: String { rawValue }
}
