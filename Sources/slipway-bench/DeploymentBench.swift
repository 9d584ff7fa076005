import ArgumentParser
import Foundation
import SigV4
import SlipwayModel

/// No-op deployments from CreateDeployment to Succeeded against a real `slipway server`, with simulated agents that
/// speak the command protocol over loopback (poll, fetch the signed specification, acknowledge as a no-op,
/// complete), each request signed, each agent on its own keep-alive connection as real agents are. The baseline is
/// the same agents sending the same number of signed requests that touch no deployment (GetApplication), measured
/// in the same run.
struct DeploymentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployment",
        abstract:
            "CreateDeployment to Succeeded with simulated agents (goals: 1 host ≤ 0.5 s; 1,000 hosts, AllAtOnce, "
            + "≤ 10 s)."
    )

    @Option(parsing: .upToNextOption, help: "Fleet sizes to deploy to (1 host uses OneAtATime, more AllAtOnce).")
    var hosts: [Int] = [1, 100, 1000]

    @Option(help: "Measured deployments per fleet size; the median is reported.")
    var runs = 3

    @Option(
        help: ArgumentHelp(
            "HTTP connections the simulated agents share. (default: one per host, as every real agent keeps its own)"
        ))
    var connections: Int?

    @Option(help: "The slipway binary. (default: the one next to slipway-bench)")
    var slipway: String?

    func run() async throws {
        let binary = slipway.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway")
        let server = try ServerProcess(binary: binary, arguments: ["--poll-hold", "1"])
        defer { server.stop() }
        let key = try server.adminKey(binary: binary)
        let credentials = Credentials(accessKeyId: key.id, secretAccessKey: key.secret)
        print(
            "slipway-bench deployment: \(runs) runs per fleet size, "
                + (connections.map { "\($0) agent connections" } ?? "one connection per agent"))
        for size in hosts {
            let pool = try await ConnectionPool(host: "127.0.0.1", port: server.port, connections: connections ?? size)
            do {
                try await measure(size: size, pool: pool, credentials: credentials, server: server)
            } catch {
                await pool.close()
                throw error
            }
            await pool.close()
        }
        if let rss = server.residentBytes { print("server RSS after the runs: \(rss / 1_048_576) MiB") }
    }

    private func measure(size: Int, pool: ConnectionPool, credentials: Credentials, server: ServerProcess) async throws
    {
        let endpoint = "http://127.0.0.1:\(server.port)"
        // The simulated agents keep their derived signing key, as a client may: it depends only on the secret, the
        // day, the region and the service.
        let keys = SigningKeyCache()
        let api = APICall(
            transport: .pool(pool), endpoint: endpoint,
            signer: Signer(
                credentials: credentials, region: "us-east-1", service: CodeDeploy.signingName, keyCache: keys))
        let commands = APICall(
            transport: .pool(pool), endpoint: endpoint,
            signer: Signer(
                credentials: credentials, region: "us-east-1", service: CodeDeployCommand.signingName, keyCache: keys))
        let application = "bench-\(size)"
        let names = (1...size).map { "host-\(size)-\($0)" }
        try await expectOK(api.call(target("CreateApplication"), #"{"applicationName":"\#(application)"}"#))
        for name in names {
            try await expectOK(
                api.call(
                    target("RegisterOnPremisesInstance"),
                    #"{"instanceName":"\#(name)","iamUserArn":"arn:aws:iam::000000000000:user/\#(name)"}"#))
        }
        for batch in stride(from: 0, to: names.count, by: 100) {
            let list = names[batch..<min(batch + 100, names.count)].map { "\"\($0)\"" }.joined(separator: ",")
            try await expectOK(
                api.call(
                    target("AddTagsToOnPremisesInstances"),
                    #"{"instanceNames":[\#(list)],"tags":[{"Key":"fleet","Value":"\#(application)"}]}"#))
        }
        let config = size == 1 ? "CodeDeployDefault.OneAtATime" : "CodeDeployDefault.AllAtOnce"
        try await expectOK(
            api.call(
                target("CreateDeploymentGroup"),
                #"{"applicationName":"\#(application)","deploymentGroupName":"fleet","deploymentConfigName":"\#(config)","serviceRoleArn":"arn:aws:iam::000000000000:role/r","onPremisesInstanceTagFilters":[{"Key":"fleet","Value":"\#(application)","Type":"KEY_AND_VALUE"}]}"#
            ))
        let requestsPerHost = LifecycleEvent.inPlaceOrder(withLoadBalancer: false).count * 4
        var durations: [Double] = []
        var baselines: [Double] = []
        var serverCPU: [Double] = []
        var clientCPU: [Double] = []
        var baselineCPU: [Double] = []
        for run in 0..<runs {
            var cpuBefore = server.cpuSeconds ?? 0
            baselines.append(
                try await timed {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for _ in names {
                            group.addTask {
                                for _ in 0..<requestsPerHost {
                                    try await expectOK(
                                        api.call(
                                            target("GetApplication"), #"{"applicationName":"\#(application)"}"#))
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                })
            baselineCPU.append((server.cpuSeconds ?? 0) - cpuBefore)
            cpuBefore = server.cpuSeconds ?? 0
            let ownBefore = processCPUSeconds()
            durations.append(
                try await timed {
                    try await deploy(application: application, names: names, run: run, api: api, commands: commands)
                })
            serverCPU.append((server.cpuSeconds ?? 0) - cpuBefore)
            clientCPU.append(processCPUSeconds() - ownBefore)
        }
        let deployment = median(durations)
        let baseline = median(baselines)
        print(
            String(
                format:
                    "%5d host%@ (%@): %7.3f s CreateDeployment → Succeeded (baseline %.3f s for %d signed reads, %.2f×)",
                size, size == 1 ? " " : "s", config, deployment, baseline, requestsPerHost * size,
                deployment / baseline))
        // CPU time is steadier than wall time on a shared machine: it does not count waiting for other processes.
        print(
            String(
                format: "%@server CPU %.3f s per deployment (baseline %.3f s, %.2f×); the agents' CPU %.3f s",
                String(repeating: " ", count: 13), median(serverCPU), median(baselineCPU),
                median(serverCPU) / max(median(baselineCPU), 0.001), median(clientCPU)))
    }

    /// One deployment: agents for every host, CreateDeployment, then GetDeployment until it has ended.
    private func deploy(application: String, names: [String], run: Int, api: APICall, commands: APICall) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            startSimulatedAgents(names, api: commands, in: &group)
            let created = try await api.call(
                target("CreateDeployment"),
                #"{"applicationName":"\#(application)","deploymentGroupName":"fleet","revision":{"revisionType":"GitHub","gitHubLocation":{"repository":"slipway/bench","commitId":"run\#(run)"}}}"#
            )
            try expectOK(created)
            let id = try JSONDecoder().decode(CodeDeploy.CreateDeploymentOutput.self, from: created.body).deploymentId
            while true {
                let answer = try await api.call(target("GetDeployment"), #"{"deploymentId":"\#(id ?? "")"}"#)
                let info = try AWSJSON.makeDecoder().decode(CodeDeploy.GetDeploymentOutput.self, from: answer.body)
                let status = info.deploymentInfo?.status
                if status == .succeeded { break }
                if status == .failed || status == .stopped {
                    throw BenchError("deployment \(id ?? "") ended \(status?.rawValue ?? "")")
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            try await group.waitForAll()
        }
    }

    private func target(_ operation: String) -> String { "\(CodeDeploy.targetPrefix).\(operation)" }
    private func command(_ operation: String) -> String { "\(CodeDeployCommand.targetPrefix).\(operation)" }
}
