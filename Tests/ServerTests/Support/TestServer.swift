import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SigV4
import SlipwayModel
import Store
import Testing

@testable import Server

/// The whole server application in-process, as `slipway server` builds it, over a store in a temporary data
/// directory; requests go through HummingbirdTesting's router framework (no sockets) and are signed with a key of
/// a built-in role, as the AWS CLI would sign them.
struct TestServer {
    let dataDirectory: URL
    let store: any Store
    var configuration: ServerConfiguration

    init() throws {
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, dataDirectory: dataDirectory, region: "us-east-1",
            accountID: "000000000000")
        store = try SQLiteStore(path: configuration.database)
    }

    func remove() { try? FileManager.default.removeItem(at: dataDirectory) }

    /// A new key of `role`, written through the sealing store as the server and `slipway keys` write keys.
    func key(_ role: KeyRole, instanceName: String? = nil) async throws -> Credentials {
        let sealed = SealingStore(base: store, sealer: try SecretSealer.loadOrCreate(dataDirectory: dataDirectory))
        let key = try await AccessKeys.create(in: sealed, role: role, instanceName: instanceName)
        return Credentials(accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey)
    }

    /// Runs `body` with a client of the application; the server reads the time from `clock` when one is given, and
    /// from the system otherwise.
    func run(clock: ManualClock? = nil, _ body: @escaping @Sendable (Client) async throws -> Void) async throws {
        var logger = Logger(label: "slipway.test")
        logger.logLevel = .warning
        let now: @Sendable () -> Date
        if let clock { now = { clock.now } } else { now = { Date() } }
        let app = try buildApplication(configuration: configuration, store: store, logger: logger, clock: now)
        try await app.test(.router) { client in try await body(Client(client: client)) }
    }

    /// A signing client over the test framework's.
    struct Client: Sendable {
        let client: any TestClientProtocol

        /// An answer: status, body and, for JSON errors, `__type`.
        struct Answer: Sendable {
            let status: Int
            let body: Data
            var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
            var errorType: String? { json?["__type"] as? String }
        }

        /// A CodeDeploy JSON request (`X-Amz-Target: CodeDeploy_20141006.<operation>`), signed with `credentials`.
        func codeDeploy(_ operation: String, _ body: String, as credentials: Credentials) async throws -> Answer {
            try await json(
                target: "CodeDeploy_20141006.\(operation)", body: Data(body.utf8), service: "codedeploy",
                credentials: credentials)
        }

        func json(target: String, body: Data, service: String, credentials: Credentials) async throws -> Answer {
            let headers = [
                HTTPHeader("host", "localhost"), HTTPHeader("x-amz-target", target),
                HTTPHeader("content-type", "application/x-amz-json-1.1"),
            ]
            let signed = Signer(credentials: credentials, region: "us-east-1", service: service).sign(
                method: "POST", path: "/", headers: headers,
                payload: .sha256(SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()), date: Date(),
                addContentSHA256Header: false)
            return try await send(.post, "/", headers: signed.headers, body: body)
        }

        /// An S3 request (`path` may carry a query) signed with `credentials`, its payload signed as its SHA-256.
        func s3(_ method: HTTPRequest.Method, _ path: String, body: Data = Data(), as credentials: Credentials)
            async throws -> Answer
        {
            let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let signed = Signer(credentials: credentials, region: "us-east-1", service: "s3").sign(
                method: method.rawValue, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "",
                headers: [HTTPHeader("host", "localhost")],
                payload: .sha256(SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()), date: Date())
            return try await send(method, path, headers: signed.headers, body: body)
        }

        /// An agent command API request (`CodeDeployCommandService_v20141006.<operation>`), signed with `credentials`.
        func command(_ operation: String, _ body: String, as credentials: Credentials) async throws -> Answer {
            try await json(
                target: "\(CodeDeployCommand.targetPrefix).\(operation)", body: Data(body.utf8),
                service: CodeDeployCommand.signingName, credentials: credentials)
        }

        /// The ARN the on-premises instance `gpu-01` of ``prepareFleet(as:)`` is registered with.
        static let hostARN = "arn:aws:iam::000000000000:user/gpu-01"

        /// The bucket `releases` holding `app.zip`, the instance `gpu-01` tagged `env=prod`, and the group `web/prod`
        /// targeting it; each step is expected to succeed.
        func prepareFleet(as admin: Credentials) async throws {
            func ok(_ answer: Answer, _ what: String) {
                #expect(answer.status == 200, "\(what): \(String(decoding: answer.body, as: UTF8.self))")
            }
            ok(try await s3(.put, "/releases", as: admin), "CreateBucket")
            ok(try await s3(.put, "/releases/app.zip", body: Data("v1".utf8), as: admin), "PutObject")
            ok(try await s3(.put, "/releases/other-team.zip", body: Data("x".utf8), as: admin), "PutObject")
            ok(
                try await codeDeploy(
                    "RegisterOnPremisesInstance", #"{"instanceName":"gpu-01","iamUserArn":"\#(Self.hostARN)"}"#,
                    as: admin), "RegisterOnPremisesInstance")
            ok(
                try await codeDeploy(
                    "AddTagsToOnPremisesInstances",
                    #"{"instanceNames":["gpu-01"],"tags":[{"Key":"env","Value":"prod"}]}"#, as: admin), "AddTags")
            ok(try await codeDeploy("CreateApplication", #"{"applicationName":"web"}"#, as: admin), "CreateApp")
            ok(
                try await codeDeploy(
                    "CreateDeploymentGroup",
                    #"{"applicationName":"web","deploymentGroupName":"prod","serviceRoleArn":"arn:aws:iam::0:role/r","#
                        + #""onPremisesInstanceTagFilters":[{"Key":"env","Value":"prod","Type":"KEY_AND_VALUE"}]}"#,
                    as: admin), "CreateDeploymentGroup")
        }

        /// A deployment of `s3://releases/app.zip` to the group of ``prepareFleet(as:)``.
        func deployRevision(as admin: Credentials) async throws {
            let answer = try await codeDeploy(
                "CreateDeployment",
                #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"S3","#
                    + #""s3Location":{"bucket":"releases","key":"app.zip","bundleType":"zip"}}}"#, as: admin)
            #expect(answer.status == 200, "CreateDeployment: \(String(decoding: answer.body, as: UTF8.self))")
        }

        /// Sends a request as it is (the `host` header becomes the authority the framework sets).
        func send(_ method: HTTPRequest.Method, _ uri: String, headers: [HTTPHeader], body: Data = Data())
            async throws -> Answer
        {
            var fields = HTTPFields()
            for header in headers where header.name.lowercased() != "host" {
                guard let name = HTTPField.Name(header.name) else { continue }
                fields.append(HTTPField(name: name, value: header.value))
            }
            let response = try await client.executeRequest(
                uri: uri, method: method, headers: fields, body: body.isEmpty ? nil : ByteBuffer(bytes: body))
            return Answer(status: response.status.code, body: Data(response.body.readableBytesView))
        }
    }
}
