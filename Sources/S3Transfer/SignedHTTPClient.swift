import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigV4

/// Where a client's signing keys come from: fixed keys, or keys read again for each request (an agent's session
/// credentials, which their refresher rewrites).
public protocol CredentialsProvider: Sendable {
    /// The credentials to sign the next request with.
    func current() throws -> Credentials
}

extension Credentials: CredentialsProvider {
    /// Fixed keys provide themselves.
    public func current() -> Credentials { self }
}

/// A request to an AWS-protocol endpoint before it is signed: everything but the endpoint's address, the region and
/// the keys, which ``SignedHTTPClient`` adds.
public struct AWSRequest: Sendable {
    /// What is sent after the head, and how the signature covers it.
    public enum Body: Sendable {
        /// No body; signed as the empty body's SHA-256.
        case empty
        /// A body in memory, signed as its SHA-256.
        case bytes(Data)
        /// A body streamed as it is sent, declared by its hash (computed beforehand) or `UNSIGNED-PAYLOAD`.
        case stream(HTTPClientRequest.Body, payload: PayloadHash)

        /// The payload line of the canonical request.
        var payload: PayloadHash {
            switch self {
            case .empty: .empty
            case .bytes(let data): .of(data)
            case .stream(_, let payload): payload
            }
        }
    }

    public var method: HTTPMethod
    /// The signing name of the service in the credential scope (`codedeploy`, `codedeploy-commands`, `iam`, `s3`).
    public var service: String
    /// The path as sent, already percent-encoded (`/bucket/my%20key`).
    public var path: String
    /// The query as sent, already percent-encoded, without `?`.
    public var query: String
    /// Headers to send and sign, besides `Host` and those the signer adds.
    public var headers: [HTTPHeader]
    public var body: Body
    /// Whether `x-amz-content-sha256` is sent; nil sends it for S3 only.
    public var contentSHA256Header: Bool?
    /// How long the whole exchange may take, the response's head included (a streamed body is read after it).
    public var timeout: TimeAmount

    public init(
        method: HTTPMethod, service: String, path: String = "/", query: String = "", headers: [HTTPHeader] = [],
        body: Body = .empty, contentSHA256Header: Bool? = nil, timeout: TimeAmount = .seconds(60)
    ) {
        self.method = method
        self.service = service
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.contentSHA256Header = contentSHA256Header
        self.timeout = timeout
    }

    /// The content type of AWS JSON 1.1 bodies.
    public static let jsonContentType = "application/x-amz-json-1.1"

    /// An operation of an AWS JSON 1.1 protocol (CodeDeploy, the agent command API): `POST` with
    /// `X-Amz-Target: <target>`. The signature covers the target and the body's SHA-256, which these endpoints
    /// demand (`SigningRequirements.awsJSON`).
    public static func json(
        service: String, target: String, body: Data, path: String = "/", headers: [HTTPHeader] = [],
        contentSHA256Header: Bool = false, timeout: TimeAmount = .seconds(60)
    ) -> AWSRequest {
        AWSRequest(
            method: .POST, service: service, path: path,
            headers: [HTTPHeader("Content-Type", jsonContentType), HTTPHeader("X-Amz-Target", target)] + headers,
            body: .bytes(body), contentSHA256Header: contentSHA256Header, timeout: timeout)
    }

    /// An action of the AWS query protocol (IAM): a form-encoded `POST` of `Action`, `Version` and `parameters`,
    /// signed as its SHA-256 (`SigningRequirements.awsQuery`: the body names the action).
    public static func query(
        service: String, action: String, version: String, parameters: [String: String],
        timeout: TimeAmount = .seconds(60)
    ) -> AWSRequest {
        var form = ["Action": action, "Version": version]
        form.merge(parameters) { $1 }
        let body = form.sorted { $0.key < $1.key }.map { "\(formEncode($0.key))=\(formEncode($0.value))" }
            .joined(separator: "&")
        return AWSRequest(
            method: .POST, service: service,
            headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: .bytes(Data(body.utf8)), timeout: timeout)
    }

    /// An S3 request, addressed path-style: `/<bucket>[/<key>][?versionId=<version>]`, `x-amz-content-sha256` sent.
    public static func s3(
        _ method: HTTPMethod, bucket: String, key: String? = nil, versionID: String? = nil,
        headers: [HTTPHeader] = [], body: Body = .empty, timeout: TimeAmount = .seconds(60)
    ) -> AWSRequest {
        AWSRequest(
            method: method, service: "s3",
            path: "/\(URIEncoding.encode(bucket))" + (key.map { "/" + URIEncoding.encode($0, keepSlash: true) } ?? ""),
            query: versionID.map { "versionId=\(URIEncoding.encode($0))" } ?? "", headers: headers, body: body,
            timeout: timeout)
    }

    /// Percent-encodes a form field: everything but RFC 3986's unreserved characters.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// A request as ``SignedHTTPClient`` sends it: the `Host` header and the signer's headers added.
public struct SignedAWSRequest: Sendable {
    public var method: HTTPMethod
    /// The address the request goes to: the endpoint's scheme, host and port, then the path and query.
    public var url: String
    /// The path as sent and signed.
    public var path: String
    /// The query as sent and signed, without `?`.
    public var query: String
    /// Every header sent, all of them signed but hop-by-hop ones: `Host` first, `Authorization` last.
    public var headers: [HTTPHeader]
    /// The payload line the signature covers.
    public var payload: PayloadHash
    public var body: AWSRequest.Body

    /// The request for AsyncHTTPClient, which sends this `Host` rather than one of its own making.
    public var httpClientRequest: HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        switch body {
        case .empty: break
        case .bytes(let data): request.body = .bytes(ByteBuffer(bytes: data))
        case .stream(let stream, _): request.body = stream
        }
        return request
    }
}

/// A request that could not be signed because the endpoint is not an `http(s)://host` address.
public struct SignedHTTPClientError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// The one way Slipway's clients (the agent, the CLI, `S3Client`) talk to AWS-protocol endpoints: it signs a request
/// with SigV4 for its service, this client's region and keys, sends it through AsyncHTTPClient (whose configuration
/// holds the caller's TLS trust, proxy and timeouts) and returns the response.
///
/// Only the endpoint's scheme, host and port are used; each request brings its own path. Retries are the callers':
/// what is safe to repeat depends on the protocol.
public struct SignedHTTPClient: Sendable {
    /// The server, `http(s)://host[:port]`; a path it has is not used.
    public let endpoint: URL
    /// The region in the credential scope.
    public let region: String
    public let credentials: any CredentialsProvider
    public let http: HTTPClient
    /// The clock requests are signed by.
    let now: @Sendable () -> Date

    public init(
        endpoint: URL, region: String, credentials: any CredentialsProvider, http: HTTPClient = .shared,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.http = http
        self.now = now
    }

    /// The `Host` header: the endpoint's host, with its port when the endpoint names one.
    var host: String? {
        guard let name = endpoint.host, !name.isEmpty else { return nil }
        let host = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name
        return endpoint.port.map { "\(host):\($0)" } ?? host
    }

    /// Signs `request` as of `date` with the provider's current keys.
    public func sign(_ request: AWSRequest, date: Date) throws -> SignedAWSRequest {
        guard let scheme = endpoint.scheme?.lowercased(), scheme == "https" || scheme == "http", let host else {
            throw SignedHTTPClientError("the endpoint \(endpoint.absoluteString) is not an http(s)://host address")
        }
        let payload = request.body.payload
        let signer = Signer(credentials: try credentials.current(), region: region, service: request.service)
        let signed = signer.sign(
            method: request.method.rawValue, path: request.path, query: request.query,
            headers: [HTTPHeader("Host", host)] + request.headers.removing(named: "Host"), payload: payload,
            date: date, addContentSHA256Header: request.contentSHA256Header)
        return SignedAWSRequest(
            method: request.method,
            url: "\(scheme)://\(host)\(request.path)" + (request.query.isEmpty ? "" : "?\(request.query)"),
            path: request.path, query: request.query, headers: signed.headers, payload: payload, body: request.body)
    }

    /// Signs `request` now and sends it; the response's body is left for the caller to read.
    ///
    /// Throws what signing throws (``SignedHTTPClientError``, the provider's errors) and AsyncHTTPClient's errors
    /// when there is no answer.
    public func send(_ request: AWSRequest) async throws -> HTTPClientResponse {
        let signed = try sign(request, date: now())
        return try await http.execute(signed.httpClientRequest, timeout: request.timeout)
    }
}
