import Foundation
import SlipwayModel
import Testing

@testable import Server

@Suite("CodeDeploy request limits and order of checks")
struct CodeDeployRequestTests {
    private static let gitHub =
        #"{"revisionType":"GitHub","gitHubLocation":{"repository":"acme/web","commitId":"abc"}}"#

    @Test("a revision's description may have 256 characters and no more, counted as AWS counts them")
    func revisionDescription() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        func register(_ description: String) async -> String {
            let text = String(decoding: try! JSONEncoder().encode(description), as: UTF8.self)
            return await harness.outcome(
                "RegisterApplicationRevision",
                #"{"applicationName":"web","revision":\#(Self.gitHub),"description":\#(text)}"#)
        }
        #expect(await register(String(repeating: "a", count: 256)) == "ok")
        #expect(await register(String(repeating: "a", count: 257)) == "DescriptionTooLongException")
        #expect(await register(String(repeating: "a", count: 1_000)) == "DescriptionTooLongException")
        #expect(
            await register("e" + String(repeating: "\u{301}", count: 300)) == "DescriptionTooLongException",
            "one grapheme of 300 combining marks is 301 characters")
        #expect(await register(String(repeating: "x", count: 1 << 20)) == "DescriptionTooLongException")
        #expect(await register("tab\there, NUL \u{0} and \u{1B}[31m escape") == "ok")
        #expect(
            await harness.outcome(
                "RegisterApplicationRevision",
                #"{"applicationName":"web","revision":\#(Self.gitHub),"description":12}"#) == "SerializationException")
    }

    @Test("a deployment's description may have 256 characters and no more")
    func deploymentDescription() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let long = String(repeating: "é", count: 257)
        #expect(
            await harness.outcome(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"staging","revision":\#(Self.gitHub),"description":"\#(long)"}"#
            ) == "DescriptionTooLongException")
    }

    @Test("every Batch operation has its documented limit, and one item more is refused without a lookup")
    func batchLimits() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let deployment = try await harness.deploy(to: "staging")
        let batchOperations = CodeDeploy.Operation.allCases.filter { $0.rawValue.hasPrefix("BatchGet") }
        #expect(Set(batchOperations) == Set(Limits.batch.keys), "every Batch operation has a limit")
        #expect(Limits.batch[.batchGetApplicationRevisions] == 25 && Limits.batch[.batchGetDeployments] == 25)
        #expect(Limits.batch[.batchGetOnPremisesInstances] == 25 && Limits.batch[.batchGetApplications] == 100)

        func list(_ count: Int, _ item: (Int) -> String) -> String { (0..<count).map(item).joined(separator: ",") }
        func body(_ operation: CodeDeploy.Operation, _ count: Int) -> String {
            switch operation {
            case .batchGetApplications: #"{"applicationNames":[\#(list(count) { #""app\#($0)""# })]}"#
            case .batchGetDeploymentGroups:
                #"{"applicationName":"web","deploymentGroupNames":[\#(list(count) { #""g\#($0)""# })]}"#
            case .batchGetApplicationRevisions:
                #"{"applicationName":"web","revisions":[\#(list(count) { _ in Self.gitHub })]}"#
            case .batchGetDeployments: #"{"deploymentIds":[\#(list(count) { _ in #""\#(deployment)""# })]}"#
            case .batchGetDeploymentInstances:
                #"{"deploymentId":"\#(deployment)","instanceIds":[\#(list(count) { #""i\#($0)""# })]}"#
            case .batchGetDeploymentTargets:
                #"{"deploymentId":"\#(deployment)","targetIds":[\#(list(count) { #""i\#($0)""# })]}"#
            default: #"{"instanceNames":[\#(list(count) { #""i\#($0)""# })]}"#
            }
        }
        for (operation, limit) in Limits.batch {
            let refusal =
                operation == .batchGetDeploymentTargets
                ? "DeploymentTargetListSizeExceededException" : "BatchLimitExceededException"
            let atLimit = await harness.outcome(operation.rawValue, body(operation, limit))
            #expect(atLimit != refusal, "\(operation) takes \(limit)")
            #expect(await harness.outcome(operation.rawValue, body(operation, limit + 1)) == refusal, "\(operation)")
            #expect(await harness.outcome(operation.rawValue, body(operation, 100_000)) == refusal, "\(operation)")
        }
    }

    @Test("BatchGetDeployments refuses ids that are not deployment ids, whatever they hold")
    func batchGetDeploymentsIds() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        for id in [
            "d-\\u0000AAAAAAA", "-1", "d-AAAAAAAA\\n", "d-AAAAAAAA\\u001b", String(repeating: "d", count: 100_000),
        ] {
            let outcome = await harness.outcome("BatchGetDeployments", #"{"deploymentIds":["\#(id)"]}"#)
            #expect(outcome == "InvalidDeploymentIdException", "\(id.prefix(20)): \(outcome)")
        }
        #expect(
            await harness.outcome("BatchGetDeployments", #"{"deploymentIds":[""]}"#) == "DeploymentIdRequiredException")
        #expect(
            await harness.outcome("BatchGetDeployments", #"{"deploymentIds":"d-AAAAAAAAA"}"#)
                == "SerializationException")
        #expect(await harness.outcome("BatchGetDeployments", #"{"deploymentIds":[7]}"#) == "SerializationException")
        #expect(await harness.outcome("BatchGetDeployments", #"{"deploymentIds":["d-AAAAAAAAA"]}"#) == "ok")
    }

    @Test("ListDeployments takes an application and a group together, or neither")
    func listDeploymentsNames() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        #expect(
            await harness.outcome("ListDeployments", #"{"applicationName":"web"}"#)
                == "DeploymentGroupNameRequiredException")
        #expect(
            await harness.outcome("ListDeployments", #"{"deploymentGroupName":"prod"}"#)
                == "ApplicationNameRequiredException")
        #expect(
            await harness.outcome("ListDeployments", #"{"applicationName":"web","deploymentGroupName":"prod"}"#) == "ok"
        )
        #expect(await harness.outcome("ListDeployments", "{}") == "ok")
        #expect(
            await harness.outcome("ListDeployments", #"{"applicationName":"web","deploymentGroupName":"nope"}"#)
                == "DeploymentGroupDoesNotExistException")
    }

    @Test("CreateDeployment checks the application, the group and the configuration before the revision")
    func createDeploymentOrder() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let missing =
            #"{"revisionType":"S3","s3Location":{"bucket":"releases","key":"missing.zip","bundleType":"zip"}}"#
        func create(_ application: String, _ group: String, config: String? = nil, revision: String? = nil) async
            -> String
        {
            let config = config.map { #","deploymentConfigName":"\#($0)""# } ?? ""
            let revision = revision.map { #","revision":\#($0)"# } ?? ""
            return await harness.outcome(
                "CreateDeployment",
                #"{"applicationName":"\#(application)","deploymentGroupName":"\#(group)"\#(config)\#(revision)}"#)
        }
        #expect(await create("ghost", "prod", revision: missing) == "ApplicationDoesNotExistException")
        #expect(await create("ghost", "prod") == "ApplicationDoesNotExistException")
        #expect(await create("web", "ghost", revision: missing) == "DeploymentGroupDoesNotExistException")
        #expect(
            await create("web", "prod", config: "Ghost", revision: missing) == "DeploymentConfigDoesNotExistException")
        #expect(await create("web", "prod", revision: missing) == "RevisionDoesNotExistException")
        #expect(await create("web", "prod") == "RevisionRequiredException")
    }
}
