import Foundation

/// The error codes the stock agent reports for a lifecycle event, in the `error_code` field of its diagnostics.
///
/// The service maps them to the API's `LifecycleErrorCode` (`Success`, `ScriptMissing`, `ScriptNotExecutable`,
/// `ScriptTimedOut`, `ScriptFailed`, `UnknownError`); 6 and 7 have no API name of their own.
public enum ScriptErrorCode: Int, Sendable, Codable {
    case succeeded = 0
    case scriptMissing = 1
    case scriptNotExecutable = 2
    case scriptTimedOut = 3
    case scriptFailed = 4
    case unknownError = 5
    case outputsLeftOpen = 6
    case failedAfterRestart = 7
}

/// What a hook script finds in its environment besides the agent's own: who deploys what, and from where.
public struct HookEnvironment: Sendable, Hashable {
    /// The lifecycle event being run, e.g. `AfterInstall` (`LIFECYCLE_EVENT`).
    public var lifecycleEvent: String
    /// The deployment's ID (`DEPLOYMENT_ID`).
    public var deploymentID: String
    /// The application's name (`APPLICATION_NAME`).
    public var applicationName: String
    /// The deployment group's name (`DEPLOYMENT_GROUP_NAME`).
    public var deploymentGroupName: String
    /// The deployment group's ID (`DEPLOYMENT_GROUP_ID`).
    public var deploymentGroupID: String
    /// Where the revision came from: `BUNDLE_BUCKET`, `BUNDLE_KEY`, `BUNDLE_VERSION` (versioned objects only) and
    /// `BUNDLE_ETAG` for S3 revisions, `BUNDLE_COMMIT` for GitHub revisions. The caller fills it in.
    public var bundle: [String: String]

    /// An environment for one lifecycle event of one deployment.
    public init(
        lifecycleEvent: String,
        deploymentID: String,
        applicationName: String,
        deploymentGroupName: String,
        deploymentGroupID: String,
        bundle: [String: String] = [:]
    ) {
        self.lifecycleEvent = lifecycleEvent
        self.deploymentID = deploymentID
        self.applicationName = applicationName
        self.deploymentGroupName = deploymentGroupName
        self.deploymentGroupID = deploymentGroupID
        self.bundle = bundle
    }

    /// The variables scripts get: the CodeDeploy ones and the bundle's. A bundle entry cannot replace a CodeDeploy
    /// variable.
    public var variables: [String: String] {
        var result = bundle
        result["LIFECYCLE_EVENT"] = lifecycleEvent
        result["DEPLOYMENT_ID"] = deploymentID
        result["APPLICATION_NAME"] = applicationName
        result["DEPLOYMENT_GROUP_NAME"] = deploymentGroupName
        result["DEPLOYMENT_GROUP_ID"] = deploymentGroupID
        return result
    }
}

/// The outcome of one lifecycle event's scripts.
public struct HookResult: Sendable, Hashable {
    /// Why the event failed, or `.succeeded`.
    public var errorCode: ScriptErrorCode
    /// The failing script's location as the AppSpec gives it; on success the last script's; `""` when none ran.
    public var scriptName: String
    /// The stock agent's wording, e.g. `Script at specified location: x failed with exit code 1`; `Succeeded: `
    /// on success.
    public var message: String
    /// The end of the event's output as the stock agent reports it (entries without timestamps), at most 4096 bytes
    /// of UTF-8, starting at a line start when one is near the cut and otherwise at a character boundary.
    public var logTail: String
    /// The event's lines as written to scripts.log; when they exceed 1 MiB, the end of them after one line that says
    /// how much is left out.
    public var eventLog: String
    /// Things that went wrong without failing the event, e.g. a background process that kept the output open.
    public var warnings: [String]

    /// A result, as the executor builds it.
    public init(
        errorCode: ScriptErrorCode,
        scriptName: String,
        message: String,
        logTail: String = "",
        eventLog: String = "",
        warnings: [String] = []
    ) {
        self.errorCode = errorCode
        self.scriptName = scriptName
        self.message = message
        self.logTail = logTail
        self.eventLog = eventLog
        self.warnings = warnings
    }

    /// Whether every script succeeded.
    public var succeeded: Bool { errorCode == .succeeded }

    /// The JSON the agent sends as PutHostCommandComplete diagnostics:
    /// `{"error_code":N,"script_name":"…","message":"…","log":"…"}`.
    ///
    /// Like the stock agent, a success reports an empty script name and log (the console then shows no log for a
    /// succeeded event); a failure reports the failing script and the log tail.
    public var diagnosticsPayload: String {
        let payload =
            succeeded
            ? Diagnostics(errorCode: errorCode.rawValue, scriptName: "", message: message, log: "")
            : Diagnostics(errorCode: errorCode.rawValue, scriptName: scriptName, message: message, log: logTail)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        guard let data = try? encoder.encode(payload) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The message of a successful event, as the stock agent words it.
    public static let succeededMessage = "Succeeded: "

    private struct Diagnostics: Encodable {
        var errorCode: Int
        var scriptName: String
        var message: String
        var log: String

        enum CodingKeys: String, CodingKey {
            case errorCode = "error_code"
            case scriptName = "script_name"
            case message
            case log
        }
    }
}
