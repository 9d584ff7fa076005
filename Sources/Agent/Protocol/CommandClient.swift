import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import S3Transfer
import SigV4
import SlipwayModel

/// The agent command API as the agent uses it. The agent loop is generic over this, so tests can drive it with a
/// scripted service.
package protocol CommandService: Sendable {
    func pollHostCommand(hostIdentifier: String) async throws -> CodeDeployCommand.HostCommandInstance?
    func getDeploymentSpecification(executionID: String, hostIdentifier: String) async throws
        -> CodeDeployCommand.GetDeploymentSpecificationOutput
    /// `maxDuration`: how long the command may go without a heartbeat before the server may give up on this host.
    func acknowledge(_ commandID: String, isNoop: Bool, maxDuration: Int) async throws
        -> CodeDeployCommand.CommandStatus?
    func complete(_ commandID: String, status: CodeDeployCommand.CommandStatus, diagnostics: String) async throws
    /// A heartbeat while a long command runs; the answer says whether the server still wants it.
    func update(_ commandID: String) async throws -> CodeDeployCommand.CommandStatus?
    /// Slipway's additive operation: the full log of the command's lifecycle event.
    func uploadLog(_ commandID: String, log: String) async throws
}

/// An error answer of the command API, or a transport failure.
public struct CommandServiceError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// The AWS error type (`ClientException`, `AccessDeniedException`, `ThrottlingException`, …) when the server answered.
    public var type: String?
    public var status: Int?

    public var isThrottling: Bool { type == "ThrottlingException" || status == 429 }

    /// No answer, a server error or throttling: worth asking again later.
    public var isUnreachable: Bool { (status ?? 500) >= 500 || isThrottling }
}

/// The command API over HTTPS (or HTTP), signed with SigV4 as the stock agent signs it: `X-Amz-Target` and the
/// body's SHA-256 signed, the hash also sent as `x-amz-content-sha256`.
public struct HTTPCommandClient: CommandService {
    let client: SignedHTTPClient
    /// The endpoint's path, where operations are posted (`/` when it has none).
    let path: String
    let secure: Bool
    let agentVersion: String
    /// How long a request may take; long polls are answered by the server well within it.
    let readTimeout: TimeAmount

    public init(
        http: HTTPClient, endpoint: URL, region: String, credentials: any CredentialsProvider, secure: Bool,
        agentVersion: String, readTimeout: TimeAmount
    ) {
        self.client = SignedHTTPClient(endpoint: endpoint, region: region, credentials: credentials, http: http)
        self.path = endpoint.path.isEmpty ? "/" : endpoint.path
        self.secure = secure
        self.agentVersion = agentVersion
        self.readTimeout = readTimeout
    }

    package func pollHostCommand(hostIdentifier: String) async throws -> CodeDeployCommand.HostCommandInstance? {
        let output: CodeDeployCommand.PollHostCommandOutput = try await call(
            "PollHostCommand", CodeDeployCommand.PollHostCommandInput(hostIdentifier: hostIdentifier))
        return output.HostCommand
    }

    package func getDeploymentSpecification(executionID: String, hostIdentifier: String) async throws
        -> CodeDeployCommand.GetDeploymentSpecificationOutput
    {
        try await call(
            "GetDeploymentSpecification",
            CodeDeployCommand.GetDeploymentSpecificationInput(
                deploymentExecutionId: executionID, hostIdentifier: hostIdentifier))
    }

    package func acknowledge(_ commandID: String, isNoop: Bool, maxDuration: Int) async throws
        -> CodeDeployCommand.CommandStatus?
    {
        let output: CodeDeployCommand.PutHostCommandAcknowledgementOutput = try await call(
            "PutHostCommandAcknowledgement",
            CodeDeployCommand.PutHostCommandAcknowledgementInput(
                hostCommandIdentifier: commandID,
                diagnostics: .init(
                    format: "JSON",
                    payload: "{\"IsCommandNoop\":\(isNoop),\"HostCommandMaxDurationInSeconds\":\(maxDuration)}")))
        return output.CommandStatus
    }

    package func complete(_ commandID: String, status: CodeDeployCommand.CommandStatus, diagnostics: String)
        async throws
    {
        let _: Empty = try await call(
            "PutHostCommandComplete",
            CodeDeployCommand.PutHostCommandCompleteInput(
                hostCommandIdentifier: commandID, commandStatus: status,
                diagnostics: .init(format: "JSON", payload: diagnostics)))
    }

    package func update(_ commandID: String) async throws -> CodeDeployCommand.CommandStatus? {
        let output: CodeDeployCommand.PostHostCommandUpdateOutput = try await call(
            "PostHostCommandUpdate", CodeDeployCommand.PostHostCommandUpdateInput(hostCommandIdentifier: commandID))
        return output.CommandStatus
    }

    package func uploadLog(_ commandID: String, log: String) async throws {
        let _: Empty = try await call(
            "PutHostCommandLog", CodeDeployCommand.PutHostCommandLogInput(hostCommandIdentifier: commandID, log: log))
    }

    private struct Empty: Decodable {}

    /// The request for `operation`: AWS JSON 1.1 to the endpoint's path, for the secure flavour's target prefix and
    /// signing name when the agent uses it.
    func request<Input: Encodable>(_ operation: String, _ input: Input) throws -> AWSRequest {
        let prefix = secure ? CodeDeployCommand.secureTargetPrefix : CodeDeployCommand.targetPrefix
        return AWSRequest.json(
            service: secure ? CodeDeployCommand.secureSigningName : CodeDeployCommand.signingName,
            target: "\(prefix).\(operation)", body: try AWSJSON.makeEncoder().encode(input), path: path,
            headers: [HTTPHeader(CodeDeployCommand.agentVersionHeader, agentVersion)], contentSHA256Header: true,
            timeout: readTimeout)
    }

    private func call<Input: Encodable, Output: Decodable>(_ operation: String, _ input: Input) async throws -> Output {
        let request = try request(operation, input)
        let response: HTTPClientResponse
        do {
            response = try await client.send(request)
        } catch let error as AgentConfigurationError {
            // The session credentials file cannot be read: not the server's fault.
            throw error
        } catch {
            throw CommandServiceError(
                description: "\(operation) to \(client.endpoint.absoluteString) failed: \(error)")
        }
        let data = try await response.body.collect(upTo: 8 << 20)
        let bytes = Data(data.readableBytesView)
        guard response.status == .ok else {
            let answer = AWSErrorAnswer(json: bytes)
            throw CommandServiceError(
                description: "\(operation) answered \(response.status.code) \(answer.code ?? ""): "
                    + (answer.message ?? String(decoding: bytes.prefix(500), as: UTF8.self)),
                type: answer.code, status: Int(response.status.code))
        }
        do {
            return try AWSJSON.makeDecoder().decode(Output.self, from: bytes.isEmpty ? Data("{}".utf8) : bytes)
        } catch {
            throw CommandServiceError(description: "\(operation) answered a body the agent cannot read: \(error)")
        }
    }
}
