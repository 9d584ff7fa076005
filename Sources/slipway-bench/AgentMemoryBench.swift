import ArgumentParser
import AsyncHTTPClient
import Foundation
import SigV4
import SlipwayModel

/// The resident memory of a real `slipway agent` process: idle, then after in-place deployments that download a
/// bundle, install its files and run a hook script, against a real `slipway server` on loopback. The reference point
/// measured in the same run is an idle `python3` interpreter (the smallest process of a scripting runtime).
struct AgentMemoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-memory",
        abstract: "RSS of an idle agent and after deployments (goals: idle ≤ 15 MiB, ≤ 20 MiB after three)."
    )

    @Option(help: "Deployments to run before the second measurement.")
    var deployments = 3

    @Option(help: "The slipway binary. (default: the one next to slipway-bench)")
    var slipway: String?

    func run() async throws {
        let binary = slipway.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-bench-agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try ServerProcess(binary: binary, arguments: ["--poll-hold", "20"])
        defer { server.stop() }
        let key = try server.adminKey(binary: binary)
        let endpoint = "http://127.0.0.1:\(server.port)"
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await measure(binary: binary, server: server, key: key, endpoint: endpoint, work: work, client: client)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(
        binary: URL, server: ServerProcess, key: (id: String, secret: String), endpoint: String, work: URL,
        client: HTTPClient
    ) async throws {
        let credentials = Credentials(accessKeyId: key.id, secretAccessKey: key.secret)
        let api = APICall(
            client: client, endpoint: endpoint,
            signer: Signer(credentials: credentials, region: "us-east-1", service: CodeDeploy.signingName))
        let instance = "bench-agent"
        let arn = "arn:aws:iam::000000000000:user/\(instance)"
        try await ok(api.call(target("CreateApplication"), #"{"applicationName":"bench"}"#))
        try await ok(
            api.call(
                target("RegisterOnPremisesInstance"), #"{"instanceName":"\#(instance)","iamUserArn":"\#(arn)"}"#))
        try await ok(
            api.call(
                target("AddTagsToOnPremisesInstances"),
                #"{"instanceNames":["\#(instance)"],"tags":[{"Key":"fleet","Value":"bench"}]}"#))
        try await ok(
            api.call(
                target("CreateDeploymentGroup"),
                #"{"applicationName":"bench","deploymentGroupName":"fleet","serviceRoleArn":"arn:aws:iam::000000000000:role/x","onPremisesInstanceTagFilters":[{"Key":"fleet","Value":"bench","Type":"KEY_AND_VALUE"}]}"#
            ))

        // The bundle: an AppSpec that installs 200 files and runs a hook.
        let bundleDirectory = work.appendingPathComponent("bundle")
        let destination = work.appendingPathComponent("installed")
        try FileManager.default.createDirectory(
            at: bundleDirectory.appendingPathComponent("app"), withIntermediateDirectories: true)
        try """
        version: 0.0
        os: linux
        file_exists_behavior: OVERWRITE
        files:
          - source: app
            destination: \(destination.path)
        hooks:
          AfterInstall:
            - location: hook.sh
        """.write(to: bundleDirectory.appendingPathComponent("appspec.yml"), atomically: true, encoding: .utf8)
        try "#!/bin/sh\nls \"$(dirname \"$0\")/app\" | wc -l\n".write(
            to: bundleDirectory.appendingPathComponent("hook.sh"), atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o755], ofItemAtPath: bundleDirectory.appendingPathComponent("hook.sh").path)
        for index in 0..<200 {
            try Data(repeating: UInt8(index % 251), count: 16 << 10).write(
                to: bundleDirectory.appendingPathComponent("app/file-\(index).bin"))
        }
        let bundle = work.appendingPathComponent("bundle.tgz")
        try run("/usr/bin/env", ["tar", "-czf", bundle.path, "-C", bundleDirectory.path, "."])
        let s3 = Signer(credentials: credentials, region: "us-east-1", service: "s3")
        func url(_ method: String, _ path: String) -> String {
            let presigned = s3.presign(
                method: method, path: path, headers: [HTTPHeader("Host", "127.0.0.1:\(server.port)")], expires: 3600,
                date: Date())
            return "\(endpoint)\(path)?\(presigned.query)"
        }
        _ = try ArtifactStoreBench.curl(["-X", "PUT", url("PUT", "/bench")])
        _ = try ArtifactStoreBench.curl(["-T", bundle.path, url("PUT", "/bench/bundle.tgz")])

        // The agent: an instance key, the stock agent's two files, the server's signing certificate as trust.
        let agentKey = try server.key(binary: binary, role: "agent", instance: instance)
        let config = work.appendingPathComponent("conf")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        try """
        ---
        region: us-east-1
        iam_user_arn: \(arn)
        aws_access_key_id: \(agentKey.id)
        aws_secret_access_key: \(agentKey.secret)
        """.write(to: config.appendingPathComponent("codedeploy.onpremises.yml"), atomically: true, encoding: .utf8)
        try """
        ---
        :root_dir: '\(work.appendingPathComponent("root").path)'
        :wait_between_runs: 1
        :deploy_control_endpoint: '\(endpoint)'
        :slipway_ca_file: '\(server.dataDirectory.appendingPathComponent("signing/signing.pem").path)'
        """.write(to: config.appendingPathComponent("codedeployagent.yml"), atomically: true, encoding: .utf8)
        let agent = Process()
        agent.executableURL = binary
        agent.arguments = ["agent", "--config-dir", config.path]
        let agentLog = work.appendingPathComponent("agent.log")
        _ = FileManager.default.createFile(atPath: agentLog.path, contents: nil)
        agent.standardOutput = FileHandle.nullDevice
        agent.standardError = try FileHandle(forWritingTo: agentLog)
        try agent.run()
        defer {
            agent.terminate()
            agent.waitUntilExit()
        }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import time; time.sleep(60)"]
        try python.run()
        defer { python.terminate() }

        try await Task.sleep(for: .seconds(5))
        let idle = try await sampleRSS(of: agent.processIdentifier)
        let pythonIdle = try await sampleRSS(of: python.processIdentifier)
        var durations: [Double] = []
        for _ in 0..<deployments {
            let start = Date()
            let created = try await api.call(
                target("CreateDeployment"),
                #"{"applicationName":"bench","deploymentGroupName":"fleet","revision":{"revisionType":"S3","s3Location":{"bucket":"bench","key":"bundle.tgz","bundleType":"tgz"}}}"#
            )
            try ok(created)
            let id = try JSONDecoder().decode(CodeDeploy.CreateDeploymentOutput.self, from: created.body).deploymentId
            while true {
                let answer = try await api.call(target("GetDeployment"), #"{"deploymentId":"\#(id ?? "")"}"#)
                let info = try AWSJSON.makeDecoder().decode(CodeDeploy.GetDeploymentOutput.self, from: answer.body)
                if info.deploymentInfo?.status == .succeeded { break }
                if let status = info.deploymentInfo?.status, status == .failed || status == .stopped {
                    let log = (try? String(contentsOf: agentLog, encoding: .utf8)) ?? ""
                    throw BenchError("deployment \(id ?? "") ended \(status.rawValue); the agent logged:\n\(log)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            durations.append(Date().timeIntervalSince(start))
        }
        let after = try await sampleRSS(of: agent.processIdentifier)
        let mib = Double(1 << 20)
        print("agent-memory: slipway agent RSS, median of 10 samples 100 ms apart")
        print(String(format: "  idle                         %6.1f MiB (goal ≤ 15)", idle / mib))
        print(String(format: "  after %d deployments          %6.1f MiB (goal ≤ 20)", deployments, after / mib))
        print(String(format: "  idle python3 (reference)     %6.1f MiB", pythonIdle / mib))
        print(String(format: "  deployment, create to Succeeded: median %.2f s", median(durations)))
        print(
            String(
                format: "summary: agent idle %.1f MiB, after %d deployments %.1f MiB (%.2f× an idle python3)",
                idle / mib, deployments, after / mib, after / pythonIdle))
    }

    private func sampleRSS(of pid: Int32) async throws -> Double {
        var samples: [Double] = []
        for _ in 0..<10 {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
            else { throw BenchError("process \(pid) is not running") }
            samples.append(kilobytes * 1024)
            try await Task.sleep(for: .milliseconds(100))
        }
        return median(samples)
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("\(arguments.joined(separator: " ")) failed") }
    }

    private func target(_ operation: String) -> String { "\(CodeDeploy.targetPrefix).\(operation)" }

    private func ok(_ answer: (status: UInt, body: Data)) throws {
        guard answer.status == 200 else {
            throw BenchError("HTTP \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
        }
    }
}
