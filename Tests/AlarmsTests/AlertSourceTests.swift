import Foundation
import Store
import Testing

@testable import Alarms

@Suite("Alert selectors and alert replies")
struct AlertSourceTests {
    @Test("a plain alarm name matches the alert of that alertname, whatever its other labels")
    func plainName() {
        let selector = AlertSelector("HighErrorRate")
        #expect(selector.matches(["alertname": "HighErrorRate", "job": "model"]))
        #expect(!selector.matches(["alertname": "higherrorrate"]))
        #expect(!selector.matches(["job": "HighErrorRate"]))
    }

    @Test("labels in braces must all be on the alert with those values")
    func labelledSelector() {
        let selector = AlertSelector(#"HighErrorRate{application="shop",deployment_group="web"}"#)
        #expect(selector.alertName == "HighErrorRate")
        #expect(selector.labels == ["application": "shop", "deployment_group": "web"])
        #expect(
            selector.matches([
                "alertname": "HighErrorRate", "application": "shop", "deployment_group": "web", "severity": "page",
            ]))
        #expect(!selector.matches(["alertname": "HighErrorRate", "application": "shop"]))
        #expect(!selector.matches(["alertname": "HighErrorRate", "application": "shop", "deployment_group": "jobs"]))
        let escaped = AlertSelector(#"A{path="C:\\models\\\"v2\""}"#)
        #expect(escaped.labels == ["path": #"C:\models\"v2""#])
    }

    @Test("a name that is not a well-formed selector is matched whole against alertname")
    func malformedSelectors() {
        for text in [
            "{}", "A{", "A{x}", #"A{x="1""#, #"A{x=1}"#, #"A{1x="1"}"#, #"A{x="1",}"#, #"A{x="1" y="2"}"#,
            #"A{x="1",x="2"}"#, #"A{x="\n"}"#, "A{x=\"1\"}}", "A{\u{0}=\"1\"}", #"A{x-y="1"}"#,
        ] {
            let selector = AlertSelector(text)
            #expect(selector.alertName == text, "\(text)")
            #expect(selector.labels.isEmpty)
            #expect(selector.matches(["alertname": text]))
        }
        #expect(AlertSelector("A{}").alertName == "A")
    }

    @Test("Prometheus: only firing alerts count, not pending ones")
    func prometheusReply() throws {
        let reply = #"""
            {"status":"success","data":{"alerts":[
              {"labels":{"alertname":"HighErrorRate","job":"model"},"state":"firing","activeAt":"2026-12-07T18:00:00Z","value":"1e+00"},
              {"labels":{"alertname":"SlowRequests"},"state":"pending"}
            ]}}
            """#
        let firing = try AlertSource.firingAlerts(in: Data(reply.utf8), kind: .prometheus)
        #expect(firing == [["alertname": "HighErrorRate", "job": "model"]])
    }

    @Test("Alertmanager: only active alerts count, not suppressed ones")
    func alertmanagerReply() throws {
        let reply = #"""
            [{"labels":{"alertname":"HighErrorRate"},"status":{"state":"active","silencedBy":[],"inhibitedBy":[]}},
             {"labels":{"alertname":"Muted"},"status":{"state":"suppressed","silencedBy":["x"],"inhibitedBy":[]}}]
            """#
        let firing = try AlertSource.firingAlerts(in: Data(reply.utf8), kind: .alertmanager)
        #expect(firing == [["alertname": "HighErrorRate"]])
    }

    @Test("a reply of another shape is an error that says what is wrong, never a crash")
    func hostileReplies() {
        let cases: [(String, AlertSource.Kind, String)] = [
            ("", .prometheus, "not JSON"),
            ("<html>502</html>", .prometheus, "not JSON"),
            (#"{"status":"error","errorType":"bad_data"}"#, .prometheus, "status success"),
            (#"{"status":"success","data":{"alerts":{}}}"#, .prometheus, "status success"),
            (#"[]"#, .prometheus, "alert list of /api/v1/alerts"),
            (#"{"status":"success","data":{"alerts":[7]}}"#, .prometheus, "no labels object"),
            (#"{"status":"success","data":{"alerts":[{"labels":{"alertname":"A"}}]}}"#, .prometheus, "no state"),
            (
                #"{"status":"success","data":{"alerts":[{"labels":{"alertname":1},"state":"firing"}]}}"#, .prometheus,
                "label alertname"
            ),
            (#"{"alerts":[]}"#, .alertmanager, "alert list of /api/v2/alerts"),
            (#"[{"labels":{"alertname":"A"},"status":"active"}]"#, .alertmanager, "status.state"),
            (String(repeating: "[", count: 100_000), .alertmanager, "not JSON"),
            (
                "{\"status\":\"success\",\"data\":{\"alerts\":[{\"labels\":{\"a\u{0}\":\"b\"},\"state\":\"firing\"}",
                .prometheus, "not JSON"
            ),
        ]
        for (reply, kind, words) in cases {
            #expect {
                try AlertSource.firingAlerts(in: Data(reply.utf8), kind: kind)
            } throws: { error in
                (error as? AlertSourceError)?.description.contains(words) == true
            }
        }
    }

    @Test("the alerts address keeps the base's path prefix")
    func addresses() {
        #expect(
            AlertSource(.prometheus, base: URL(string: "http://prom:9090/monitoring/")!).url
                == "http://prom:9090/monitoring/api/v1/alerts")
        #expect(
            AlertSource(.alertmanager, base: URL(string: "http://am:9093")!).url
                == "http://am:9093/api/v2/alerts?active=true&silenced=false&inhibited=false")
    }

    @Test("Slipway's own alarms are in ALARM exactly while their stored state is ALARM")
    func localAlarms() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-alarms-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.write { tx in
            var errors = LocalAlarm(name: "errors", now: now)
            errors.state = .alarm
            try tx.set(errors, .cloudWatchAlarm, name: "errors")
            try tx.set(LocalAlarm(name: "latency", now: now), .cloudWatchAlarm, name: "latency")
        }
        let source = LocalAlarmSource(store: store)
        #expect(try await source.alarming(among: ["errors", "latency", "unknown"]) == ["errors"])
    }
}

@Suite("CloudWatch DescribeAlarms replies")
struct CloudWatchReplyTests {
    @Test("metric and composite alarms in ALARM count; OK and INSUFFICIENT_DATA do not")
    func states() throws {
        let reply = #"""
            {"MetricAlarms":[{"AlarmName":"errors","StateValue":"ALARM"},{"AlarmName":"latency","StateValue":"OK"}],
             "CompositeAlarms":[{"AlarmName":"service","StateValue":"ALARM"},{"AlarmName":"x","StateValue":"INSUFFICIENT_DATA"}]}
            """#
        #expect(try CloudWatchAlarmSource.alarmsInAlarm(Data(reply.utf8)) == ["errors", "service"])
        #expect(try CloudWatchAlarmSource.alarmsInAlarm(Data("{}".utf8)).isEmpty)
    }

    @Test("a reply of another shape is an error that says what is wrong")
    func hostileReplies() {
        for (reply, words) in [
            ("", "not a JSON object"), ("[]", "not a JSON object"),
            (#"{"MetricAlarms":{}}"#, "MetricAlarms is not a list"),
            (#"{"MetricAlarms":[{"AlarmName":"a"}]}"#, "no AlarmName or StateValue"),
            (#"{"CompositeAlarms":[{"AlarmName":7,"StateValue":"ALARM"}]}"#, "no AlarmName or StateValue"),
            (#"{"MetricAlarms":[null]}"#, "no AlarmName or StateValue"),
        ] {
            #expect {
                try CloudWatchAlarmSource.alarmsInAlarm(Data(reply.utf8))
            } throws: { error in
                (error as? AlertSourceError)?.description.contains(words) == true
            }
        }
    }
}
