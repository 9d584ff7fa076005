import Foundation
import Testing

@testable import SlipwayModel

@Suite("Generated CodeDeploy model")
struct GeneratedModelTests {
    @Test("the committed Generated/ folder is exactly what the generator writes from the pinned model")
    func generatedFilesMatchTheGenerator() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let committed = root.appendingPathComponent("Sources/SlipwayModel/Generated")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-model-\(UUID())")
        defer { try? FileManager.default.removeItem(at: scratch) }

        let run = try runProcess(
            "/usr/bin/env",
            ["python3", root.appendingPathComponent("scripts/generate-model.py").path, "--out", scratch.path]
        )
        try #require(
            run.status == 0,
            "the generator failed (it needs `pip install botocore==1.43.11`): \(run.output)"
        )

        let fresh = try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
        let existing = try FileManager.default.contentsOfDirectory(atPath: committed.path).sorted()
        #expect(fresh == existing, "the generator writes a different set of files; run scripts/generate-model.py")
        for name in fresh where existing.contains(name) {
            let want = try Data(contentsOf: scratch.appendingPathComponent(name))
            let have = try Data(contentsOf: committed.appendingPathComponent(name))
            #expect(want == have, "Generated/\(name) differs from the generator's output; regenerate, never edit it")
        }
    }

    @Test("all 47 operations of the API are in the operation table, each with its input type")
    func everyOperationIsDescribed() {
        #expect(CodeDeploy.Operation.allCases.count == 47)
        let createDeployment = CodeDeploy.Operation.createDeployment.descriptor
        #expect(createDeployment.inputType == CodeDeploy.CreateDeploymentInput.self)
        #expect(createDeployment.outputType == CodeDeploy.CreateDeploymentOutput.self)
        #expect(createDeployment.errors.contains(.deploymentLimitExceededException))
        #expect(CodeDeploy.Operation.deleteApplication.descriptor.outputType == nil)
        #expect(CodeDeploy.Operation.listApplications.descriptor.paginationResultKey == "applications")
        #expect(CodeDeploy.Operation.getDeploymentInstance.descriptor.deprecated)
        for operation in CodeDeploy.Operation.allCases {
            let descriptor = operation.descriptor
            #expect(descriptor.name == operation.rawValue)
            if let input = descriptor.inputShape { #expect(CodeDeploy.schema[input] != nil) }
        }
    }

    @Test("all 113 exception shapes are error types with their wire names")
    func everyExceptionHasAnErrorType() {
        #expect(CodeDeploy.ExceptionType.allCases.count == 113)
        #expect(
            CodeDeploy.ExceptionType.applicationDoesNotExistException.rawValue == "ApplicationDoesNotExistException")
        let error = AWSJSONError(.deploymentGroupDoesNotExistException, "No group named web.")
        let body = try? JSONSerialization.jsonObject(with: error.body) as? [String: String]
        #expect(body == ["__type": "DeploymentGroupDoesNotExistException", "message": "No group named web."])
        #expect(error.status == 400)
    }

    @Test("an enum value the model does not list (MOST_CONCURRENCY) survives decoding and encoding unchanged")
    func unknownEnumValuesRoundTrip() throws {
        let json = Data(#"{"type":"MOST_CONCURRENCY","value":1}"#.utf8)
        let hosts = try AWSJSON.makeDecoder().decode(CodeDeploy.MinimumHealthyHosts.self, from: json)
        #expect(hosts.type?.rawValue == "MOST_CONCURRENCY")
        #expect(hosts.type?.isKnown == false)
        #expect(CodeDeploy.MinimumHealthyHostsType.hostCount.isKnown)
        let again = try JSONSerialization.jsonObject(with: AWSJSON.makeEncoder().encode(hosts)) as? NSDictionary
        #expect(again == ["type": "MOST_CONCURRENCY", "value": 1])
    }

    @Test("wire names that start with a capital letter are kept (Tag.Key, EC2TagFilter.Type)")
    func capitalisedWireNamesAreKept() throws {
        let filter = CodeDeploy.EC2TagFilter(key: "env", type: .keyAndValue, value: "prod")
        let object = try JSONSerialization.jsonObject(with: AWSJSON.makeEncoder().encode(filter)) as? [String: String]
        #expect(object == ["Key": "env", "Type": "KEY_AND_VALUE", "Value": "prod"])
    }
}
