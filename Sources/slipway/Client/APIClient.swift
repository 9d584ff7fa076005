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
        let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] ?? [:]
        guard status == 200 else {
            let type = (object["__type"] as? String)?.split(separator: "#").last.map(String.init) ?? "HTTP \(status)"
            throw APIError(code: type, message: object["message"] as? String ?? object["Message"] as? String ?? "")
        }
        return object
    }

    /// An IAM query operation; the answer's XML text.
    func iam(_ action: String, _ parameters: [String: String]) async throws -> String {
        let (status, answer, _) = try await send(
            .query(service: "iam", action: action, version: "2010-05-08", parameters: parameters))
        let text = String(decoding: answer, as: UTF8.self)
        guard status == 200 else {
            throw APIError(
                code: Self.element("Code", in: text) ?? "HTTP \(status)",
                message: Self.element("Message", in: text) ?? text)
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

    /// The text of the first `<name>` element: enough for the few fields read from IAM's answers, which are plain
    /// text without nested markup (a full XML parser would add a library for three lookups).
    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"),
            let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

/// An error answer of an API, with its code.
struct APIError: Error, CustomStringConvertible {
    let code: String
    let message: String
    var description: String { "\(code): \(message)" }
}
