import Deployments
import Foundation
import SlipwayModel
import Store

/// CreateApplication, GetApplication, UpdateApplication, DeleteApplication, ListApplications, BatchGetApplications.
enum ApplicationHandlers {
    static let pageSize = 100
    /// AWS's default quota of applications per account and region.
    static let limit = 1000

    static func register(in api: inout CodeDeployAPI) {
        api.on(.createApplication, create)
        api.on(.getApplication) { (input: CodeDeploy.GetApplicationInput, context) in
            let name = try input.applicationName.required(.applicationNameRequiredException, "application name")
            guard let application = try await context.store.record(.application, scope: "", name: name) else {
                throw AWSJSONError.noApplication(name)
            }
            return StoredResult(member: "application", content: .one(application.document))
        }
        api.on(.updateApplication, rename)
        api.on(.deleteApplication, delete)
        api.on(.listApplications) { (input: CodeDeploy.ListApplicationsInput, context) in
            let names = try await context.store.read {
                try $0.records(.application, scope: "", after: nil, limit: .max).map(\.name)
            }
            let (page, next) = try PageToken.page(names, name: { $0 }, token: input.nextToken, size: pageSize)
            return CodeDeploy.ListApplicationsOutput(applications: page, nextToken: next)
        }
        api.on(.batchGetApplications) { (input: CodeDeploy.BatchGetApplicationsInput, context) in
            let names = input.applicationNames ?? []
            guard !names.isEmpty else {
                throw AWSJSONError(.applicationNameRequiredException, "At least one application name is required.")
            }
            try Limits.checkBatch(names.count, of: .batchGetApplications)
            let found = try await context.store.read { tx in try names.map { try tx.existingApplicationDocument($0) } }
            return StoredResult(member: "applicationsInfo", content: .list(found))
        }
    }

    static func create(_ input: CodeDeploy.CreateApplicationInput, _ context: HandlerContext) async throws
        -> CodeDeploy.CreateApplicationOutput
    {
        let name = try input.applicationName.required(.applicationNameRequiredException, "application name")
        try Check.name(name, .invalidApplicationNameException, what: "application name")
        let platform = input.computePlatform ?? .server
        guard platform.isKnown else {
            throw AWSJSONError(.invalidComputePlatformException, "The compute platform must be Server, Lambda or ECS.")
        }
        let tags = input.tags ?? []
        try Check.resourceTags(tags, code: .invalidTagsToAddException)
        let application = CodeDeploy.ApplicationInfo(
            applicationId: UUID().uuidString.lowercased(), applicationName: name, computePlatform: platform,
            createTime: context.now, linkedToGitHub: false)
        let arn = context.arns.application(name)
        try await context.store.write { tx in
            guard try tx.count(.application, scope: "") < limit else {
                throw AWSJSONError(
                    .applicationLimitExceededException, "This account has \(limit) applications, the most it can have.")
            }
            guard try tx.create(application, .application, name: name) else {
                throw AWSJSONError(.applicationAlreadyExistsException, "The application \(name) already exists.")
            }
            try tx.addTags(tags, to: arn)
        }
        return CodeDeploy.CreateApplicationOutput(applicationId: application.applicationId)
    }

    /// Renames an application; its deployment groups, revisions and tags move with it.
    static func rename(_ input: CodeDeploy.UpdateApplicationInput, _ context: HandlerContext) async throws {
        let name = try input.applicationName.required(.applicationNameRequiredException, "application name")
        guard let newName = input.newApplicationName, newName != name else { return }
        try Check.name(newName, .invalidApplicationNameException, what: "application name")
        let arns = context.arns
        try await context.store.write { tx in
            var application = try tx.existingApplication(name)
            guard try tx.application(newName) == nil else {
                throw AWSJSONError(.applicationAlreadyExistsException, "The application \(newName) already exists.")
            }
            application.applicationName = newName
            try tx.delete(.application, scope: "", name: name)
            try tx.set(application, .application, name: newName)
            try tx.moveTags(from: arns.application(name), to: arns.application(newName))
            for kind in [RecordKind.deploymentGroup, .revision] {
                for record in try tx.records(kind, scope: name, after: nil, limit: .max) {
                    var document = record.document
                    if kind == .deploymentGroup {
                        var group = try tx.get(
                            CodeDeploy.DeploymentGroupInfo.self, kind, scope: name, name: record.name)!
                        group.applicationName = newName
                        document = try AWSJSON.makeEncoder().encode(group)
                        try tx.moveTags(
                            from: arns.deploymentGroup(application: name, group: record.name),
                            to: arns.deploymentGroup(application: newName, group: record.name))
                        try tx.moveGroupQueue(
                            of: group.deploymentGroupId ?? "", toApplication: newName, group: record.name)
                    }
                    try tx.put(kind, scope: newName, name: record.name, document: document)
                }
                try tx.deleteAll(kind, scope: name)
            }
        }
    }

    /// Deletes an application with its deployment groups, revisions and tags. Deleting one that does not exist
    /// succeeds, as in CodeDeploy.
    static func delete(_ input: CodeDeploy.DeleteApplicationInput, _ context: HandlerContext) async throws {
        let name = try input.applicationName.required(.applicationNameRequiredException, "application name")
        try Check.name(name, .invalidApplicationNameException, what: "application name")
        let arns = context.arns
        try await context.store.write { tx in
            guard try tx.delete(.application, scope: "", name: name) else { return }
            try tx.deleteTags(of: arns.application(name))
            for group in try tx.records(.deploymentGroup, scope: name, after: nil, limit: .max) {
                try tx.deleteTags(of: arns.deploymentGroup(application: name, group: group.name))
            }
            try tx.deleteAll(.deploymentGroup, scope: name)
            try tx.deleteAll(.revision, scope: name)
        }
    }
}
