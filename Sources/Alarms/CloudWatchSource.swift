import AsyncHTTPClient
import Deployments
import Foundation
import NIOCore
import S3Transfer
import SigV4
import SlipwayModel

/// Alarms read from a CloudWatch `DescribeAlarms` endpoint: AWS CloudWatch itself, or another Slipway's CloudWatch
/// API. Requests speak the AWS JSON 1.0 protocol the AWS CLI speaks to CloudWatch, signed for `monitoring`; an alarm
/// is in ALARM when its `StateValue` is `ALARM` (metric and composite alarms alike).
package struct CloudWatchAlarmSource: AlarmSource {
    package let client: SignedHTTPClient
    /// The most names one request may carry (DescribeAlarms' limit).
    static let namesPerRequest = 100
    static let maximumReply = 16 << 20

    package init(client: SignedHTTPClient) {
        self.client = client
    }

    package var description: String { "CloudWatch at \(client.endpoint.absoluteString)" }

    package func alarming(among names: Set<String>) async throws -> Set<String> {
        var alarming: Set<String> = []
        let sorted = names.sorted()
        for start in stride(from: 0, to: sorted.count, by: Self.namesPerRequest) {
            let chunk = Array(sorted[start..<min(start + Self.namesPerRequest, sorted.count)])
            let body = try JSONSerialization.data(
                withJSONObject: [
                    "AlarmNames": chunk, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                    "MaxRecords": Self.namesPerRequest,
                ], options: [.sortedKeys])
            let request = AWSRequest(
                method: .POST, service: "monitoring",
                headers: [
                    HTTPHeader("Content-Type", "application/x-amz-json-1.0"),
                    HTTPHeader("X-Amz-Target", "GraniteServiceVersion20100801.DescribeAlarms"),
                ], body: .bytes(body), timeout: .seconds(8))
            let response = try await client.send(request)
            let reply: ByteBuffer
            do {
                reply = try await response.body.collect(upTo: Self.maximumReply)
            } catch {
                throw AlertSourceError("its reply is larger than \(Self.maximumReply) bytes")
            }
            guard response.status == .ok else {
                let text = String(buffer: reply).prefix(300)
                throw AlertSourceError("it answered HTTP \(response.status.code): \(text)")
            }
            alarming.formUnion(try Self.alarmsInAlarm(Data(reply.readableBytesView)).filter(names.contains))
        }
        return alarming
    }

    /// The names of the alarms in ALARM in a `DescribeAlarms` reply; throws ``AlertSourceError`` for a reply of
    /// another shape.
    package static func alarmsInAlarm(_ reply: Data) throws -> Set<String> {
        guard case .object(let members)? = try? JSONReader.value(from: reply) else {
            throw AlertSourceError("its reply is not a JSON object")
        }
        var alarming: Set<String> = []
        for list in ["MetricAlarms", "CompositeAlarms"] {
            guard let value = members[list] else { continue }
            guard case .array(let alarms) = value else { throw AlertSourceError("its \(list) is not a list") }
            for alarm in alarms {
                guard case .object(let fields) = alarm, case .string(let name)? = fields["AlarmName"],
                    case .string(let state)? = fields["StateValue"]
                else { throw AlertSourceError("an alarm in its reply has no AlarmName or StateValue") }
                if state == "ALARM" { alarming.insert(name) }
            }
        }
        return alarming
    }
}
