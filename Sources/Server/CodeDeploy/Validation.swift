import SlipwayModel

/// The checks CodeDeploy makes beyond the model's constraints, shared by the handlers.
enum Check {
    /// Application, deployment-group and deployment-configuration names: 1–100 of `[A-Za-z0-9+=,.@_-]`.
    static func name(_ name: String, _ code: CodeDeploy.ExceptionType, what: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                    || "+=,.@_-".unicodeScalars.contains(scalar))
        }
        guard !name.isEmpty, name.count <= 100, allowed else {
            throw AWSJSONError(
                code, "The \(what) '\(name)' is not valid: use 1 to 100 of the characters A-Z, a-z, 0-9 and +=,.@_-")
        }
    }

    /// Resource tags (applications, deployment groups): at most 50, keys 1–128 characters, values at most 256,
    /// no `aws:` prefix, no key twice.
    static func resourceTags(_ tags: [CodeDeploy.Tag], code: CodeDeploy.ExceptionType) throws {
        guard tags.count <= 50 else { throw AWSJSONError(code, "A resource can have at most 50 tags.") }
        var seen: Set<String> = []
        for tag in tags {
            guard let key = tag.key, (1...128).contains(key.count) else {
                throw AWSJSONError(code, "Every tag needs a Key of 1 to 128 characters.")
            }
            guard (tag.value ?? "").count <= 256 else {
                throw AWSJSONError(code, "The value of tag '\(key)' is longer than 256 characters.")
            }
            guard !key.lowercased().hasPrefix("aws:") else {
                throw AWSJSONError(code, "Tag keys starting with 'aws:' are reserved.")
            }
            guard seen.insert(key).inserted else {
                throw AWSJSONError(code, "The tag key '\(key)' is given more than once.")
            }
        }
    }

    /// Batch operations take at most `limit` names or ids.
    static func batch(_ count: Int, limit: Int = 100) throws {
        guard count <= limit else {
            throw AWSJSONError(
                .batchLimitExceededException, "A batch can name at most \(limit) items; this one names \(count).")
        }
    }
}

extension Optional where Wrapped == String {
    /// The string, or the given `...RequiredException` when it is absent or empty.
    func required(_ code: CodeDeploy.ExceptionType, _ what: String) throws -> String {
        guard let value = self, !value.isEmpty else { throw AWSJSONError(code, "The \(what) is required.") }
        return value
    }
}
