import Foundation
import Testing

@testable import SlipwayModel

@Suite("Generic validation against the model")
struct ShapeValidatorTests {
    let codeDeploy = ShapeValidator(schema: CodeDeploy.schema)

    private func json(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: Data(text.utf8))
    }

    @Test("a well-formed request has no violations")
    func validRequestPasses() throws {
        let request = try json(
            #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"S3","#
                + #""s3Location":{"bucket":"b","key":"k.zip","bundleType":"zip"}},"ignoreApplicationStopFailures":true}"#
        )
        #expect(codeDeploy.violations(of: request, against: "CreateDeploymentInput").isEmpty)
    }

    @Test("a missing required member is reported with its name")
    func missingRequiredMember() throws {
        let violations = codeDeploy.violations(of: try json("{}"), against: "CreateDeploymentInput")
        #expect(
            violations == [ShapeViolation(path: "applicationName", member: "applicationName", kind: .missingRequired)])
    }

    @Test("a null member counts as absent")
    func nullIsAbsent() throws {
        let violations = codeDeploy.violations(
            of: try json(#"{"applicationName":null}"#), against: "GetApplicationInput")
        #expect(violations.map(\.kind) == [.missingRequired])
    }

    @Test("wrong JSON types anywhere are serialization errors, with the path to the value")
    func wrongTypes() throws {
        let request = try json(
            #"{"applicationName":"web","deploymentGroupName":"g","serviceRoleArn":"arn:r","#
                + #""ec2TagFilters":[{"Key":"env","Type":7}],"autoRollbackConfiguration":{"enabled":"yes"}}"#
        )
        let violations = codeDeploy.violations(of: request, against: "CreateDeploymentGroupInput")
        #expect(violations.allSatisfy { $0.isSerializationError })
        #expect(Set(violations.map(\.path)) == ["ec2TagFilters[0].Type", "autoRollbackConfiguration.enabled"])
        #expect(
            codeDeploy.violations(of: try json("[1]"), against: "GetApplicationInput").first?.isSerializationError
                == true)
    }

    @Test("length limits of the model are enforced (application names are 1 to 100 characters)")
    func lengthLimits() throws {
        let long = String(repeating: "a", count: 101)
        let tooLong = codeDeploy.violations(
            of: try json(#"{"applicationName":"\#(long)"}"#), against: "GetApplicationInput")
        #expect(tooLong.map(\.kind) == [.tooLong(maximum: 100)])
        let empty = codeDeploy.violations(of: try json(#"{"applicationName":""}"#), against: "GetApplicationInput")
        #expect(empty.map(\.kind) == [.tooShort(minimum: 1)])
    }

    @Test("an enum member with a value the model does not list is reported with the allowed values")
    func enumValues() throws {
        let request = try json(#"{"applicationName":"a","computePlatform":"Mainframe"}"#)
        let violations = codeDeploy.violations(of: request, against: "CreateApplicationInput")
        #expect(violations.map(\.kind) == [.notInEnum(["Server", "Lambda", "ECS"])])
        #expect(violations.first?.description == "'computePlatform' must be one of: Server, Lambda, ECS.")
    }

    @Test("integers must be whole numbers")
    func integersMustBeWhole() throws {
        let request = try json(#"{"deploymentConfigName":"c","minimumHealthyHosts":{"type":"HOST_COUNT","value":1.5}}"#)
        let violations = codeDeploy.violations(of: request, against: "CreateDeploymentConfigInput")
        #expect(violations.map(\.path) == ["minimumHealthyHosts.value"])
        #expect(violations.first?.isSerializationError == true)
    }

    @Test("the hand-written command protocol schema checks the deployment execution id pattern and envelope sizes")
    func commandProtocolConstraints() throws {
        let validator = ShapeValidator(schema: CodeDeployCommand.schema)
        let good = try json(
            #"{"DeploymentExecutionId":"CodeDeploy/us-east-1/prod/arn:x:deployment/d-ABC","HostIdentifier":"h"}"#)
        #expect(validator.violations(of: good, against: "GetDeploymentSpecificationInput").isEmpty)
        let bad = try json(#"{"DeploymentExecutionId":"not-an-execution-id","HostIdentifier":"h"}"#)
        #expect(
            validator.violations(of: bad, against: "GetDeploymentSpecificationInput").map(\.kind)
                == [.patternMismatch("^[^/]+/[^/]+/[^/]+/.+$")])
        let payload = String(repeating: "x", count: 8193)
        let oversized = try json(
            #"{"HostCommandIdentifier":"c","Diagnostics":{"Format":"JSON","Payload":"\#(payload)"}}"#)
        #expect(
            validator.violations(of: oversized, against: "PutHostCommandAcknowledgementInput").map(\.path)
                == ["Diagnostics.Payload"])
        let status = try json(#"{"HostCommandIdentifier":"c","CommandStatus":"Done"}"#)
        #expect(validator.violations(of: status, against: "PutHostCommandCompleteInput").count == 1)
    }
}
