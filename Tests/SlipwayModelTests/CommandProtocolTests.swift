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
