import Foundation
import SlipwayModel
import Store

/// CreateUser, GetUser, ListUsers, DeleteUser.
enum IAMUsers {
    static func create(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let name = try query.name("UserName", maximum: 64)!
        let path = query["Path"] ?? "/"
        try validatePath(path, member: "path")
        if query.has(prefix: "Tags.") || query["PermissionsBoundary"] != nil {
            throw IAMError.invalidInput("Slipway's IAM does not support user tags or permissions boundaries.")
        }
        let arn = context.userARN(path: path, name: name)
        try context.authorize("CreateUser", resource: arn)
        let user = try await context.store.write { tx in
            if let existing = try tx.iamUser(name) {
                throw IAMError.entityAlreadyExists("User with name \(existing.userName) already exists.")
            }
            // An instance may have been registered with this ARN before the user existed.
            let instance = try tx.list(CodeDeploy.InstanceInfo.self, .instance).map(\.value).first {
                $0.deregisterTime == nil && $0.iamUserArn == arn
            }
            let user = IAMUserRecord(
                userName: name, userId: AccessKeyFactory.makeID(prefix: "AIDA"), path: path,
                createDate: context.now, policies: [], accessKeyIds: [], instanceName: instance?.instanceName)
            try tx.setIAMUser(user)
            return user
        }
        return xml(user, accountID: context.accountID)
    }

    static func get(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let name = try query.name("UserName", maximum: 128, required: false)
        if name == nil && context.principal.userName == nil {
            return try await builtInCaller(context)
        }
        let user = try await context.store.read { tx in try context.user(name, in: tx, for: "GetUser") }
        return xml(user, accountID: context.accountID)
    }

    /// GetUser without a name, signed with a key of a built-in role: the key's principal, shaped as a user.
    private static func builtInCaller(_ context: IAMContext) async throws -> String {
        let principal = context.principal
        try context.authorize("GetUser", resource: principal.arn)
        let key = try await context.store.read {
            try $0.get(AccessKeyRecord.self, .accessKey, name: principal.accessKeyId)
        }
        let afterUser = principal.arn.split(separator: ":", maxSplits: 5).last.map { $0.dropFirst("user".count) }
        let full = String(afterUser ?? "/")
        let slash = full.lastIndex(of: "/") ?? full.startIndex
        let user = IAMUserRecord(
            userName: String(full[full.index(after: slash)...]), userId: principal.accessKeyId,
            path: String(full[...slash]), createDate: key?.createTime ?? context.now, policies: [], accessKeyIds: [])
        return xml(user, accountID: context.accountID)
    }

    static func list(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let prefix = query["PathPrefix"] ?? "/"
        guard prefix.hasPrefix("/"), (1...512).contains(prefix.count) else {
            throw IAMError.validation(
                "pathPrefix", prefix, "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*")
        }
        let (marker, maxItems) = try query.page()
        try context.authorize("ListUsers", resource: context.userARN(path: prefix, name: "*"))
        let users = try await context.store.read { tx in
            try tx.list(IAMUserRecord.self, .iamUser).map(\.value).filter { $0.path.hasPrefix(prefix) }
        }
        let page = try IAMMarker.page(
            users, key: { IAMUserRecord.storageName($0.userName) }, marker: marker, maxItems: maxItems)
        let members = page.page.map { "<member>\(fields(of: $0, accountID: context.accountID))</member>" }.joined()
        return "<Users>\(members)</Users>" + IAMMarker.xml(isTruncated: page.isTruncated, marker: page.marker)
    }

    static func delete(_ query: IAMQuery, _ context: IAMContext) async throws {
        let name = try query.name("UserName", maximum: 128)!
        try await context.store.write { tx in
            let user = try context.user(name, in: tx, for: "DeleteUser")
            guard user.accessKeyIds.isEmpty else {
                throw IAMError.deleteConflict("Cannot delete entity, must delete access keys first.")
            }
            guard user.policies.isEmpty else {
                throw IAMError.deleteConflict("Cannot delete entity, must delete policies first.")
            }
            try tx.delete(.iamUser, scope: "", name: IAMUserRecord.storageName(user.userName))
        }
    }

    /// Paths: `/` or `/…/` of printable ASCII, at most 512 characters.
    static func validatePath(_ path: String, member: String) throws(IAMError) {
        let printable = path.unicodeScalars.allSatisfy { (0x21...0x7E).contains($0.value) }
        guard (1...512).contains(path.count), printable, path.hasPrefix("/"), path.hasSuffix("/"), !path.contains("//")
        else {
            throw IAMError.validation(
                member, path,
                "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)")
        }
    }

    static func xml(_ user: IAMUserRecord, accountID: String) -> String {
        "<User>\(fields(of: user, accountID: accountID))</User>"
    }

    private static func fields(of user: IAMUserRecord, accountID: String) -> String {
        IAMXML.element("Path", user.path) + IAMXML.element("UserName", user.userName)
            + IAMXML.element("UserId", user.userId) + IAMXML.element("Arn", user.arn(accountID: accountID))
            + IAMXML.element("CreateDate", IAMXML.date(user.createDate))
    }
}

/// CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey.
enum IAMAccessKeys {
    static func create(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let name = try query.name("UserName", maximum: 128, required: false)
        let key = try await context.store.write { tx in
            var user = try context.user(name, in: tx, for: "CreateAccessKey")
            guard user.accessKeyIds.count < IAMAPI.accessKeysPerUser else {
                throw IAMError.limitExceeded("Cannot exceed quota for AccessKeysPerUser: \(IAMAPI.accessKeysPerUser)")
            }
            let key = AccessKeyFactory.make(userName: user.userName, now: context.now)
            guard try tx.create(key, .accessKey, name: key.accessKeyId) else {
                throw IAMError(code: "ServiceFailure", message: "An access key id repeated; try again.", status: 500)
            }
            user.accessKeyIds.append(key.accessKeyId)
            try tx.setIAMUser(user)
            return key
        }
        return "<AccessKey>" + IAMXML.element("UserName", key.userName ?? "")
            + IAMXML.element("AccessKeyId", key.accessKeyId) + IAMXML.element("Status", key.status)
            + IAMXML.element("SecretAccessKey", key.secretAccessKey)
            + IAMXML.element("CreateDate", IAMXML.date(key.createTime)) + "</AccessKey>"
    }

    static func list(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let name = try query.name("UserName", maximum: 128, required: false)
        let (marker, maxItems) = try query.page()
        let keys = try await context.store.read { tx in
            let user = try context.user(name, in: tx, for: "ListAccessKeys")
            return try user.accessKeyIds.sorted().compactMap {
                try tx.get(AccessKeyRecord.self, .accessKey, name: $0)
            }
        }
        let page = try IAMMarker.page(keys, key: \.accessKeyId, marker: marker, maxItems: maxItems)
        let members = page.page.map { key in
            "<member>" + IAMXML.element("UserName", key.userName ?? "")
                + IAMXML.element("AccessKeyId", key.accessKeyId) + IAMXML.element("Status", key.status)
                + IAMXML.element("CreateDate", IAMXML.date(key.createTime)) + "</member>"
        }
        return "<AccessKeyMetadata>\(members.joined())</AccessKeyMetadata>"
            + IAMMarker.xml(isTruncated: page.isTruncated, marker: page.marker)
    }

    static func update(_ query: IAMQuery, _ context: IAMContext) async throws {
        let name = try query.name("UserName", maximum: 128, required: false)
        let id = try query.required("AccessKeyId")
        let status = try query.required("Status")
        guard status == "Active" || status == "Inactive" else {
            throw IAMError.validation("status", status, "Member must satisfy enum value set: [Active, Inactive]")
        }
        try await context.store.write { tx in
            let user = try context.user(name, in: tx, for: "UpdateAccessKey")
            guard user.accessKeyIds.contains(id), var key = try tx.get(AccessKeyRecord.self, .accessKey, name: id)
            else { throw noSuchKey(id) }
            key.status = status
            try tx.set(key, .accessKey, name: id)
        }
    }

    static func delete(_ query: IAMQuery, _ context: IAMContext) async throws {
        let name = try query.name("UserName", maximum: 128, required: false)
        let id = try query.required("AccessKeyId")
        try await context.store.write { tx in
            var user = try context.user(name, in: tx, for: "DeleteAccessKey")
            guard user.accessKeyIds.contains(id) else { throw noSuchKey(id) }
            user.accessKeyIds.removeAll { $0 == id }
            try tx.setIAMUser(user)
            try tx.delete(.accessKey, scope: "", name: id)
        }
    }

    private static func noSuchKey(_ id: String) -> IAMError {
        .noSuchEntity("The Access Key with id \(id) cannot be found.")
    }
}

/// PutUserPolicy, GetUserPolicy, ListUserPolicies, DeleteUserPolicy.
enum IAMUserPolicies {
    static func put(_ query: IAMQuery, _ context: IAMContext) async throws {
        let name = try query.name("UserName", maximum: 128)!
        let policyName = try query.name("PolicyName", maximum: 128)!
        let document = try query.required("PolicyDocument")
        let statements: [PolicyStatement]
        do {
            statements = try PolicyDocument.parse(document)
        } catch {
            throw IAMError.malformedPolicyDocument(error.message)
        }
        try await context.store.write { tx in
            var user = try context.user(name, in: tx, for: "PutUserPolicy")
            user.policies.removeAll { $0.name == policyName }
            user.policies.append(.init(name: policyName, document: document, statements: statements))
            user.policies.sort { $0.name < $1.name }
            let size = user.policies.reduce(0) { $0 + PolicyDocument.quotaSize($1.document) }
            guard size <= IAMAPI.policyCharactersPerUser else {
                throw IAMError.limitExceeded(
                    "Maximum policy size of \(IAMAPI.policyCharactersPerUser) bytes exceeded for user \(user.userName)")
            }
            try tx.setIAMUser(user)
        }
    }

    static func get(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let name = try query.name("UserName", maximum: 128)!
        let policyName = try query.name("PolicyName", maximum: 128)!
        let user = try await context.store.read { tx in try context.user(name, in: tx, for: "GetUserPolicy") }
        guard let policy = user.policies.first(where: { $0.name == policyName }) else {
            throw noSuchPolicy(policyName)
        }
        // IAM returns policy documents URL-encoded (RFC 3986); the SDKs decode them.
        let encoded = policy.document.addingPercentEncoding(withAllowedCharacters: unreserved) ?? policy.document
        return IAMXML.element("UserName", user.userName) + IAMXML.element("PolicyName", policy.name)
            + IAMXML.element("PolicyDocument", encoded)
    }

    static func list(_ query: IAMQuery, _ context: IAMContext) async throws -> String {
        let name = try query.name("UserName", maximum: 128)!
        let (marker, maxItems) = try query.page()
        let user = try await context.store.read { tx in try context.user(name, in: tx, for: "ListUserPolicies") }
        let page = try IAMMarker.page(user.policies.map(\.name), key: { $0 }, marker: marker, maxItems: maxItems)
        let members = page.page.map { IAMXML.element("member", $0) }.joined()
        return "<PolicyNames>\(members)</PolicyNames>"
            + IAMMarker.xml(isTruncated: page.isTruncated, marker: page.marker)
    }

    static func delete(_ query: IAMQuery, _ context: IAMContext) async throws {
        let name = try query.name("UserName", maximum: 128)!
        let policyName = try query.name("PolicyName", maximum: 128)!
        try await context.store.write { tx in
            var user = try context.user(name, in: tx, for: "DeleteUserPolicy")
            guard user.policies.contains(where: { $0.name == policyName }) else { throw noSuchPolicy(policyName) }
            user.policies.removeAll { $0.name == policyName }
            try tx.setIAMUser(user)
        }
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func noSuchPolicy(_ name: String) -> IAMError {
        .noSuchEntity("The user policy with name \(name) cannot be found.")
    }
}
