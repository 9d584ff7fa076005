import Foundation
import SlipwayModel
import Store

/// What a key made by `slipway keys create` may do. Each role is a built-in policy (``KeyRole/permissions``); keys
/// of IAM users get theirs from the user's inline policies instead.
public enum KeyRole: String, Codable, CaseIterable, Sendable {
    /// Everything, including managing keys.
    case admin
    /// The CodeDeploy and S3 APIs.
    case deployer
    /// Only the agent command API, for the one on-premises instance the key is bound to, and reading revisions.
    case agent
}

/// An access key as stored. The secret is kept because SigV4 verification needs it (as AWS itself must).
public struct AccessKeyRecord: Codable, Hashable, Sendable {
    public var accessKeyId: String
    public var secretAccessKey: String
    /// The built-in role of a key made by `slipway keys create`; nil for an IAM user's key.
    public var role: KeyRole?
    /// The IAM user the key belongs to; nil for a key of a built-in role.
    public var userName: String?
    /// For agent keys: the on-premises instance the key acts for.
    public var instanceName: String?
    public var createTime: Date
    /// `Active` or `Inactive`; an inactive key is refused like an unknown one.
    public var status: String
    /// For agent keys: the IAM ARN the instance is registered with, which the agent uses as its host identifier.
    public var principalArn: String?

    public init(accessKeyId: String, secretAccessKey: String, role: KeyRole, instanceName: String?, createTime: Date) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.role = role
        self.instanceName = instanceName
        self.createTime = createTime
        self.status = "Active"
    }

    /// A key of an IAM user.
    public init(accessKeyId: String, secretAccessKey: String, userName: String, createTime: Date) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.userName = userName
        self.createTime = createTime
        self.status = "Active"
    }

    /// The ARN of a built-in role key's principal, the identity an agent key's instance is registered with. (An IAM
    /// user's key has its user's ARN, which the user record knows.)
    public func principalARN(accountID: String) -> String {
        if let principalArn { return principalArn }
        return switch role {
        case .agent?: "arn:aws:iam::\(accountID):user/slipway/agent/\(instanceName ?? accessKeyId)"
        case let role?: "arn:aws:iam::\(accountID):user/slipway/\(role.rawValue)/\(accessKeyId)"
        case nil: "arn:aws:iam::\(accountID):user/\(userName ?? accessKeyId)"
        }
    }
}

/// Makes access keys in AWS's format: a 20-character id starting `AKIA`, a 40-character secret.
public enum AccessKeyFactory {
    private static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    private static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    public static func make(role: KeyRole, instanceName: String?, now: Date) -> AccessKeyRecord {
        AccessKeyRecord(
            accessKeyId: makeID(prefix: "AKIA"),
            secretAccessKey: randomString(count: 40, from: secretAlphabet),
            role: role,
            instanceName: instanceName,
            createTime: now
        )
    }

    /// A key of the IAM user `userName`.
    public static func make(userName: String, now: Date) -> AccessKeyRecord {
        AccessKeyRecord(
            accessKeyId: makeID(prefix: "AKIA"), secretAccessKey: randomString(count: 40, from: secretAlphabet),
            userName: userName, createTime: now)
    }

    /// A 20-character identifier in IAM's alphabet (`AKIA…` for access keys, `AIDA…` for users).
    static func makeID(prefix: String) -> String {
        prefix + randomString(count: 20 - prefix.count, from: idAlphabet)
    }

    private static func randomString(count: Int, from alphabet: [Character]) -> String {
        // SystemRandomNumberGenerator reads the kernel's CSPRNG; `randomElement` draws without modulo bias.
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
    }
}

/// Key management against a store: what `slipway keys` and `--dev` use.
public enum AccessKeys {
    public static func create(
        in store: any Store, role: KeyRole, instanceName: String?, now: Date = Date()
    ) async throws -> AccessKeyRecord {
        if role == .agent && instanceName == nil {
            throw ConfigurationError("an agent key must be bound to an instance: add --instance-name NAME")
        }
        if role != .agent && instanceName != nil {
            throw ConfigurationError("--instance-name binds agent keys only; use it with --role agent")
        }
        let made = AccessKeyFactory.make(role: role, instanceName: instanceName, now: now)
        return try await store.write { tx in
            var key = made
            if let instanceName {
                let instance = try tx.get(CodeDeploy.InstanceInfo.self, .instance, name: instanceName)
                guard let instance, instance.deregisterTime == nil else {
                    throw ConfigurationError(
                        "no registered on-premises instance is named '\(instanceName)': register it first "
                            + "(aws deploy register-on-premises-instance --instance-name \(instanceName) --iam-user-arn ...)"
                    )
                }
                key.principalArn = instance.iamUserArn ?? instance.iamSessionArn
            }
            guard try tx.create(key, .accessKey, name: key.accessKeyId) else {
                throw ConfigurationError("a key with id \(key.accessKeyId) exists already; try again")
            }
            return key
        }
    }

    public static func list(in store: any Store) async throws -> [AccessKeyRecord] {
        try await store.read { tx in try tx.list(AccessKeyRecord.self, .accessKey).map(\.value) }
    }

    /// Deletes a key, of a built-in role or of an IAM user (which then no longer lists it).
    public static func delete(in store: any Store, accessKeyId: String) async throws -> Bool {
        try await store.write { tx in
            if let key = try tx.get(AccessKeyRecord.self, .accessKey, name: accessKeyId), let userName = key.userName,
                var user = try tx.iamUser(userName)
            {
                user.accessKeyIds.removeAll { $0 == accessKeyId }
                try tx.setIAMUser(user)
            }
            return try tx.delete(.accessKey, scope: "", name: accessKeyId)
        }
    }
}
