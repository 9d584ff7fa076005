import ArgumentParser

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slipway-bench",
        abstract: "Slipway's benchmarks: one subcommand per scenario. Run them against a release build.",
        discussion: "swift build -c release && .build/release/slipway-bench <scenario>",
        subcommands: [
            ControlPlaneBench.self, DeploymentBench.self, ArtifactStoreBench.self, AgentMemoryBench.self,
            AgentBundleBench.self, TrafficBench.self, AlarmRollbackBench.self, ConsoleBench.self,
        ]
    )
}
