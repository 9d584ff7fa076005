import Deployments
import Foundation
import SlipwayModel
import Store
import Traffic

/// CreateDeploymentGroup, GetDeploymentGroup, UpdateDeploymentGroup, DeleteDeploymentGroup, ListDeploymentGroups,
/// BatchGetDeploymentGroups.
enum DeploymentGroupHandlers {
    static let pageSize = 100
    /// AWS's quota of deployment groups per application.
    static let limit = 1000

    static func register(in api: inout CodeDeployAPI) {
        api.on(.createDeploymentGroup, create)
        api.on(.getDeploymentGroup) { (input: CodeDeploy.GetDeploymentGroupInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            let name = try input.deploymentGroupName.required(
                .deploymentGroupNameRequiredException, "deployment group name")
            let group = try await context.store.read { tx in
                _ = try tx.existingApplicationDocument(application)
                return try tx.existingDeploymentGroupDocument(application: application, name: name)
            }
            return StoredResult(member: "deploymentGroupInfo", content: .one(group))
        }
        api.on(.updateDeploymentGroup, update)
        api.on(.deleteDeploymentGroup) { (input: CodeDeploy.DeleteDeploymentGroupInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            let name = try input.deploymentGroupName.required(
                .deploymentGroupNameRequiredException, "deployment group name")
            let arn = context.arns.deploymentGroup(application: application, group: name)
            try await context.store.write { tx in
                if try tx.delete(.deploymentGroup, scope: application, name: name) { try tx.deleteTags(of: arn) }
            }
            return CodeDeploy.DeleteDeploymentGroupOutput(hooksNotCleanedUp: [])
        }
        api.on(.listDeploymentGroups) { (input: CodeDeploy.ListDeploymentGroupsInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            let names = try await context.store.read { tx in
                _ = try tx.existingApplication(application)
                return try tx.records(.deploymentGroup, scope: application, after: nil, limit: .max).map(\.name)
            }
            let (page, next) = try PageToken.page(names, name: { $0 }, token: input.nextToken, size: pageSize)
            return CodeDeploy.ListDeploymentGroupsOutput(
                applicationName: application, deploymentGroups: page, nextToken: next)
        }
        api.on(.batchGetDeploymentGroups) { (input: CodeDeploy.BatchGetDeploymentGroupsInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            let names = input.deploymentGroupNames ?? []
            guard !names.isEmpty else {
                throw AWSJSONError(
                    .deploymentGroupNameRequiredException, "At least one deployment group name is required.")
            }
            try Limits.checkBatch(names.count, of: .batchGetDeploymentGroups)
            return try await context.store.read { tx in
                _ = try tx.existingApplicationDocument(application)
                var found: [Data] = []
                var missing: [String] = []
                for name in names {
                    if let group = try tx.record(.deploymentGroup, scope: application, name: name) {
                        found.append(group.document)
                    } else {
                        missing.append(name)
                    }
                }
                return StoredResult(
                    member: "deploymentGroupsInfo", content: .list(found),
                    errorMessage: missing.isEmpty
                        ? nil : "Deployment groups not found: \(missing.joined(separator: ", "))")
            }
        }
    }

    static func create(_ input: CodeDeploy.CreateDeploymentGroupInput, _ context: HandlerContext) async throws
        -> CodeDeploy.CreateDeploymentGroupOutput
    {
        let applicationName = try input.applicationName.required(.applicationNameRequiredException, "application name")
        let name = try input.deploymentGroupName.required(
            .deploymentGroupNameRequiredException, "deployment group name")
        try Check.name(name, .invalidDeploymentGroupNameException, what: "deployment group name")
        let role = try input.serviceRoleArn.required(.roleRequiredException, "service role ARN")
        try Check.resourceTags(input.tags ?? [], code: .invalidTagsToAddException)
        let arn = context.arns.deploymentGroup(application: applicationName, group: name)

        return try await context.store.write { tx in
            let application = try tx.existingApplication(applicationName)
            let platform = application.computePlatform ?? .server
            var group = CodeDeploy.DeploymentGroupInfo(
                alarmConfiguration: input.alarmConfiguration, applicationName: applicationName,
                autoRollbackConfiguration: input.autoRollbackConfiguration, autoScalingGroups: nil,
                blueGreenDeploymentConfiguration: input.blueGreenDeploymentConfiguration, computePlatform: platform,
                deploymentConfigName: input.deploymentConfigName ?? defaultConfig(for: platform),
                deploymentGroupId: UUID().uuidString.lowercased(), deploymentGroupName: name,
                deploymentStyle: input.deploymentStyle, ec2TagFilters: input.ec2TagFilters, ec2TagSet: input.ec2TagSet,
                ecsServices: input.ecsServices, loadBalancerInfo: input.loadBalancerInfo,
                onPremisesInstanceTagFilters: input.onPremisesInstanceTagFilters,
                onPremisesTagSet: input.onPremisesTagSet,
                outdatedInstancesStrategy: input.outdatedInstancesStrategy, serviceRoleArn: role,
                terminationHookEnabled: input.terminationHookEnabled, triggerConfigurations: input.triggerConfigurations
            )
            group.autoScalingGroups = input.autoScalingGroups.map { $0.map { CodeDeploy.AutoScalingGroup(name: $0) } }
            try validateAndFillDefaults(&group, in: tx)
            guard try tx.count(.deploymentGroup, scope: applicationName) < limit else {
                throw AWSJSONError(
                    .deploymentGroupLimitExceededException,
                    "The application \(applicationName) has \(limit) deployment groups, the most it can have.")
            }
            guard try tx.create(group, .deploymentGroup, scope: applicationName, name: name) else {
                throw AWSJSONError(
                    .deploymentGroupAlreadyExistsException,
                    "The deployment group \(name) already exists for application \(applicationName).")
            }
            try tx.addTags(input.tags ?? [], to: arn)
            return CodeDeploy.CreateDeploymentGroupOutput(deploymentGroupId: group.deploymentGroupId)
        }
    }

    static func update(_ input: CodeDeploy.UpdateDeploymentGroupInput, _ context: HandlerContext) async throws
        -> CodeDeploy.UpdateDeploymentGroupOutput
    {
        let applicationName = try input.applicationName.required(.applicationNameRequiredException, "application name")
        let current = try input.currentDeploymentGroupName.required(
            .deploymentGroupNameRequiredException, "deployment group name")
        let arns = context.arns
        try await context.store.write { tx in
            _ = try tx.existingApplication(applicationName)
            var group = try tx.existingDeploymentGroup(application: applicationName, name: current)
            // Each member given replaces the stored one; an empty list clears it.
            if let value = input.deploymentConfigName { group.deploymentConfigName = value }
            if let value = input.ec2TagFilters { group.ec2TagFilters = value }
            if let value = input.onPremisesInstanceTagFilters { group.onPremisesInstanceTagFilters = value }
            if let value = input.autoScalingGroups { group.autoScalingGroups = value.map { .init(name: $0) } }
            if let value = input.serviceRoleArn { group.serviceRoleArn = value }
            if let value = input.triggerConfigurations { group.triggerConfigurations = value }
            if let value = input.alarmConfiguration { group.alarmConfiguration = value }
            if let value = input.autoRollbackConfiguration { group.autoRollbackConfiguration = value }
            if let value = input.outdatedInstancesStrategy { group.outdatedInstancesStrategy = value }
            if let value = input.deploymentStyle { group.deploymentStyle = value }
            if let value = input.blueGreenDeploymentConfiguration { group.blueGreenDeploymentConfiguration = value }
            if let value = input.loadBalancerInfo { group.loadBalancerInfo = value }
            if let value = input.ec2TagSet { group.ec2TagSet = value }
            if let value = input.ecsServices { group.ecsServices = value }
            if let value = input.onPremisesTagSet { group.onPremisesTagSet = value }
            if let value = input.terminationHookEnabled { group.terminationHookEnabled = value }
            if input.ec2TagFilters != nil && input.ec2TagSet == nil { group.ec2TagSet = nil }
            if input.ec2TagSet != nil && input.ec2TagFilters == nil { group.ec2TagFilters = [] }
            if input.onPremisesInstanceTagFilters != nil && input.onPremisesTagSet == nil {
                group.onPremisesTagSet = nil
            }
            if input.onPremisesTagSet != nil && input.onPremisesInstanceTagFilters == nil {
                group.onPremisesInstanceTagFilters = []
            }

            var name = current
            if let newName = input.newDeploymentGroupName, newName != current {
                try Check.name(newName, .invalidDeploymentGroupNameException, what: "deployment group name")
                guard try tx.deploymentGroup(application: applicationName, name: newName) == nil else {
                    throw AWSJSONError(
                        .deploymentGroupAlreadyExistsException,
                        "The deployment group \(newName) already exists for application \(applicationName).")
                }
                try tx.delete(.deploymentGroup, scope: applicationName, name: current)
                try tx.moveTags(
                    from: arns.deploymentGroup(application: applicationName, group: current),
                    to: arns.deploymentGroup(application: applicationName, group: newName))
                try tx.moveGroupQueue(
                    of: group.deploymentGroupId ?? "", toApplication: applicationName, group: newName)
                name = newName
                group.deploymentGroupName = newName
            }
            try validateAndFillDefaults(&group, in: tx)
            try tx.set(group, .deploymentGroup, scope: applicationName, name: name)
        }
        return CodeDeploy.UpdateDeploymentGroupOutput(hooksNotCleanedUp: [])
    }

    static func defaultConfig(for platform: CodeDeploy.ComputePlatform) -> String {
        switch platform {
        case .lambda: "CodeDeployDefault.LambdaAllAtOnce"
        case .ecs: "CodeDeployDefault.ECSAllAtOnce"
        default: "CodeDeployDefault.OneAtATime"
        }
    }

    /// CodeDeploy's rules for a deployment group, applied to the group as it will be stored; fills in the defaults
    /// that AWS reports (empty lists, IN_PLACE style, UPDATE strategy, alarms off).
    static func validateAndFillDefaults(_ group: inout CodeDeploy.DeploymentGroupInfo, in tx: any StoreReader) throws {
        let platform = group.computePlatform ?? .server
        let configName = group.deploymentConfigName ?? defaultConfig(for: platform)
        try Check.name(configName, .invalidDeploymentConfigNameException, what: "deployment configuration name")
        let config = try tx.existingDeploymentConfig(configName)
        guard (config.computePlatform ?? .server) == platform else {
            throw AWSJSONError(
                .invalidDeploymentConfigNameException,
                "The deployment configuration \(configName) is for the \(config.computePlatform ?? .server) platform, "
                    + "but the application's platform is \(platform).")
        }
        guard let role = group.serviceRoleArn, role.hasPrefix("arn:") else {
            throw AWSJSONError(
                .invalidRoleException, "The service role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>).")
        }

        try TagRules.validateFilters(group.ec2TagFilters ?? [], code: .invalidEC2TagException)
        try TagRules.validateFilters(group.onPremisesInstanceTagFilters ?? [], code: .invalidTagException)
        if !(group.ec2TagFilters ?? []).isEmpty && group.ec2TagSet != nil {
            throw AWSJSONError(
                .invalidEC2TagCombinationException, "Give either ec2TagFilters or ec2TagSet, not both.")
        }
        if !(group.onPremisesInstanceTagFilters ?? []).isEmpty && group.onPremisesTagSet != nil {
            throw AWSJSONError(
                .invalidOnPremisesTagCombinationException,
                "Give either onPremisesInstanceTagFilters or onPremisesTagSet, not both.")
        }
        for set in group.ec2TagSet?.ec2TagSetList ?? [] {
            try TagRules.validateFilters(set, code: .invalidEC2TagException)
        }
        for set in group.onPremisesTagSet?.onPremisesTagSetList ?? [] {
            try TagRules.validateFilters(set, code: .invalidTagException)
        }
        if (group.ec2TagSet?.ec2TagSetList?.count ?? 0) > 3
            || (group.onPremisesTagSet?.onPremisesTagSetList?.count ?? 0) > 3
        {
            throw AWSJSONError(.tagSetListLimitExceededException, "A tag set can hold at most 3 groups of tags.")
        }
        if (group.autoScalingGroups?.count ?? 0) > 10 {
            throw AWSJSONError(
                .invalidAutoScalingGroupException, "A deployment group can name at most 10 Auto Scaling groups.")
        }

        let triggers = group.triggerConfigurations ?? []
        guard triggers.count <= 10 else {
            throw AWSJSONError(
                .triggerTargetsLimitExceededException, "A deployment group can have at most 10 triggers.")
        }
        for trigger in triggers {
            guard let triggerName = trigger.triggerName, !triggerName.isEmpty, let target = trigger.triggerTargetArn,
                target.hasPrefix("arn:")
            else {
                throw AWSJSONError(
                    .invalidTriggerConfigException,
                    "Every trigger needs a triggerName and an SNS topic ARN as triggerTargetArn.")
            }
            guard (trigger.triggerEvents ?? []).allSatisfy(\.isKnown) else {
                throw AWSJSONError(
                    .invalidTriggerConfigException, "The trigger \(triggerName) names an event that does not exist.")
            }
        }

        group.alarmConfiguration = try Check.alarmConfiguration(group.alarmConfiguration)

        if let rollback = group.autoRollbackConfiguration {
            guard (rollback.events ?? []).allSatisfy(\.isKnown) else {
                throw AWSJSONError(.invalidAutoRollbackConfigException, "An automatic rollback event does not exist.")
            }
            if rollback.enabled == true && (rollback.events ?? []).isEmpty {
                throw AWSJSONError(
                    .invalidAutoRollbackConfigException,
                    "Automatic rollback is enabled but names no event to roll back on.")
            }
        }

        var style = group.deploymentStyle ?? .init()
        style.deploymentType = style.deploymentType ?? (platform == .server ? .inPlace : .blueGreen)
        style.deploymentOption =
            style.deploymentOption ?? (platform == .server ? .withoutTrafficControl : .withTrafficControl)
        guard style.deploymentType!.isKnown, style.deploymentOption!.isKnown else {
            throw AWSJSONError(.invalidDeploymentStyleException, "The deployment style is not one CodeDeploy knows.")
        }
        group.deploymentStyle = style

        let loadBalancer = group.loadBalancerInfo
        if (loadBalancer?.elbInfoList?.count ?? 0) > 10 || (loadBalancer?.targetGroupInfoList?.count ?? 0) > 10 {
            throw AWSJSONError(
                .invalidLoadBalancerInfoException,
                "A deployment group can name at most 10 load balancers or target groups.")
        }
        let hasLoadBalancer =
            !(loadBalancer?.elbInfoList ?? []).isEmpty || !(loadBalancer?.targetGroupInfoList ?? []).isEmpty
            || !(loadBalancer?.targetGroupPairInfoList ?? []).isEmpty
        if style.deploymentOption == .withTrafficControl && !hasLoadBalancer && platform == .server {
            throw AWSJSONError(
                .invalidLoadBalancerInfoException, "A deployment with traffic control needs load balancer information.")
        }
        if platform == .server {
            // The names reach HAProxy's runtime API as backend names.
            let names =
                (loadBalancer?.elbInfoList ?? []).map { $0.name ?? "" }
                + (loadBalancer?.targetGroupInfoList ?? []).map { $0.name ?? "" }
            if let bad = names.first(where: { (try? HAProxyServer(backend: $0, server: "s")) == nil }) {
                throw AWSJSONError(
                    .invalidLoadBalancerInfoException,
                    "\(bad.debugDescription) cannot name an HAProxy backend: use letters, digits, '-', '_', '.' and "
                        + "':' (at most 100 characters).")
            }
        }
        if let pairs = loadBalancer?.targetGroupPairInfoList, !pairs.isEmpty, platform != .ecs {
            guard platform == .server, style.deploymentType == .blueGreen else {
                throw AWSJSONError(
                    .invalidTargetGroupPairException,
                    "A target group pair splits a blue/green deployment's traffic: it is for ECS and Server "
                        + "blue/green deployment groups only.")
            }
            try validateSplit(pairs)
        }
        if platform == .server && style.deploymentType == .blueGreen {
            // AWS runs blue/green only on EC2 behind an ELB; Slipway runs it on registered on-premises instances
            // behind the HAProxy backends the group names.
            guard style.deploymentOption == .withTrafficControl, hasLoadBalancer else {
                throw AWSJSONError(
                    .invalidDeploymentStyleException,
                    "A blue/green deployment moves traffic: give the group deploymentOption WITH_TRAFFIC_CONTROL and "
                        + "the load balancer backends (targetGroupInfoList or elbInfoList) its instances serve in.")
            }
            group.blueGreenDeploymentConfiguration = try validatedBlueGreen(group.blueGreenDeploymentConfiguration)
        }
        if platform == .ecs && (group.ecsServices ?? []).isEmpty {
            throw AWSJSONError(.invalidECSServiceException, "An ECS deployment group needs one ECS service.")
        }
        if platform != .server {
            let hasTargets =
                !(group.ec2TagFilters ?? []).isEmpty || !(group.onPremisesInstanceTagFilters ?? []).isEmpty
                || !(group.autoScalingGroups ?? []).isEmpty || group.ec2TagSet != nil || group.onPremisesTagSet != nil
            if hasTargets {
                throw AWSJSONError(
                    .invalidInputException,
                    "\(platform) deployment groups do not target instances or Auto Scaling groups.")
            }
        }
        guard (group.outdatedInstancesStrategy ?? .update).isKnown else {
            throw AWSJSONError(.invalidInputException, "outdatedInstancesStrategy must be UPDATE or IGNORE.")
        }
        group.outdatedInstancesStrategy = group.outdatedInstancesStrategy ?? .update
        group.deploymentConfigName = configName
        group.ec2TagFilters = group.ec2TagFilters ?? []
        group.onPremisesInstanceTagFilters = group.onPremisesInstanceTagFilters ?? []
        group.autoScalingGroups = group.autoScalingGroups ?? []
        group.triggerConfigurations = triggers
        group.terminationHookEnabled = group.terminationHookEnabled ?? false
    }
}

/// Rules of tag filters, shared by deployment groups and ListOnPremisesInstances.
enum TagRules {
    static func validateFilters(_ filters: [CodeDeploy.EC2TagFilter], code: CodeDeploy.ExceptionType) throws {
        try validateFilters(filters.map { ($0.key, $0.value, $0.type?.rawValue) }, code: code)
    }

    static func validateFilters(_ filters: [CodeDeploy.TagFilter], code: CodeDeploy.ExceptionType) throws {
        try validateFilters(filters.map { ($0.key, $0.value, $0.type?.rawValue) }, code: code)
    }

    private static func validateFilters(_ filters: [(String?, String?, String?)], code: CodeDeploy.ExceptionType) throws
    {
        for (key, value, type) in filters {
            let hasKey = !(key ?? "").isEmpty
            let hasValue = !(value ?? "").isEmpty
            switch type ?? "KEY_AND_VALUE" {
            case "KEY_ONLY" where hasKey: continue
            case "VALUE_ONLY" where hasValue: continue
            case "KEY_AND_VALUE" where hasKey && hasValue: continue
            case "KEY_ONLY", "VALUE_ONLY", "KEY_AND_VALUE":
                throw AWSJSONError(
                    code,
                    "A tag filter of type \(type ?? "KEY_AND_VALUE") needs \(type == "KEY_ONLY" ? "a Key" : type == "VALUE_ONLY" ? "a Value" : "a Key and a Value")."
                )
            default:
                throw AWSJSONError(
                    code, "The tag filter type '\(type ?? "")' must be KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE.")
            }
        }
    }
}

extension StoreReader {
    func existingDeploymentGroup(application: String, name: String) throws -> CodeDeploy.DeploymentGroupInfo {
        guard let group = try deploymentGroup(application: application, name: name) else {
            throw Self.noDeploymentGroup(application: application, name: name)
        }
        return group
    }

    /// The stored `DeploymentGroupInfo` document of a group, or `DeploymentGroupDoesNotExistException`.
    func existingDeploymentGroupDocument(application: String, name: String) throws -> Data {
        guard let record = try record(.deploymentGroup, scope: application, name: name) else {
            throw Self.noDeploymentGroup(application: application, name: name)
        }
        return record.document
    }

    private static func noDeploymentGroup(application: String, name: String) -> AWSJSONError {
        AWSJSONError(
            .deploymentGroupDoesNotExistException,
            "No Deployment Group found for name: \(name) in application \(application)")
    }
}

extension DeploymentGroupHandlers {
    /// A Server group's traffic split: one pair of HAProxy backends, and the map that splits requests between them
    /// as its production traffic route (the absolute path of the map file, as haproxy.cfg names it).
    static func validateSplit(_ pairs: [CodeDeploy.TargetGroupPairInfo]) throws {
        let backends = pairs.first?.targetGroups?.map { $0.name ?? "" } ?? []
        let listeners = pairs.first?.prodTrafficRoute?.listenerArns ?? []
        guard pairs.count == 1, backends.count == 2, Set(backends).count == 2,
            backends.allSatisfy({ (try? HAProxyServer(backend: $0, server: "s")) != nil })
        else {
            throw AWSJSONError(
                .invalidTargetGroupPairException,
                "A Server group's targetGroupPairInfoList holds one pair of two different HAProxy backend names "
                    + "(letters, digits, '-', '_', '.' and ':').")
        }
        guard listeners.count == 1, (try? HAProxyMapFile(path: listeners[0])) != nil,
            pairs.first?.testTrafficRoute == nil
        else {
            throw AWSJSONError(
                .invalidTargetGroupPairException,
                "A Server group's prodTrafficRoute names one listener: the absolute path of the HAProxy map file that "
                    + "splits requests between the two backends, as haproxy.cfg names it (letters, digits and "
                    + "/ - _ . + @ , = ~); there is no test traffic route.")
        }
    }

    /// A Server blue/green configuration with CodeDeploy's defaults filled in: replacement instances found by tag
    /// (`DISCOVER_EXISTING`), traffic moved as soon as they are ready (`CONTINUE_DEPLOYMENT`), and the original
    /// instances kept (`KEEP_ALIVE`: deregistering them is for the group to ask for). Waits are 0 to 2880 minutes.
    static func validatedBlueGreen(_ configuration: CodeDeploy.BlueGreenDeploymentConfiguration?) throws
        -> CodeDeploy.BlueGreenDeploymentConfiguration
    {
        var configuration = configuration ?? .init()
        var green = configuration.greenFleetProvisioningOption ?? .init(action: .discoverExisting)
        green.action = green.action ?? .discoverExisting
        guard green.action == .discoverExisting else {
            throw AWSJSONError(
                .invalidBlueGreenDeploymentConfigurationException,
                "greenFleetProvisioningOption must be DISCOVER_EXISTING: Slipway cannot copy Auto Scaling groups; "
                    + "register the replacement instances and name them with the deployment's targetInstances.")
        }
        var ready = configuration.deploymentReadyOption ?? .init(actionOnTimeout: .continueDeployment)
        ready.actionOnTimeout = ready.actionOnTimeout ?? .continueDeployment
        ready.waitTimeInMinutes = ready.waitTimeInMinutes ?? 0
        var blue = configuration.terminateBlueInstancesOnDeploymentSuccess ?? .init(action: .keepAlive)
        blue.action = blue.action ?? .keepAlive
        blue.terminationWaitTimeInMinutes = blue.terminationWaitTimeInMinutes ?? 0
        guard ready.actionOnTimeout!.isKnown, blue.action!.isKnown else {
            throw AWSJSONError(
                .invalidBlueGreenDeploymentConfigurationException,
                "actionOnTimeout must be CONTINUE_DEPLOYMENT or STOP_DEPLOYMENT, and the action on the original "
                    + "instances TERMINATE or KEEP_ALIVE.")
        }
        let limit = DeploymentPlan.maximumWaitMinutes
        for (name, minutes) in [
            ("waitTimeInMinutes", ready.waitTimeInMinutes!),
            ("terminationWaitTimeInMinutes", blue.terminationWaitTimeInMinutes!),
        ] where !(0...limit).contains(minutes) {
            throw AWSJSONError(
                .invalidBlueGreenDeploymentConfigurationException,
                "\(name) must be between 0 and \(limit) minutes (48 hours); it is \(minutes).")
        }
        if ready.actionOnTimeout == .stopDeployment && ready.waitTimeInMinutes == 0 {
            throw AWSJSONError(
                .invalidBlueGreenDeploymentConfigurationException,
                "STOP_DEPLOYMENT needs a waitTimeInMinutes above 0: it is how long the deployment waits in Ready for "
                    + "ContinueDeployment before it stops.")
        }
        configuration.greenFleetProvisioningOption = green
        configuration.deploymentReadyOption = ready
        configuration.terminateBlueInstancesOnDeploymentSuccess = blue
        return configuration
    }
}
