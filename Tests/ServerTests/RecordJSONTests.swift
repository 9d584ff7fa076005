import Engine
import Foundation
import SlipwayModel
import Testing

@testable import Deployments
@testable import Server

/// The records a deployment rewrites on every command write themselves (and the small ones read themselves); what
/// they write must read back through the synthesized `Codable` conformances, which a restart and every cache miss
/// use, and what they read must be what `JSONDecoder` reads.
@Suite("Deployment record JSON")
struct RecordJSONTests {
    private static let now = Date(timeIntervalSince1970: 1_764_245_123.375)

    @Test("a deployment record reads back equal, its specification included")
    func deploymentRecord() throws {
        let snapshot = DeploymentSnapshot(deploymentId: "d-ABCDEFGHI", targets: [])
        let machine = Deployment(snapshot: snapshot, now: Self.now)
        let info = machine.deploymentInfo(
            CodeDeploy.DeploymentInfo(
                applicationName: "shop", deploymentGroupName: "web", deploymentId: "d-ABCDEFGHI",
                description: "a \"quoted\" description\nover two lines"))
        var record = DeploymentRecord(
            info: info, progress: machine.progress, deploymentGroupId: "f0e1d2c3-0000-4000-8000-000000000000",
            specification: DeploymentSpecificationDocument(
                deploymentId: "d-ABCDEFGHI", deploymentGroupId: "f0e1d2c3-0000-4000-8000-000000000000",
                deploymentGroupName: "web", applicationName: "shop",
                revision: .init(
                    s3: .init(bucket: "releases", key: "shop/v1.tgz", bundleType: "tgz", eTag: "\"abc\"")),
                fileExistsBehavior: "OVERWRITE"))
        for keep in [false, true] {
            if keep { try record.keepSpecificationText() }
            let written = JSONOutput.encode(record)
            let decoded = try AWSJSON.makeDecoder().decode(DeploymentRecord.self, from: written)
            #expect(decoded.info == record.info)
            #expect(decoded.progress == record.progress)
            #expect(decoded.deploymentGroupId == record.deploymentGroupId)
            #expect(decoded.specification == record.specification)
            #expect(try decoded.specificationText() == record.specificationText())
        }
    }

    @Test("the per-command records write and read as their Codable forms do")
    func smallRecords() throws {
        var delivery = HostCommandDelivery()
        try same(delivery)
        for event in [LifecycleEvent.applicationStop, .downloadBundle] {
            let id = HostCommandID(deploymentId: "d-ABCDEFGHI", instanceName: "web:1", event: event)
            delivery.offer(
                HostCommand(id: id, hostIdentifier: "arn:aws:iam::000000000000:user/web", offeredAt: Self.now))
        }
        _ = delivery.poll(now: Self.now, heldStatus: nil)
        #expect(delivery.held != nil && delivery.offers.count == 1)
        try same(delivery)
        try same(HostAgentRecord(agentVersion: "OFFICIAL_1.6.0-49_deb", lastPollTime: Self.now))
        try same(HostAgentRecord(agentVersion: nil, lastPollTime: Self.now))
        try same(LiveDeploymentRecord(nextDeadline: Self.now))
        try same(LiveDeploymentRecord(nextDeadline: nil))
    }

    @Test("a record without a required member is refused, naming it")
    func missingMember() throws {
        let error = #expect(throws: JSONTypeMismatch.self) {
            try HostCommandDelivery(json: JSONReader.value(from: Data(#"{"held":{"id":"d-A:web:Install:1"}}"#.utf8)))
        }
        #expect(error?.path == "held.handedOutAt")
    }

    private func same<Record: JSONWritable & JSONReadable & Codable>(_ record: Record) throws {
        let ours = JSONOutput.encode(record)
        let theirs = try AWSJSON.makeEncoder().encode(record)
        #expect(try JSONReader.value(from: ours) == JSONReader.value(from: theirs))
        let read = try Record(json: JSONReader.value(from: theirs))
        #expect(try JSONReader.value(from: JSONOutput.encode(read)) == JSONReader.value(from: theirs))
    }
}
