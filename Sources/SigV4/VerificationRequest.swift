/// An incoming request as the server received it, for ``Verifier``.
///
/// Everything is raw: the path keeps its percent-encoding, the query is the undecoded text after `?`, and
/// headers keep their order and repetitions. `bodySHA256` is the lowercase hex SHA-256 of the body when the
/// server has it; it may be nil when the request declares `x-amz-content-sha256` (e.g. a streamed S3 upload).
public struct VerificationRequest: Sendable, Hashable {
    /// The HTTP method, e.g. `POST`.
    public var method: String
    /// The raw path, e.g. `/bucket/my%20key`.
    public var path: String
    /// The raw query string without the `?`, e.g. `prefix=a%2Fb&list-type=2`.
    public var query: String
    /// The header lines as received.
    public var headers: [HTTPHeader]
    /// The hex SHA-256 of the body the server read, if it read it.
    public var bodySHA256: String?

    /// Creates a request from a path and query already split.
    public init(method: String, path: String, query: String = "", headers: [HTTPHeader], bodySHA256: String?) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.bodySHA256 = bodySHA256
    }

    /// Creates a request from the request target as sent (`/path?query`); a fragment, if any, is dropped.
    public init(method: String, target: String, headers: [HTTPHeader], bodySHA256: String?) {
        var target = Substring(target)
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        if let question = target.firstIndex(of: "?") {
            self.init(
                method: method, path: String(target[..<question]),
                query: String(target[target.index(after: question)...]), headers: headers, bodySHA256: bodySHA256)
        } else {
            self.init(method: method, path: String(target), query: "", headers: headers, bodySHA256: bodySHA256)
        }
    }
}
