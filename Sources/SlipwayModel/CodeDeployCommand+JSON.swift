import Foundation

// The command protocol's shapes are written by hand (there is no model to generate them from), so their fast JSON
// paths are too. Every agent request is one of these, four per lifecycle event and host; reading them from the
// validated `JSONValue` and writing the answers directly keeps `JSONDecoder` and `JSONEncoder` off that path.
// `CommandJSONTests` checks them against the `Codable` forms.

extension CodeDeployCommand.CommandStatus: JSONReadable, JSONWritable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard let status = Self(rawValue: try String(json: json)) else {
            throw JSONTypeMismatch(expected: "a command status", found: json)
        }
        self = status
    }

    public func writeJSON(to output: inout JSONOutput) { output.writeString(rawValue) }
}

extension CodeDeployCommand.Envelope: JSONReadable, JSONWritable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(format: try members.value("Format"), payload: try members.value("Payload"))
    }

    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("Format", Format, in: &object)
        output.member("Payload", Payload, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.HostCommandInstance: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("HostCommandIdentifier", HostCommandIdentifier, in: &object)
        output.member("HostIdentifier", HostIdentifier, in: &object)
        output.member("DeploymentExecutionId", DeploymentExecutionId, in: &object)
        output.member("CommandName", CommandName, in: &object)
        output.member("Nonce", Nonce, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.PollHostCommandInput: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(hostIdentifier: try members.value("HostIdentifier"))
    }
}

extension CodeDeployCommand.PollHostCommandOutput: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("HostCommand", HostCommand, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.GetDeploymentSpecificationInput: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(
            deploymentExecutionId: try members.value("DeploymentExecutionId"),
            hostIdentifier: try members.value("HostIdentifier"))
    }
}

extension CodeDeployCommand.DeploymentSpecification: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("GenericEnvelope", GenericEnvelope, in: &object)
        output.member("VariantId", VariantId, in: &object)
        output.member("VariantEnvelope", VariantEnvelope, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.GetDeploymentSpecificationOutput: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("DeploymentSystem", DeploymentSystem, in: &object)
        output.member("DeploymentSpecification", DeploymentSpecification, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.PutHostCommandAcknowledgementInput: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(
            hostCommandIdentifier: try members.value("HostCommandIdentifier"),
            diagnostics: try members.value("Diagnostics"))
    }
}

extension CodeDeployCommand.PutHostCommandAcknowledgementOutput: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("CommandStatus", CommandStatus, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.PutHostCommandCompleteInput: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(
            hostCommandIdentifier: try members.value("HostCommandIdentifier"),
            commandStatus: try members.value("CommandStatus"),
            diagnostics: try members.value("Diagnostics"))
    }
}

extension CodeDeployCommand.PostHostCommandUpdateInput: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(
            hostCommandIdentifier: try members.value("HostCommandIdentifier"),
            estimatedCompletionTime: try members.value("EstimatedCompletionTime"),
            diagnostics: try members.value("Diagnostics"))
    }
}

extension CodeDeployCommand.PostHostCommandUpdateOutput: JSONWritable {
    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("CommandStatus", CommandStatus, in: &object)
        output.endObject(object)
    }
}

extension CodeDeployCommand.PutHostCommandLogInput: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        self.init(hostCommandIdentifier: try members.value("HostCommandIdentifier"), log: try members.value("Log"))
    }
}
