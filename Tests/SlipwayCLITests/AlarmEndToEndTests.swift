import Foundation
import Testing

/// A bad model release stopped by its own error rate (`Python/model_alarms_e2e.py`): real agents run the ML
/// example, a real Prometheus scrapes its services under a steady client, its alert stops the deployment.
@Suite("End to end: an alert on the model's error rate rolls a release back", .serialized)
struct AlarmEndToEndTests {
    @Test("v2-degraded passes ValidateService, its error rate fires an alert, the deployment stops and v1 comes back")
    func degradedModelRolledBack() throws {
        let run = try runScenario("model_alarms_e2e.py")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("alarm end-to-end checks passed"))
    }

    @Test(
        "v2-degraded on the replacements of a blue/green canary fires the alert; every prediction goes back to v1 at once"
    )
    func degradedCanaryStopped() throws {
        let run = try runScenario("model_alarms_e2e.py", ["blue-green"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("blue/green alarm end-to-end checks passed"))
    }
}
