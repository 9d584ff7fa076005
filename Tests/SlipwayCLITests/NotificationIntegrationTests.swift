import Foundation
import Testing

/// Trigger notifications through Slipway's SNS API, with a real HTTPS receiver that verifies every signature
/// (`Python/notifications.py`, which starts, kills and restarts its own server).
@Suite("Notifications")
struct NotificationIntegrationTests {
    @Test(
        "an HTTPS receiver subscribed with aws sns subscribe gets every event in order, signed, and nothing is lost while it is down or the server is killed"
    )
    func triggersReachAReceiver() throws {
        let run = try runScenario("notifications.py", ["triggers"])
        #expect(run.status == 0, "the notification checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("notification checks passed"))
    }
}

/// A Slipway reading alarms from, and publishing triggers to, another service (`Python/outbound.py`).
@Suite("Outbound services")
struct OutboundIntegrationTests {
    @Test(
        "alarms of another CloudWatch stop a deployment, and its triggers are published to another SNS, over signed HTTPS"
    )
    func remoteCloudWatchAndSNS() throws {
        let run = try runScenario("outbound.py", ["remote"])
        #expect(run.status == 0, "the outbound checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("outbound checks passed"))
    }
}
