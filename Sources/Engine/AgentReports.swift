import Foundation
import SlipwayModel

/// What an agent says when it acknowledges a command (`PutHostCommandAcknowledgement`).
public struct CommandAcknowledgement: Codable, Sendable, Hashable {
    /// The agent found no scripts for the event (`IsCommandNoop`).
    public var isNoop: Bool
    /// The longest the agent expects the command to run (`HostCommandMaxDurationInSeconds`), if it says.
    public var maxDuration: TimeInterval?

    /// An acknowledgement.
    public init(isNoop: Bool = false, maxDuration: TimeInterval? = nil) {
        self.isNoop = isNoop
        self.maxDuration = maxDuration
    }

    /// Reads the acknowledgement's diagnostics, `{"IsCommandNoop": true}`; anything unreadable counts as a plain
    /// acknowledgement.
    public init(diagnostics: CodeDeployCommand.Envelope?) {
        let object = AgentPayload.object(diagnostics?.Payload)
        self.init(
            isNoop: object?["IsCommandNoop"] as? Bool ?? false,
            maxDuration: (object?["HostCommandMaxDurationInSeconds"] as? NSNumber)?.doubleValue)
    }
}

/// What an agent says when it completes a command (`PutHostCommandComplete`).
public struct CommandReport: Codable, Sendable, Hashable {
    /// Whether the event succeeded.
    public var succeeded: Bool
    /// The event's diagnostics as the API shows them.
    public var diagnostics: CodeDeploy.Diagnostics

    /// A report.
    public init(succeeded: Bool, diagnostics: CodeDeploy.Diagnostics) {
        self.succeeded = succeeded
        self.diagnostics = diagnostics
    }

    /// A successful report with CodeDeploy's success diagnostics.
    public static let success = CommandReport(
        succeeded: true,
        diagnostics: CodeDeploy.Diagnostics(errorCode: .success, logTail: "", message: "Succeeded", scriptName: ""))

    /// A failed report.
    public static func failure(
        _ code: CodeDeploy.LifecycleErrorCode, message: String, scriptName: String = "", logTail: String = ""
    ) -> CommandReport {
        CommandReport(
            succeeded: false,
            diagnostics: CodeDeploy.Diagnostics(
                errorCode: code, logTail: logTail, message: message, scriptName: scriptName))
    }

    /// Reads a completion: `status` must be `Succeeded` or `Failed` (`nil` otherwise), and the diagnostics payload is
    /// the agent's `{"error_code": 0...7, "script_name", "message", "log"}`.
    public init?(status: CodeDeployCommand.CommandStatus?, diagnostics: CodeDeployCommand.Envelope?) {
        let succeeded: Bool
        switch status {
        case .succeeded?: succeeded = true
        case .failed?: succeeded = false
        default: return nil
        }
        let object = AgentPayload.object(diagnostics?.Payload)
        let agentCode = (object?["error_code"] as? NSNumber)?.intValue
        let scriptName = object?["script_name"] as? String ?? ""
        let message = object?["message"] as? String
        let log = object?["log"] as? String ?? ""
        if succeeded {
            self.init(
                succeeded: true,
                diagnostics: CodeDeploy.Diagnostics(
                    errorCode: .success, logTail: log, message: "Succeeded", scriptName: scriptName))
        } else {
            var code = agentCode.map(Self.lifecycleErrorCode(agentCode:)) ?? .unknownError
            if code == .success { code = .unknownError }
            let text = message.flatMap { $0.isEmpty ? nil : $0 } ?? "The host reported the lifecycle event as failed."
            self.init(
                succeeded: false,
                diagnostics: CodeDeploy.Diagnostics(
                    errorCode: code, logTail: log, message: text, scriptName: scriptName))
        }
    }

    /// The API's error code for an agent's numeric one: 0 Success, 1 ScriptMissing, 2 ScriptNotExecutable,
    /// 3 ScriptTimedOut, 4 ScriptFailed, 5 UnknownError, 6 (outputs left open) ScriptFailed, 7 (failed after an agent
    /// restart) UnknownError; anything else UnknownError.
    public static func lifecycleErrorCode(agentCode: Int) -> CodeDeploy.LifecycleErrorCode {
        switch agentCode {
        case 0: .success
        case 1: .scriptMissing
        case 2: .scriptNotExecutable
        case 3: .scriptTimedOut
        case 4, 6: .scriptFailed
        default: .unknownError
        }
    }
}

/// Agent diagnostics payloads are small JSON objects.
private enum AgentPayload {
    static func object(_ payload: String?) -> [String: Any]? {
        guard let payload, let data = payload.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
