import Foundation
import SlipwayModel
import Store

/// TagResource, UntagResource, ListTagsForResource on application and deployment-group ARNs; the GitHub token
/// operations (Slipway stores no GitHub tokens) and DeleteResourcesByExternalId (nothing is created from external ids).
enum TagHandlers {
    static let pageSize = 100

    static func register(in api: inout CodeDeployAPI) {
        api.on(.tagResource) { (input: CodeDeploy.TagResourceInput, context) in
            let arn = try input.resourceArn.required(.resourceArnRequiredException, "resource ARN")
            let tags = input.tags ?? []
            guard !tags.isEmpty else { throw AWSJSONError(.tagRequiredException, "At least one tag is required.") }
            try await context.store.write { tx in
                try requireResource(arn, in: tx, arns: context.arns)
                var merged = ResourceTags(tags: try tx.tags(of: arn))
                merged.merge(tags)
                try Check.resourceTags(merged.tags, code: .invalidTagsToAddException)
                try tx.addTags(tags, to: arn)
            }
        }
        api.on(.untagResource) { (input: CodeDeploy.UntagResourceInput, context) in
            let arn = try input.resourceArn.required(.resourceArnRequiredException, "resource ARN")
            let keys = input.tagKeys ?? []
            guard !keys.isEmpty else { throw AWSJSONError(.tagRequiredException, "At least one tag key is required.") }
            try await context.store.write { tx in
                try requireResource(arn, in: tx, arns: context.arns)
                try tx.removeTags(keys: keys, from: arn)
            }
        }
        api.on(.listTagsForResource) { (input: CodeDeploy.ListTagsForResourceInput, context) in
            let arn = try input.resourceArn.required(.resourceArnRequiredException, "resource ARN")
            let tags = try await context.store.read { tx in
                try requireResource(arn, in: tx, arns: context.arns)
                return try tx.tags(of: arn)
            }
            let (page, next) = try PageToken.pageByOffset(tags, token: input.nextToken, size: pageSize)
            return CodeDeploy.ListTagsForResourceOutput(nextToken: next, tags: page)
        }
        api.on(.listGitHubAccountTokenNames) { (input: CodeDeploy.ListGitHubAccountTokenNamesInput, _) in
            _ = try PageToken.parse(input.nextToken)
            return CodeDeploy.ListGitHubAccountTokenNamesOutput(tokenNameList: [])
        }
        api.on(.deleteGitHubAccountToken) {
            (input: CodeDeploy.DeleteGitHubAccountTokenInput, _) throws -> CodeDeploy.DeleteGitHubAccountTokenOutput in
            let name = try input.tokenName.required(
                .gitHubAccountTokenNameRequiredException, "GitHub account token name")
            throw AWSJSONError(
                .gitHubAccountTokenDoesNotExistException, "No GitHub account token named \(name) exists.")
        }
        api.on(.deleteResourcesByExternalId) { (_: CodeDeploy.DeleteResourcesByExternalIdInput, _) in
            CodeDeploy.DeleteResourcesByExternalIdOutput()
        }
    }

    /// The application or deployment group an ARN names must exist; other ARNs are refused.
    private static func requireResource(_ arn: String, in tx: any StoreReader, arns: ARNs) throws {
        guard arn.hasPrefix("arn:") else { throw AWSJSONError(.invalidArnException, "'\(arn)' is not an ARN.") }
        switch arns.parse(arn) {
        case .application(let name)?:
            _ = try tx.existingApplication(name)
        case .deploymentGroup(let application, let group)?:
            _ = try tx.existingApplication(application)
            _ = try tx.existingDeploymentGroup(application: application, name: group)
        case nil:
            throw AWSJSONError(
                .arnNotSupportedException,
                "Tags are supported on application and deployment-group ARNs of region \(arns.region) and account \(arns.accountID); '\(arn)' is neither."
            )
        }
    }
}
