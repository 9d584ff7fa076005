import Foundation
import SlipwayModel
import Store

/// Tags of a resource, stored under its ARN.
struct ResourceTags: Codable, Sendable {
    var tags: [CodeDeploy.Tag]

    /// Adds or replaces tags by key, keeping the order in which keys were first added.
    mutating func merge(_ new: [CodeDeploy.Tag]) {
        for tag in new {
            if let index = tags.firstIndex(where: { $0.key == tag.key }) {
                tags[index] = tag
            } else {
                tags.append(tag)
            }
        }
    }
}

extension StoreReader {
    func application(_ name: String) throws -> CodeDeploy.ApplicationInfo? {
        try get(CodeDeploy.ApplicationInfo.self, .application, name: name)
    }

    /// The application, or `ApplicationDoesNotExistException`.
    func existingApplication(_ name: String) throws -> CodeDeploy.ApplicationInfo {
        guard let application = try application(name) else { throw AWSJSONError.noApplication(name) }
        return application
    }

    func tags(of arn: String) throws -> [CodeDeploy.Tag] {
        try get(ResourceTags.self, .resourceTags, name: arn)?.tags ?? []
    }
}

extension StoreWriter {
    func addTags(_ tags: [CodeDeploy.Tag], to arn: String) throws {
        guard !tags.isEmpty else { return }
        var stored = try get(ResourceTags.self, .resourceTags, name: arn) ?? ResourceTags(tags: [])
        stored.merge(tags)
        try set(stored, .resourceTags, name: arn)
    }

    func removeTags(keys: [String], from arn: String) throws {
        guard var stored = try get(ResourceTags.self, .resourceTags, name: arn) else { return }
        stored.tags.removeAll { keys.contains($0.key ?? "") }
        if stored.tags.isEmpty {
            try delete(.resourceTags, scope: "", name: arn)
        } else {
            try set(stored, .resourceTags, name: arn)
        }
    }

    func deleteTags(of arn: String) throws {
        try delete(.resourceTags, scope: "", name: arn)
    }

    /// Moves the tags of one ARN to another (a renamed resource keeps its tags).
    func moveTags(from old: String, to new: String) throws {
        guard let stored = try get(ResourceTags.self, .resourceTags, name: old) else { return }
        try delete(.resourceTags, scope: "", name: old)
        try set(stored, .resourceTags, name: new)
    }
}

extension StoreReader {
    /// The stored `ApplicationInfo` document of an application, or `ApplicationDoesNotExistException`.
    func existingApplicationDocument(_ name: String) throws -> Data {
        guard let record = try record(.application, scope: "", name: name) else {
            throw AWSJSONError.noApplication(name)
        }
        return record.document
    }
}

extension AWSJSONError {
    /// `ApplicationDoesNotExistException` for `name`.
    static func noApplication(_ name: String) -> AWSJSONError {
        AWSJSONError(.applicationDoesNotExistException, "No application found for name: \(name)")
    }
}
