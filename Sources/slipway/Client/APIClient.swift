import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import SigV4
import SlipwayModel

/// Signed requests to a Slipway server's CodeDeploy (JSON) and IAM (query) APIs, for the commands people run.
struct SignedClient {
    let profile: ClientProfile
    let http: HTTPClient

    init(profile: ClientProfile) throws {
        self.profile = profile
        var tls = TLSConfiguration.makeClientConfiguration()
        if let bundle = profile.caBundle {
            guard FileManager.default.fileExists(atPath: bundle) else {
                throw ClientError("the CA bundle \(bundle) does not exist")
            }
            tls.trustRoots = .file(bundle)
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// A CodeDeploy operation with a JSON body; the answer's JSON object.
    func codeDeploy(
        _ operation: String, _ input: [String: Any], targetPrefix: String = CodeDeploy.targetPrefix
    ) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: input)
        let (status, answer) = try await send(
            service: CodeDeploy.signingName, region: profile.region, body: body,
            headers: [
                HTTPHeader("Content-Type", AWSJSON.contentType),
                HTTPHeader("X-Amz-Target", "\(targetPrefix).\(operation)"),
            ])
        let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] ?? [:]
        guard status == 200 else {
            let type = (object["__type"] as? String)?.split(separator: "#").last.map(String.init) ?? "HTTP \(status)"
            throw APIError(code: type, message: object["message"] as? String ?? object["Message"] as? String ?? "")
        }
        return object
    }

    /// An IAM query operation; the answer's XML text.
    func iam(_ action: String, _ parameters: [String: String]) async throws -> String {
        var form = ["Action": action, "Version": "2010-05-08"]
        form.merge(parameters) { $1 }
        let body = Data(
            form.sorted { $0.key < $1.key }.map { "\(Self.formEncode($0.key))=\(Self.formEncode($0.value))" }
                .joined(separator: "&").utf8)
        let (status, answer) = try await send(
            service: "iam", region: profile.region, body: body,
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")])
        let text = String(decoding: answer, as: UTF8.self)
        guard status == 200 else {
            throw APIError(
                code: Self.element("Code", in: text) ?? "HTTP \(status)",
                message: Self.element("Message", in: text) ?? text)
        }
        return text
    }

    private func send(service: String, region: String, body: Data, headers: [HTTPHeader]) async throws -> (UInt, Data) {
        let endpoint = profile.endpoint
        let host = endpoint.port.map { "\(endpoint.host ?? ""):\($0)" } ?? (endpoint.host ?? "")
        let signer = Signer(credentials: profile.credentials, region: region, service: service)
        let signed = signer.sign(
            method: "POST", path: "/", headers: [HTTPHeader("Host", host)] + headers, payload: .of(body), date: Date())
        var request = HTTPClientRequest(url: "\(endpoint.scheme ?? "https")://\(host)/")
        request.method = .POST
        for header in signed.headers where header.name.lowercased() != "host" {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(60))
        } catch {
            throw ClientError("cannot reach \(endpoint.absoluteString): \(error)")
        }
        let answer = try await response.body.collect(upTo: 16 << 20)
        return (response.status.code, Data(answer.readableBytesView))
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
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
