import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SigV4
import SlipwayModel

/// GetApplication and BatchGetDeploymentGroups, SigV4-signed, from concurrent keep-alive connections against a real
/// `slipway server` process; `GET /healthz` (no signature, no store) through the same client is the baseline.
struct ControlPlaneBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control-plane",
        abstract: "Throughput and latency of signed CodeDeploy API reads (goal: ≥ 5,000 requests/s, p99 ≤ 5 ms)."
    )

    @Option(help: "Concurrent keep-alive connections.")
    var connections = 8

    @Option(help: "Seconds per measured run.")
    var seconds = 5.0

    @Option(help: "Measured runs per scenario; the median is reported.")
    var runs = 3

    @Option(help: "The slipway binary. (default: the one next to slipway-bench)")
    var slipway: String?

    func run() async throws {
        let binary = slipway.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway")
        let server = try ServerProcess(binary: binary)
        defer { server.stop() }
        let key = try server.adminKey(binary: binary)
        let endpoint = "http://127.0.0.1:\(server.port)"
        let signer = Signer(
            credentials: Credentials(accessKeyId: key.id, secretAccessKey: key.secret), region: "us-east-1",
            service: "codedeploy", keyCache: SigningKeyCache())

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await run(client: client, server: server, endpoint: endpoint, signer: signer)
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func run(client: HTTPClient, server: ServerProcess, endpoint: String, signer: Signer) async throws {

        let groups = (1...10).map { "group-\($0)" }
        let call = APICall(client: client, endpoint: endpoint, signer: signer)
        _ = try await call.send("CreateApplication", #"{"applicationName":"bench"}"#)
        for group in groups {
            _ = try await call.send(
                "CreateDeploymentGroup",
                #"{"applicationName":"bench","deploymentGroupName":"\#(group)","serviceRoleArn":"arn:aws:iam::000000000000:role/r","onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]}"#
            )
        }
        let batchBody =
            #"{"applicationName":"bench","deploymentGroupNames":["# + groups.map { "\"\($0)\"" }.joined(separator: ",")
            + "]}"

        let scenarios: [(name: String, request: @Sendable () async throws -> Bool)] = [
            ("GET /healthz (baseline: no signature, no store)", { try await call.health() }),
            (
                "GetApplication (signed)",
                { try await call.send("GetApplication", #"{"applicationName":"bench"}"#) == 200 }
            ),
            (
                "BatchGetDeploymentGroups, 10 groups (signed)",
                { try await call.send("BatchGetDeploymentGroups", batchBody) == 200 }
            ),
        ]
        print(
            "slipway-bench control-plane: \(connections) connections, \(runs) runs of \(seconds) s each, server pid \(server.process.processIdentifier)"
        )
        var baseline = 0.0
        for scenario in scenarios {
            _ = try await measure(connections: connections, seconds: 1, request: scenario.request)  // warm-up
            var results: [RunResult] = []
            for _ in 0..<runs {
                results.append(try await measure(connections: connections, seconds: seconds, request: scenario.request))
            }
            let throughput = median(results.map(\.throughput))
            let p50 = median(results.map { $0.percentile(0.50) }) * 1000
            let p99 = median(results.map { $0.percentile(0.99) }) * 1000
            let errors = results.map(\.errors).reduce(0, +)
            if baseline == 0 { baseline = throughput }
            let figures = String(
                format: "%8.0f req/s (%.2f× baseline)  p50 %.2f ms  p99 %.2f ms  errors %d", throughput,
                throughput / baseline, p50, p99, errors)
            print(scenario.name.padding(toLength: 50, withPad: " ", startingAt: 0) + figures)
        }
        if let rss = server.residentBytes { print("server RSS after the runs: \(rss / 1_048_576) MiB") }
    }

    private func measure(
        connections: Int, seconds: Double, request: @escaping @Sendable () async throws -> Bool
    ) async throws -> RunResult {
        let start = ContinuousClock.now
        let end = start.advanced(by: .milliseconds(Int(seconds * 1000)))
        let perWorker = try await withThrowingTaskGroup(of: (Int, Int, [Double]).self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var count = 0
                    var errors = 0
                    var latencies: [Double] = []
                    latencies.reserveCapacity(50_000)
                    while ContinuousClock.now < end {
                        let before = ContinuousClock.now
                        let ok = try await request()
                        let elapsed = before.duration(to: .now)
                        latencies.append(
                            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                        count += 1
                        if !ok { errors += 1 }
                    }
                    return (count, errors, latencies)
                }
            }
            var all: [(Int, Int, [Double])] = []
            for try await result in group { all.append(result) }
            return all
        }
        let elapsed = start.duration(to: .now)
        return RunResult(
            requests: perWorker.map(\.0).reduce(0, +), errors: perWorker.map(\.1).reduce(0, +),
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            latencies: perWorker.flatMap(\.2))
    }
}

/// Signs and sends CodeDeploy JSON requests.
struct APICall: Sendable {
    let client: HTTPClient
    let endpoint: String
    let signer: Signer

    func send(_ operation: String, _ json: String) async throws -> UInt {
        try await call("\(CodeDeploy.targetPrefix).\(operation)", json).status
    }

    /// Sends a signed JSON request with this `X-Amz-Target`; returns the status and the body.
    func call(_ target: String, _ json: String) async throws -> (status: UInt, body: Data) {
        let body = Data(json.utf8)
        let host = String(endpoint.dropFirst("http://".count))
        let signed = signer.sign(
            method: "POST", path: "/", query: "",
            headers: [
                HTTPHeader("host", host), HTTPHeader("content-type", AWSJSON.contentType),
                HTTPHeader("x-amz-target", target),
            ],
            payload: .of(body), date: Date())
        var request = HTTPClientRequest(url: endpoint + "/")
        request.method = .POST
        for header in signed.headers where header.name.lowercased() != "host" {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(90))
        let answer = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, Data(answer.readableBytesView))
    }

    func health() async throws -> Bool {
        let response = try await client.execute(HTTPClientRequest(url: endpoint + "/healthz"), timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1024)
        return response.status == .ok
    }
}
