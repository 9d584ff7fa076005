import Foundation
import Testing

@testable import SlipwayModel

@Suite("Agent command protocol shapes")
struct CommandProtocolTests {
    @Test("a poll answer with a command decodes with the stock agent's member names")
    func pollAnswerDecodes() throws {
        let json = #"""
            {"HostCommand":{"HostCommandIdentifier":"eyJ4IjoxfQ==","HostIdentifier":"arn:aws:iam::123456789012:user/h",
            "DeploymentExecutionId":"CodeDeploy/us-east-1/prod/arn:aws:sds:us-east-1:1:deployment/d-5SHGGURRB",
            "CommandName":"BeforeInstall","Nonce":42}}
            """#
        let output = try AWSJSON.makeDecoder().decode(
            CodeDeployCommand.PollHostCommandOutput.self, from: Data(json.utf8))
        #expect(output.HostCommand?.CommandName == "BeforeInstall")
        #expect(output.HostCommand?.Nonce == 42)
    }

    @Test("an empty poll answer is an empty object")
    func emptyPollAnswer() throws {
        let data = try AWSJSON.makeEncoder().encode(CodeDeployCommand.PollHostCommandOutput(hostCommand: nil))
        #expect(String(decoding: data, as: UTF8.self) == "{}")
    }

    @Test("a completion report carries its status and diagnostics envelope")
    func completionRoundTrip() throws {
        let input = CodeDeployCommand.PutHostCommandCompleteInput(
            hostCommandIdentifier: "c1", commandStatus: .failed,
            diagnostics: .init(format: "JSON", payload: #"{"error_code":5}"#))
        let object = try JSONSerialization.jsonObject(with: AWSJSON.makeEncoder().encode(input)) as? [String: Any]
        #expect(object?["CommandStatus"] as? String == "Failed")
        #expect((object?["Diagnostics"] as? [String: String])?["Format"] == "JSON")
    }
}

/// The command protocol's fast paths against its `Codable` forms: inputs made from the validated `JSONValue` equal
/// what `JSONDecoder` makes of the same text, and answers are the documents `JSONEncoder` writes.
@Suite("Agent command protocol JSON fast paths")
struct CommandJSONTests {
    private static let diagnostics = #"{"Format":"JSON","Payload":"{\"error_code\":0,\"log\":\"a\\nb \\\"c\\\"\"}"}"#

    private func both<Input: JSONReadable & Decodable & Equatable>(_ type: Input.Type, _ text: String) throws {
        let ours = try Input(json: JSONReader.value(from: Data(text.utf8)))
        let theirs = try AWSJSON.makeDecoder().decode(Input.self, from: Data(text.utf8))
        #expect(ours == theirs)
    }

    @Test("every input reads as JSONDecoder reads it")
    func inputs() throws {
        try both(CodeDeployCommand.PollHostCommandInput.self, #"{"HostIdentifier":"arn:aws:iam::1:user/h"}"#)
        try both(
            CodeDeployCommand.GetDeploymentSpecificationInput.self,
            #"{"DeploymentExecutionId":"Slipway/us-east-1/g/d-ABCDEFGHI","HostIdentifier":"h"}"#)
        try both(
            CodeDeployCommand.PutHostCommandAcknowledgementInput.self,
            #"{"HostCommandIdentifier":"c","Diagnostics":\#(Self.diagnostics)}"#)
        try both(CodeDeployCommand.PutHostCommandAcknowledgementInput.self, #"{"HostCommandIdentifier":"c"}"#)
        try both(
            CodeDeployCommand.PutHostCommandCompleteInput.self,
            #"{"HostCommandIdentifier":"c","CommandStatus":"Failed","Diagnostics":\#(Self.diagnostics)}"#)
        try both(
            CodeDeployCommand.PostHostCommandUpdateInput.self,
            #"{"HostCommandIdentifier":"c","EstimatedCompletionTime":1764245123.5}"#)
        try both(CodeDeployCommand.PutHostCommandLogInput.self, #"{"HostCommandIdentifier":"c","Log":"x\ny"}"#)
    }

    @Test("an unknown command status is refused with its path")
    func unknownStatus() throws {
        let text = #"{"HostCommandIdentifier":"c","CommandStatus":"Done"}"#
        #expect(throws: JSONTypeMismatch.self) {
            try CodeDeployCommand.PutHostCommandCompleteInput(json: JSONReader.value(from: Data(text.utf8)))
        }
    }

    @Test("every answer is the document JSONEncoder writes")
    func outputs() throws {
        func same(_ value: some JSONWritable & Encodable) throws {
            let ours = try JSONReader.value(from: JSONOutput.encode(value))
            let theirs = try JSONReader.value(from: AWSJSON.makeEncoder().encode(value))
            #expect(ours == theirs)
        }
        try same(
            CodeDeployCommand.PollHostCommandOutput(
                hostCommand: .init(
                    hostCommandIdentifier: "c", hostIdentifier: "h", deploymentExecutionId: "Slipway/r/g/d-ABCDEFGHI",
                    commandName: "Install", nonce: 0)))
        try same(CodeDeployCommand.PollHostCommandOutput(hostCommand: nil))
        try same(
            CodeDeployCommand.GetDeploymentSpecificationOutput(
                deploymentSpecification: .init(
                    genericEnvelope: .init(format: "PKCS7/JSON", payload: "-----BEGIN PKCS7-----\n/+=\n"))))
        try same(CodeDeployCommand.PutHostCommandAcknowledgementOutput(commandStatus: .inProgress))
        try same(CodeDeployCommand.PostHostCommandUpdateOutput(commandStatus: nil))
    }
}
