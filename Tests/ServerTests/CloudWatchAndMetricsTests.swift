import Foundation
import Prometheus
import SigV4
import Testing

@testable import Server

@Suite("CloudWatch alarms and the metrics export")
struct CloudWatchAndMetricsTests {
    private static func cloudWatch(
        _ client: TestServer.Client, _ operation: String, _ body: String, as credentials: Credentials
    ) async throws -> TestServer.Client.Answer {
        try await client.json(
            target: "GraniteServiceVersion20100801.\(operation)", body: Data(body.utf8), service: "monitoring",
            credentials: credentials)
    }

    @Test("a deployer defines and sets alarms; an agent key is refused; a request signed for another service too")
    func authorization() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let deployer = try await server.key(.deployer)
        try await server.run { client in
            let agent = try await server.registeredAgentKey("web-1", client: client, admin: deployer)
            let define = #"{"AlarmName":"errors","EvaluationPeriods":1,"ComparisonOperator":"GreaterThanThreshold"}"#
            #expect(
                try await Self.cloudWatch(client, "PutMetricAlarm", define, as: agent).errorType
                    == "AccessDeniedException")
            #expect(try await Self.cloudWatch(client, "PutMetricAlarm", define, as: deployer).status == 200)
            let set = #"{"AlarmName":"errors","StateValue":"ALARM","StateReason":"test"}"#
            #expect(try await Self.cloudWatch(client, "SetAlarmState", set, as: agent).status == 403)
            let wrongService = try await client.json(
                target: "GraniteServiceVersion20100801.SetAlarmState", body: Data(set.utf8), service: "codedeploy",
                credentials: deployer)
            #expect(wrongService.status == 403)
            #expect(try await Self.cloudWatch(client, "SetAlarmState", set, as: deployer).status == 200)
            let described = try await Self.cloudWatch(
                client, "DescribeAlarms", #"{"StateValue":"ALARM"}"#, as: deployer)
            let alarms = try #require(described.json?["MetricAlarms"] as? [[String: Any]])
            #expect(alarms.map { $0["AlarmName"] as? String } == ["errors"])
            #expect(try await Self.cloudWatch(client, "DescribeAlarms", "{}", as: agent).status == 403)
        }
    }

    @Test("hostile alarm requests are refused with CloudWatch's errors and change nothing")
    func hostileInput() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let deployer = try await server.key(.deployer)
        try await server.run { client in
            let cases: [(String, String, String)] = [
                (
                    "PutMetricAlarm",
                    #"{"AlarmName":"a","EvaluationPeriods":1e300,"ComparisonOperator":"GreaterThanThreshold"}"#,
                    "InvalidParameterValue"
                ),
                (
                    "PutMetricAlarm",
                    #"{"AlarmName":"a","EvaluationPeriods":1.5,"ComparisonOperator":"GreaterThanThreshold"}"#,
                    "InvalidParameterValue"
                ),
                (
                    "PutMetricAlarm",
                    #"{"AlarmName":"a\u0007","EvaluationPeriods":1,"ComparisonOperator":"GreaterThanThreshold"}"#,
                    "InvalidParameterValue"
                ),
                (
                    "PutMetricAlarm",
                    #"{"AlarmName":"","EvaluationPeriods":1,"ComparisonOperator":"GreaterThanThreshold"}"#,
                    "InvalidParameterValue"
                ),
                (
                    "PutMetricAlarm",
                    #"{"AlarmName":"a","EvaluationPeriods":1,"ComparisonOperator":"GreaterThanThreshold","Threshold":"1"}"#,
                    "InvalidParameterValue"
                ),
                (
                    "PutMetricAlarm", #"{"AlarmName":"a","ComparisonOperator":"GreaterThanThreshold"}"#,
                    "MissingParameter"
                ),
                ("PutMetricAlarm", #"[1,2]"#, "SerializationException"),
                (
                    "SetAlarmState",
                    #"{"AlarmName":"a","StateValue":"ALARM","StateReason":"\#(String(repeating: "x", count: 1024))"}"#,
                    "InvalidParameterValue"
                ),
                ("DescribeAlarms", #"{"MaxRecords":-1}"#, "InvalidParameterValue"),
                (
                    "DescribeAlarms", #"{"AlarmNames":[\#((0...100).map { "\"a\($0)\"" }.joined(separator: ","))]}"#,
                    "InvalidParameterValue"
                ),
                ("DescribeAlarms", #"{"NextToken":7}"#, "InvalidParameterValue"),
                ("DeleteAlarms", #"{"AlarmNames":[]}"#, "MissingParameter"),
            ]
            for (operation, body, error) in cases {
                let answer = try await Self.cloudWatch(client, operation, body, as: deployer)
                #expect(answer.errorType == error, "\(operation) \(body.prefix(80)): \(answer.errorType ?? "none")")
            }
            let described = try await Self.cloudWatch(client, "DescribeAlarms", "{}", as: deployer)
            #expect((described.json?["MetricAlarms"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("the metrics export asks for the exact bearer token, whatever else comes")
    func metricsToken() {
        let export = MetricsExport(registry: PrometheusCollectorRegistry(), token: "0123456789abcdef")
        #expect(export.authorises("Bearer 0123456789abcdef"))
        for header in [
            nil, "", "Bearer", "Bearer ", "Bearer 0123456789abcde", "Bearer 0123456789abcdef0",
            "bearer 0123456789abcdef",
            "Basic 0123456789abcdef", "Bearer 0123456789abcdeF", "Bearer 0123456789abcdef\u{0}",
        ] as [String?] {
            #expect(!export.authorises(header), "\(header ?? "nil")")
        }
        #expect(MetricsExport(registry: PrometheusCollectorRegistry(), token: nil).authorises(nil))
    }
}
