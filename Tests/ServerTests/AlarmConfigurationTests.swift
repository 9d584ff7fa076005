import Foundation
import SlipwayModel
import Testing

@testable import Server

@Suite("Alarm configurations and bake times")
struct AlarmConfigurationTests {
    @Test("a bake time is whole seconds, or a number with s, m or h, up to 2880 minutes; anything else is refused")
    func bakeTimes() {
        #expect(Check.bakeTime("600") == 600)
        #expect(Check.bakeTime("90s") == 90)
        #expect(Check.bakeTime("10m") == 600)
        #expect(Check.bakeTime("48h") == 172_800)
        #expect(Check.bakeTime("0") == 0)
        for text in [
            "", "m", "-5m", "+5", "1.5m", "49h", "172801", "9999999999", "99999999999999999999h", "5 m", "5M", "5d",
            "5\u{0}", "٥", "0x10", "1e3", "5mm",
        ] {
            #expect(Check.bakeTime(text) == nil, "\(text)")
        }
        #expect(Check.bakeTime(of: [.init(key: "slipway:bake-time", value: "0")]) == nil)
        #expect(Check.bakeTime(of: [.init(key: "slipway:bake-time", value: "2m")]) == 120)
        #expect(Check.bakeTime(of: [.init(key: "team", value: "2m")]) == nil)
    }

    @Test("a malformed bake-time tag is refused where tags are checked")
    func bakeTimeTag() {
        #expect(throws: AWSJSONError.self) {
            try Check.resourceTags([.init(key: "slipway:bake-time", value: "soon")], code: .invalidTagsToAddException)
        }
        #expect(throws: Never.self) {
            try Check.resourceTags([.init(key: "slipway:bake-time", value: "5m")], code: .invalidTagsToAddException)
        }
    }

    @Test("an alarm configuration: at most 10 named alarms, no control characters, enabled only with alarms")
    func alarmConfigurations() throws {
        let filled = try Check.alarmConfiguration(nil)
        #expect(filled.enabled == false && filled.alarms == [] && filled.ignorePollAlarmFailure == false)
        let ten = (1...10).map { CodeDeploy.Alarm(name: "a\($0)") }
        #expect(try Check.alarmConfiguration(.init(alarms: ten, enabled: true)).alarms?.count == 10)
        let refused: [CodeDeploy.AlarmConfiguration] = [
            .init(alarms: ten + [.init(name: "a11")], enabled: true),
            .init(alarms: [], enabled: true),
            .init(alarms: [.init(name: nil)], enabled: true),
            .init(alarms: [.init(name: "")], enabled: false),
            .init(alarms: [.init(name: String(repeating: "x", count: 256))], enabled: true),
            .init(alarms: [.init(name: "a\u{0}b")], enabled: true),
            .init(alarms: [.init(name: "a\u{7F}")], enabled: true),
        ]
        for configuration in refused {
            #expect(throws: AWSJSONError.self) { try Check.alarmConfiguration(configuration) }
        }
    }

    @Test("a Prometheus or Alertmanager address is an http(s) URL with a host, and nothing else")
    func alertSourceAddresses() throws {
        #expect(try AlertSourceAddress(.prometheus, parsing: "http://127.0.0.1:9090/prefix").base.path == "/prefix")
        for text in [
            "", "127.0.0.1:9090", "ftp://host", "http://", "http://host/?q=1", "http://user@host", "http://host/#x",
            "file:///etc/passwd", "http://host\u{0}",
        ] {
            #expect(throws: ConfigurationError.self, "\(text)") {
                try AlertSourceAddress(.alertmanager, parsing: text)
            }
        }
    }
}
