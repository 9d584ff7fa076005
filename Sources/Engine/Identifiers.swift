import SlipwayModel

/// Deployment identifiers in CodeDeploy's format: `d-` followed by nine upper-case letters and digits.
public enum DeploymentID {
    /// The characters of the nine-character suffix.
    public static let alphabet: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// A new deployment id drawn from `generator` (inject a seeded generator in tests).
    public static func make(using generator: inout some RandomNumberGenerator) -> String {
        var suffix = ""
        for _ in 0..<9 {
            suffix.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return "d-" + suffix
    }

    /// A new deployment id drawn from the system's random source.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    /// Whether `text` has the shape of a deployment id.
    public static func isValid(_ text: String) -> Bool {
        guard text.count == 11, text.hasPrefix("d-") else { return false }
        return text.dropFirst(2).allSatisfy { alphabet.contains($0) }
    }
}

/// The `HostCommandIdentifier` of one lifecycle event of one host in one deployment.
///
/// It is derived, not drawn: `<deployment id>:<instance name>:<lifecycle event>:<attempt>`. Instance names cannot
/// contain `:`, so the text parses back, and a duplicate or late report names the command it is about. Agents treat
/// the identifier as opaque.
public struct HostCommandID: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    /// The deployment the command belongs to.
    public let deploymentId: String
    /// The on-premises instance the command is for.
    public let instanceName: String
    /// The lifecycle event the command runs.
    public let event: LifecycleEvent
    /// The attempt number, from 1 (Slipway does not retry a command today, so always 1).
    public let attempt: Int

    /// The identifier of a command.
    public init(deploymentId: String, instanceName: String, event: LifecycleEvent, attempt: Int = 1) {
        self.deploymentId = deploymentId
        self.instanceName = instanceName
        self.event = event
        self.attempt = attempt
    }

    /// Parses a `HostCommandIdentifier`; `nil` when it is not one Slipway issued.
    public init?(rawValue: String) {
        let parts = rawValue.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, let attempt = Int(parts[parts.count - 1]), attempt >= 1,
            let event = LifecycleEvent(rawValue: parts[parts.count - 2]), !parts[0].isEmpty
        else { return nil }
        let name = parts[1..<(parts.count - 2)].joined(separator: ":")
        guard !name.isEmpty else { return nil }
        self.init(deploymentId: parts[0], instanceName: name, event: event, attempt: attempt)
    }

    /// The identifier as the agent sees it.
    public var rawValue: String { "\(deploymentId):\(instanceName):\(event.rawValue):\(attempt)" }

    /// The identifier as the agent sees it.
    public var description: String { rawValue }

    /// The command as `PollHostCommand` hands it to the host `hostIdentifier`.
    public func instance(for hostIdentifier: String, execution: DeploymentExecutionID, nonce: Int64 = 0)
        -> CodeDeployCommand.HostCommandInstance
    {
        CodeDeployCommand.HostCommandInstance(
            hostCommandIdentifier: rawValue, hostIdentifier: hostIdentifier, deploymentExecutionId: execution.rawValue,
            commandName: event.rawValue, nonce: nonce)
    }

    /// Decodes the identifier from its text.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = HostCommandID(rawValue: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "Not a host command identifier: \(text)"))
        }
        self = id
    }

    /// Encodes the identifier as its text.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
