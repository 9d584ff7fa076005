import Foundation

/// A failure of the agent outside any script, with a message that says what went wrong.
public struct AgentError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
