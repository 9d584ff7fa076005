import ArgumentParser
import Foundation
import SigV4

/// GET and PUT of a large object through the built-in S3 store of a real `slipway server` (plain HTTP on
/// loopback), with `curl` as the client; the baseline is `curl` against `python3 -m http.server` serving the same
/// file in the same run.
struct ArtifactStoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifact-store",
        abstract:
            "Large-object GET throughput against a static file server, and server RSS growth during a large PUT "
            + "(goals: GET ≥ 80 % of the baseline, RSS growth < 64 MiB)."
    )

    @Option(name: .customLong("size-mib"), help: "Object size in MiB.")
    var sizeMiB = 1024

    @Option(help: "Measured GET runs per server; the median is reported.")
    var runs = 3

    @Option(help: "The slipway binary. (default: the one next to slipway-bench)")
    var slipway: String?

    func run() async throws {
        let binary = slipway.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-bench-s3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let file = work.appendingPathComponent("object.bin")
        try Self.writeRandomFile(file, bytes: sizeMiB << 20)

        let server = try ServerProcess(binary: binary)
        defer { server.stop() }
        let key = try server.adminKey(binary: binary)
        let signer = Signer(
            credentials: Credentials(accessKeyId: key.id, secretAccessKey: key.secret), region: "us-east-1",
            service: "s3")
        let host = "127.0.0.1:\(server.port)"
        func url(_ method: String, _ path: String) -> String {
            let presigned = signer.presign(
                method: method, path: path, headers: [HTTPHeader("Host", host)], expires: 3600, date: Date())
            return "http://\(host)\(path)?\(presigned.query)"
        }
        _ = try Self.curl(["-X", "PUT", url("PUT", "/bench")])

        // PUT: sample the server's RSS while curl uploads.
        let before = server.residentBytes ?? 0
        let sampler = Task {
            var peak = 0
            while !Task.isCancelled {
                peak = max(peak, server.residentBytes ?? 0)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return peak
        }
        let putStart = Date()
        _ = try Self.curl(["-T", file.path, url("PUT", "/bench/object.bin")])
        let putSeconds = Date().timeIntervalSince(putStart)
        sampler.cancel()
        let peak = max(await sampler.value, server.residentBytes ?? 0)
        let growth = Double(peak - before) / Double(1 << 20)

        var slipwaySpeeds: [Double] = []
        for _ in 0..<runs {
            slipwaySpeeds.append(try Self.downloadSpeed(url("GET", "/bench/object.bin")))
        }

        let python = try Self.startStaticServer(directory: work)
        // SIGKILL: the child may inherit a signal mask that blocks SIGTERM from the thread that started it, and then
        // outlives the benchmark.
        defer { kill(python.process.processIdentifier, SIGKILL) }
        var baselineSpeeds: [Double] = []
        for _ in 0..<runs {
            baselineSpeeds.append(try Self.downloadSpeed("http://127.0.0.1:\(python.port)/object.bin"))
        }

        let mib = Double(1 << 20)
        let slipwayGET = median(slipwaySpeeds) / mib
        let baselineGET = median(baselineSpeeds) / mib
        print("artifact-store, \(sizeMiB) MiB object, curl on loopback, median of \(runs):")
        print(
            String(
                format: "  PUT   slipway          %8.1f MiB/s, server RSS +%.1f MiB", Double(sizeMiB) / putSeconds,
                growth))
        print(String(format: "  GET   slipway          %8.1f MiB/s", slipwayGET))
        print(String(format: "  GET   python http.server %6.1f MiB/s (baseline)", baselineGET))
        print(
            String(
                format: "  GET ratio %.0f %% (goal ≥ 80 %%), PUT RSS growth goal < 64 MiB",
                100 * slipwayGET / baselineGET))
    }

    static func writeRandomFile(_ url: URL, bytes: Int) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw BenchError("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var generator = SystemRandomNumberGenerator()
        let block = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for _ in 0..<(bytes >> 20) { try handle.write(contentsOf: block) }
    }

    /// Runs curl and returns its standard output; fails on an HTTP error.
    static func curl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sS", "--fail"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("curl \(arguments) failed") }
        return String(decoding: data, as: UTF8.self)
    }

    /// Bytes per second of a download to /dev/null.
    static func downloadSpeed(_ url: String) throws -> Double {
        let output = try curl(["-o", "/dev/null", "-w", "%{speed_download}", url])
        guard let speed = Double(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("curl printed no speed: \(output)")
        }
        return speed
    }

    static func startStaticServer(directory: URL) throws -> (process: Process, port: Int) {
        let port = Int.random(in: 20_000...40_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1"]
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? curl(["-o", "/dev/null", "http://127.0.0.1:\(port)/"])) != nil { return (process, port) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill(process.processIdentifier, SIGKILL)
        throw BenchError("python3 -m http.server did not start")
    }
}
