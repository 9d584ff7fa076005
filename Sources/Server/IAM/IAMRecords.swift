import Foundation
import SlipwayModel
import Store

extension RecordKind {
    /// IAM users (scope "", name: the user name lowercased, as IAM user names are unique without regard to case).
    static let iamUser = RecordKind(rawValue: "iamUser")
}

/// An IAM user as stored: its identity, inline policies (kept here so that authenticating a request reads one
/// record besides the key) and the ids of its access keys.
struct IAMUserRecord: Codable, Hashable, Sendable {
    var userName: String
    /// `AIDA` + 17 characters, as IAM's user ids.
    var userId: String
    /// `/` or `/segments/`.
    var path: String
    var createDate: Date
    /// Inline policies in name order.
    var policies: [InlinePolicy]
    var accessKeyIds: [String]
    /// The registered on-premises instance whose `iamUserArn` is this user's ARN: such a user may use the agent
    /// command API for that host. Kept by RegisterOnPremisesInstance and DeregisterOnPremisesInstance.
    var instanceName: String?

    struct InlinePolicy: Codable, Hashable, Sendable {
        var name: String
        /// The document as given, returned by GetUserPolicy.
        var document: String
        var statements: [PolicyStatement]
    }

    func arn(accountID: String) -> String { "arn:aws:iam::\(accountID):user\(path)\(userName)" }

    var permissions: Permissions { Permissions(policies.flatMap(\.statements)) }

    /// The record name of a user name.
    static func storageName(_ userName: String) -> String { userName.lowercased() }
}

extension StoreReader {
    func iamUser(_ userName: String) throws -> IAMUserRecord? {
        try get(IAMUserRecord.self, .iamUser, name: IAMUserRecord.storageName(userName))
    }
}

extension StoreWriter {
    func setIAMUser(_ user: IAMUserRecord) throws {
        try set(user, .iamUser, name: IAMUserRecord.storageName(user.userName))
    }

    /// Records that the IAM user with ARN `arn` is the on-premises instance `instanceName` (nil: is no longer
    /// `previousInstance`). An ARN that is not one of this server's IAM users changes nothing.
    func bindIAMUser(arn: String?, accountID: String, toInstance instanceName: String?, previousInstance: String? = nil)
        throws
    {
        guard let arn, let slash = arn.lastIndex(of: "/") else { return }
        guard var user = try iamUser(String(arn[arn.index(after: slash)...])), user.arn(accountID: accountID) == arn
        else { return }
        if instanceName == nil && user.instanceName != previousInstance { return }
        user.instanceName = instanceName
        try setIAMUser(user)
    }
}
