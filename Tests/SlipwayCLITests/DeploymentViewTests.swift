import Foundation
import Testing

@testable import slipway

/// What `slipway deploy` shows of a blue/green deployment: which side each host is on, the `Ready` count, and the
/// traffic share while it moves.
@Suite("The deployment view of blue/green deployments")
struct DeploymentViewTests {
    static func snapshot(status: String, messages: [String], green: String = "Ready") -> DeploymentSnapshot {
        func target(_ name: String, _ label: String, _ status: String) -> [String: Any] {
            [
                "instanceTarget": [
                    "targetId": name, "status": status, "instanceLabel": label,
                    "lifecycleEvents": [["lifecycleEventName": "ValidateService", "status": "Succeeded"]],
                ]
            ]
        }
        return DeploymentSnapshot(
            info: [
                "deploymentId": "d-AAAAAAAAA", "status": status, "deploymentStatusMessages": messages,
                "deploymentStyle": ["deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"],
                "deploymentOverview": ["Pending": 1, "Ready": 1],
            ],
            targets: [target("web-2", "Green", green), target("web-1", "Blue", "Pending")])
    }

    @Test("the table gives each host's side, blue first, the Ready count and the status messages")
    func table() {
        let lines = DeploymentView.table(
            Self.snapshot(status: "InProgress", messages: ["Traffic: 10 % of requests on the replacement instances."]),
            now: Date(), width: 200, color: false)
        #expect(lines[1] == "Pending 1 · InProgress 0 · Ready 1 · Succeeded 0 · Failed 0 · Skipped 0")
        #expect(lines[2] == "Traffic: 10 % of requests on the replacement instances.")
        #expect(lines[3].hasPrefix("HOST   SIDE   STATUS"))
        #expect(lines[4].hasPrefix("web-1  blue   Pending"))
        #expect(lines[5].hasPrefix("web-2  green  Ready"))
    }

    @Test("a new status message is a line of its own when the output is not a terminal")
    func messageLines() {
        let before = Self.snapshot(
            status: "InProgress", messages: ["Traffic: 10 % of requests on the replacement instances."])
        let after = Self.snapshot(
            status: "InProgress", messages: ["Traffic: 100 % of requests on the replacement instances."])
        let lines = DeploymentView.changeLines(from: before, to: after, now: Date())
        #expect(lines.count == 1)
        #expect(lines.first?.hasSuffix("d-AAAAAAAAA Traffic: 100 % of requests on the replacement instances.") == true)
        #expect(DeploymentView.changeLines(from: after, to: after, now: Date()).isEmpty)
    }
}
