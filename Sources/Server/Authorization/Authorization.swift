import ArtifactStore
import Foundation
import SlipwayModel

extension KeyRole {
    /// The built-in policy of the role: what a key of `slipway keys create --role …` may do.
    ///
    /// | role | statements |
    /// |---|---|
    /// | admin | Allow `*` on `*` |
    /// | deployer | Allow `codedeploy:*`, `s3:*` on `*` |
    /// | agent | Allow `s3:Get*`, `s3:List*` on `*` (plus the command API for its own instance, by binding) |
    public var permissions: Permissions {
        switch self {
        case .admin: Self.adminPermissions
        case .deployer: Self.deployerPermissions
        case .agent: Self.agentPermissions
        }
    }

    private static let adminPermissions = Permissions([
        PolicyStatement(effect: .allow, actions: ["*"], resources: ["*"])
    ])
    private static let deployerPermissions = Permissions([
        PolicyStatement(effect: .allow, actions: ["codedeploy:*", "s3:*", "cloudwatch:*", "sns:*"], resources: ["*"])
    ])
    private static let agentPermissions = Permissions([
        PolicyStatement(effect: .allow, actions: ["s3:Get*", "s3:List*"], resources: ["*"])
    ])
}

/// A refused request: the action, the resource it was checked against and whether a Deny said so.
struct AccessDenial: Error, Hashable, Sendable {
    let principalARN: String
    let action: String
    let resource: String?
    let explicit: Bool

    /// IAM's sentence for a refusal, naming the action.
    var message: String {
        let on = " on resource: \(resource ?? "*")"
        return explicit
            ? "User: \(principalARN) is not authorized to perform: \(action)\(on) with an explicit deny in an "
                + "identity-based policy"
            : "User: \(principalARN) is not authorized to perform: \(action)\(on) because no identity-based policy "
                + "allows the \(action) action"
    }

    /// The AWS JSON form, for the CodeDeploy and command APIs.
    var json: AWSJSONError { AWSJSONError(type: "AccessDeniedException", message: message, status: 403) }
    /// The S3 form.
    var s3: S3Error { S3Error.accessDenied(message) }
}

extension Principal {
    /// Throws ``AccessDenial`` unless the principal's policies allow `action` on every one of `resources`
    /// (`nil`: the request names no resource Slipway checks; see ``Permissions/decision(action:resources:)``).
    func authorize(_ action: String, resources: [String]?) throws(AccessDenial) {
        switch permissions.decision(action: action, resources: resources) {
        case .allowed: return
        case .explicitlyDenied:
            throw AccessDenial(principalARN: arn, action: action, resource: resources?.first, explicit: true)
        case .implicitlyDenied:
            throw AccessDenial(principalARN: arn, action: action, resource: resources?.first, explicit: false)
        }
    }

    /// Authorises a CodeDeploy API request: `codedeploy:<operation>` on the application, deployment group,
    /// configuration or instance the request names, or on `*` when it names none (ListApplications). The body is read
    /// for names only when a policy of the principal has resource patterns for the action (never for the built-in
    /// roles).
    ///
    /// An operation on a deployment by id (``CodeDeployResources/byDeployment``) is decided here only as far as it
    /// can be without the deployment; its handler finishes the decision on the deployment it loads, with
    /// ``authorizeCodeDeploy(operation:deploymentGroup:application:arns:)``.
    func authorizeCodeDeploy(_ operation: CodeDeploy.Operation, document: JSONValue?, arns: ARNs)
        throws(AWSJSONError)
    {
        let action = "codedeploy:\(operation.rawValue)"
        if CodeDeployResources.byDeployment.contains(operation) {
            return try authorizeBeforeResource(action)
        }
        let resources =
            permissions.dependsOnResource(action: action) ? CodeDeployResources.of(document, arns: arns) : nil
        do {
            try authorize(action, resources: resources)
        } catch {
            throw error.json
        }
    }

    /// Authorises `codedeploy:<operation>` on a deployment group: CodeDeploy's IAM resource for the operations that
    /// name a deployment by id. Handlers call it with the group of the deployment record they then act on.
    func authorizeCodeDeploy(
        _ operation: CodeDeploy.Operation, deploymentGroup group: String, application: String, arns: ARNs
    ) throws(AWSJSONError) {
        let action = "codedeploy:\(operation.rawValue)"
        do {
            try authorize(action, resources: [arns.deploymentGroup(application: application, group: group)])
        } catch {
            throw error.json
        }
    }

    /// Throws unless the principal's policies could allow `action` on some resource: for requests whose handler
    /// decides on the resources it reads from the body (see ``Permissions/decisionBeforeResource(action:)``).
    func authorizeBeforeResource(_ action: String) throws(AWSJSONError) {
        switch permissions.decisionBeforeResource(action: action) {
        case .allowed: return
        case .explicitlyDenied:
            throw AccessDenial(principalARN: arn, action: action, resource: nil, explicit: true).json
        case .implicitlyDenied:
            throw AccessDenial(principalARN: arn, action: action, resource: nil, explicit: false).json
        }
    }

    /// Authorises an agent command API request, `codedeploy-commands-secure:<operation>` (the action prefix AWS uses
    /// for both of the API's endpoints). A policy that allows it (on `*`: these actions have no resource) lets the
    /// principal act for every host; a registered on-premises instance may act for its own host without one. An
    /// explicit Deny refuses both. The host of the request is checked by the command API with ``mayActFor(host:)``.
    func authorizedForCommands(_ operation: CodeDeployCommand.Operation) throws(AWSJSONError) -> Principal {
        let action = "codedeploy-commands-secure:\(operation.rawValue)"
        var principal = self
        switch permissions.decision(action: action, resources: nil) {
        case .allowed:
            principal.actsForAnyHost = true
        case .explicitlyDenied:
            throw AccessDenial(principalARN: arn, action: action, resource: nil, explicit: true).json
        case .implicitlyDenied:
            guard instanceHost != nil else {
                throw AccessDenial(principalARN: arn, action: action, resource: nil, explicit: false).json
            }
        }
        return principal
    }

    /// Authorises an S3 request by the actions IAM names for its operation (`s3:GetObject`, `s3:PutObject`,
    /// `s3:ListBucket`…) on the bucket or object ARN; a copy also needs `s3:GetObject` (or `s3:GetObjectVersion`)
    /// on its source. The operation is the one the handler serves (see ``S3Operation``).
    func authorizeS3(_ operation: S3Operation, bucket: String, key: String) throws(S3Error) {
        do {
            for (action, resource) in operation.authorizations(bucket: bucket, key: key) {
                try authorize(action, resources: resource.map { [$0] })
            }
        } catch {
            throw error.s3
        }
    }
}

/// The resources a CodeDeploy request names, as ARNs, for policies with resource patterns.
enum CodeDeployResources {
    /// The operations that act on a deployment they name by id. Their IAM resource is the deployment's group, known
    /// only once the deployment is loaded: their handlers authorise on the record they load (the CodeDeploy API
    /// checks that they did).
    static let byDeployment: Set<CodeDeploy.Operation> = [
        .getDeployment, .batchGetDeployments, .stopDeployment, .continueDeployment,
        .skipWaitTimeForInstanceTermination, .listDeploymentTargets, .batchGetDeploymentTargets,
        .getDeploymentTarget, .listDeploymentInstances, .batchGetDeploymentInstances, .getDeploymentInstance,
        .putLifecycleEventHookExecutionStatus,
    ]

    /// The ARNs named by the request's members; nil when it names none (ListApplications, ListDeploymentConfigs,
    /// ListOnPremisesInstances, ListDeployments of every group): such a request is on the resource `*`.
    static func of(_ document: JSONValue?, arns: ARNs) -> [String]? {
        guard case .object(let input)? = document else { return nil }
        func string(_ name: String) -> String? {
            if case .string(let value)? = input[name], !value.isEmpty { return value }
            return nil
        }
        func strings(_ name: String) -> [String] {
            guard case .array(let values)? = input[name] else { return [] }
            return values.compactMap { if case .string(let value) = $0 { value } else { nil } }
        }
        var resources: [String] = []
        if let application = string("applicationName") {
            let groups =
                [string("deploymentGroupName"), string("currentDeploymentGroupName")].compactMap { $0 }
                + strings("deploymentGroupNames")
            if groups.isEmpty {
                resources.append(arns.application(application))
            } else {
                resources += groups.map { arns.deploymentGroup(application: application, group: $0) }
            }
        } else if let config = string("deploymentConfigName") {
            resources.append(arns.deploymentConfig(config))
        }
        resources += strings("applicationNames").map(arns.application)
        resources += (string("instanceName").map { [$0] } ?? []).map(arns.instance)
        resources += strings("instanceNames").map(arns.instance)
        if let arn = string("ResourceArn") { resources.append(arn) }
        return resources.isEmpty ? nil : resources
    }
}
