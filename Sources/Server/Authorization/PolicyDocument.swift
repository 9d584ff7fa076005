import Foundation
import SlipwayModel

/// Reads an IAM policy document (JSON) into statements, refusing what Slipway would otherwise have to ignore.
///
/// Supported: `Version` (`2012-10-17` or `2008-10-17`), `Id`, and a `Statement` (one object or a list) whose
/// elements have `Sid`, `Effect` (`Allow`/`Deny`), `Action` and `Resource` (a string or a list of strings, with `*`
/// and `?` wildcards). Refused with a message: `NotAction`, `NotResource`, `Condition`, `Principal`/`NotPrincipal`
/// (an identity policy has none), policy variables (`${aws:username}`) and any other element.
public enum PolicyDocument {
    /// Why a document was refused; the message is IAM's `MalformedPolicyDocument` text.
    public struct Malformed: Error, Hashable, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static let versions: Set<String> = ["2012-10-17", "2008-10-17"]

    /// The statements of `text`, or ``Malformed`` saying what is wrong or unsupported.
    public static func parse(_ text: String) throws(Malformed) -> [PolicyStatement] {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: Data(text.utf8))
        } catch {
            throw Malformed(message: "Syntax errors in policy: the document is not valid JSON.")
        }
        guard case .object(let document) = root else {
            throw Malformed(message: "Syntax errors in policy: the document must be a JSON object.")
        }
        for key in document.keys where !["Version", "Id", "Statement"].contains(key) {
            throw Malformed(message: "Syntax errors in policy: unknown element '\(key)' at the top level.")
        }
        if let version = document["Version"] {
            guard case .string(let value) = version, versions.contains(value) else {
                throw Malformed(message: "The policy must contain a valid version string: 2012-10-17 or 2008-10-17.")
            }
        }
        let elements: [JSONValue]
        switch document["Statement"] {
        case .object?: elements = [document["Statement"]!]
        case .array(let list)?: elements = list
        default: throw Malformed(message: "Syntax errors in policy: the document must have a Statement.")
        }
        guard !elements.isEmpty else {
            throw Malformed(message: "Syntax errors in policy: the Statement list is empty.")
        }
        return try elements.enumerated().map { (index, element) throws(Malformed) in
            try statement(element, index: index)
        }
    }

    /// The number of characters IAM counts against a user's inline-policy quota: all but white space.
    public static func quotaSize(_ text: String) -> Int {
        text.unicodeScalars.count { !CharacterSet.whitespacesAndNewlines.contains($0) }
    }

    private static let unsupported: [String: String] = [
        "NotAction": "Slipway does not support NotAction: list the actions the statement allows or denies instead.",
        "NotResource":
            "Slipway does not support NotResource: list the resources the statement applies to instead.",
        "Condition": "Slipway does not support Condition in policies; a statement applies whenever it matches.",
        "Principal": "Policy document should not specify a principal.",
        "NotPrincipal": "Policy document should not specify a principal.",
    ]

    private static func statement(_ value: JSONValue, index: Int) throws(Malformed) -> PolicyStatement {
        guard case .object(let fields) = value else {
            throw Malformed(message: "Syntax errors in policy: statement \(index + 1) is not a JSON object.")
        }
        for key in fields.keys.sorted() {
            if let message = unsupported[key] { throw Malformed(message: message) }
            guard ["Sid", "Effect", "Action", "Resource"].contains(key) else {
                throw Malformed(message: "Syntax errors in policy: unknown element '\(key)' in statement \(index + 1).")
            }
        }
        if let sid = fields["Sid"] {
            guard case .string = sid else {
                throw Malformed(message: "Syntax errors in policy: Sid must be a string.")
            }
        }
        guard case .string(let effectText)? = fields["Effect"],
            let effect = PolicyStatement.Effect(rawValue: effectText)
        else {
            throw Malformed(message: "Policy statement must contain a valid Effect: Allow or Deny.")
        }
        let actions = try strings(fields["Action"], element: "Action")
        guard !actions.isEmpty else { throw Malformed(message: "Policy statement must contain actions.") }
        for action in actions where action != "*" {
            let parts = action.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
                parts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }),
                parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "*" || $0 == "?") })
            else {
                throw Malformed(
                    message: "Action '\(action)' is not valid: actions are '*' or '<service>:<operation>', e.g. "
                        + "'codedeploy:CreateDeployment' or 's3:Get*'.")
            }
        }
        let resources = try strings(fields["Resource"], element: "Resource")
        guard !resources.isEmpty else { throw Malformed(message: "Policy statement must contain resources.") }
        for resource in resources {
            if resource.contains("${") {
                throw Malformed(
                    message: "Slipway does not support policy variables such as ${aws:username} in '\(resource)'.")
            }
            guard
                resource == "*"
                    || (resource.hasPrefix("arn:")
                        && resource.split(separator: ":", omittingEmptySubsequences: false).count >= 6)
            else {
                throw Malformed(message: "Resource \(resource) must be in ARN format or \"*\".")
            }
        }
        return PolicyStatement(effect: effect, actions: actions, resources: resources)
    }

    private static func strings(_ value: JSONValue?, element: String) throws(Malformed) -> [String] {
        switch value {
        case nil: return []
        case .string(let text)?: return [text]
        case .array(let list)?:
            var texts: [String] = []
            for item in list {
                guard case .string(let text) = item else {
                    throw Malformed(message: "Syntax errors in policy: every \(element) must be a string.")
                }
                texts.append(text)
            }
            return texts
        default:
            throw Malformed(message: "Syntax errors in policy: \(element) must be a string or a list of strings.")
        }
    }
}
