import Foundation
import Testing

@testable import SlipwayModel

/// The generated writers and readers must agree with `JSONEncoder`/`JSONDecoder` under AWS JSON rules: a response
/// written one way is read the same the other way, by Slipway and by every AWS client.
@Suite("Generated JSON writers and readers")
struct JSONFastPathTests {
    /// A deployment group with every kind of member: nested structures, lists, enums, booleans, numbers,
    /// timestamps, and strings that need escapes.
    private var group: CodeDeploy.DeploymentGroupInfo {
        CodeDeploy.DeploymentGroupInfo(
            alarmConfiguration: CodeDeploy.AlarmConfiguration(
                alarms: [CodeDeploy.Alarm(name: "cpu"), CodeDeploy.Alarm(name: "latency \"p99\"")], enabled: true,
                ignorePollAlarmFailure: false),
            applicationName: "web/api",
            autoRollbackConfiguration: CodeDeploy.AutoRollbackConfiguration(
                enabled: true, events: [.deploymentFailure, .deploymentStopOnRequest]),
            blueGreenDeploymentConfiguration: CodeDeploy.BlueGreenDeploymentConfiguration(
                terminateBlueInstancesOnDeploymentSuccess: CodeDeploy.BlueInstanceTerminationOption(
                    action: .terminate, terminationWaitTimeInMinutes: 5)),
            deploymentGroupId: "b2c1a0e4-1f3e-4c63-9a0e-6e0c2f0b8a11",
            deploymentGroupName: "fleet\n\t\u{01}é✓",
            lastSuccessfulDeployment: CodeDeploy.LastDeploymentInfo(
                createTime: Date(timeIntervalSince1970: 1_764_245_123.456), deploymentId: "d-ABCDEFGHI",
                endTime: Date(timeIntervalSince1970: 1_764_245_200), status: .succeeded),
            onPremisesTagSet: CodeDeploy.OnPremisesTagSet(onPremisesTagSetList: [
                [CodeDeploy.TagFilter(key: "env", type: .keyAndValue, value: "prod")],
                [CodeDeploy.TagFilter(key: "role", type: .keyOnly)],
            ]),
            triggerConfigurations: [])
    }

    @Test("a shape written by its generated writer reads back equal through JSONDecoder")
    func writerAgreesWithDecoder() throws {
        let text = JSONOutput.encode(group)
        let decoded = try AWSJSON.makeDecoder().decode(CodeDeploy.DeploymentGroupInfo.self, from: text)
        #expect(decoded == group)
        // The reference encoder's document and ours are the same JSON value.
        let ours = try JSONReader.value(from: text)
        let theirs = try JSONReader.value(from: try AWSJSON.makeEncoder().encode(group))
        #expect(ours == theirs)
    }

    @Test("a shape read by its generated reader equals what JSONDecoder reads")
    func readerAgreesWithDecoder() throws {
        let text = try AWSJSON.makeEncoder().encode(group)
        let ours = try CodeDeploy.DeploymentGroupInfo(json: JSONReader.value(from: text))
        #expect(ours == group)
    }

    @Test("strings are escaped as JSON requires, and slashes and non-ASCII are left as they are")
    func stringEscapes() {
        var output = JSONOutput()
        output.writeString("a\"b\\c/d\n\u{1F}é")
        #expect(String(decoding: output.bytes, as: UTF8.self) == #""a\"b\\c/d\n\u001fé""#)
    }

    @Test("numbers: whole ones without a fraction, timestamps to the millisecond, no NaN in the text")
    func numbers() {
        func text(_ value: some JSONWritable) -> String { String(decoding: JSONOutput.encode(value), as: UTF8.self) }
        #expect(text(Date(timeIntervalSince1970: 1_408_480_726.569_4)) == "1408480726.569")
        #expect(text(Date(timeIntervalSince1970: 1_408_480_726)) == "1408480726")
        #expect(text(Int64(-42)) == "-42")
        #expect(text(0.25) == "0.25")
        #expect(text(Double.nan) == "null")
    }

    @Test("a map keyed by a model enum is a JSON object both ways")
    func enumKeyedMaps() throws {
        let input = try CodeDeploy.ListDeploymentTargetsInput(
            json: JSONReader.value(
                from: Data(
                    #"{"deploymentId":"d-ABCDEFGHI","targetFilters":{"TargetStatus":["Failed","Skipped"]}}"#.utf8)))
        #expect(input.targetFilters?[.targetStatus] == ["Failed", "Skipped"])
        let written = String(decoding: JSONOutput.encode(input), as: UTF8.self)
        #expect(written.contains(#""targetFilters":{"TargetStatus":["Failed","Skipped"]}"#))
    }

    @Test("a member of the wrong type is named with its path")
    func mismatchNamesThePath() {
        let document = JSONValue.object([
            "alarmConfiguration": .object(["alarms": .array([.object(["name": .number(3)])])])
        ])
        #expect {
            _ = try CodeDeploy.DeploymentGroupInfo(json: document)
        } throws: { error in
            (error as? JSONTypeMismatch)?.description
                == "expected a string but found number at alarmConfiguration.alarms[0].name"
        }
    }

    @Test("null and absent members are both nil; a whole number must be whole")
    func nullsAndIntegers() throws {
        let info = try CodeDeploy.ApplicationInfo(
            json: .object(["applicationName": .null, "linkedToGitHub": .bool(true)]))
        #expect(info.applicationName == nil && info.linkedToGitHub == true)
        #expect(throws: JSONTypeMismatch.self) {
            _ = try CodeDeploy.DeploymentOverview(json: .object(["Pending": .number(1.5)]))
        }
    }
}
