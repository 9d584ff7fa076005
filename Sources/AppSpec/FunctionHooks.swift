import SlipwayModel
import Yams

extension DocumentReader {
    /// The entry whose key matches `name` ignoring case: Lambda and ECS AppSpecs are written with both spellings
    /// (`resources`/`Resources`, `type`/`Type`) in AWS's own examples.
    func field(_ name: String, in entries: [MappingEntry]) -> MappingEntry? {
        entries.first { $0.key.lowercased() == name.lowercased() }
    }

    /// Warns about keys of a Lambda or ECS section that are not among `known` (compared ignoring case).
    mutating func warnUnknownKeysIgnoringCase(_ entries: [MappingEntry], known: [String], in what: String) {
        for entry in entries where !known.contains(where: { $0.lowercased() == entry.key.lowercased() }) {
            let list = known.map { "`\($0)`" }.joined(separator: ", ")
            warning(entry.path, entry.keyNode, "unknown key `\(entry.key)` in \(what) is ignored; known keys: \(list)")
        }
    }

    /// A required single value: an error when it is missing, empty or not a single value.
    mutating func requiredString(
        _ name: String, in entries: [MappingEntry], parentPath: String, parent: Node, what: String
    )
        -> String?
    {
        guard let entry = field(name, in: entries) else {
            error(DocumentReader.join(parentPath, name), parent, "\(what) is missing: add `\(name):`")
            return nil
        }
        guard let text = string(entry.value, at: entry.path, what: name), !text.isEmpty else {
            if isNull(entry.value) || entry.value.scalar?.string.isEmpty == true {
                error(entry.path, entry.value, "\(what) is empty")
            }
            return nil
        }
        return text
    }

    /// The properties entry and mapping of a Lambda or ECS resource: its `type` must be `expectedType` (an error otherwise, which
    /// clears `valid`), and its `properties` must be a mapping. Keys are matched ignoring case; the texts name the
    /// parts as the platform's AppSpec does (`typeWhat`: "the resource type", `appSpec`: "a Lambda AppSpec").
    mutating func resourceProperties(
        _ resource: MappingEntry, body: [MappingEntry], typeKey: String, typeWhat: String, expectedType: String,
        appSpec: String, propertiesKey: String, propertiesWhat: String, valid: inout Bool
    ) -> (entry: MappingEntry, properties: [MappingEntry])? {
        if let type = requiredString(
            typeKey, in: body, parentPath: resource.path, parent: resource.value, what: typeWhat),
            type != expectedType, let entry = field(typeKey, in: body)
        {
            error(entry.path, entry.value, "\(typeWhat) of \(appSpec) is \(expectedType), not \(type)")
            valid = false
        }
        guard let propertiesEntry = field(propertiesKey, in: body) else {
            error(DocumentReader.join(resource.path, propertiesKey), resource.value, "\(propertiesWhat) are missing")
            return nil
        }
        return mapping(propertiesEntry.value, at: propertiesEntry.path, what: propertiesKey).map {
            (propertiesEntry, $0)
        }
    }

    /// Reads `hooks:` of a Lambda or ECS AppSpec: a list of one-key mappings from a lifecycle event to the name of the
    /// Lambda function CodeDeploy invokes for it.
    mutating func readFunctionHooks(_ entry: MappingEntry, allowed: [LifecycleEvent], platform: String)
        -> [LifecycleEvent: String]?
    {
        if case .mapping = entry.value {
            error(
                entry.path,
                entry.value,
                "hooks of \(platform) AppSpecs must be a list of `- <event>: <function name>` items"
            )
            return nil
        }
        guard let items = list(entry.value, at: entry.path, what: "hooks") else { return nil }
        var hooks: [LifecycleEvent: String] = [:]
        var valid = true
        for (index, item) in items.enumerated() {
            let path = DocumentReader.join(entry.path, index: index)
            guard let pairs = mapping(item, at: path, what: "a hook") else {
                valid = false
                continue
            }
            for pair in pairs {
                guard let event = LifecycleEvent(rawValue: pair.key), allowed.contains(event) else {
                    let names = allowed.map(\.rawValue).joined(separator: ", ")
                    error(
                        pair.path, pair.keyNode,
                        "\(platform) AppSpecs cannot hook \(pair.key); the events they can hook are \(names)")
                    valid = false
                    continue
                }
                guard let function = string(pair.value, at: pair.path, what: "the hook function of \(pair.key)"),
                    !function.isEmpty
                else {
                    if isNull(pair.value) || pair.value.scalar?.string.isEmpty == true {
                        error(pair.path, pair.value, "the hook \(pair.key) names no Lambda function")
                    }
                    valid = false
                    continue
                }
                if hooks[event] != nil {
                    error(
                        pair.path, pair.keyNode,
                        "the hook \(pair.key) is given more than once; give each event one function")
                    valid = false
                    continue
                }
                hooks[event] = function
            }
        }
        return valid ? hooks : nil
    }

    /// The single resource of a Lambda or ECS AppSpec's `resources:` list: its name and body.
    mutating func singleResource(_ entry: MappingEntry, platform: String, what: String) -> MappingEntry? {
        guard let items = list(entry.value, at: entry.path, what: "resources") else { return nil }
        guard items.count == 1 else {
            error(
                entry.path,
                entry.value,
                items.isEmpty
                    ? "resources is empty: \(platform) AppSpecs name \(what)"
                    : "resources lists \(items.count) resources: \(platform) AppSpecs deploy exactly one, \(what)"
            )
            return nil
        }
        let path = DocumentReader.join(entry.path, index: 0)
        guard let named = mapping(items[0], at: path, what: "a resource"), !named.isEmpty else {
            if isNull(items[0]) { error(path, items[0], "the resource is empty") }
            return nil
        }
        guard named.count == 1 else {
            error(
                path, items[0],
                "a resource is one `<name>: {type, properties}` mapping; this one has \(named.count) keys")
            return nil
        }
        return named[0]
    }
}
