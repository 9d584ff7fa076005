import Foundation
import SlipwayModel

/// One statement of an identity policy, in the subset Slipway evaluates: an effect, action patterns and resource
/// patterns. Patterns use IAM's wildcards: `*` for any run of characters, `?` for one.
public struct PolicyStatement: Codable, Hashable, Sendable {
    public enum Effect: String, Codable, Hashable, Sendable {
        case allow = "Allow"
        case deny = "Deny"
    }

    public var effect: Effect
    /// Action patterns, lowercased: IAM compares actions without regard to case.
    public var actions: [String]
    /// Resource patterns, compared with case.
    public var resources: [String]

    public init(effect: Effect, actions: [String], resources: [String]) {
        self.effect = effect
        self.actions = actions.map { $0.lowercased() }
        self.resources = resources
    }

    /// Whether one of the action patterns matches `action` (already lowercased).
    func matches(lowercasedAction action: String) -> Bool {
        actions.contains { Wildcard.matches($0, action) }
    }

    /// Whether the statement covers every resource (its only pattern is made of `*`).
    var coversEveryResource: Bool {
        resources.contains { !$0.isEmpty && $0.allSatisfy { $0 == "*" } }
    }

    /// Whether one of the resource patterns matches `resource`.
    func matches(resource: String) -> Bool {
        resources.contains { Wildcard.matches($0, resource) }
    }
}

/// What a set of policy statements says about one request.
public enum PolicyDecision: Hashable, Sendable {
    /// An Allow statement matches and no Deny does.
    case allowed
    /// A Deny statement matches: it wins over any Allow.
    case explicitlyDenied
    /// No statement matches: what is not allowed is refused.
    case implicitlyDenied
}

/// The permissions of a principal: the statements of its policies, evaluated as IAM evaluates identity policies
/// (an explicit Deny wins, then an Allow, else the request is refused).
public struct Permissions: Codable, Hashable, Sendable {
    public var statements: [PolicyStatement]

    public init(_ statements: [PolicyStatement]) {
        self.statements = statements
    }

    /// The decision for `action` (`service:Operation`) on each of `resources`; all must be allowed.
    ///
    /// `resources == nil` means the request is on no particular resource (ListApplications, ListDeploymentConfigs):
    /// IAM evaluates it on the resource `*`, which a statement matches only when one of its resource patterns covers
    /// every resource. That holds for Deny as for Allow: a Deny on one deployment group does not refuse a list of
    /// applications. Requests that act on a resource they do not name (by deployment id) are not decided here
    /// without it: see ``decisionBeforeResource(action:)``.
    public func decision(action: String, resources: [String]?) -> PolicyDecision {
        let action = action.lowercased()
        let matching = statements.filter { $0.matches(lowercasedAction: action) }
        // nil stands for the resource `*`.
        let targets: [String?] = resources.flatMap { $0.isEmpty ? nil : $0 } ?? [nil]
        func applies(_ statement: PolicyStatement, to resource: String?) -> Bool {
            resource.map(statement.matches(resource:)) ?? statement.coversEveryResource
        }
        for statement in matching where statement.effect == .deny {
            if targets.contains(where: { applies(statement, to: $0) }) { return .explicitlyDenied }
        }
        // Each resource may be allowed by a different statement.
        let allowed = targets.allSatisfy { target in
            matching.contains { $0.effect == .allow && applies($0, to: target) }
        }
        return allowed ? .allowed : .implicitlyDenied
    }

    /// What can be decided about `action` before its resource is known, for requests whose resource is found only
    /// by loading a record (a deployment by id: its resource is its deployment group). Explicitly denied when a Deny
    /// of the action covers every resource; implicitly denied when no Allow names the action at all; otherwise
    /// `.allowed` for now, and the handler decides with ``decision(action:resources:)`` on the record it loads.
    public func decisionBeforeResource(action: String) -> PolicyDecision {
        let action = action.lowercased()
        let matching = statements.filter { $0.matches(lowercasedAction: action) }
        if matching.contains(where: { $0.effect == .deny && $0.coversEveryResource }) { return .explicitlyDenied }
        return matching.contains { $0.effect == .allow } ? .allowed : .implicitlyDenied
    }

    /// Whether the decision for `action` can depend on the resource: some statement that matches the action names
    /// a resource pattern other than `*`. When it cannot, callers skip working out the request's resources.
    public func dependsOnResource(action: String) -> Bool {
        let action = action.lowercased()
        return statements.contains { statement in
            statement.matches(lowercasedAction: action) && !statement.resources.allSatisfy { $0 == "*" }
        }
    }
}

/// IAM's wildcard matching: `*` matches any run of characters (also none), `?` exactly one; everything else
/// matches itself. Written by hand because Foundation has no glob matcher for strings outside the file system
/// (`fnmatch` treats `/` and leading dots specially with some flags and differs between platforms).
enum Wildcard {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        if pattern == "*" { return true }
        var pattern = pattern
        var text = text
        return pattern.withUTF8 { p in text.withUTF8 { t in matches(p, t) } }
    }

    /// Greedy matching with one back-track point (the last `*`), which is linear for patterns without `*` and
    /// at worst O(pattern × text).
    private static func matches(_ pattern: UnsafeBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let star = UInt8(ascii: "*")
        let question = UInt8(ascii: "?")
        var p = 0
        var t = 0
        var starAt = -1
        var resumeAt = 0
        while t < text.count {
            if p < pattern.count && pattern[p] == star {
                starAt = p
                resumeAt = t
                p += 1
            } else if p < pattern.count
                && (pattern[p] == text[t] || (pattern[p] == question && !isContinuation(text[t])))
            {
                p += 1
                t += 1
                // A `?` takes a whole character: skip the rest of a multi-byte UTF-8 sequence.
                if pattern[p - 1] == question {
                    while t < text.count && isContinuation(text[t]) { t += 1 }
                }
            } else if starAt >= 0 {
                p = starAt + 1
                resumeAt += 1
                t = resumeAt
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == star { p += 1 }
        return p == pattern.count
    }

    private static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}
