import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import S3Transfer
import SigV4
import SlipwayModel

/// Requests to a Slipway server's CodeDeploy (JSON), IAM (query) and S3 APIs for the commands people run, signed
/// with the profile's keys and region through one ``SignedHTTPClient`` that trusts the profile's CA bundle.
struct APIClient {
    let profile: ClientProfile
    let client: SignedHTTPClient

    init(profile: ClientProfile) throws {
        self.profile = profile
        var tls = TLSConfiguration.makeClientConfiguration()
        if let bundle = profile.caBundle {
            guard FileManager.default.fileExists(atPath: bundle) else {
                throw ClientError("the CA bundle \(bundle) does not exist")
            }
            tls.trustRoots = .file(bundle)
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        client = SignedHTTPClient(
            endpoint: profile.endpoint, region: profile.region, credentials: profile.credentials, http: http)
    }

    func shutdown() async {
        try? await client.http.shutdown()
    }

    /// A CodeDeploy operation with a JSON body; the answer's JSON object.
    func codeDeploy(
        _ operation: String, _ input: [String: Any], targetPrefix: String = CodeDeploy.targetPrefix
    ) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: input)
        let (status, answer, _) = try await send(
            .json(service: CodeDeploy.signingName, target: "\(targetPrefix).\(operation)", body: body))
        guard status == 200 else {
            let error = AWSErrorAnswer(json: answer)
            throw APIError(code: error.code ?? "HTTP \(status)", message: error.message ?? "")
        }
        return (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] ?? [:]
    }

    /// An IAM query operation; the answer's XML text.
    func iam(_ action: String, _ parameters: [String: String]) async throws -> String {
        let (status, answer, _) = try await send(
            .query(service: "iam", action: action, version: "2010-05-08", parameters: parameters))
        let text = String(decoding: answer, as: UTF8.self)
        guard status == 200 else {
            let error = AWSErrorAnswer(xml: text)
            throw APIError(code: error.code ?? "HTTP \(status)", message: error.message ?? text)
        }
        return text
    }

    /// Sends `request` and reads the whole answer (at most `limit` bytes).
    func send(_ request: AWSRequest, limit: Int = 16 << 20) async throws -> (UInt, Data, HTTPHeaders) {
        let response: HTTPClientResponse
        do {
            response = try await client.send(request)
        } catch {
            throw ClientError("cannot reach \(profile.endpoint.absoluteString): \(error)")
        }
        let answer = try await response.body.collect(upTo: limit)
        return (response.status.code, Data(answer.readableBytesView), response.headers)
    }
}

/// An error answer of an API, with its code.
struct APIError: Error, CustomStringConvertible {
    let code: String
    let message: String
    var description: String { "\(code): \(message)" }
}
