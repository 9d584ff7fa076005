import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SlipwayModel
import Store

/// The IAM subset of the server: IAM's query protocol (`POST /` form-encoded `Action=…&Version=2010-05-08`, XML
/// answers), for users, their access keys and inline policies — what `aws deploy register` and `deregister` call.
///
/// Every operation is authorised as IAM's action (`iam:CreateUser`, …) on the user's ARN, inside the transaction
/// that reads the user, so a refused request changes nothing.
struct IAMAPI: Sendable {
    static let namespace = "https://iam.amazonaws.com/doc/2010-05-08/"
    static let version = "2010-05-08"
    /// IAM's quota of access keys per user.
    static let accessKeysPerUser = 2
    /// IAM's quota of inline-policy characters (white space aside) per user.
    static let policyCharactersPerUser = 2048
    static let maximumBody = 1 << 20

    let store: any Store
    let authenticator: Authenticator
    let accountID: String
    let clock: @Sendable () -> Date

    /// Whether a request is one of IAM's: a form-encoded POST to `/` (S3 has no POST on the service).
    static func accepts(_ request: Request) -> Bool {
        request.method == .post && request.uri.path == "/"
            && (request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false)
    }

    func respond(to request: Request, requestID: String, logger: Logger) async -> Response {
        var logger = logger
        do {
            let admission = try await authenticator.admitIAM(request)
            let body: Data
            do {
                body = Data(try await request.body.collect(upTo: Self.maximumBody).readableBytesView)
            } catch {
                throw IAMError(
                    code: "ValidationError", message: "The request body is larger than \(Self.maximumBody) bytes.",
                    status: 413)
            }
            let principal = try authenticator.authenticateIAM(admission, body: body, now: clock())
            let query = IAMQuery(form: body, url: request.uri.query ?? "")
            guard let action = query["Action"] else {
                throw IAMError(code: "MissingAction", message: "The request has no Action parameter.", status: 400)
            }
            logger[metadataKey: "operation"] = .string(action)
            guard query["Version"] == Self.version else {
                throw IAMError(
                    code: "InvalidParameterValue",
                    message: "Version must be \(Self.version), the IAM API version Slipway speaks.", status: 400)
            }
            let context = IAMContext(store: store, accountID: accountID, principal: principal, now: clock())
            let result = try await handle(action: action, query: query, context: context)
            var document = IAMXML.declaration + #"<\#(action)Response xmlns="\#(Self.namespace)">"#
            if let result { document += "<\(action)Result>\(result)</\(action)Result>" }
            document += "<ResponseMetadata>\(IAMXML.element("RequestId", requestID))</ResponseMetadata>"
            document += "</\(action)Response>"
            logger.debug("handled")
            return Self.xml(document, status: .ok, requestID: requestID)
        } catch let error as IAMError {
            logger.info("IAM request refused", metadata: ["error": .string(error.code)])
            return Self.xml(error.xml(requestID: requestID), status: .init(code: error.status), requestID: requestID)
        } catch {
            logger.error("IAM internal error", metadata: ["error": .string(String(describing: error))])
            let failure = IAMError(
                code: "ServiceFailure",
                message: "The server failed to handle the request; its log has the details under request id "
                    + "\(requestID).",
                status: 500)
            return Self.xml(failure.xml(requestID: requestID), status: .internalServerError, requestID: requestID)
        }
    }

    private static func xml(_ document: String, status: HTTPResponse.Status, requestID: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/xml", .amzRequestID: requestID],
            body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    /// The inner XML of the operation's `<Action>Result`, or nil for operations whose result is empty.
    func handle(action: String, query: IAMQuery, context: IAMContext) async throws -> String? {
        switch action {
        case "CreateUser": return try await IAMUsers.create(query, context)
        case "GetUser": return try await IAMUsers.get(query, context)
        case "ListUsers": return try await IAMUsers.list(query, context)
        case "DeleteUser": try await IAMUsers.delete(query, context)
        case "CreateAccessKey": return try await IAMAccessKeys.create(query, context)
        case "ListAccessKeys": return try await IAMAccessKeys.list(query, context)
        case "UpdateAccessKey": try await IAMAccessKeys.update(query, context)
        case "DeleteAccessKey": try await IAMAccessKeys.delete(query, context)
        case "PutUserPolicy": try await IAMUserPolicies.put(query, context)
        case "GetUserPolicy": return try await IAMUserPolicies.get(query, context)
        case "ListUserPolicies": return try await IAMUserPolicies.list(query, context)
        case "DeleteUserPolicy": try await IAMUserPolicies.delete(query, context)
        default:
            throw IAMError(
                code: "InvalidAction",
                message: "The action \(action) is not valid for this web service: Slipway's IAM serves users, "
                    + "access keys and inline user policies.",
                status: 400)
        }
        return nil
    }
}

/// What an IAM handler gets besides its parameters.
struct IAMContext: Sendable {
    let store: any Store
    let accountID: String
    let principal: Principal
    let now: Date

    func userARN(path: String, name: String) -> String { "arn:aws:iam::\(accountID):user\(path)\(name)" }

    /// Throws IAM's `AccessDenied` unless the caller may perform `iam:<operation>` on `resource`.
    func authorize(_ operation: String, resource: String) throws(IAMError) {
        do {
            try principal.authorize("iam:\(operation)", resources: [resource])
        } catch {
            throw IAMError.accessDenied(error)
        }
    }

    /// The user a request names (the caller when `name` is nil), after authorising `operation` on it; IAM's
    /// `NoSuchEntity` if there is none.
    func user(_ name: String?, in tx: any StoreReader, for operation: String) throws -> IAMUserRecord {
        guard let name = name ?? principal.userName else {
            throw IAMError.validation(
                "userName", nil,
                "Member must not be null (the caller signs with a key of a built-in Slipway role, which belongs to "
                    + "no IAM user)")
        }
        let user = try tx.iamUser(name)
        try authorize(operation, resource: user.map { $0.arn(accountID: accountID) } ?? userARN(path: "/", name: name))
        guard let user else { throw IAMError.noSuchUser(name) }
        return user
    }
}

/// The parameters of a query-protocol request: the form body's, then the URL query's.
struct IAMQuery: Sendable {
    private var values: [String: String] = [:]

    init(form: Data, url: String) {
        for text in [String(decoding: form, as: UTF8.self), url] {
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                // Form encoding writes spaces as `+`; percent-decoding alone would keep them.
                func decode(_ part: Substring) -> String {
                    let spaced = part.replacingOccurrences(of: "+", with: " ")
                    return spaced.removingPercentEncoding ?? spaced
                }
                let name = decode(parts[0])
                if values[name] == nil { values[name] = parts.count > 1 ? decode(parts[1]) : "" }
            }
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    /// Whether any parameter starts with `prefix` (list members arrive as `Tags.member.1.Key`, …).
    func has(prefix: String) -> Bool { values.keys.contains { $0.hasPrefix(prefix) } }

    func required(_ name: String) throws(IAMError) -> String {
        guard let value = values[name], !value.isEmpty else {
            throw IAMError.validation(Self.member(name), nil, "Member must not be null")
        }
        return value
    }

    /// A name parameter (`UserName`, `PolicyName`): 1 to `maximum` of `[\w+=,.@-]`.
    func name(_ parameter: String, maximum: Int, required: Bool = true) throws(IAMError) -> String? {
        guard let value = required ? try self.required(parameter) : values[parameter] else { return nil }
        guard (1...maximum).contains(value.count),
            value.unicodeScalars.allSatisfy({ $0.isASCII && (Self.nameCharacters.contains($0)) })
        else {
            throw IAMError.validation(
                Self.member(parameter), value,
                "Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and "
                    + "\(maximum)")
        }
        return value
    }

    /// `Marker` and `MaxItems` (1–1000, 100 when absent).
    func page() throws(IAMError) -> (marker: String?, maxItems: Int) {
        var maxItems = 100
        if let text = values["MaxItems"] {
            guard let value = Int(text), (1...1000).contains(value) else {
                throw IAMError.validation("maxItems", text, "Member must have value between 1 and 1000")
            }
            maxItems = value
        }
        if let marker = values["Marker"] {
            // IAM's model: 1 to 320 characters of U+0020–U+00FF.
            guard (1...320).contains(marker.count),
                marker.unicodeScalars.allSatisfy({ (0x20...0xFF).contains($0.value) })
            else {
                throw IAMError.validation(
                    "marker", marker, "Member must satisfy regular expression pattern: [\\u0020-\\u00FF]+")
            }
        }
        return (values["Marker"], maxItems)
    }

    private static let nameCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_+=,.@-"))

    /// The model's member name (`userName`) of a parameter (`UserName`), for validation messages.
    private static func member(_ parameter: String) -> String {
        parameter.prefix(1).lowercased() + parameter.dropFirst()
    }
}

/// Opaque markers: the base64 of the last name of the previous page.
enum IAMMarker {
    static func page<Item>(
        _ items: [Item], key: (Item) -> String, marker: String?, maxItems: Int
    ) throws(IAMError) -> (page: [Item], isTruncated: Bool, marker: String?) {
        var rest = items
        if let marker {
            guard let data = Data(base64Encoded: marker), let last = String(data: data, encoding: .utf8) else {
                throw IAMError.validation("marker", marker, "Member must be a marker this server gave out")
            }
            rest = items.filter { key($0) > last }
        }
        let page = Array(rest.prefix(maxItems))
        let truncated = rest.count > maxItems
        let next = truncated ? page.last.map { Data(key($0).utf8).base64EncodedString() } : nil
        return (page, truncated, next)
    }

    /// `<IsTruncated>` and, when truncated, `<Marker>`.
    static func xml(isTruncated: Bool, marker: String?) -> String {
        IAMXML.element("IsTruncated", isTruncated ? "true" : "false")
            + (marker.map { IAMXML.element("Marker", $0) } ?? "")
    }
}
