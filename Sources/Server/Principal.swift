/// Who made a request: the verified access key's owner.
public struct Principal: Sendable, Hashable {
    public let accessKeyId: String
    public let role: KeyRole
    /// For agent keys: the on-premises instance the key acts for.
    public let instanceName: String?
    public let arn: String

    public init(accessKeyId: String, role: KeyRole, instanceName: String?, arn: String) {
        self.accessKeyId = accessKeyId
        self.role = role
        self.instanceName = instanceName
        self.arn = arn
    }
}

/// The APIs of the server, for authorisation by role.
public enum APIFamily: String, Sendable {
    case codeDeploy = "codedeploy"
    case commands = "codedeploy-commands"
    case s3
    case iam

    /// Whether a key of `role` may call this API at all; finer checks (an agent's own instance) follow.
    func admits(_ role: KeyRole) -> Bool {
        switch (self, role) {
        case (_, .admin): true
        case (.codeDeploy, .deployer), (.s3, .deployer): true
        case (.commands, .agent), (.s3, .agent): true
        default: false
        }
    }
}
