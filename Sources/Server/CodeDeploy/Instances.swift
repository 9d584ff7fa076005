import Foundation
import SlipwayModel
import Store

/// RegisterOnPremisesInstance, DeregisterOnPremisesInstance, GetOnPremisesInstance, ListOnPremisesInstances,
/// BatchGetOnPremisesInstances, AddTagsToOnPremisesInstances, RemoveTagsFromOnPremisesInstances.
enum InstanceHandlers {
    static let pageSize = 100
    static let tagLimit = 10

    /// Deregisters instance `name` (DeregisterOnPremisesInstance, and a blue/green deployment's `TERMINATE`): it keeps
    /// its record with a `deregisterTime`, and its IAM user no longer speaks for it.
    static func deregister(_ name: String, in tx: any StoreWriter, accountID: String, now: Date) throws {
        guard var instance = try tx.instance(name), instance.deregisterTime == nil else { return }
        instance.deregisterTime = now
        try tx.set(instance, .instance, name: name)
        try tx.bindIAMUser(arn: instance.iamUserArn, accountID: accountID, toInstance: nil, previousInstance: name)
    }

    static func register(in api: inout CodeDeployAPI) {
        api.on(.registerOnPremisesInstance, registerInstance)
        api.on(.deregisterOnPremisesInstance) { (input: CodeDeploy.DeregisterOnPremisesInstanceInput, context) in
            let name = try input.instanceName.required(.instanceNameRequiredException, "instance name")
            try await context.store.write { tx in
                try deregister(name, in: tx, accountID: context.accountID, now: context.now)
            }
        }
        api.on(.getOnPremisesInstance) { (input: CodeDeploy.GetOnPremisesInstanceInput, context) in
            let name = try input.instanceName.required(.instanceNameRequiredException, "instance name")
            let instance = try await context.store.read { try $0.existingInstance(name) }
            return CodeDeploy.GetOnPremisesInstanceOutput(instanceInfo: instance)
        }
        api.on(.batchGetOnPremisesInstances) { (input: CodeDeploy.BatchGetOnPremisesInstancesInput, context) in
            let names = input.instanceNames ?? []
            guard !names.isEmpty else {
                throw AWSJSONError(.instanceNameRequiredException, "At least one instance name is required.")
            }
            try Limits.checkBatch(names.count, of: .batchGetOnPremisesInstances)
            let found = try await context.store.read { tx in try names.compactMap { try tx.instance($0) } }
            return CodeDeploy.BatchGetOnPremisesInstancesOutput(instanceInfos: found)
        }
        api.on(.listOnPremisesInstances, list)
        api.on(.addTagsToOnPremisesInstances) { (input: CodeDeploy.AddTagsToOnPremisesInstancesInput, context) in
            try await changeTags(input.instanceNames, input.tags, context: context) { instance, tags in
                var merged = ResourceTags(tags: instance.tags ?? [])
                merged.merge(tags)
                guard merged.tags.count <= tagLimit else {
                    throw AWSJSONError(
                        .tagLimitExceededException,
                        "An on-premises instance can have at most \(tagLimit) tags; \(instance.instanceName ?? "") would have \(merged.tags.count)."
                    )
                }
                instance.tags = merged.tags
            }
        }
        api.on(.removeTagsFromOnPremisesInstances) {
            (input: CodeDeploy.RemoveTagsFromOnPremisesInstancesInput, context) in
            try await changeTags(input.instanceNames, input.tags, context: context) { instance, tags in
                instance.tags = (instance.tags ?? []).filter { existing in
                    !tags.contains { $0.key == existing.key && ($0.value == nil || $0.value == existing.value) }
                }
            }
        }
    }

    static func registerInstance(_ input: CodeDeploy.RegisterOnPremisesInstanceInput, _ context: HandlerContext)
        async throws
    {
        let name = try input.instanceName.required(.instanceNameRequiredException, "instance name")
        try validateName(name)
        let userARN = input.iamUserArn.flatMap { $0.isEmpty ? nil : $0 }
        let sessionARN = input.iamSessionArn.flatMap { $0.isEmpty ? nil : $0 }
        switch (userARN, sessionARN) {
        case (nil, nil):
            throw AWSJSONError(
                .iamArnRequiredException, "Give the instance's IAM identity: iamUserArn or iamSessionArn.")
        case (.some, .some):
            throw AWSJSONError(.multipleIamArnsProvidedException, "Give either iamUserArn or iamSessionArn, not both.")
        case (let user?, nil):
            guard user.range(of: #"^arn:aws[a-z-]*:iam::\d{12}:user/.+$"#, options: .regularExpression) != nil else {
                throw AWSJSONError(
                    .invalidIamUserArnException,
                    "'\(user)' is not an IAM user ARN (arn:aws:iam::<account>:user/<name>).")
            }
        case (nil, let session?):
            guard
                session.range(of: #"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/.+$"#, options: .regularExpression)
                    != nil
            else {
                throw AWSJSONError(
                    .invalidIamSessionArnException,
                    "'\(session)' is not an IAM session ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>).")
            }
        }
        let instance = CodeDeploy.InstanceInfo(
            iamSessionArn: sessionARN, iamUserArn: userARN, instanceArn: context.arns.instance(name),
            instanceName: name,
            registerTime: context.now, tags: [])
        try await context.store.write { tx in
            if let existing = try tx.instance(name), existing.deregisterTime == nil {
                throw AWSJSONError(
                    .instanceNameAlreadyRegisteredException, "The on-premises instance \(name) is already registered.")
            }
            for other in try tx.list(CodeDeploy.InstanceInfo.self, .instance).map(\.value)
            where other.deregisterTime == nil {
                if let userARN, other.iamUserArn == userARN {
                    throw AWSJSONError(
                        .iamUserArnAlreadyRegisteredException,
                        "The IAM user \(userARN) is already registered for instance \(other.instanceName ?? "").")
                }
                if let sessionARN, other.iamSessionArn == sessionARN {
                    throw AWSJSONError(
                        .iamSessionArnAlreadyRegisteredException,
                        "The IAM session \(sessionARN) is already registered for instance \(other.instanceName ?? "").")
                }
            }
            try tx.set(instance, .instance, name: name)
            try tx.bindIAMUser(arn: userARN, accountID: context.accountID, toInstance: name)
        }
    }

    /// Instance names: 1–100 of `[A-Za-z0-9+=,.@_-]`, as the AWS CLI checks them.
    static func validateName(_ name: String) throws {
        try Check.name(name, .invalidInstanceNameException, what: "instance name")
    }

    static func list(_ input: CodeDeploy.ListOnPremisesInstancesInput, _ context: HandlerContext) async throws
        -> CodeDeploy.ListOnPremisesInstancesOutput
    {
        if let status = input.registrationStatus, !status.isKnown {
            throw AWSJSONError(
                .invalidRegistrationStatusException, "registrationStatus must be Registered or Deregistered.")
        }
        let filters = input.tagFilters ?? []
        do {
            try TagRules.validateFilters(filters, code: .invalidTagFilterException)
        }
        let instances = try await context.store.read {
            try $0.list(CodeDeploy.InstanceInfo.self, .instance).map(\.value)
        }
        let selected = instances.filter { instance in
            switch input.registrationStatus {
            case .registered?: if instance.deregisterTime != nil { return false }
            case .deregistered?: if instance.deregisterTime == nil { return false }
            default: break
            }
            return filters.isEmpty || filters.contains { TagMatching.matches($0, tags: instance.tags ?? []) }
        }
        let names = selected.compactMap(\.instanceName)
        let (page, next) = try PageToken.page(names, name: { $0 }, token: input.nextToken, size: pageSize)
        return CodeDeploy.ListOnPremisesInstancesOutput(instanceNames: page, nextToken: next)
    }

    private static func changeTags(
        _ names: [String]?, _ tags: [CodeDeploy.Tag]?, context: HandlerContext,
        change: @escaping @Sendable (inout CodeDeploy.InstanceInfo, [CodeDeploy.Tag]) throws -> Void
    ) async throws {
        let names = names ?? []
        guard !names.isEmpty else {
            throw AWSJSONError(.instanceNameRequiredException, "At least one instance name is required.")
        }
        guard names.count <= 100 else {
            throw AWSJSONError(.instanceLimitExceededException, "A request can name at most 100 instances.")
        }
        let tags = tags ?? []
        guard !tags.isEmpty else { throw AWSJSONError(.tagRequiredException, "At least one tag is required.") }
        for tag in tags {
            guard let key = tag.key, (1...128).contains(key.count), (tag.value ?? "").count <= 256 else {
                throw AWSJSONError(
                    .invalidTagException, "Every tag needs a Key of 1 to 128 characters and a Value of at most 256.")
            }
        }
        try await context.store.write { tx in
            for name in names {
                guard var instance = try tx.instance(name), instance.deregisterTime == nil else {
                    throw AWSJSONError(
                        .instanceNotRegisteredException, "The on-premises instance \(name) is not registered.")
                }
                try change(&instance, tags)
                try tx.set(instance, .instance, name: name)
            }
        }
    }
}

/// How tag filters select tagged things (on-premises instances here; deployment targets later).
enum TagMatching {
    static func matches(_ filter: CodeDeploy.TagFilter, tags: [CodeDeploy.Tag]) -> Bool {
        tags.contains { tag in
            switch filter.type ?? .keyAndValue {
            case .keyOnly: tag.key == filter.key
            case .valueOnly: tag.value == filter.value
            default: tag.key == filter.key && tag.value == filter.value
            }
        }
    }
}

extension StoreReader {
    func instance(_ name: String) throws -> CodeDeploy.InstanceInfo? {
        try get(CodeDeploy.InstanceInfo.self, .instance, name: name)
    }

    func existingInstance(_ name: String) throws -> CodeDeploy.InstanceInfo {
        guard let instance = try instance(name) else {
            throw AWSJSONError(.instanceNotRegisteredException, "The on-premises instance \(name) is not registered.")
        }
        return instance
    }
}
