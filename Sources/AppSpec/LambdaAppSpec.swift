import SlipwayModel
import Yams

/// An AppSpec for an AWS Lambda deployment: the alias to shift from one function version to another, and the
/// functions CodeDeploy invokes before and after traffic moves.
public struct LambdaAppSpec: Hashable, Sendable {
    /// The resource's name in the file (the key under `resources:`).
    public var resourceName: String
    /// The function name (`properties.name`).
    public var functionName: String
    /// The alias traffic is shifted on (`properties.alias`).
    public var alias: String
    /// The version the alias points at now (`properties.currentversion`).
    public var currentVersion: String
    /// The version the alias will point at (`properties.targetversion`).
    public var targetVersion: String
    /// The Lambda function to invoke for `BeforeAllowTraffic` and `AfterAllowTraffic`, by event.
    public var hooks: [LifecycleEvent: String]

    /// A Lambda AppSpec from its parts.
    public init(
        resourceName: String,
        functionName: String,
        alias: String,
        currentVersion: String,
        targetVersion: String,
        hooks: [LifecycleEvent: String] = [:]
    ) {
        self.resourceName = resourceName
        self.functionName = functionName
        self.alias = alias
        self.currentVersion = currentVersion
        self.targetVersion = targetVersion
        self.hooks = hooks
    }
}

/// Reads and validates a Lambda AppSpec. Keys are matched ignoring case, as AWS's examples use both spellings.
struct LambdaAppSpecReader {
    var document: DocumentReader

    mutating func read(_ root: Node) -> LambdaAppSpec? {
        guard let entries = document.mapping(root, at: "", what: "the AppSpec") else { return nil }
        document.warnUnknownKeysIgnoringCase(entries, known: ["version", "resources", "hooks"], in: "the AppSpec")
        document.checkVersion(document.field("version", in: entries)?.value, path: "version", parent: root)
        var valid = true
        var hooks: [LifecycleEvent: String] = [:]
        if let entry = document.field("hooks", in: entries) {
            let read = document.readFunctionHooks(entry, allowed: LifecycleEvent.lambdaHooks, platform: "Lambda")
            if let read { hooks = read } else { valid = false }
        }
        guard let resources = document.field("resources", in: entries) else {
            document.error("resources", root, "resources is missing: a Lambda AppSpec names the function to deploy")
            return nil
        }
        guard let resource = document.singleResource(resources, platform: "Lambda", what: "the function to deploy"),
            let body = document.mapping(resource.value, at: resource.path, what: "the resource \(resource.key)")
        else { return nil }
        document.warnUnknownKeysIgnoringCase(body, known: ["type", "properties"], in: "the resource")
        guard
            let (propertiesEntry, properties) = document.resourceProperties(
                resource, body: body, typeKey: "type", typeWhat: "the resource type",
                expectedType: "AWS::Lambda::Function", appSpec: "a Lambda AppSpec", propertiesKey: "properties",
                propertiesWhat: "the function's properties", valid: &valid)
        else { return nil }
        let keys = ["name", "alias", "currentversion", "targetversion"]
        document.warnUnknownKeysIgnoringCase(properties, known: keys, in: "the function's properties")
        let values = keys.map {
            document.requiredString(
                $0, in: properties, parentPath: propertiesEntry.path, parent: propertiesEntry.value,
                what: "the function's \($0)")
        }
        for (index, key) in keys.enumerated().dropFirst(2) {
            if let version = values[index], let entry = document.field(key, in: properties),
                let problem = Self.versionProblem(version)
            {
                document.error(entry.path, entry.value, "\(key) \(problem)")
                valid = false
            }
        }
        guard valid, let name = values[0], let alias = values[1], let current = values[2],
            let target = values[3]
        else { return nil }
        return LambdaAppSpec(
            resourceName: resource.key,
            functionName: name,
            alias: alias,
            currentVersion: current,
            targetVersion: target,
            hooks: hooks
        )
    }

    /// Why `text` is not a published Lambda version, or nil when it is one: a version is a whole number from 1, as
    /// Lambda numbers the versions it publishes. An alias is shifted between published versions only.
    static func versionProblem(_ text: String) -> String? {
        if text == "$LATEST" {
            return "is $LATEST, which CodeDeploy does not shift traffic to: publish a version of the function "
                + "(aws lambda publish-version) and give its number"
        }
        let digits = text.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
        guard !text.isEmpty, digits, text.first != "0", let number = Int64(text), number >= 1 else {
            return "\"\(text)\" is not a version number: a Lambda version is a whole number from 1 (1, 2, 3…)"
        }
        return nil
    }
}
