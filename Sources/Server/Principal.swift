/// Who made a request: the verified access key's owner and what it may do.
///
/// A key belongs either to an IAM user (made through the IAM API, `aws deploy register` for one) whose permissions
/// are its inline policies, or to a built-in role (`slipway keys create --role …`) whose permissions are that role's
/// fixed policy. A principal that is a registered on-premises instance also has an ``instanceHost``: the agent
/// command API serves it for that host.
public struct Principal: Sendable, Hashable {
    public let accessKeyId: String
    public let arn: String
    /// The IAM user the key belongs to; nil for a key of a built-in role.
    public let userName: String?
    /// The built-in role of a key made by `slipway keys create`; nil for an IAM user's key.
    public let role: KeyRole?
    /// For a key of the agent role: the on-premises instance it was bound to.
    public let instanceName: String?
    /// The statements the principal's requests are evaluated against.
    public let permissions: Permissions
    /// The host identifier (IAM ARN) of the registered on-premises instance this principal is, if it is one.
    public let instanceHost: String?
    /// Set when a command-API request is authorised: whether a policy lets the principal act for every host
    /// (rather than only for ``instanceHost``).
    var actsForAnyHost = false

    public init(
        accessKeyId: String, arn: String, userName: String?, role: KeyRole?, instanceName: String?,
        permissions: Permissions, instanceHost: String?
    ) {
        self.accessKeyId = accessKeyId
        self.arn = arn
        self.userName = userName
        self.role = role
        self.instanceName = instanceName
        self.permissions = permissions
        self.instanceHost = instanceHost
    }

    /// Who the principal is, in a few words for people: an IAM user's name, or a built-in role's key.
    public var displayName: String {
        if let userName { return userName }
        if let role { return "\(role.rawValue) key \(accessKeyId)" }
        return arn
    }

    /// Whether the principal may poll, fetch and report commands of the host `host` through the agent command API.
    public func mayActFor(host: String) -> Bool {
        actsForAnyHost || host == instanceHost
    }
}
