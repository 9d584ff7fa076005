import Foundation
import Testing

@testable import SlipwayModel

@Suite("Generic validation against the model")
struct ShapeValidatorTests {
    let codeDeploy = ShapeValidator(schema: CodeDeploy.schema, freeTextShapes: CodeDeploy.freeTextShapes)

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
        let validator = ShapeValidator(
            schema: CodeDeployCommand.schema, freeTextShapes: CodeDeployCommand.freeTextShapes)
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

    @Test(
        "a name with a NUL or another control character is refused, wherever it is in the request",
        arguments: [
            "prod\\u0000", "prod\\u0000x", "\\u0000", "a\\nb", "a\\tb", "a\\u001bb", "a\\u007f", "a\\u0085b",
            "a\\u009fb",
        ])
    func controlCharactersInNames(_ escaped: String) throws {
        let group = try json(#"{"applicationName":"web","deploymentGroupName":"\#(escaped)"}"#)
        let violations = codeDeploy.violations(of: group, against: "GetDeploymentGroupInput")
        #expect(violations.map(\.path) == ["deploymentGroupName"])
        guard case .controlCharacter = violations.first?.kind else {
            Issue.record("expected a control-character violation, got \(violations)")
            return
        }
        let nested = try json(
            #"{"applicationName":"web","deploymentGroupName":"g","serviceRoleArn":"arn:r","#
                + #""onPremisesInstanceTagFilters":[{"Key":"env","Value":"\#(escaped)","Type":"KEY_AND_VALUE"}]}"#)
        #expect(
            codeDeploy.violations(of: nested, against: "CreateDeploymentGroupInput").map(\.path)
                == ["onPremisesInstanceTagFilters[0].Value"])
    }

    @Test("the violation names the control character it found")
    func controlCharacterDescription() throws {
        let violations = codeDeploy.violations(
            of: try json(#"{"applicationName":"a\u0000b"}"#), against: "GetApplicationInput")
        #expect(
            violations.map(\.description)
                == ["'applicationName' must not contain control characters; it holds U+0000."])
    }

    @Test(
        "free text (descriptions, inline AppSpec content, logs) may hold newlines and tabs; other Unicode is no control"
    )
    func freeTextAllowsControlCharacters() throws {
        let request = try json(
            #"{"applicationName":"web","deploymentGroupName":"prod","description":"line 1\nline 2\t\u001b[31m","#
                + #""revision":{"revisionType":"AppSpecContent","appSpecContent":{"content":"version: 0.0\nos: linux\n"}}}"#
        )
        #expect(codeDeploy.violations(of: request, against: "CreateDeploymentInput").isEmpty)
        let unicode = try json(#"{"applicationName":"modèle-ünï-Σ-✓"}"#)
        #expect(codeDeploy.violations(of: unicode, against: "GetApplicationInput").isEmpty)
        let commands = ShapeValidator(
            schema: CodeDeployCommand.schema, freeTextShapes: CodeDeployCommand.freeTextShapes)
        let log = try json(#"{"HostCommandIdentifier":"c","Log":"out\n\u0000\u001b[0m"}"#)
        #expect(commands.violations(of: log, against: "PutHostCommandLogInput").isEmpty)
        let host = try json(#"{"HostIdentifier":"arn:aws:iam::1:user/h\u0000"}"#)
        #expect(commands.violations(of: host, against: "PollHostCommandInput").map(\.path) == ["HostIdentifier"])
    }

    @Test("a null list element or map value is a wrong type, as the typed readers take it")
    func nullElements() throws {
        let list = try json(#"{"instanceNames":["a",null],"tags":[{"Key":"k","Value":"v"}]}"#)
        let violations = codeDeploy.violations(of: list, against: "AddTagsToOnPremisesInstancesInput")
        #expect(violations.map(\.path) == ["instanceNames[1]"])
        #expect(violations.first?.isSerializationError == true)
    }
}
