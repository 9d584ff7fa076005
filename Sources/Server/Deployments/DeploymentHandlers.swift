import ArtifactStore
import Deployments
import Engine
import Foundation
import S3Transfer
import SlipwayModel
import Store

/// CreateDeployment, GetDeployment, BatchGetDeployments, ListDeployments, StopDeployment, the deployment-target
/// operations and their deprecated instance variants.
enum DeploymentHandlers {
    static let pageSize = 100

    static func register(in api: inout CodeDeployAPI) {
        api.on(.createDeployment, create)
        api.on(.getDeployment) { (input: CodeDeploy.GetDeploymentInput, context) in
            let id = try deploymentID(input.deploymentId)
            let record = try await context.store.read { try authorizedDeployment(id, in: $0, context) }
            return CodeDeploy.GetDeploymentOutput(deploymentInfo: record.info)
        }
        api.on(.batchGetDeployments) { (input: CodeDeploy.BatchGetDeploymentsInput, context) in
            let ids = input.deploymentIds ?? []
            try Limits.checkBatch(ids.count, of: .batchGetDeployments)
            for id in ids { _ = try deploymentID(id) }
            let records = try await context.store.read { tx in
                let records = try ids.compactMap { try tx.deployment($0) }
                try context.authorize(records)
                return records
            }
            return CodeDeploy.BatchGetDeploymentsOutput(deploymentsInfo: records.map(\.info))
        }
        api.on(.listDeployments, list)
        api.on(.stopDeployment) { (input: CodeDeploy.StopDeploymentInput, context) in
            let id = try deploymentID(input.deploymentId)
            _ = try await context.store.read { try authorizedDeployment(id, in: $0, context) }
            // The driver refuses a deployment that has ended (DeploymentAlreadyCompletedException).
            let status =
                try await context.deployments.apply(
                    .stop(autoRollbackEnabled: input.autoRollbackEnabled), to: id, now: context.now
                ) { $0.stopStatus } ?? .pending
            return CodeDeploy.StopDeploymentOutput(
                status: status,
                statusMessage: status == .succeeded
                    ? "The deployment is stopped." : "The deployment is stopping: running lifecycle events may finish.")
        }
        api.on(.listDeploymentTargets) { (input: CodeDeploy.ListDeploymentTargetsInput, context) in
            let id = try deploymentID(input.deploymentId)
            let filters = input.targetFilters ?? [:]
            if let unknown = filters.keys.first(where: { $0 != .targetStatus && $0 != .serverInstanceLabel }) {
                throw AWSJSONError(
                    .invalidTargetFilterNameException,
                    "\(unknown.rawValue.debugDescription) is not a target filter: use TargetStatus or "
                        + "ServerInstanceLabel.")
            }
            let statuses = filters[.targetStatus].map(Set.init)
            let labels = filters[.serverInstanceLabel].map(Set.init)
            let names = try await hostNames(of: id, statuses: statuses, labels: labels, context: context)
            let (page, next) = try PageToken.page(names, name: { $0 }, token: input.nextToken, size: pageSize)
            return CodeDeploy.ListDeploymentTargetsOutput(nextToken: next, targetIds: page)
        }
        api.on(.batchGetDeploymentTargets) { (input: CodeDeploy.BatchGetDeploymentTargetsInput, context) in
            let id = try deploymentID(input.deploymentId)
            let names = input.targetIds ?? []
            guard !names.isEmpty else {
                throw AWSJSONError(.deploymentTargetIdRequiredException, "At least one target id is required.")
            }
            let limit = Limits.batch[.batchGetDeploymentTargets] ?? 0
            guard names.count <= limit else {
                throw AWSJSONError(
                    .deploymentTargetListSizeExceededException,
                    "At most \(limit) target ids can be given; \(names.count) were.")
            }
            let hosts = try await hosts(names, of: id, context: context)
            let targets = try zip(names, hosts).map { try target($1, named: $0, of: id, context: context) }
            return CodeDeploy.BatchGetDeploymentTargetsOutput(deploymentTargets: targets)
        }
        api.on(.getDeploymentTarget) { (input: CodeDeploy.GetDeploymentTargetInput, context) in
            let id = try deploymentID(input.deploymentId)
            let name = try input.targetId.required(.deploymentTargetIdRequiredException, "target id")
            let host = try await hosts([name], of: id, context: context)[0]
            return CodeDeploy.GetDeploymentTargetOutput(
                deploymentTarget: try target(host, named: name, of: id, context: context))
        }
        api.on(.listDeploymentInstances) { (input: CodeDeploy.ListDeploymentInstancesInput, context) in
            let id = try deploymentID(input.deploymentId)
            let statuses = input.instanceStatusFilter.map { Set($0.map(\.rawValue)) }
            let names = try await hostNames(of: id, statuses: statuses, context: context)
            let (page, next) = try PageToken.page(names, name: { $0 }, token: input.nextToken, size: pageSize)
            return CodeDeploy.ListDeploymentInstancesOutput(instancesList: page, nextToken: next)
        }
        api.on(.batchGetDeploymentInstances) { (input: CodeDeploy.BatchGetDeploymentInstancesInput, context) in
            let id = try deploymentID(input.deploymentId)
            let names = input.instanceIds ?? []
            guard !names.isEmpty else {
                throw AWSJSONError(.instanceIdRequiredException, "At least one instance id is required.")
            }
            try Limits.checkBatch(names.count, of: .batchGetDeploymentInstances)
            let hosts = try await hosts(names, of: id, context: context)
            let missing = zip(names, hosts).filter { $0.1 == nil }.map(\.0)
            return CodeDeploy.BatchGetDeploymentInstancesOutput(
                errorMessage: missing.isEmpty
                    ? nil : "Instances not in deployment \(id): \(missing.joined(separator: ", "))",
                instancesSummary: hosts.compactMap { host in
                    host.map {
                        $0.instanceSummary(deploymentId: id, instanceId: context.arns.instance($0.instanceName))
                    }
                })
        }
        api.on(.getDeploymentInstance) { (input: CodeDeploy.GetDeploymentInstanceInput, context) in
            let id = try deploymentID(input.deploymentId)
            let name = try input.instanceId.required(.instanceIdRequiredException, "instance id")
            guard let host = try await hosts([name], of: id, context: context)[0] else {
                throw AWSJSONError(
                    .instanceDoesNotExistException, "The instance \(name) is not part of deployment \(id).")
            }
            return CodeDeploy.GetDeploymentInstanceOutput(
                instanceSummary: host.instanceSummary(deploymentId: id, instanceId: context.arns.instance(name)))
        }
        api.on(.continueDeployment) { (input: CodeDeploy.ContinueDeploymentInput, context) in
            let wait: DeploymentWait
            switch input.deploymentWaitType?.rawValue {
            case nil, DeploymentWait.readyWait.rawValue: wait = .readyWait
            case DeploymentWait.terminationWait.rawValue: wait = .terminationWait
            default:
                throw AWSJSONError(
                    .invalidDeploymentWaitTypeException, "deploymentWaitType must be READY_WAIT or TERMINATION_WAIT.")
            }
            try await continueDeployment(input.deploymentId, wait, context)
        }
        api.on(.skipWaitTimeForInstanceTermination) {
            (input: CodeDeploy.SkipWaitTimeForInstanceTerminationInput, context) in
            try await continueDeployment(input.deploymentId, .terminationWait, context)
        }
    }

    // MARK: CreateDeployment

    static func create(_ input: CodeDeploy.CreateDeploymentInput, _ context: HandlerContext) async throws
        -> CodeDeploy.CreateDeploymentOutput
    {
        let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
        let groupName = try input.deploymentGroupName.required(
            .deploymentGroupNameRequiredException, "deployment group name")
        try Limits.checkDescription(input.description)
        try validate(input.targetInstances)
        let overrideAlarms = try input.overrideAlarmConfiguration.map { try Check.alarmConfiguration($0) }
        try validate(input.autoRollbackConfiguration)
        // The application, group and configuration are checked before the revision, as CodeDeploy does, and the
        // revision's S3 object is looked up only for a caller who may read it.
        let revision = try await context.store.read { tx in
            try target(of: input, application: application, group: groupName, in: tx).revision
        }
        try authorizeRead(of: revision, context: context)
        let located = try await locate(input.revision, context: context)
        let record = try await context.deployments.create(now: context.now) { tx in
            // Checked again on what this transaction stores: the group may have changed since the read above.
            let (group, revision) = try target(of: input, application: application, group: groupName, in: tx)
            try authorizeRead(of: revision, context: context)
            let groupARN = context.arns.deploymentGroup(application: application, group: groupName)
            if overrideAlarms != nil {
                // CodeDeploy asks for the right to change the group's alarms to override them.
                try context.principal.authorizeCodeDeploy(
                    .updateDeploymentGroup, deploymentGroup: groupName, application: application, arns: context.arns)
            }
            if let active = try tx.groupQueue(group.deploymentGroupId ?? "")?.active {
                throw AWSJSONError(
                    .deploymentLimitExceededException,
                    "The Deployment Group '\(groupName)' already has an active Deployment '\(active)'")
            }
            try recordUse(of: revision, application: application, group: groupName, in: tx, now: context.now)
            var plan = DeploymentPlan(
                applicationName: application, group: group, configName: input.deploymentConfigName,
                revision: revision, creator: .user, description: input.description,
                ignoreApplicationStopFailures: input.ignoreApplicationStopFailures ?? false,
                fileExistsBehavior: input.fileExistsBehavior,
                autoRollbackConfiguration: input.autoRollbackConfiguration,
                updateOutdatedInstancesOnly: input.updateOutdatedInstancesOnly ?? false, rollbackOf: nil,
                bundleETag: located?.eTag, targetInstances: input.targetInstances,
                overrideAlarmConfiguration: overrideAlarms, bakeTime: Check.bakeTime(of: try tx.tags(of: groupARN)))
            plan.createdBy = context.principal.displayName
            return plan
        }
        context.logger.info(
            "deployment created",
            metadata: ["deployment": "\(record.id)", "targets": "\(record.machine.hosts.count)"])
        return CodeDeploy.CreateDeploymentOutput(deploymentId: record.id)
    }

    /// What a deployment goes to and what it deploys, in CodeDeploy's order of checks: the application (on the
    /// Server platform), the deployment group (in place), the deployment configuration, then the revision (the
    /// request's, or the group's target revision).
    private static func target(
        of input: CodeDeploy.CreateDeploymentInput, application: String, group groupName: String,
        in tx: any StoreReader
    ) throws -> (group: CodeDeploy.DeploymentGroupInfo, revision: CodeDeploy.RevisionLocation) {
        let app = try tx.existingApplication(application)
        guard (app.computePlatform ?? .server) == .server else {
            throw AWSJSONError(
                type: "NotImplementedException",
                message: "Deployments to the \(app.computePlatform?.rawValue ?? "") compute platform are not "
                    + "supported by Slipway yet; only Server (EC2/on-premises) deployments are.",
                status: 501)
        }
        let group = try tx.existingDeploymentGroup(application: application, name: groupName)
        let targets = input.targetInstances
        let namesTargets = !(targets?.tagFilters ?? []).isEmpty || targets?.ec2TagSet != nil
        if group.deploymentStyle?.deploymentType == .blueGreen {
            guard namesTargets else {
                throw AWSJSONError(
                    .invalidTargetInstancesException,
                    "Deployment group \(groupName) is blue/green: name its replacement instances with "
                        + "targetInstances (tagFilters or ec2TagSet, matched against on-premises instance tags).")
            }
        } else if namesTargets {
            throw AWSJSONError(
                .invalidTargetInstancesException,
                "targetInstances is for blue/green deployments, which choose their replacement instances; an in-place "
                    + "deployment goes to the instances its deployment group selects.")
        }
        if let name = input.deploymentConfigName, try tx.deploymentConfig(name) == nil {
            throw AWSJSONError(
                .deploymentConfigDoesNotExistException, "The deployment configuration \(name) does not exist.")
        }
        guard let revision = input.revision ?? group.targetRevision else {
            throw AWSJSONError(
                .revisionRequiredException,
                "A revision is required: the deployment group \(groupName) has no target revision to redeploy.")
        }
        try RevisionKey.validate(revision, platform: .server)
        return (group, revision)
    }

    /// The caller of CreateDeployment must be allowed to read an S3 revision (`s3:GetObject`, or
    /// `s3:GetObjectVersion` for a named version): its agents will download it, and the lookup tells whether it
    /// exists and its eTag. Other revision types need nothing here.
    static func authorizeRead(of revision: CodeDeploy.RevisionLocation, context: HandlerContext) throws {
        guard revision.revisionType == .s3, let s3 = revision.s3Location, let bucket = s3.bucket, let key = s3.key
        else { return }
        // A bucket name with a slash would make the object's ARN name another bucket's object.
        guard BucketName.isPlausible(bucket) else {
            throw AWSJSONError(
                .invalidRevisionException,
                "The revision's bucket name is not valid: a bucket name has 1 to 255 characters and no '/'.")
        }
        let action = s3.version == nil ? "s3:GetObject" : "s3:GetObjectVersion"
        do {
            try context.principal.authorize(action, resources: ["arn:aws:s3:::\(bucket)/\(key)"])
        } catch {
            throw error.json
        }
    }

    /// The S3 object of a revision, which must exist (in the built-in store or at an external endpoint) with the
    /// eTag and version the revision names; nil for a revision that is not in S3.
    private static func locate(_ revision: CodeDeploy.RevisionLocation?, context: HandlerContext) async throws
        -> RevisionObject?
    {
        guard let revision, revision.revisionType == .s3, let s3 = revision.s3Location, let bucket = s3.bucket,
            let key = s3.key
        else { return nil }
        let location = "s3://\(bucket)/\(key)" + (s3.version.map { " (version \($0))" } ?? "")
        let object: RevisionObject?
        do {
            object = try await context.revisions.locateRevision(bucket: bucket, key: key, version: s3.version)
        } catch {
            throw AWSJSONError(.invalidRevisionException, "The revision \(location) could not be checked: \(error)")
        }
        guard let object else {
            let known = (try? await context.revisions.hostsBucket(bucket)) ?? false
            throw AWSJSONError(
                .revisionDoesNotExistException,
                "The revision \(location) does not exist"
                    + (known
                        ? "; upload it first (aws deploy push, aws s3 cp)."
                        : ": Slipway hosts no bucket \(bucket) and no external S3 endpoint serves it."))
        }
        let quotes = CharacterSet(charactersIn: "\"")
        if let eTag = s3.eTag?.trimmingCharacters(in: quotes), !eTag.isEmpty, eTag != object.eTag {
            throw AWSJSONError(
                .invalidRevisionException,
                "The revision \(location) has eTag \(object.eTag), not the \(eTag) the request names: the object "
                    + "changed since it was registered. Push it again or name its current eTag.")
        }
        return object
    }

    /// A blue/green deployment's `targetInstances`: tag filters (at most 10) or a tag set, never Auto Scaling groups.
    private static func validate(_ targets: CodeDeploy.TargetInstances?) throws {
        guard let targets else { return }
        if !(targets.autoScalingGroups ?? []).isEmpty {
            throw AWSJSONError(
                .invalidTargetInstancesException,
                "Slipway has no Auto Scaling groups to copy or read (COPY_AUTO_SCALING_GROUP): name the replacement "
                    + "instances with tagFilters or ec2TagSet.")
        }
        if !(targets.tagFilters ?? []).isEmpty && targets.ec2TagSet != nil {
            throw AWSJSONError(
                .invalidTargetInstancesException, "targetInstances takes tagFilters or an ec2TagSet, not both.")
        }
        let filters = (targets.tagFilters ?? []) + (targets.ec2TagSet?.ec2TagSetList ?? []).flatMap { $0 }
        guard (targets.tagFilters ?? []).count <= 10, (targets.ec2TagSet?.ec2TagSetList ?? []).count <= 3 else {
            throw AWSJSONError(
                .invalidTargetInstancesException,
                "targetInstances can name at most 10 tag filters, or an ec2TagSet of at most 3 groups.")
        }
        for filter in filters {
            guard filter.type.map(\.isKnown) ?? true, filter.key != nil || filter.value != nil else {
                throw AWSJSONError(
                    .invalidTagFilterException,
                    "A tag filter of targetInstances needs a key or a value, and a type of KEY_ONLY, VALUE_ONLY or "
                        + "KEY_AND_VALUE.")
            }
        }
    }

    private static func validate(_ rollback: CodeDeploy.AutoRollbackConfiguration?) throws {
        guard let rollback, rollback.enabled == true else { return }
        guard !(rollback.events ?? []).isEmpty else {
            throw AWSJSONError(
                .invalidAutoRollbackConfigException,
                "Automatic rollback is enabled without events: name DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_REQUEST "
                    + "or both.")
        }
    }

    /// CodeDeploy registers a deployed revision and keeps its first/last use and the groups it went to.
    private static func recordUse(
        of revision: CodeDeploy.RevisionLocation, application: String, group: String, in tx: any StoreWriter, now: Date
    ) throws {
        let key = try RevisionKey.make(revision)
        var record =
            try tx.get(RevisionRecord.self, .revision, scope: application, name: key)
            ?? RevisionRecord(location: revision, info: .init(deploymentGroups: [], registerTime: now))
        if !(record.info.deploymentGroups ?? []).contains(group) {
            record.info.deploymentGroups = (record.info.deploymentGroups ?? []) + [group]
        }
        record.info.firstUsedTime = record.info.firstUsedTime ?? now
        record.info.lastUsedTime = now
        try tx.set(record, .revision, scope: application, name: key)
    }

    // MARK: ListDeployments

    static func list(_ input: CodeDeploy.ListDeploymentsInput, _ context: HandlerContext) async throws
        -> CodeDeploy.ListDeploymentsOutput
    {
        // CodeDeploy lists one deployment group's deployments or everyone's: a name alone is an error.
        switch (input.applicationName, input.deploymentGroupName) {
        case (nil, .some):
            throw AWSJSONError(
                .applicationNameRequiredException, "A deployment group name needs its application name.")
        case (.some, nil):
            throw AWSJSONError(
                .deploymentGroupNameRequiredException,
                "An application name needs a deployment group name: list one group's deployments, or leave both out "
                    + "to list every group's.")
        default: break
        }
        let statuses = input.includeOnlyStatuses.map { Set($0.map(\.rawValue)) }
        let range = input.createTimeRange
        let records = try await context.store.read { tx in
            if let application = input.applicationName {
                _ = try tx.existingApplication(application)
                if let group = input.deploymentGroupName {
                    _ = try tx.existingDeploymentGroup(application: application, name: group)
                }
            }
            return try tx.list(DeploymentRecord.self, .deployment).map(\.value)
        }
        let matching = records.filter { record in
            let info = record.info
            if let application = input.applicationName, info.applicationName != application { return false }
            if let group = input.deploymentGroupName, info.deploymentGroupName != group { return false }
            if let statuses, !statuses.contains(info.status?.rawValue ?? "") { return false }
            if let externalId = input.externalId, info.externalId != externalId { return false }
            let created = info.createTime ?? .distantPast
            if let start = range?.start, created < start { return false }
            if let end = range?.end, created > end { return false }
            return true
        }
        .sorted { ($0.info.createTime ?? .distantPast, $0.id) > ($1.info.createTime ?? .distantPast, $1.id) }
        let (page, next) = try PageToken.pageByOffset(matching.map(\.id), token: input.nextToken, size: pageSize)
        return CodeDeploy.ListDeploymentsOutput(deployments: page, nextToken: next)
    }

    // MARK: Helpers

    private static func deploymentID(_ text: String?) throws -> String {
        let id = try text.required(.deploymentIdRequiredException, "deployment id")
        guard DeploymentID.isValid(id) else {
            throw AWSJSONError(.invalidDeploymentIdException, "\(id) is not a deployment id (d- and 9 characters).")
        }
        return id
    }

    /// The deployment, or `DeploymentDoesNotExistException`, once the request is authorised on its group: the
    /// record returned is the one the decision was made on.
    private static func authorizedDeployment(_ id: String, in tx: any StoreReader, _ context: HandlerContext) throws
        -> DeploymentRecord
    {
        let record = try tx.existingDeployment(id)
        try context.authorize([record])
        return record
    }

    /// The names of a deployment's hosts (with one of `statuses` and one of the blue/green `labels`, when given),
    /// sorted.
    private static func hostNames(
        of id: String, statuses: Set<String>?, labels: Set<String>? = nil, context: HandlerContext
    ) async throws -> [String] {
        let hosts = try await context.store.read { tx in
            _ = try authorizedDeployment(id, in: tx, context)
            return try tx.deploymentHosts(id)
        }
        return hosts.filter { host in
            (statuses?.contains(host.status.rawValue) ?? true)
                && (labels.map { host.target.label.map(\.rawValue).map($0.contains) ?? false } ?? true)
        }.map(\.instanceName).sorted()
    }

    /// The named hosts of a deployment; nil for a name that is not one of them.
    private static func hosts(_ names: [String], of id: String, context: HandlerContext) async throws
        -> [HostLifecycle?]
    {
        try await context.store.read { tx in
            _ = try authorizedDeployment(id, in: tx, context)
            return try names.map { try tx.deploymentHost(id, instanceName: $0) }
        }
    }

    private static func target(_ host: HostLifecycle?, named name: String, of id: String, context: HandlerContext)
        throws -> CodeDeploy.DeploymentTarget
    {
        guard let host else {
            throw AWSJSONError(
                .deploymentTargetDoesNotExistException, "The target \(name) is not part of deployment \(id).")
        }
        return CodeDeploy.DeploymentTarget(
            deploymentTargetType: .instanceTarget,
            instanceTarget: host.instanceTarget(deploymentId: id, targetArn: context.arns.instance(name)))
    }

    /// ContinueDeployment and SkipWaitTimeForInstanceTermination: the driver checks, in the transaction that
    /// applies it, that the deployment waits for `wait`.
    private static func continueDeployment(_ id: String?, _ wait: DeploymentWait, _ context: HandlerContext)
        async throws
    {
        let id = try deploymentID(id)
        _ = try await context.store.read { try authorizedDeployment(id, in: $0, context) }
        try await context.deployments.apply(.continueDeployment(wait), to: id, now: context.now)
        context.logger.info("deployment continued", metadata: ["deployment": "\(id)", "wait": "\(wait.rawValue)"])
    }
}
