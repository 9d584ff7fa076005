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
    /// A blue/green deployment's `targetInstances`: the tags of its replacement instances.
    var targetInstances: CodeDeploy.TargetInstances?
    /// A blue/green rollback's hosts: the deployment it rolls back's, original and replacement.
    var blueGreenRollbackTargets: [DeploymentTarget]?
    /// A blue/green rollback's traffic split: the rolled back deployment's backends, with everything sent back.
    var rollbackSplit: TrafficSplitPlan?
    /// CreateDeployment's `overrideAlarmConfiguration`; `nil`: the group's `alarmConfiguration`.
    package var overrideAlarmConfiguration: CodeDeploy.AlarmConfiguration?
    /// The group's bake time (its `slipway:bake-time` tag), read by the caller; `nil`: none.
    package var bakeTime: TimeInterval?
    /// Who asked for the deployment (an IAM user's name, or a built-in role's key); `nil` for a rollback.
    package var createdBy: String?

    package init(
        applicationName: String, group: CodeDeploy.DeploymentGroupInfo, configName: String?,
        revision: CodeDeploy.RevisionLocation, creator: CodeDeploy.DeploymentCreator, description: String?,
        ignoreApplicationStopFailures: Bool, fileExistsBehavior: CodeDeploy.FileExistsBehavior?,
        autoRollbackConfiguration: CodeDeploy.AutoRollbackConfiguration?, updateOutdatedInstancesOnly: Bool,
        rollbackOf: String?, bundleETag: String? = nil, targetInstances: CodeDeploy.TargetInstances? = nil,
        overrideAlarmConfiguration: CodeDeploy.AlarmConfiguration? = nil, bakeTime: TimeInterval? = nil
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
        self.targetInstances = targetInstances
        self.overrideAlarmConfiguration = overrideAlarmConfiguration
        self.bakeTime = bakeTime
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
        let steps = try splitSteps(config)
        let revisionKey = try RevisionKey.make(revision)
        let instances = try tx.list(CodeDeploy.InstanceInfo.self, .instance).map(\.value)
        let isBlueGreen = group.deploymentStyle?.deploymentType == .blueGreen
        if steps != nil && !isBlueGreen {
            throw DeploymentError.trafficRoutingNotPossible(
                "The deployment configuration \(configName) shifts traffic step by step, which only a blue/green "
                    + "deployment does: use a configuration with minimumHealthyHosts alone for in-place deployments.")
        }
        let selected: [(name: String, label: DeploymentTarget.Label?)]
        if let rollbackTargets = blueGreenRollbackTargets {
            selected = rollbackTargets.map { ($0.instanceName, $0.label) }
        } else if isBlueGreen {
            selected = try blueGreenHosts(instances, groupId: groupId, groupName: groupName, in: tx)
        } else {
            switch TargetSelection.matchingInstances(
                instances, tagFilters: group.onPremisesInstanceTagFilters, tagSet: group.onPremisesTagSet)
            {
            case .success(let matched): selected = matched.map { ($0, nil) }
            case .failure:
                throw DeploymentError.ambiguousTargetSelection(group: groupName)
            }
        }
        let byName = Dictionary(instances.compactMap { i in i.instanceName.map { ($0, i) } }) { first, _ in first }
        var targets: [DeploymentTarget] = []
        for (name, label) in selected {
            guard let instance = byName[name], let host = instance.iamUserArn ?? instance.iamSessionArn else {
                continue
            }
            let state = try tx.get(InstanceGroupState.self, .instanceGroupState, scope: groupId, name: name)
            // Only hosts that install can be up to date; an original host of a blue/green deployment installs nothing.
            if updateOutdatedInstancesOnly, label != .blue, state?.revisionKey == revisionKey { continue }
            targets.append(
                DeploymentTarget(
                    instanceName: name, hostIdentifier: host,
                    instanceHealth: state.map { $0.lastDeploymentSucceeded ? .healthy : .unhealthy } ?? .healthy,
                    revisionHealth: state?.revisionKey.map { $0 == revisionKey ? .current : .old } ?? .unknown,
                    loadBalancerServer: instance.tags?.first { $0.key == DeploymentTarget.loadBalancerServerTag }?
                        .value, label: label))
        }
        let loadBalancerNames =
            (group.loadBalancerInfo?.elbInfoList ?? []).compactMap(\.name)
            + (group.loadBalancerInfo?.targetGroupInfoList ?? []).compactMap(\.name)
        let withLoadBalancer =
            group.deploymentStyle?.deploymentOption == .withTrafficControl
            && !((group.loadBalancerInfo?.elbInfoList ?? []).isEmpty
                && (group.loadBalancerInfo?.targetGroupInfoList ?? []).isEmpty)
        let rollback = autoRollbackConfiguration ?? group.autoRollbackConfiguration
        let alarmConfiguration = overrideAlarmConfiguration ?? group.alarmConfiguration
        let snapshot = DeploymentSnapshot(
            deploymentId: id, targets: targets, minimumHealthyHosts: minimumHealthy, withLoadBalancer: withLoadBalancer,
            loadBalancerNames: withLoadBalancer ? loadBalancerNames : [],
            ignoreApplicationStopFailures: ignoreApplicationStopFailures, timeouts: settings.timeouts,
            autoRollbackConfiguration: rollback, rollbackOf: rollbackOf,
            blueGreen: isBlueGreen ? blueGreenSettings : nil,
            trafficSplit: isBlueGreen
                ? try rollbackSplit ?? trafficSplit(steps: steps, groupId: groupId, configName: configName, in: tx)
                : nil,
            alarms: alarmConfiguration.flatMap(Self.alarmWatch), bakeTime: bakeTime)
        let previous = try group.lastSuccessfulDeployment?.deploymentId.flatMap { try tx.deployment($0) }
        var info = CodeDeploy.DeploymentInfo(
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
        info.overrideAlarmConfiguration = overrideAlarmConfiguration
        if isBlueGreen {
            info.blueGreenDeploymentConfiguration = group.blueGreenDeploymentConfiguration
            info.targetInstances = targetInstances
        }
        let machine = Deployment(snapshot: snapshot, now: now)
        var record = DeploymentRecord(
            info: info, progress: machine.progress, deploymentGroupId: groupId,
            specification: try specification(
                id: id, groupName: groupName, groupId: groupId, blueGreen: isBlueGreen))
        if let triggers = group.triggerConfigurations, !triggers.isEmpty { record.triggers = triggers }
        record.createdBy = createdBy
        record.show(machine)
        return (record, machine)
    }

    /// The shares a Server configuration moves traffic in: `nil` without traffic routing (or `AllAtOnce`).
    private func splitSteps(_ config: CodeDeploy.DeploymentConfigInfo) throws -> [TrafficSplitPlan.Step]? {
        guard let routing = config.trafficRoutingConfig else { return nil }
        switch routing.type {
        case .timeBasedCanary?:
            return TrafficSplitPlan.canary(
                percent: routing.timeBasedCanary?.canaryPercentage ?? 0,
                interval: TimeInterval(min(max(routing.timeBasedCanary?.canaryInterval ?? 0, 0), 2880) * 60))
        case .timeBasedLinear?:
            return TrafficSplitPlan.linear(
                percent: routing.timeBasedLinear?.linearPercentage ?? 0,
                interval: TimeInterval(min(max(routing.timeBasedLinear?.linearInterval ?? 0, 0), 2880) * 60))
        default:
            return nil
        }
    }

    /// The traffic split of a blue/green deployment to a group that names a pair of backends and their map
    /// (`targetGroupPairInfoList`); the original hosts serve in the backend the group's last blue/green deployment
    /// moved the traffic to (at first, the pair's first).
    private func trafficSplit(
        steps: [TrafficSplitPlan.Step]?, groupId: String, configName: String, in tx: any StoreReader
    ) throws -> TrafficSplitPlan? {
        guard let pair = group.loadBalancerInfo?.targetGroupPairInfoList?.first,
            let backends = pair.targetGroups?.compactMap(\.name), backends.count == 2,
            let map = pair.prodTrafficRoute?.listenerArns?.first
        else {
            if steps != nil {
                throw DeploymentError.trafficRoutingNotPossible(
                    "The deployment configuration \(configName) shifts traffic step by step, which needs the blue/green "
                        + "deployment group's load balancer info to name a pair of backends and the map that splits "
                        + "requests between them (targetGroupPairInfoList).")
            }
            return nil
        }
        let fleet = try tx.get(BlueGreenFleet.self, .blueGreenFleet, name: groupId)
        let original = fleet?.backend.flatMap { backends.contains($0) ? $0 : nil } ?? backends[0]
        return TrafficSplitPlan(
            map: map, originalBackend: original,
            replacementBackend: original == backends[0] ? backends[1] : backends[0],
            steps: steps ?? TrafficSplitPlan.allAtOnce())
    }

    /// The alarms an enabled configuration names; `nil` for a disabled one or one without alarms.
    static func alarmWatch(_ configuration: CodeDeploy.AlarmConfiguration) -> AlarmWatch? {
        let names = (configuration.alarms ?? []).compactMap(\.name).filter { !$0.isEmpty }
        guard configuration.enabled == true, !names.isEmpty else { return nil }
        return AlarmWatch(alarmNames: names, ignorePollFailure: configuration.ignorePollAlarmFailure ?? false)
    }

    /// How the group's replacement hosts take over.
    private var blueGreenSettings: BlueGreenSettings {
        let configuration = group.blueGreenDeploymentConfiguration
        if blueGreenRollbackTargets != nil { return BlueGreenSettings() }
        let ready = configuration?.deploymentReadyOption
        let termination = configuration?.terminateBlueInstancesOnDeploymentSuccess
        return BlueGreenSettings(
            readyWait: ready?.actionOnTimeout == .stopDeployment
                ? TimeInterval(min(max(ready?.waitTimeInMinutes ?? 0, 0), Self.maximumWaitMinutes) * 60) : nil,
            originalHosts: termination?.action == .terminate
                ? .terminate(
                    after: TimeInterval(
                        min(max(termination?.terminationWaitTimeInMinutes ?? 0, 0), Self.maximumWaitMinutes) * 60))
                : .keepAlive)
    }

    /// CodeDeploy's longest wait in `Ready` and before the original hosts are retired: 48 hours.
    package static let maximumWaitMinutes = 2880

    /// A blue/green deployment's hosts: the group's fleet (the replacement hosts of its last successful blue/green
    /// deployment, or else the instances its tag filters select) as the originals, and the instances
    /// `targetInstances` selects as the replacements.
    private func blueGreenHosts(
        _ instances: [CodeDeploy.InstanceInfo], groupId: String, groupName: String, in tx: any StoreReader
    ) throws -> [(name: String, label: DeploymentTarget.Label?)] {
        let registered = Set(instances.filter { $0.deregisterTime == nil }.compactMap(\.instanceName))
        let original: [String]
        if let fleet = try tx.get(BlueGreenFleet.self, .blueGreenFleet, name: groupId) {
            original = fleet.instanceNames.filter { registered.contains($0) }
        } else {
            switch TargetSelection.matchingInstances(
                instances, tagFilters: group.onPremisesInstanceTagFilters, tagSet: group.onPremisesTagSet)
            {
            case .success(let matched): original = matched
            case .failure: throw DeploymentError.ambiguousTargetSelection(group: groupName)
            }
        }
        let filters = (targetInstances?.tagFilters ?? []).map {
            CodeDeploy.TagFilter(key: $0.key, type: $0.type.map { .init(rawValue: $0.rawValue) }, value: $0.value)
        }
        let tagSet = targetInstances?.ec2TagSet.map { set in
            CodeDeploy.OnPremisesTagSet(
                onPremisesTagSetList: (set.ec2TagSetList ?? []).map { group in
                    group.map {
                        CodeDeploy.TagFilter(
                            key: $0.key, type: $0.type.map { .init(rawValue: $0.rawValue) }, value: $0.value)
                    }
                })
        }
        let replacement: [String]
        switch TargetSelection.matchingInstances(instances, tagFilters: filters, tagSet: tagSet) {
        case .success(let matched): replacement = matched
        case .failure:
            throw DeploymentError.invalidTargetInstances(
                "targetInstances gives both tagFilters and an ec2TagSet; give one or the other.")
        }
        let both = Set(original).intersection(replacement).sorted()
        guard both.isEmpty else {
            throw DeploymentError.invalidTargetInstances(
                "The replacement instances that targetInstances selects must not serve already: "
                    + "\(both.prefix(10).joined(separator: ", ")) \(both.count == 1 ? "is" : "are") in deployment group "
                    + "\(groupName)'s current fleet. Tag the new instances differently, or deregister these.")
        }
        return original.map { ($0, .blue) } + replacement.map { ($0, .green) }
    }

    private func specification(id: String, groupName: String, groupId: String, blueGreen: Bool) throws
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
            deploymentType: blueGreen ? "BLUE_GREEN" : "IN_PLACE", revision: specRevision,
            fileExistsBehavior: (fileExistsBehavior ?? .disallow).rawValue)
    }
}
