import ArtifactStore
import Foundation

/// An error of the IAM API, rendered as IAM's query-protocol XML error (`<ErrorResponse><Error><Type>…`); the SNS API,
/// which speaks the same protocol, answers its errors with it too.
struct IAMError: Error, Hashable, Sendable, CustomStringConvertible {
    let code: String
    let message: String
    let status: Int

    init(code: String, message: String, status: Int) {
        self.code = code
        self.message = message
        self.status = status
    }

    var description: String { "\(code): \(message)" }

    static func noSuchEntity(_ message: String) -> IAMError {
        IAMError(code: "NoSuchEntity", message: message, status: 404)
    }

    static func noSuchUser(_ name: String) -> IAMError {
        noSuchEntity("The user with name \(name) cannot be found.")
    }

    static func entityAlreadyExists(_ message: String) -> IAMError {
        IAMError(code: "EntityAlreadyExists", message: message, status: 409)
    }

    static func deleteConflict(_ message: String) -> IAMError {
        IAMError(code: "DeleteConflict", message: message, status: 409)
    }

    static func limitExceeded(_ message: String) -> IAMError {
        IAMError(code: "LimitExceeded", message: message, status: 409)
    }

    static func malformedPolicyDocument(_ message: String) -> IAMError {
        IAMError(code: "MalformedPolicyDocument", message: message, status: 400)
    }

    /// A parameter that breaks the API model's constraints, worded as AWS words them.
    static func validation(_ member: String, _ value: String?, _ constraint: String) -> IAMError {
        let shown = value.map { "'\($0)'" } ?? "null"
        return IAMError(
            code: "ValidationError",
            message: "1 validation error detected: Value \(shown) at '\(member)' failed to satisfy constraint: "
                + constraint,
            status: 400)
    }

    static func invalidInput(_ message: String) -> IAMError {
        IAMError(code: "InvalidInput", message: message, status: 400)
    }

    static func accessDenied(_ denial: AccessDenial) -> IAMError {
        IAMError(code: "AccessDenied", message: denial.message, status: 403)
    }

    /// The XML body IAM answers an error with.
    func xml(requestID: String, namespace: String = IAMAPI.namespace) -> String {
        IAMXML.declaration + #"<ErrorResponse xmlns="\#(namespace)"><Error>"#
            + IAMXML.element("Type", status >= 500 ? "Receiver" : "Sender") + IAMXML.element("Code", code)
            + IAMXML.element("Message", message) + "</Error>" + IAMXML.element("RequestId", requestID)
            + "</ErrorResponse>"
    }
}

/// Small helpers for IAM's XML answers; text is escaped as S3's documents are.
enum IAMXML {
    static let declaration = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"

    /// `<name>text</name>`.
    static func element(_ name: String, _ text: String) -> String {
        "<\(name)>\(XMLWriter.escape(text))</\(name)>"
    }

    /// IAM's timestamps: ISO 8601 in UTC.
    static func date(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
