import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigV4
import SlipwayModel
import Synchronization

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

    @Option(
        name: .customLong("only"),
        help: "Run only these scenarios after the baseline: get-application, batch-get-deployment-groups.")
    var only: [String] = []

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

        let host = "127.0.0.1:\(server.port)"
        let load = LoadGenerator(host: "127.0.0.1", port: server.port)
        let scenarios: [(name: String, option: String, request: @Sendable () -> LoadRequest)] = [
            (
                "GET /healthz (baseline: no signature, no store)", "healthz",
                {
                    LoadRequest(
                        head: HTTPRequestHead(
                            version: .http1_1, method: .GET, uri: "/healthz", headers: ["Host": host]),
                        body: nil)
                }
            ),
            (
                "GetApplication (signed)", "get-application",
                Self.signedRequest(
                    signer: signer, host: host, operation: "GetApplication", #"{"applicationName":"bench"}"#)
            ),
            (
                "BatchGetDeploymentGroups, 10 groups (signed)", "batch-get-deployment-groups",
                Self.signedRequest(signer: signer, host: host, operation: "BatchGetDeploymentGroups", batchBody)
            ),
        ]
        print(
            "slipway-bench control-plane: \(connections) connections, \(runs) runs of \(seconds) s each, server pid \(server.process.processIdentifier)"
        )
        var baseline = 0.0
        for scenario in scenarios where baseline == 0 || only.isEmpty || only.contains(scenario.option) {
            _ = try await load.run(connections: connections, seconds: 1, request: scenario.request)  // warm-up
            let cpuBefore = server.cpuSeconds
            var results: [RunResult] = []
            for _ in 0..<runs {
                results.append(
                    try await load.run(connections: connections, seconds: seconds, request: scenario.request))
            }
            let cpu = server.cpuSeconds.flatMap { after in cpuBefore.map { after - $0 } }
            let throughput = median(results.map(\.throughput))
            let p50 = median(results.map { $0.percentile(0.50) }) * 1000
            let p99 = median(results.map { $0.percentile(0.99) }) * 1000
            let errors = results.map(\.errors).reduce(0, +)
            if baseline == 0 { baseline = throughput }
            let requests = results.map(\.requests).reduce(0, +)
            let perRequest =
                cpu.map { String(format: "  server CPU %.0f µs/request", $0 / Double(requests) * 1e6) } ?? ""
            let figures = String(
                format: "%8.0f req/s (%.2f× baseline)  p50 %.2f ms  p99 %.2f ms  errors %d", throughput,
                throughput / baseline, p50, p99, errors)
            print(scenario.name.padding(toLength: 50, withPad: " ", startingAt: 0) + figures + perRequest)
        }
        if let rss = server.residentBytes { print("server RSS after the runs: \(rss / 1_048_576) MiB") }
    }

    /// A request builder that signs a CodeDeploy JSON request for the moment it is sent, as a client must.
    ///
    /// A SigV4 signature depends on the request and on its time to the second (`X-Amz-Date`), so every request of
    /// one second carries the same headers whether it is signed once or each time: the head is signed when the
    /// second changes and reused within it. The bytes on the wire are the same; the client's CPU, which shares
    /// the machine with the server, is not spent signing identical text thousands of times a second.
    private static func signedRequest(
        signer: Signer, host: String, operation: String, _ json: String
    ) -> @Sendable () -> LoadRequest {
        let body = Data(json.utf8)
        let payload = PayloadHash.of(body)
        let bytes = ByteBuffer(bytes: body)
        let target = "\(CodeDeploy.targetPrefix).\(operation)"
        let signedHead = Mutex<(second: Int64, head: HTTPRequestHead)?>(nil)
        return {
            let now = Date()
            let second = Int64(now.timeIntervalSince1970.rounded(.down))
            let head = signedHead.withLock { cached in
                if let cached, cached.second == second { return cached.head }
                let signed = signer.sign(
                    method: "POST", path: "/",
                    headers: [
                        HTTPHeader("Host", host), HTTPHeader("Content-Type", AWSJSON.contentType),
                        HTTPHeader("X-Amz-Target", target),
                    ],
                    payload: payload, date: now)
                var headers = HTTPHeaders(signed.headers.map { ($0.name, $0.value) })
                headers.add(name: "Content-Length", value: String(bytes.readableBytes))
                let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
                cached = (second, head)
                return head
            }
            return LoadRequest(head: head, body: bytes)
        }
    }
}

/// Signs and sends CodeDeploy JSON requests, through AsyncHTTPClient or through a ``ConnectionPool``.
struct APICall: Sendable {
    let transport: Transport
    let endpoint: String
    let signer: Signer

    enum Transport: Sendable {
        case client(HTTPClient)
        case pool(ConnectionPool)
    }

    init(client: HTTPClient, endpoint: String, signer: Signer) {
        self.init(transport: .client(client), endpoint: endpoint, signer: signer)
    }

    init(transport: Transport, endpoint: String, signer: Signer) {
        self.transport = transport
        self.endpoint = endpoint
        self.signer = signer
    }

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
        switch transport {
        case .client(let client):
            var request = HTTPClientRequest(url: endpoint + "/")
            request.method = .POST
            for header in signed.headers where header.name.lowercased() != "host" {
                request.headers.add(name: header.name, value: header.value)
            }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .seconds(90))
            let answer = try await response.body.collect(upTo: 1 << 20)
            return (response.status.code, Data(answer.readableBytesView))
        case .pool(let pool):
            var headers = HTTPHeaders(signed.headers.map { ($0.name, $0.value) })
            headers.add(name: "Content-Length", value: String(body.count))
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
            let answer = try await pool.send(head, body: ByteBuffer(bytes: body))
            return (answer.status, Data(answer.body.readableBytesView))
        }
    }
}
