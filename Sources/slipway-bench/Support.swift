import Foundation
import SlipwayModel

/// A `slipway` server process for a benchmark: the binary next to this one, plain HTTP on a free port.
final class ServerProcess: @unchecked Sendable {
    let dataDirectory: URL
    let process = Process()
    let port: Int

    /// `dataDirectory`: an existing one to serve (a server restarted over the same data); a new one when nil.
    init(binary: URL, arguments: [String] = [], dataDirectory: URL? = nil) throws {
        self.dataDirectory =
            dataDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("slipway-bench-\(UUID().uuidString)")
        process.executableURL = binary
        process.arguments =
            ["server", "--plain-http", "--data-dir", self.dataDirectory.path, "--listen", "127.0.0.1:0"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !text.contains("\n") {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty && !process.isRunning { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: #"http://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last ?? "")
        else {
            process.terminate()
            throw BenchError("the server did not start: \(text)")
        }
        self.port = port
    }

    /// Creates an admin key with `slipway keys create` against the server's data directory.
    func adminKey(binary: URL) throws -> (id: String, secret: String) {
        try key(binary: binary, role: "admin")
    }

    /// Creates a key of `role` (bound to `instance` for the agent role) with `slipway keys create`.
    func key(binary: URL, role: String, instance: String? = nil) throws -> (id: String, secret: String) {
        let keys = Process()
        keys.executableURL = binary
        keys.arguments =
            ["keys", "create", "--role", role, "--json", "--data-dir", dataDirectory.path]
            + (instance.map { ["--instance-name", $0] } ?? [])
        let pipe = Pipe()
        keys.standardOutput = pipe
        try keys.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        keys.waitUntilExit()
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]],
            let id = object["AccessKey"]?["AccessKeyId"] as? String,
            let secret = object["AccessKey"]?["SecretAccessKey"] as? String
        else { throw BenchError("slipway keys create printed no key") }
        return (id, secret)
    }

    /// The resident set size of the server, from /proc (Linux).
    var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// The CPU time the server has used (user and system), from /proc (Linux).
    var cpuSeconds: Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Stops the server and removes its data, unless `keepingData` (to start another server over it).
    func stop(keepingData: Bool = false) {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if !keepingData { try? FileManager.default.removeItem(at: dataDirectory) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Latency samples of one run, and what they add up to.
struct RunResult {
    let requests: Int
    let errors: Int
    let seconds: Double
    let latencies: [Double]

    var throughput: Double { Double(requests) / seconds }

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return .nan }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}

/// The CPU time this process has used (user and system).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The directory of the running executable, where `swift build` also puts `slipway`.
var executableDirectory: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
}

/// A simulated agent for each on-premises instance of `names` (registered with the IAM user of its name), each
/// running one in-place deployment's commands as no-ops.
func startSimulatedAgents(_ names: [String], api: APICall, in group: inout ThrowingTaskGroup<Void, any Error>) {
    let events = LifecycleEvent.inPlaceOrder(withLoadBalancer: false).count
    for name in names {
        group.addTask {
            try await simulatedAgent(host: "arn:aws:iam::000000000000:user/\(name)", commands: events, api: api)
        }
    }
}

/// A simulated agent: runs `commands` commands as no-ops, then stops.
func simulatedAgent(host: String, commands count: Int, api: APICall) async throws {
    var done = 0
    while done < count {
        let polled = try await api.call(commandTarget("PollHostCommand"), #"{"HostIdentifier":"\#(host)"}"#)
        try expectOK(polled)
        let answer = try JSONDecoder().decode(CodeDeployCommand.PollHostCommandOutput.self, from: polled.body)
        guard let command = answer.HostCommand, let id = command.HostCommandIdentifier else { continue }
        try expectOK(
            await api.call(
                commandTarget("GetDeploymentSpecification"),
                #"{"DeploymentExecutionId":"\#(command.DeploymentExecutionId ?? "")","HostIdentifier":"\#(host)"}"#
            ))
        try expectOK(
            await api.call(
                commandTarget("PutHostCommandAcknowledgement"),
                #"{"HostCommandIdentifier":"\#(id)","Diagnostics":{"Format":"JSON","Payload":"{\"IsCommandNoop\":true}"}}"#
            ))
        try expectOK(
            await api.call(
                commandTarget("PutHostCommandComplete"),
                #"{"HostCommandIdentifier":"\#(id)","CommandStatus":"Succeeded","Diagnostics":{"Format":"JSON","Payload":"{\"error_code\":0,\"script_name\":\"\",\"message\":\"Succeeded: CompletedNoopCommand\",\"log\":\"\"}"}}"#
            ))
        done += 1
    }
}

/// The `X-Amz-Target` of an agent command API operation.
func commandTarget(_ operation: String) -> String { "\(CodeDeployCommand.targetPrefix).\(operation)" }

func expectOK(_ answer: (status: UInt, body: Data)) throws {
    guard answer.status == 200 else {
        throw BenchError("HTTP \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
    }
}

func timed(_ body: () async throws -> Void) async throws -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = start.duration(to: .now)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
