import Deployments
import Foundation
import SlipwayModel
import Store

/// Slipway's own read of what agents upload with `PutHostCommandLog`: the full log of one lifecycle event on one
/// host, which CodeDeploy's API cuts to a 4 KB tail. A JSON operation with its own target prefix, so no CodeDeploy
/// shape changes; it is authorised as `codedeploy:GetDeploymentTarget`, which shows the same host's events.
enum EventLogs {
    static let targetPrefix = "Slipway_20261127"
    static let operation = "GetLifecycleEventLog"

    struct Input: JSONReadable {
        var deploymentId: String?
        var targetId: String?
        var lifecycleEventName: String?

        init(json: JSONValue) throws(JSONTypeMismatch) {
            let members = try JSONMembers(json, of: Self.self)
            deploymentId = try members.value("deploymentId")
            targetId = try members.value("targetId")
            lifecycleEventName = try members.value("lifecycleEventName")
        }
    }

    struct Output: Encodable {
        var log: String
        var uploadTime: Date
    }

    static func handle(_ request: JSONInput, store: any Store, principal: Principal, arns: ARNs) async throws -> Data {
        let input = try request.decode(Input.self)
        guard let deployment = input.deploymentId, let target = input.targetId, let event = input.lifecycleEventName,
            !deployment.isEmpty, !target.isEmpty, !event.isEmpty
        else {
            throw AWSJSONError(
                type: "InvalidInputException", message: "deploymentId, targetId and lifecycleEventName are required.")
        }
        let record = try await store.read { tx in
            // Authorised as GetDeploymentTarget is: on the group of the deployment whose log is read.
            guard let owner = try tx.deployment(deployment) else { return nil as LifecycleEventLogRecord? }
            try principal.authorizeCodeDeploy(
                .getDeploymentTarget, deploymentGroup: owner.info.deploymentGroupName ?? "",
                application: owner.info.applicationName ?? "", arns: arns)
            return try tx.get(
                LifecycleEventLogRecord.self, .lifecycleEventLog, scope: deployment, name: "\(target)/\(event)")
        }
        guard let record else {
            throw AWSJSONError(
                type: "ResourceNotFoundException",
                message:
                    "No log of \(event) on \(target) in deployment \(deployment): the event has not run there, had no "
                    + "scripts, or its agent does not upload logs (the stock agent does not).")
        }
        return try AWSJSON.makeEncoder().encode(Output(log: record.log, uploadTime: record.uploadTime))
    }
}
