import Engine
import Foundation
import SlipwayModel
import Store
import Testing

@testable import Deployments

extension DriverHarness {
    /// The group `shop/<name>` with one trigger on `events` publishing to `topic`.
    func addGroup(_ name: String, trigger events: [CodeDeploy.TriggerEventType], topic: String) async throws
        -> CodeDeploy.DeploymentGroupInfo
    {
        var other = group
        other.deploymentGroupName = name
        other.deploymentGroupId = "g-\(name)"
        other.triggerConfigurations = [.init(triggerEvents: events, triggerName: "chat", triggerTargetArn: topic)]
        let stored = other
        try await store.write { tx in try tx.set(stored, .deploymentGroup, scope: "shop", name: name) }
        return other
    }

    /// The outbox, in order.
    func outbox() async throws -> [OutboxMessage] {
        try await store.read { try $0.list(OutboxMessage.self, .notificationOutbox).map(\.value) }
    }
}

private func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

@Suite("Trigger notifications")
struct TriggerTests {
    private let topic = "arn:aws:sns:us-east-1:000000000000:releases"
    private let everything = CodeDeploy.TriggerEventType.knownValues

    @Test("every deployment and instance event is put in the outbox, in order, in the transaction that made it")
    func eventsInOrder() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let group = try await harness.addGroup("api", trigger: everything, topic: topic)
        let id = try await harness.createDeployment(to: group)
        var messages = try await harness.outbox()
        #expect(messages.map { try! json($0.message)["eventTriggerName"] as? String } == ["chat", "chat"])
        #expect(
            messages.map(\.subject) == [
                "IN_PROGRESS: AWS CodeDeploy \(id) in us-east-1 to shop",
                "IN_PROGRESS: AWS CodeDeploy \(id) in us-east-1 to shop: instance web-1",
            ])
        try await harness.runCommands(of: "web-1")
        messages = try await harness.outbox()
        #expect(messages.count == 4)
        #expect(messages.allSatisfy { $0.topicArn == topic })
        let start = try json(messages[0].message)
        #expect(start["status"] as? String == "IN_PROGRESS")
        #expect(start["deploymentId"] as? String == id)
        #expect(start["accountId"] as? String == "000000000000")
        #expect(start["deploymentGroupName"] as? String == "api")
        let instanceStart = try json(messages[1].message)
        #expect(instanceStart["instanceStatus"] as? String == "InProgress")
        #expect(instanceStart["instanceId"] as? String == "arn:aws:codedeploy:us-east-1:000000000000:instance/web-1")
        let instanceEnd = try json(messages[2].message)
        #expect(instanceEnd["instanceStatus"] as? String == "Succeeded")
        let events = try #require(instanceEnd["lifecycleEvents"] as? [[String: String]])
        #expect(
            events.map { $0["LifecycleEvent"] } == LifecycleEvent.inPlaceOrder(withLoadBalancer: false).map(\.rawValue))
        #expect(events.allSatisfy { $0["LifecycleEventStatus"] == "Succeeded" && $0["StartTime"] != nil })
        let end = try json(messages[3].message)
        #expect(end["status"] as? String == "SUCCEEDED")
        #expect(end["completeTime"] as? String != nil)
        #expect((end["deploymentOverview"] as? [String: String])?["Succeeded"] == "1")
    }

    @Test("a trigger gets only the events it names; a group without triggers puts nothing in the outbox")
    func onlyNamedEvents() async throws {
        let harness = try await DriverHarness(hosts: ["web-1"])
        let group = try await harness.addGroup("api", trigger: [.deploymentFailure, .instanceFailure], topic: topic)
        let id = try await harness.createDeployment(to: group)
        let command = try #require(try await harness.pollCommand("web-1"))
        try await harness.acknowledge(command)
        try await harness.complete(
            command, .failure(.scriptFailed, message: "boom", scriptName: "stop.sh", logTail: ""))
        let messages = try await harness.outbox()
        #expect(messages.count == 2)
        #expect(try json(messages[0].message)["instanceStatus"] as? String == "Failed")
        let failed = try json(messages[1].message)
        #expect(failed["status"] as? String == "FAILED")
        #expect((failed["errorInformation"] as? [String: String])?["ErrorCode"] == "HEALTH_CONSTRAINTS")
        #expect(try await harness.deployment(id)?.info.status == .failed)

        _ = try await harness.createDeployment()
        #expect(try await harness.outbox().count == 2)
    }

    @Test("outbox names sort in the order messages were added")
    func sequenceNames() {
        #expect(NotificationOutbox.sequenceName(9) < NotificationOutbox.sequenceName(10))
        #expect(NotificationOutbox.sequenceName(0) == "0000000000000000")
        #expect(NotificationOutbox.sequenceName(123_456_789_012) < NotificationOutbox.sequenceName(1_000_000_000_000))
    }
}
