import ArgumentParser
import AsyncHTTPClient
import Foundation
import SigV4
import SlipwayModel

/// The resident memory of a real `slipway-agent` process: idle, after three in-place deployments that download a
/// bundle, install its files and run a hook script, and after the rest of `--deployments` (the growth between the
/// two is what a long-running agent would gain), against a real `slipway server` on loopback. Its open descriptors
/// and child processes are counted after each deployment. The reference point measured in the same run is an idle
/// `python3` interpreter (the smallest process of a scripting runtime).
struct AgentMemoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-memory",
        abstract:
            "RSS of an idle agent and after deployments (goals: idle ≤ 15 MiB, ≤ 20 MiB after three, flat within 1 MiB "
            + "over twenty)."
    )

    @Option(help: "Deployments to run in all (at least 3; the second measurement is after the third).")
    var deployments = 20

    @Option(help: "The slipway binary, for the server. (default: the one next to slipway-bench)")
    var slipway: String?

    @Option(
        help: ArgumentHelp(
            "The agent to measure: a slipway-agent binary, or a slipway binary (run as `slipway agent`). (default: "
                + "the slipway-agent next to slipway-bench)"))
    var agent: String?

    func validate() throws {
        guard (3...1000).contains(deployments) else { throw ValidationError("--deployments must be from 3 to 1000") }
    }

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
        agent.executableURL =
            self.agent.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway-agent")
        agent.arguments =
            (agent.executableURL?.lastPathComponent == "slipway" ? ["agent"] : []) + ["--config-dir", config.path]
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
        let idleHandles = try Self.handles(of: agent.processIdentifier)
        var durations: [Double] = []
        var afterThree = 0.0
        var handles: [(descriptors: Int, children: Int)] = []
        for index in 0..<deployments {
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
            handles.append(try Self.handles(of: agent.processIdentifier))
            if index == 2 { afterThree = try await sampleRSS(of: agent.processIdentifier) }
        }
        let after = try await sampleRSS(of: agent.processIdentifier)
        let breakdown = Self.memoryBreakdown(of: agent.processIdentifier)
        let mib = Double(1 << 20)
        let name = agent.executableURL?.lastPathComponent == "slipway" ? "slipway agent" : "slipway-agent"
        print("agent-memory: \(name) RSS, median of 10 samples 100 ms apart")
        print(String(format: "  idle                         %6.1f MiB (goal ≤ 15)", idle / mib))
        print(String(format: "  after 3 deployments          %6.1f MiB (goal ≤ 20)", afterThree / mib))
        print(
            String(
                format: "  after %-3d deployments        %6.1f MiB: %+.2f MiB over the last %d (goal: within 1)",
                deployments, after / mib, (after - afterThree) / mib, deployments - 3))
        print(String(format: "  idle python3 (reference)     %6.1f MiB", pythonIdle / mib))
        print(String(format: "  deployment, create to Succeeded: median %.2f s", median(durations)))
        let descriptors = handles.map(\.descriptors)
        let children = handles.map(\.children)
        print(
            "  open descriptors idle \(idleHandles.descriptors), after each deployment: "
                + "\(descriptors.min() ?? 0)–\(descriptors.max() ?? 0); child processes after each: "
                + "\(children.min() ?? 0)–\(children.max() ?? 0)")
        print("  where the resident bytes are, after the last deployment (/proc/<pid>/smaps):")
        for line in breakdown { print("    \(line)") }
        print(
            String(
                format: "summary: agent idle %.1f MiB, after 3 deployments %.1f MiB, after %d %.1f MiB (%.2f× an "
                    + "idle python3)",
                idle / mib, afterThree / mib, deployments, after / mib, after / pythonIdle))
    }

    /// Open descriptors and live child processes of `pid`.
    static func handles(of pid: Int32) throws -> (descriptors: Int, children: Int) {
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let children = tasks.reduce(0) { count, task in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return count + text.split(separator: " ").count
        }
        return (descriptors, children)
    }

    /// Resident and private-dirty kilobytes of `pid` by mapped file (anonymous mappings together), largest first,
    /// then the totals of `smaps_rollup`.
    static func memoryBreakdown(of pid: Int32) -> [String] {
        // Read to the end by hand: /proc files report no size, and a whole-file read stops after its first buffer.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps") else { return [] }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        try? handle.close()
        var byMapping: [String: (rss: Int, dirty: Int)] = [:]
        var current = "[anonymous]"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-") && !first.hasSuffix(":") {
                current = fields.count >= 6 ? fields[5...].joined(separator: " ") : "[anonymous]"
                if let slash = current.lastIndex(of: "/") { current = String(current[current.index(after: slash)...]) }
            } else if first == "Rss:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                byMapping[current, default: (0, 0)].rss += kilobytes
            } else if first == "Private_Dirty:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                byMapping[current, default: (0, 0)].dirty += kilobytes
            }
        }
        var lines = byMapping.filter { $0.value.rss >= 64 }.sorted { $0.value.rss > $1.value.rss }.prefix(10).map {
            $0.key.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(
                    format: " rss %6.1f MiB, private dirty %6.1f MiB", Double($0.value.rss) / 1024,
                    Double($0.value.dirty) / 1024)
        }
        if let rollup = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) {
            let wanted = ["Rss:", "Shared_Clean:", "Private_Clean:", "Private_Dirty:", "Anonymous:"]
            let totals = rollup.split(separator: "\n").filter { line in wanted.contains { line.hasPrefix($0) } }
            lines.append(
                "totals: " + totals.map { $0.split(separator: " ").joined(separator: " ") }.joined(separator: ", "))
        }
        return lines
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
