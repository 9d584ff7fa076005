import Foundation
import SlipwayModel

// A host is stored on every event of its lifecycle (three writes per command); these writers give the documents the
// synthesized `Encodable` conformances give, member for member, without `JSONEncoder`'s cost, so that the
// synthesized `Decodable` reads them back: an enum case is an object with one member named after the case, holding
// its associated values as `_0`, `_1` or by their labels.
// `EngineJSONTests` checks every case against `JSONDecoder`.

extension HostLifecycle: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("target", target, in: &object)
        output.member("events", events, in: &object)
        output.member("lastUpdatedAt", lastUpdatedAt, in: &object)
        output.member("failure", failure, in: &object)
        output.member("hold", hold, in: &object)
        output.member("phase", phase, in: &object)
        output.endObject(object)
    }
}

extension HostLifecycle.Phase: JSONWritable {
    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        switch self {
        case .pending:
            output.member("pending", EmptyObject(), in: &object)
        case .working(let step):
            output.member("working", Unlabelled(step), in: &object)
        case .ready(let next):
            output.member("ready", Labelled("next", next), in: &object)
        case .finished(let status):
            output.member("finished", Unlabelled(status), in: &object)
        }
        output.endObject(object)
    }
}

extension HostLifecycle.Step: JSONWritable {
    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("index", index, in: &object)
        output.member("id", id, in: &object)
        output.member("kind", kind, in: &object)
        output.member("deadline", deadline, in: &object)
        output.endObject(object)
    }
}

extension HostLifecycle.Kind: JSONWritable {
    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        switch self {
        case .offered(let deliveredAt):
            output.member("offered", Labelled("deliveredAt", deliveredAt), in: &object)
        case .running(let acknowledgedAt, let limit):
            output.member("running", Labelled("acknowledgedAt", acknowledgedAt, "limit", limit), in: &object)
        case .traffic:
            output.member("traffic", EmptyObject(), in: &object)
        }
        output.endObject(object)
    }
}

extension LifecycleEventRecord: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("event", event, in: &object)
        output.member("status", status, in: &object)
        output.member("startTime", startTime, in: &object)
        output.member("endTime", endTime, in: &object)
        output.member("diagnostics", diagnostics, in: &object)
        output.member("commandId", commandId, in: &object)
        output.member("isNoop", isNoop, in: &object)
        output.endObject(object)
    }
}

extension HostFailure: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        switch self {
        case .eventFailed(let event, let code):
            output.member("eventFailed", Unlabelled(event, code), in: &object)
        case .notPickedUp(let event, let delivered):
            output.member("notPickedUp", Labelled("_0", event, "delivered", delivered), in: &object)
        case .noReport(let event):
            output.member("noReport", Unlabelled(event), in: &object)
        case .trafficFailed(let event):
            output.member("trafficFailed", Unlabelled(event), in: &object)
        case .interrupted(let after):
            output.member("interrupted", Labelled("after", after), in: &object)
        }
        output.endObject(object)
    }
}

extension DeploymentTarget: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("instanceName", instanceName, in: &object)
        output.member("hostIdentifier", hostIdentifier, in: &object)
        output.member("instanceHealth", instanceHealth.rawValue, in: &object)
        output.member("revisionHealth", revisionHealth.rawValue, in: &object)
        output.member("loadBalancerServer", loadBalancerServer, in: &object)
        output.member("label", label?.rawValue, in: &object)
        output.endObject(object)
    }
}

extension HostCommandID: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) { output.writeString(rawValue) }
}

/// The payload of a case without associated values: `{}`.
private struct EmptyObject: JSONWritable {
    func writeJSON(to output: inout JSONOutput) { output.writeRaw("{}") }
}

/// The payload of a case with unlabelled associated values: `{"_0": …, "_1": …}`.
private struct Unlabelled<First: JSONWritable, Second: JSONWritable>: JSONWritable {
    let first: First
    let second: Second?

    init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("_0", first, in: &object)
        output.member("_1", second, in: &object)
        output.endObject(object)
    }
}

extension Unlabelled where Second == Bool {
    init(_ first: First) {
        self.first = first
        self.second = nil
    }
}

/// The payload of a case with labelled associated values; an absent optional is left out, as `encodeIfPresent`
/// leaves it out.
private struct Labelled<First: JSONWritable, Second: JSONWritable>: JSONWritable {
    let firstLabel: StaticString
    let first: First?
    let secondLabel: StaticString
    let second: Second?

    init(_ firstLabel: StaticString, _ first: First?, _ secondLabel: StaticString, _ second: Second?) {
        self.firstLabel = firstLabel
        self.first = first
        self.secondLabel = secondLabel
        self.second = second
    }

    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member(firstLabel, first, in: &object)
        if second != nil { output.member(secondLabel, second, in: &object) }
        output.endObject(object)
    }
}

extension Labelled where Second == Bool {
    init(_ firstLabel: StaticString, _ first: First?) {
        self.init(firstLabel, first, "", nil)
    }
}

// A deployment's progress is stored with its record on every event of every host.

extension Deployment.Progress: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("createTime", createTime, in: &object)
        output.member("startTime", startTime, in: &object)
        output.member("completeTime", completeTime, in: &object)
        output.member("minimumHealthyHostCount", minimumHealthyHostCount, in: &object)
        output.member("rollbackRequest", rollbackRequest, in: &object)
        output.member("rollbackDeploymentId", rollbackDeploymentId, in: &object)
        output.member("rollbackMessage", rollbackMessage, in: &object)
        output.member("phase", phase, in: &object)
        if let blueGreenStage, let stage = try? AWSJSON.makeEncoder().encode(blueGreenStage) {
            // Blue/green deployments only, and rarely changed: the synthesized encoder is fast enough.
            output.member("blueGreenStage", rawJSON: stage, in: &object)
        }
        output.member("replacementShare", replacementShare, in: &object)
        if let bake, let encoded = try? AWSJSON.makeEncoder().encode(bake) {
            // Deployments with a bake time only, changed once a batch.
            output.member("bake", rawJSON: encoded, in: &object)
        }
        output.endObject(object)
    }
}

extension Deployment.Phase: JSONWritable {
    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        switch self {
        case .created: output.member("created", EmptyObject(), in: &object)
        case .queued: output.member("queued", EmptyObject(), in: &object)
        case .running: output.member("running", EmptyObject(), in: &object)
        case .stopping(let request): output.member("stopping", Unlabelled(request), in: &object)
        case .finished(let outcome): output.member("finished", Unlabelled(outcome), in: &object)
        }
        output.endObject(object)
    }
}

extension Deployment.StopRequest: JSONWritable {
    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("requestedAt", requestedAt, in: &object)
        output.member("rollBack", rollBack, in: &object)
        output.member("information", information, in: &object)
        output.endObject(object)
    }
}

extension DeploymentOutcome: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        switch self {
        case .succeeded: output.member("succeeded", EmptyObject(), in: &object)
        case .failed(let error): output.member("failed", Unlabelled(error), in: &object)
        case .stopped(let error): output.member("stopped", Unlabelled(error), in: &object)
        }
        output.endObject(object)
    }
}

extension RollbackRequest: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("triggeringDeploymentId", triggeringDeploymentId, in: &object)
        output.member("reason", reason, in: &object)
        output.member("message", message, in: &object)
        output.endObject(object)
    }
}
