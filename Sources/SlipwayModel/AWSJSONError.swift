import Foundation

/// An error of an AWS JSON protocol, as the client sees it: a type name (`__type`), a message and an HTTP status.
///
/// One error type serves the CodeDeploy API, the agent command API and the protocol layer (unknown operation,
/// serialization, authentication); the server renders every one of them the same way.
public struct AWSJSONError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The error's type name, e.g. `ApplicationDoesNotExistException`.
    public let type: String
    public let message: String
    /// 400 for client errors, 403 for authentication and authorisation failures, 500 for faults.
    public let status: Int

    public init(type: String, message: String, status: Int = 400) {
        self.type = type
        self.message = message
        self.status = status
    }

    /// An error of the CodeDeploy model.
    public init(_ code: CodeDeploy.ExceptionType, _ message: String) {
        self.init(type: code.rawValue, message: message, status: 400)
    }

    /// The JSON body: `{"__type": ..., "message": ...}`.
    public var body: Data {
        let object = ["__type": type, "message": message]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    public var description: String { "\(type): \(message)" }

    public static func unknownOperation(_ target: String) -> AWSJSONError {
        AWSJSONError(type: "UnknownOperationException", message: "The operation '\(target)' is not known.")
    }

    public static func serialization(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "SerializationException", message: message)
    }
}
