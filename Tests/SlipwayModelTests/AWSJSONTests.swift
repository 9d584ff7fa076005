import Foundation
import Testing

@testable import SlipwayModel

@Suite("AWS JSON 1.1 coding")
struct AWSJSONTests {
    private func object(_ value: some Encodable) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: AWSJSON.makeEncoder().encode(value)) as? [String: Any])
    }

    @Test("timestamps are written as epoch seconds with milliseconds, and read back from fractional numbers")
    func timestampsAreEpochSeconds() throws {
        let application = CodeDeploy.ApplicationInfo(
            applicationName: "web", createTime: Date(timeIntervalSince1970: 1_408_480_726.569))
        let text = String(decoding: try AWSJSON.makeEncoder().encode(application), as: UTF8.self)
        #expect(text.contains(#""createTime":1408480726.569"#))

        let decoded = try AWSJSON.makeDecoder().decode(
            CodeDeploy.ApplicationInfo.self, from: Data(#"{"createTime": 1408480726.5, "applicationName": "x"}"#.utf8))
        #expect(decoded.createTime == Date(timeIntervalSince1970: 1_408_480_726.5))
    }

    @Test("a timestamp given as a string is refused")
    func stringTimestampsAreRefused() {
        #expect(throws: DecodingError.self) {
            try AWSJSON.makeDecoder().decode(
                CodeDeploy.ApplicationInfo.self, from: Data(#"{"createTime": "2024-01-01T00:00:00Z"}"#.utf8))
        }
    }

    @Test("absent optionals are left out of the JSON, not written as null")
    func absentOptionalsAreOmitted() throws {
        let output = try object(CodeDeploy.CreateApplicationOutput(applicationId: "6f0d7a4e"))
        #expect(Array(output.keys) == ["applicationId"])
        #expect(try object(CodeDeploy.ListApplicationsOutput()).isEmpty)
    }

    @Test("blobs are base64 text")
    func blobsAreBase64() throws {
        struct Blob: Codable { var data: Data }
        let encoded = try object(Blob(data: Data([0, 1, 2, 250])))
        #expect(encoded["data"] as? String == "AAEC+g==")
        let decoded = try AWSJSON.makeDecoder().decode(Blob.self, from: Data(#"{"data":"AAEC+g=="}"#.utf8))
        #expect(decoded.data == Data([0, 1, 2, 250]))
    }
}
