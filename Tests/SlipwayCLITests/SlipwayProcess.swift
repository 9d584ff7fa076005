import Foundation
import Testing

/// The `slipway` executable the package built, next to the test bundle (override with `SLIPWAY_BIN`).
enum SlipwayBinary {
    static var url: URL {
        if let path = ProcessInfo.processInfo.environment["SLIPWAY_BIN"] { return URL(fileURLWithPath: path) }
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("slipway")
    }

    /// The repository root, for scripts the tests run.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}

/// A `slipway server --dev` process on a free port with its own data directory; stopped with SIGTERM.
final class DevServer: @unchecked Sendable {
    let dataDirectory: URL
    let process = Process()
    private(set) var endpoint = ""
    private(set) var environment: [String: String] = [:]
    private let output = Pipe()
    private var banner = ""

    /// Starts the server and waits until it prints its banner (at most 30 s). `arguments` are added to
    /// `server --dev --data-dir … --listen 127.0.0.1:0`; without `localAgent` the server runs no agent of its own.
    init(dataDirectory: URL? = nil, arguments: [String] = [], localAgent: Bool = false) throws {
        self.dataDirectory =
            dataDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("slipway-it-\(UUID().uuidString)")
        process.executableURL = SlipwayBinary.url
        process.arguments =
            ["server", "--dev", "--data-dir", self.dataDirectory.path, "--listen", "127.0.0.1:0"]
            + (localAgent ? [] : ["--no-agent"]) + arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()

        let deadline = Date().addingTimeInterval(30)
        let handle = output.fileHandleForReading
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard process.isRunning else { break }
                continue
            }
            banner += String(decoding: chunk, as: UTF8.self)
            if banner.contains("Then try:") { break }
        }
        for line in banner.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("export "), let equals = trimmed.firstIndex(of: "=") else { continue }
            let name = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 7)..<equals])
            environment[name] = String(trimmed[trimmed.index(after: equals)...])
        }
        endpoint = environment["AWS_ENDPOINT_URL"] ?? ""
        guard !endpoint.isEmpty else {
            stop()
            throw IntegrationError("slipway server --dev did not start; it printed:\n\(banner)")
        }
        // Keep draining the server's log so it never blocks on a full pipe.
        handle.readabilityHandler = { handle in _ = handle.availableData }
    }

    /// Sends SIGTERM and waits for the process to end; returns its exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        output.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it to end.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }

    /// The environment for the AWS CLI and boto3: the dev profile, and nothing from the caller's AWS set-up.
    var clientEnvironment: [String: String] {
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        base.merge(environment) { _, new in new }
        base["AWS_PAGER"] = ""
        return base
    }

    deinit { stop() }
}

struct IntegrationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The result of running a client program.
struct ClientRun {
    let status: Int32
    let stdout: String
    let stderr: String

    /// The standard output parsed as a JSON object.
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw IntegrationError("expected a JSON object, got: \(stdout)")
        }
        return object
    }
}

/// Runs a program with the given environment and waits for it. Standard error goes to a file, so a chatty client
/// cannot fill a pipe and stall.
func runClient(_ arguments: [String], environment: [String: String]) throws -> ClientRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.environment = environment
    let stdout = Pipe()
    let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-client-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorFile) }
    let errorHandle = try FileHandle(forWritingTo: errorFile)
    process.standardOutput = stdout
    process.standardError = errorHandle
    try process.run()
    let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errorHandle.close()
    return ClientRun(
        status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
        stderr: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "")
}

/// Runs `Python/<script>` with `arguments` as a scenario that starts its own servers: the caller's environment
/// without its AWS set-up, plus `SLIPWAY_BIN`.
func runScenario(_ script: String, _ arguments: [String] = []) throws -> ClientRun {
    let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/\(script)")
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
    environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
    environment["AWS_PAGER"] = ""
    return try runClient(["python3", path.path] + arguments, environment: environment)
}
