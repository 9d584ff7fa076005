import Foundation
import SlipwayModel
import Store

extension RecordKind {
    /// What Slipway last heard from a host's agent (scope "", name: host identifier).
    static let hostAgent = RecordKind(rawValue: "hostAgent")
    /// The full log of one lifecycle event on one host, as its agent uploaded it (scope: deployment id, name:
    /// `<instance name>/<event>`): a ``LifecycleEventLogRecord``.
    static let lifecycleEventLog = RecordKind(rawValue: "lifecycleEventLog")
}

/// The full log of a lifecycle event on one host (`PutHostCommandLog`); the latest attempt's upload wins.
struct LifecycleEventLogRecord: Codable, Sendable {
    var log: String
    var uploadTime: Date
}

/// The last poll of a host's agent.
struct HostAgentRecord: Codable, Sendable, JSONReadable, JSONWritable {
    var agentVersion: String?
    var lastPollTime: Date

    init(agentVersion: String?, lastPollTime: Date) {
        self.agentVersion = agentVersion
        self.lastPollTime = lastPollTime
    }

    init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(agentVersion: try members.value("agentVersion"), lastPollTime: try members.required("lastPollTime"))
    }

    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("agentVersion", agentVersion, in: &object)
        output.member("lastPollTime", lastPollTime, in: &object)
        output.endObject(object)
    }
}
