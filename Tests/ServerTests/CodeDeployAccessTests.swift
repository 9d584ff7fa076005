import ArtifactStore
import Foundation
import Logging
import S3Transfer
import SlipwayModel
import Store
import Testing

@testable import Deployments
@testable import Server

/// A logger that writes nothing.
private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// The CodeDeploy API in process, over a store in a temporary directory: requests are authorised and handled as the
/// server's responder does, as the principal a test chooses.
struct CodeDeployHarness {
    static let arns = ARNs(region: "us-east-1", accountID: "000000000000")

    /// Revisions in S3 as the fake locator sees them: every object exists, with this eTag.
    struct Objects: RevisionLocator {
        func hostsBucket(_ bucket: String) async throws -> Bool { true }
        func locateRevision(bucket: String, key: String, version: String?) async throws -> RevisionObject? {
            key.hasPrefix("missing") ? nil : RevisionObject(eTag: "0123456789abcdef", versionID: version, size: 1)
        }
    }

    let directory: URL
    let store: SQLiteStore
    let driver: DeploymentDriver
    let api = makeCodeDeployAPI()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-codedeploy-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        driver = DeploymentDriver(
            store: store, wakeups: HostWakeups(), settings: DeploymentSettings(region: Self.arns.region), logger: quiet)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    static let admin = principal(KeyRole.admin.permissions)

    static func principal(_ permissions: Permissions) -> Principal {
        Principal(
            accessKeyId: "AKIAEXAMPLE000000009", arn: "arn:aws:iam::000000000000:user/alice", userName: "alice",
            role: nil, instanceName: nil, permissions: permissions, instanceHost: nil)
    }

    static func principal(policy: String) throws -> Principal {
        principal(Permissions(try PolicyDocument.parse(policy)))
    }

    /// The answer to `operation` with `body`, as the principal; throws the API's error.
    @discardableResult
    func call(_ operation: String, _ body: String, as principal: Principal = admin) async throws -> JSONValue {
        guard case .codeDeploy(let operation) = try JSONOperation(target: "\(CodeDeploy.targetPrefix).\(operation)")
        else {
            throw AWSJSONError.unknownOperation(operation)
        }
        let input = JSONInput.parse(Data(body.utf8))
        try principal.authorizeCodeDeploy(operation, document: try? input.get().document, arns: Self.arns)
        let context = HandlerContext(
            store: store, region: Self.arns.region, accountID: Self.arns.accountID, principal: principal,
            operation: operation, now: Date(), log: RequestLog(base: quiet, requestID: "test"), deployments: driver,
            revisions: Objects())
        let output = try await api.handle(operation, input: try input.get(), context: context)
        return try JSONReader.value(from: output)
    }

    /// The error type of the call, or "ok".
    func outcome(_ operation: String, _ body: String, as principal: Principal = admin) async -> String {
        do {
            try await call(operation, body, as: principal)
            return "ok"
        } catch let error as AWSJSONError {
            return error.type
        } catch {
            return "\(error)"
        }
    }

    /// The message of the call's error, or nil when it succeeded.
    func message(_ operation: String, _ body: String, as principal: Principal = admin) async -> String? {
        do {
            try await call(operation, body, as: principal)
            return nil
        } catch let error as AWSJSONError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    /// Application `web` with deployment groups `prod` and `staging` (no instances: their deployments fail at once).
    func seed() async throws {
        try await call("CreateApplication", #"{"applicationName":"web"}"#)
        for group in ["prod", "staging"] {
            try await call(
                "CreateDeploymentGroup",
                #"{"applicationName":"web","deploymentGroupName":"\#(group)","serviceRoleArn":"arn:aws:iam::000000000000:role/cd"}"#
            )
        }
    }

    /// Creates a deployment of a GitHub revision to `group` as the admin; its id.
    func deploy(to group: String) async throws -> String {
        let answer = try await call(
            "CreateDeployment",
            #"{"applicationName":"web","deploymentGroupName":"\#(group)","revision":{"revisionType":"GitHub","gitHubLocation":{"repository":"acme/web","commitId":"abc123"}}}"#
        )
        guard case .object(let fields) = answer, case .string(let id)? = fields["deploymentId"] else {
            throw AWSJSONError(type: "Test", message: "no deployment id in \(answer)")
        }
        return id
    }
}

@Suite("CodeDeploy authorisation on the resources requests act on")
struct CodeDeployAccessTests {
    static let denyProd = #"""
        {"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"codedeploy:*","Resource":"*"},
          {"Effect":"Deny","Action":"codedeploy:*","Resource":"arn:aws:codedeploy:*:*:deploymentgroup:web/prod"}]}
        """#

    @Test("a Deny on one deployment group does not deny ListApplications or a list of every deployment configuration")
    func denyOnGroupLeavesListsAlone() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let user = try CodeDeployHarness.principal(policy: Self.denyProd)
        #expect(await harness.outcome("ListApplications", "{}", as: user) == "ok")
        #expect(await harness.outcome("ListDeploymentConfigs", "{}", as: user) == "ok")
        #expect(await harness.outcome("ListOnPremisesInstances", "{}", as: user) == "ok")
        #expect(await harness.outcome("GetApplication", #"{"applicationName":"web"}"#, as: user) == "ok")
    }

    @Test("a Deny on group prod refuses reading and stopping prod's deployments, and allows staging's")
    func denyOnGroupAppliesToItsDeployments() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let prod = try await harness.deploy(to: "prod")
        let staging = try await harness.deploy(to: "staging")
        let user = try CodeDeployHarness.principal(policy: Self.denyProd)

        #expect(await harness.outcome("GetDeployment", #"{"deploymentId":"\#(staging)"}"#, as: user) == "ok")
        #expect(
            await harness.outcome("GetDeployment", #"{"deploymentId":"\#(prod)"}"#, as: user) == "AccessDeniedException"
        )
        let message = await harness.message("GetDeployment", #"{"deploymentId":"\#(prod)"}"#, as: user)
        #expect(
            message?.contains(
                "codedeploy:GetDeployment on resource: arn:aws:codedeploy:us-east-1:000000000000:deploymentgroup:web/prod"
            ) == true, "the refusal names the action and the group")
        #expect(
            await harness.outcome("StopDeployment", #"{"deploymentId":"\#(prod)"}"#, as: user)
                == "AccessDeniedException")
        // Staging's deployment has finished (no instances): the request got past authorisation.
        #expect(
            await harness.outcome("StopDeployment", #"{"deploymentId":"\#(staging)"}"#, as: user)
                == "DeploymentAlreadyCompletedException")
        #expect(
            await harness.outcome(
                "BatchGetDeployments", #"{"deploymentIds":["\#(staging)","\#(prod)"]}"#, as: user)
                == "AccessDeniedException", "one denied deployment refuses the batch")
        #expect(
            await harness.outcome("BatchGetDeployments", #"{"deploymentIds":["\#(staging)"]}"#, as: user) == "ok")
        #expect(
            await harness.outcome(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"GitHub","gitHubLocation":{"repository":"acme/web","commitId":"abc"}}}"#,
                as: user) == "AccessDeniedException")
    }

    @Test("every operation on a deployment by id is authorised on the deployment's group")
    func everyOperationByDeployment() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let prod = try await harness.deploy(to: "prod")
        let user = try CodeDeployHarness.principal(policy: Self.denyProd)
        let bodies: [String: String] = [
            "GetDeployment": #"{"deploymentId":"\#(prod)"}"#,
            "BatchGetDeployments": #"{"deploymentIds":["\#(prod)"]}"#,
            "StopDeployment": #"{"deploymentId":"\#(prod)"}"#,
            "ContinueDeployment": #"{"deploymentId":"\#(prod)"}"#,
            "SkipWaitTimeForInstanceTermination": #"{"deploymentId":"\#(prod)"}"#,
            "ListDeploymentTargets": #"{"deploymentId":"\#(prod)"}"#,
            "BatchGetDeploymentTargets": #"{"deploymentId":"\#(prod)","targetIds":["gpu-1"]}"#,
            "GetDeploymentTarget": #"{"deploymentId":"\#(prod)","targetId":"gpu-1"}"#,
            "ListDeploymentInstances": #"{"deploymentId":"\#(prod)"}"#,
            "BatchGetDeploymentInstances": #"{"deploymentId":"\#(prod)","instanceIds":["gpu-1"]}"#,
            "GetDeploymentInstance": #"{"deploymentId":"\#(prod)","instanceId":"gpu-1"}"#,
        ]
        for operation in CodeDeployResources.byDeployment.map(\.rawValue)
        where harness.api.implements(CodeDeploy.Operation(rawValue: operation)!) {
            let body = try #require(bodies[operation], "a request body for \(operation)")
            #expect(await harness.outcome(operation, body, as: user) == "AccessDeniedException", "\(operation)")
            #expect(await harness.outcome(operation, body) != "AccessDeniedException", "\(operation) as admin")
        }
    }

    @Test("a Deny on every resource still refuses everything, also requests by deployment id")
    func denyEverywhere() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let staging = try await harness.deploy(to: "staging")
        let user = try CodeDeployHarness.principal(
            policy: #"""
                {"Statement":[{"Effect":"Allow","Action":"codedeploy:*","Resource":"*"},
                  {"Effect":"Deny","Action":"codedeploy:*","Resource":"*"}]}
                """#)
        #expect(await harness.outcome("ListApplications", "{}", as: user) == "AccessDeniedException")
        #expect(
            await harness.outcome("GetDeployment", #"{"deploymentId":"\#(staging)"}"#, as: user)
                == "AccessDeniedException")
        #expect(
            await harness.outcome("GetDeployment", #"{"deploymentId":"d-AAAAAAAAA"}"#, as: user)
                == "AccessDeniedException", "refused before the deployment is looked up")
        #expect(
            await harness.outcome("GetApplication", #"{"applicationName":"web"}"#, as: user) == "AccessDeniedException")
    }

    @Test("a user allowed only one group's deployments reads them and nothing of another group's")
    func allowOnGroupOnly() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let prod = try await harness.deploy(to: "prod")
        let staging = try await harness.deploy(to: "staging")
        let user = try CodeDeployHarness.principal(
            policy: #"""
                {"Statement":{"Effect":"Allow","Action":"codedeploy:GetDeployment",
                  "Resource":"arn:aws:codedeploy:us-east-1:000000000000:deploymentgroup:web/staging"}}
                """#)
        #expect(await harness.outcome("GetDeployment", #"{"deploymentId":"\#(staging)"}"#, as: user) == "ok")
        #expect(
            await harness.outcome("GetDeployment", #"{"deploymentId":"\#(prod)"}"#, as: user) == "AccessDeniedException"
        )
        #expect(
            await harness.outcome("ListApplications", "{}", as: user) == "AccessDeniedException",
            "an Allow on one group does not allow a request on every resource")
    }

    @Test("CreateDeployment of an S3 revision needs s3:GetObject on the object, checked before it is looked up")
    func createDeploymentNeedsS3Read() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let noS3 = try CodeDeployHarness.principal(
            policy: #"{"Statement":{"Effect":"Allow","Action":"codedeploy:*","Resource":"*"}}"#)
        func revision(_ key: String, version: String? = nil) -> String {
            let version = version.map { #","version":"\#($0)""# } ?? ""
            return
                #"{"applicationName":"web","deploymentGroupName":"staging","revision":{"revisionType":"S3","s3Location":{"bucket":"releases","key":"\#(key)","bundleType":"zip"\#(version)}}}"#
        }
        #expect(await harness.outcome("CreateDeployment", revision("web.zip"), as: noS3) == "AccessDeniedException")
        #expect(
            await harness.message("CreateDeployment", revision("web.zip"), as: noS3)?.contains(
                "s3:GetObject on resource: arn:aws:s3:::releases/web.zip") == true)
        #expect(
            await harness.outcome("CreateDeployment", revision("missing.zip"), as: noS3) == "AccessDeniedException",
            "whether an object exists is not told to a caller who may not read it")
        #expect(
            await harness.message("CreateDeployment", revision("web.zip", version: "v1"), as: noS3)?.contains(
                "s3:GetObjectVersion on resource: arn:aws:s3:::releases/web.zip") == true)

        let reader = try CodeDeployHarness.principal(
            policy: #"""
                {"Statement":[{"Effect":"Allow","Action":"codedeploy:*","Resource":"*"},
                  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::releases/*"}]}
                """#)
        #expect(
            await harness.outcome("CreateDeployment", revision("missing.zip"), as: reader)
                == "RevisionDoesNotExistException")
        #expect(await harness.outcome("CreateDeployment", revision("web.zip"), as: reader) == "ok")
        let deployer = CodeDeployHarness.principal(KeyRole.deployer.permissions)
        #expect(await harness.outcome("CreateDeployment", revision("web.zip", version: "v1"), as: deployer) == "ok")
    }

    @Test("a GitHub revision needs no S3 permission; a bucket name with a slash is refused as invalid")
    func otherRevisions() async throws {
        let harness = try CodeDeployHarness()
        defer { harness.remove() }
        try await harness.seed()
        let noS3 = try CodeDeployHarness.principal(
            policy: #"{"Statement":{"Effect":"Allow","Action":"codedeploy:*","Resource":"*"}}"#)
        #expect(
            await harness.outcome(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"staging","revision":{"revisionType":"GitHub","gitHubLocation":{"repository":"acme/web","commitId":"abc"}}}"#,
                as: noS3) == "ok")
        #expect(
            await harness.outcome(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"S3","s3Location":{"bucket":"releases/web.zip","key":"x","bundleType":"zip"}}}"#
            ) == "InvalidRevisionException")
    }
}
