import Deployments
import Foundation
import SlipwayModel
import Store

/// A registered revision: where it is, and CodeDeploy's bookkeeping about it.
struct RevisionRecord: Codable, Sendable {
    var location: CodeDeploy.RevisionLocation
    var info: CodeDeploy.GenericRevisionInfo
}

/// RegisterApplicationRevision, GetApplicationRevision, BatchGetApplicationRevisions, ListApplicationRevisions.
enum RevisionHandlers {
    static let pageSize = 50

    static func register(in api: inout CodeDeployAPI) {
        api.on(.registerApplicationRevision) { (input: CodeDeploy.RegisterApplicationRevisionInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            guard let location = input.revision else {
                throw AWSJSONError(.revisionRequiredException, "The revision is required.")
            }
            try Limits.checkDescription(input.description)
            try await context.store.write { tx in
                let app = try tx.existingApplication(application)
                try RevisionKey.validate(location, platform: app.computePlatform ?? .server)
                let key = try RevisionKey.make(location)
                var record =
                    try tx.get(RevisionRecord.self, .revision, scope: application, name: key)
                    ?? RevisionRecord(location: location, info: .init(deploymentGroups: [], registerTime: context.now))
                record.info.description = input.description ?? record.info.description
                try tx.set(record, .revision, scope: application, name: key)
            }
        }
        api.on(.getApplicationRevision) { (input: CodeDeploy.GetApplicationRevisionInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            guard let location = input.revision else {
                throw AWSJSONError(.revisionRequiredException, "The revision is required.")
            }
            let record = try await context.store.read { tx in
                let app = try tx.existingApplication(application)
                try RevisionKey.validate(location, platform: app.computePlatform ?? .server)
                guard
                    let record = try tx.get(
                        RevisionRecord.self, .revision, scope: application, name: try RevisionKey.make(location))
                else {
                    throw AWSJSONError(
                        .revisionDoesNotExistException,
                        "The revision is not registered with application \(application).")
                }
                return record
            }
            return CodeDeploy.GetApplicationRevisionOutput(
                applicationName: application, revision: record.location, revisionInfo: record.info)
        }
        api.on(.batchGetApplicationRevisions) { (input: CodeDeploy.BatchGetApplicationRevisionsInput, context) in
            let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
            let locations = input.revisions ?? []
            guard !locations.isEmpty else {
                throw AWSJSONError(.revisionRequiredException, "At least one revision is required.")
            }
            try Limits.checkBatch(locations.count, of: .batchGetApplicationRevisions)
            return try await context.store.read { tx in
                let app = try tx.existingApplication(application)
                var found: [CodeDeploy.RevisionInfo] = []
                var missing = 0
                for location in locations {
                    try RevisionKey.validate(location, platform: app.computePlatform ?? .server)
                    if let record = try tx.get(
                        RevisionRecord.self, .revision, scope: application, name: try RevisionKey.make(location))
                    {
                        found.append(.init(genericRevisionInfo: record.info, revisionLocation: record.location))
                    } else {
                        missing += 1
                    }
                }
                return CodeDeploy.BatchGetApplicationRevisionsOutput(
                    applicationName: application,
                    errorMessage: missing == 0
                        ? nil : "\(missing) of the revisions are not registered with application \(application).",
                    revisions: found)
            }
        }
        api.on(.listApplicationRevisions, list)
    }

    static func list(_ input: CodeDeploy.ListApplicationRevisionsInput, _ context: HandlerContext) async throws
        -> CodeDeploy.ListApplicationRevisionsOutput
    {
        let application = try input.applicationName.required(.applicationNameRequiredException, "application name")
        let sortBy = input.sortBy ?? .registerTime
        guard sortBy.isKnown else {
            throw AWSJSONError(.invalidSortByException, "sortBy must be registerTime, firstUsedTime or lastUsedTime.")
        }
        let order = input.sortOrder ?? .ascending
        guard order.isKnown else {
            throw AWSJSONError(.invalidSortOrderException, "sortOrder must be ascending or descending.")
        }
        let deployed = input.deployed ?? .ignore
        guard deployed.isKnown else {
            throw AWSJSONError(.invalidDeployedStateFilterException, "deployed must be include, exclude or ignore.")
        }
        if input.s3KeyPrefix != nil && input.s3Bucket == nil {
            throw AWSJSONError(
                .bucketNameFilterRequiredException, "A key prefix filter needs a bucket name filter (s3Bucket).")
        }
        let records = try await context.store.read { tx in
            _ = try tx.existingApplication(application)
            return try tx.list(RevisionRecord.self, .revision, scope: application).map(\.value)
        }
        var selected = records.filter { record in
            if let bucket = input.s3Bucket, record.location.s3Location?.bucket != bucket { return false }
            if let prefix = input.s3KeyPrefix, !(record.location.s3Location?.key ?? "").hasPrefix(prefix) {
                return false
            }
            let wasDeployed = record.info.firstUsedTime != nil
            switch deployed {
            case .include: return wasDeployed
            case .exclude: return !wasDeployed
            default: return true
            }
        }
        func time(_ record: RevisionRecord) -> Date {
            let info = record.info
            switch sortBy {
            case .firstUsedTime: return info.firstUsedTime ?? .distantPast
            case .lastUsedTime: return info.lastUsedTime ?? .distantPast
            default: return info.registerTime ?? .distantPast
            }
        }
        selected.sort { order == .descending ? time($0) > time($1) : time($0) < time($1) }
        let (page, next) = try PageToken.pageByOffset(selected, token: input.nextToken, size: pageSize)
        return CodeDeploy.ListApplicationRevisionsOutput(nextToken: next, revisions: page.map(\.location))
    }
}

/// CodeDeploy's rules for a revision location (its identity, `make`, is the `Deployments` module's).
extension RevisionKey {
    static func validate(_ location: CodeDeploy.RevisionLocation, platform: CodeDeploy.ComputePlatform) throws {
        func invalid(_ message: String) -> AWSJSONError { AWSJSONError(.invalidRevisionException, message) }
        switch location.revisionType {
        case .s3?:
            guard let s3 = location.s3Location, !(s3.bucket ?? "").isEmpty, !(s3.key ?? "").isEmpty else {
                throw invalid("An S3 revision needs s3Location with a bucket and a key.")
            }
            guard let bundle = s3.bundleType else { throw invalid("An S3 revision needs a bundleType.") }
            let allowed: [CodeDeploy.BundleType] = platform == .server ? [.zip, .tar, .tgz] : [.yaml, .json]
            guard allowed.contains(bundle) else {
                throw invalid(
                    "The bundle type \(bundle) is not for the \(platform) platform; use one of "
                        + allowed.map(\.rawValue).joined(separator: ", ") + ".")
            }
        case .gitHub?:
            guard platform == .server else { throw invalid("GitHub revisions are for the Server platform only.") }
            guard let github = location.gitHubLocation, let repository = github.repository, repository.contains("/"),
                !(github.commitId ?? "").isEmpty
            else {
                throw invalid(
                    "A GitHub revision needs gitHubLocation with a repository (account/repository) and a commitId.")
            }
        case .string?:
            guard platform == .lambda else { throw invalid("String revisions are for the Lambda platform only.") }
            guard !(location.string?.content ?? "").isEmpty else { throw invalid("A String revision needs content.") }
        case .appSpecContent?:
            guard platform != .server else { throw invalid("AppSpecContent revisions are for Lambda and ECS only.") }
            guard !(location.appSpecContent?.content ?? "").isEmpty else {
                throw invalid("An AppSpecContent revision needs content.")
            }
        default:
            throw invalid("The revision type must be S3, GitHub, String or AppSpecContent.")
        }
    }
}
