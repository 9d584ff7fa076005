import Engine
import Foundation
import SlipwayModel
import Store

/// What a new deployment is made of, before it has an id: CreateDeployment's validated input, or a rollback's.
/// ``make(id:in:settings:now:)`` snapshots the group, its configuration and its targets.
package struct DeploymentPlan: Sendable {
    var applicationName: String
    var group: CodeDeploy.DeploymentGroupInfo
    /// The configuration asked for; `nil`: the group's, else `CodeDeployDefault.OneAtATime`.
    var configName: String?
    var revision: CodeDeploy.RevisionLocation
    var creator: CodeDeploy.DeploymentCreator
    var description: String?
    var ignoreApplicationStopFailures: Bool
    var fileExistsBehavior: CodeDeploy.FileExistsBehavior?
    /// The deployment's own automatic rollback settings; `nil`: the group's.
    var autoRollbackConfiguration: CodeDeploy.AutoRollbackConfiguration?
    var updateOutdatedInstancesOnly: Bool
    var rollbackOf: String?
    /// The bundle's eTag as the store has it, for the specification when the revision names none: agents then
    /// check what they download.
    var bundleETag: String?

    package init(
        applicationName: String, group: CodeDeploy.DeploymentGroupInfo, configName: String?,
        revision: CodeDeploy.RevisionLocation, creator: CodeDeploy.DeploymentCreator, description: String?,
        ignoreApplicationStopFailures: Bool, fileExistsBehavior: CodeDeploy.FileExistsBehavior?,
        autoRollbackConfiguration: CodeDeploy.AutoRollbackConfiguration?, updateOutdatedInstancesOnly: Bool,
        rollbackOf: String?, bundleETag: String? = nil
    ) {
        self.applicationName = applicationName
        self.group = group
        self.configName = configName
        self.revision = revision
        self.creator = creator
        self.description = description
        self.ignoreApplicationStopFailures = ignoreApplicationStopFailures
        self.fileExistsBehavior = fileExistsBehavior
        self.autoRollbackConfiguration = autoRollbackConfiguration
        self.updateOutdatedInstancesOnly = updateOutdatedInstancesOnly
        self.rollbackOf = rollbackOf
        self.bundleETag = bundleETag
    }

    static let defaultConfigName = "CodeDeployDefault.OneAtATime"

    /// The deployment's record and engine state, with its targets resolved from the registered instances now.
    func make(id: String, in tx: any StoreReader, settings: DeploymentSettings, now: Date) throws
        -> (record: DeploymentRecord, machine: Deployment)
    {
        let groupName = group.deploymentGroupName ?? ""
        let groupId = group.deploymentGroupId ?? ""
        let configName = self.configName ?? group.deploymentConfigName ?? Self.defaultConfigName
        guard let config = try tx.deploymentConfig(configName) else {
            throw DeploymentError.deploymentConfigDoesNotExist(configName)
        }
        guard let minimumHealthy = config.minimumHealthyHosts.flatMap(MinimumHealthy.init) else {
            throw DeploymentError.deploymentConfigNotForServer(configName)
        }
        let revisionKey = try RevisionKey.make(revision)
        let instances = try tx.list(CodeDeploy.InstanceInfo.self, .instance).map(\.value)
        let names: [String]
        switch TargetSelection.matchingInstances(
            instances, tagFilters: group.onPremisesInstanceTagFilters, tagSet: group.onPremisesTagSet)
        {
        case .success(let matched): names = matched
        case .failure:
            throw DeploymentError.ambiguousTargetSelection(group: groupName)
        }
        let byName = Dictionary(instances.compactMap { i in i.instanceName.map { ($0, i) } }) { first, _ in first }
        var targets: [DeploymentTarget] = []
        for name in names {
            guard let instance = byName[name], let host = instance.iamUserArn ?? instance.iamSessionArn else {
                continue
            }
            let state = try tx.get(InstanceGroupState.self, .instanceGroupState, scope: groupId, name: name)
            if updateOutdatedInstancesOnly, state?.revisionKey == revisionKey { continue }
            targets.append(
                DeploymentTarget(
                    instanceName: name, hostIdentifier: host,
                    instanceHealth: state.map { $0.lastDeploymentSucceeded ? .healthy : .unhealthy } ?? .healthy,
                    revisionHealth: state?.revisionKey.map { $0 == revisionKey ? .current : .old } ?? .unknown,
                    loadBalancerServer: instance.tags?.first { $0.key == DeploymentTarget.loadBalancerServerTag }?
                        .value))
        }
        let loadBalancerNames =
            (group.loadBalancerInfo?.elbInfoList ?? []).compactMap(\.name)
            + (group.loadBalancerInfo?.targetGroupInfoList ?? []).compactMap(\.name)
        let withLoadBalancer =
            group.deploymentStyle?.deploymentOption == .withTrafficControl
            && !((group.loadBalancerInfo?.elbInfoList ?? []).isEmpty
                && (group.loadBalancerInfo?.targetGroupInfoList ?? []).isEmpty)
        let rollback = autoRollbackConfiguration ?? group.autoRollbackConfiguration
        let snapshot = DeploymentSnapshot(
            deploymentId: id, targets: targets, minimumHealthyHosts: minimumHealthy, withLoadBalancer: withLoadBalancer,
            loadBalancerNames: withLoadBalancer ? loadBalancerNames : [],
            ignoreApplicationStopFailures: ignoreApplicationStopFailures, timeouts: settings.timeouts,
            autoRollbackConfiguration: rollback, rollbackOf: rollbackOf)
        let previous = try group.lastSuccessfulDeployment?.deploymentId.flatMap { try tx.deployment($0) }
        let info = CodeDeploy.DeploymentInfo(
            applicationName: applicationName, autoRollbackConfiguration: rollback, computePlatform: .server,
            createTime: now, creator: creator, deploymentConfigName: configName, deploymentGroupName: groupName,
            deploymentId: id,
            deploymentStyle: group.deploymentStyle
                ?? CodeDeploy.DeploymentStyle(deploymentOption: .withoutTrafficControl, deploymentType: .inPlace),
            description: description, fileExistsBehavior: fileExistsBehavior ?? .disallow,
            ignoreApplicationStopFailures: ignoreApplicationStopFailures,
            instanceTerminationWaitTimeStarted: false, loadBalancerInfo: group.loadBalancerInfo,
            previousRevision: previous?.info.revision, revision: revision,
            updateOutdatedInstancesOnly: updateOutdatedInstancesOnly)
        let machine = Deployment(snapshot: snapshot, now: now)
        var record = DeploymentRecord(
            info: info, progress: machine.progress, deploymentGroupId: groupId,
            specification: try specification(id: id, groupName: groupName, groupId: groupId))
        record.show(machine)
        return (record, machine)
    }

    private func specification(id: String, groupName: String, groupId: String) throws
        -> DeploymentSpecificationDocument
    {
        let specRevision: DeploymentSpecificationDocument.Revision
        if let s3 = revision.s3Location, let bucket = s3.bucket, let key = s3.key {
            specRevision = .init(
                s3: .init(
                    bucket: bucket, key: key, bundleType: (s3.bundleType ?? .zip).rawValue, version: s3.version,
                    eTag: s3.eTag ?? bundleETag))
        } else if let github = revision.gitHubLocation, let repository = github.repository,
            let commit = github.commitId, let slash = repository.firstIndex(of: "/")
        {
            specRevision = .init(
                gitHub: .init(
                    account: String(repository[..<slash]),
                    repository: String(repository[repository.index(after: slash)...]),
                    commitId: commit, bundleType: "tar"))
        } else {
            throw DeploymentError.revisionNotForServer
        }
        return DeploymentSpecificationDocument(
            deploymentId: id, deploymentGroupId: groupId, deploymentGroupName: groupName,
            applicationName: applicationName, deploymentCreator: creator.rawValue,
            deploymentType: "IN_PLACE", revision: specRevision,
            fileExistsBehavior: (fileExistsBehavior ?? .disallow).rawValue)
    }
}
