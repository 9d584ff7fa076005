/// One `permissions:` entry: ownership, mode, ACLs and SELinux context for objects the deployment installs.
public struct Permission: Hashable, Sendable {
    /// The file or directory the entry is about (an absolute path on the host).
    public var object: String
    /// Which entries below `object` it applies to: `**` (everything, at any depth, the default) or a simple glob
    /// (`*` only) matched against the names of direct children.
    public var pattern: String
    /// Simple globs of direct children left out.
    public var except: [String]
    /// The owner to `chown` to.
    public var owner: String?
    /// The group to `chown` to.
    public var group: String?
    /// The mode to `chmod` to.
    public var mode: FileMode?
    /// ACL entries to `setfacl`.
    public var acls: [ACLEntry]
    /// The SELinux context to give with `semanage fcontext`.
    public var context: SELinuxContext?
    /// The kinds of object it applies to (`type:`); both by default.
    public var types: Set<PermissionObjectType>

    /// The default pattern, which matches everything below the object.
    public static let matchEverything = "**"

    /// An entry from its parts; by default it applies to files and directories at any depth.
    public init(
        object: String,
        pattern: String = Permission.matchEverything,
        except: [String] = [],
        owner: String? = nil,
        group: String? = nil,
        mode: FileMode? = nil,
        acls: [ACLEntry] = [],
        context: SELinuxContext? = nil,
        types: Set<PermissionObjectType> = [.file, .directory]
    ) {
        self.object = object
        self.pattern = pattern
        self.except = except
        self.owner = owner
        self.group = group
        self.mode = mode
        self.acls = acls
        self.context = context
        self.types = types
    }
}

/// The kinds of object a permission entry can apply to.
public enum PermissionObjectType: String, CaseIterable, Hashable, Sendable {
    /// A file the deployment copies.
    case file
    /// A directory the deployment creates.
    case directory
}

/// A permissions mode, read as the octal digits written in the file (`mode: 0644` is 644, not YAML 1.1's 420).
public struct FileMode: Hashable, Sendable, CustomStringConvertible {
    /// The mode's bits, e.g. 0o644.
    public var bits: UInt16

    /// A mode from its bits.
    public init(bits: UInt16) {
        self.bits = bits
    }

    /// Reads 1 to 4 octal digits; shorter values are left-padded with zeros to three digits (`7` is `007`).
    /// The error says what is wrong, in the stock agent's words.
    public static func parse(_ text: String) -> Result<FileMode, FileModeError> {
        guard (1...4).contains(text.count) else { return .failure(.length(text)) }
        var bits: UInt16 = 0
        for character in text {
            guard let digit = character.wholeNumberValue, character.isASCII, digit < 8 else {
                return .failure(.invalidCharacter(text, character))
            }
            bits = bits * 8 + UInt16(digit)
        }
        return .success(FileMode(bits: bits))
    }

    /// The mode as `chmod` takes it: three octal digits, or four when the special bits are set.
    public var description: String {
        let digits = String(bits, radix: 8)
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }
}

/// Why a permissions mode was refused.
public enum FileModeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not 1 to 4 characters long.
    case length(String)
    /// A character other than the octal digits 0–7.
    case invalidCharacter(String, Character)

    public var description: String {
        switch self {
        case .length(let text):
            "the length of a permissions mode must be between one and four characters (\"\(text)\" has \(text.count))"
        case .invalidCharacter(let text, let character):
            "the permissions mode \"\(text)\" contains an invalid character (\"\(character)\"): use the octal digits 0-7"
        }
    }
}

/// One ACL entry, in the forms the stock agent reads: `[d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]:][name]:permissions`.
///
/// Without a type, the part before the permissions is a user's name (`bob:6`), or `m`/`mask` or `o`/`other` for those
/// entries (`mask:`). Permissions are one octal digit 0–7, or letters from `rwx-` in any order (none: no access).
public struct ACLEntry: Hashable, Sendable, CustomStringConvertible {
    /// Whose access the entry sets.
    public enum Tag: String, Hashable, Sendable {
        case user = "u"
        case group = "g"
        case mask = "m"
        case other = "o"

        /// The tag a word of an entry names, in its short or long form.
        init?(word: String) {
            switch word {
            case "u", "user": self = .user
            case "g", "group": self = .group
            case "m", "mask": self = .mask
            case "o", "other": self = .other
            default: return nil
            }
        }
    }

    /// Whether it is a default ACL entry (inherited by what is created in a directory).
    public var isDefault: Bool
    /// Whose access it sets.
    public var tag: Tag
    /// The user or group name; `nil` for a base entry, a mask or other.
    public var name: String?
    /// The permissions as written: letters from `rwx-`, or one octal digit.
    public var permissions: String

    /// Reads an entry as written in `acls:`; the error says why the entry is invalid.
    public static func parse(_ text: String) -> Result<ACLEntry, ACLEntryError> {
        func invalid(_ reason: String) -> Result<ACLEntry, ACLEntryError> {
            .failure(ACLEntryError(entry: text, reason: reason))
        }
        let form = "an entry is [d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]:][name]:permissions"
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (2...4).contains(parts.count) else {
            return invalid("an entry has two to four parts separated by `:`; \(form)")
        }
        let permissions = parts.removeLast()
        var name = parts.removeLast()
        // What is left is `default` and a type, either, or nothing.
        var isDefault = false
        var tag: Tag?
        for (index, word) in parts.enumerated() {
            if (word == "d" || word == "default") && index == 0 && !isDefault {
                isDefault = true
            } else if let named = Tag(word: word), tag == nil, index == parts.count - 1 {
                tag = named
            } else {
                return invalid("\"\(word)\" is not where it can be: \(form)")
            }
        }
        if tag == nil {
            switch Tag(word: name) {
            case .mask?, .other?:
                tag = Tag(word: name)
                name = ""
            default:
                tag = .user
            }
        }
        guard let tag else { return invalid(form) }
        if !name.isEmpty, tag == .mask || tag == .other {
            return invalid("a mask or other entry takes no name")
        }
        if name.isEmpty, !isDefault, tag != .mask {
            return invalid("Use mode to set the base acl entry")
        }
        // setfacl takes a list of entries separated by commas: a name must not carry another entry with it.
        if let bad = name.unicodeScalars.first(where: {
            $0 == "," || $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F
        }) {
            return invalid("the name \"\(name)\" contains \(Self.describe(bad)), which no user or group name has")
        }
        let scalars = permissions.unicodeScalars
        let isDigit = scalars.count == 1 && ("0"..."7").contains(scalars.first!)
        if !isDigit, let bad = scalars.first(where: { !"rwx-".unicodeScalars.contains($0) }) {
            return invalid(
                "the permissions \"\(permissions)\" contain an invalid character (\(Self.describe(bad))): use letters "
                    + "from rwx- or one octal digit 0-7")
        }
        return .success(
            ACLEntry(isDefault: isDefault, tag: tag, name: name.isEmpty ? nil : name, permissions: permissions))
    }

    /// A character as a message can show it: control characters by their code.
    private static func describe(_ scalar: Unicode.Scalar) -> String {
        scalar.value < 0x20 || scalar.value == 0x7F || scalar.properties.isWhitespace
            ? "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4) : "\"\(scalar)\""
    }

    /// The entry in `setfacl`'s short form, e.g. `d:u:bob:rw`.
    public var description: String {
        (isDefault ? "d:" : "") + "\(tag.rawValue):\(name ?? ""):\(permissions)"
    }
}

/// Why an ACL entry was refused.
public struct ACLEntryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The entry as written.
    public var entry: String
    /// What is wrong with it.
    public var reason: String

    /// An error for `entry`, saying `reason`.
    public init(entry: String, reason: String) {
        self.entry = entry
        self.reason = reason
    }

    public var description: String { "Invalid acl entry (\(entry)): \(reason)" }
}

/// An SELinux file context (`context:`): user, type and MLS/MCS range.
public struct SELinuxContext: Hashable, Sendable {
    /// The SELinux user (`name:` as the stock agent reads it, or `user:` as AWS documents it).
    public var user: String?
    /// The SELinux type (required).
    public var type: String
    /// The sensitivity range and categories.
    public var range: SELinuxRange?

    /// A context from its parts.
    public init(user: String? = nil, type: String, range: SELinuxRange? = nil) {
        self.user = user
        self.type = type
        self.range = range
    }
}

/// An MLS/MCS range, `s<low>[-s<high>][:c<n>[.c<m>](,c<n>[.c<m>])*]`.
public struct SELinuxRange: Hashable, Sendable, CustomStringConvertible {
    /// The low sensitivity level.
    public var low: Int
    /// The high sensitivity level, when one is given (≥ low).
    public var high: Int?
    /// The category ranges (each 0–1023), in the order given.
    public var categories: [ClosedRange<Int>]

    /// The highest category number SELinux allows.
    public static let maximumCategory = 1023

    /// Reads a range as written; the error says what is wrong with it.
    public static func parse(_ text: String) -> Result<SELinuxRange, SELinuxRangeError> {
        func fail(_ reason: String) -> Result<SELinuxRange, SELinuxRangeError> {
            .failure(SELinuxRangeError(range: text, reason: reason))
        }
        func number(_ part: Substring, prefix: Character) -> Int? {
            guard part.first == prefix, part.count > 1, part.count <= 6 else { return nil }
            let digits = part.dropFirst()
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(digits)
        }
        let halves = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let levels = halves[0].split(separator: "-", omittingEmptySubsequences: false)
        guard levels.count <= 2, let low = number(levels[0], prefix: "s") else {
            return fail("invalid sensitivity: a range starts with s<number>[-s<number>]")
        }
        var high: Int?
        if levels.count == 2 {
            guard let value = number(levels[1], prefix: "s") else {
                return fail("invalid sensitivity \"\(levels[1])\": write s<number>")
            }
            guard value >= low else { return fail("invalid sensitivity: the high level s\(value) is below s\(low)") }
            high = value
        }
        var categories: [ClosedRange<Int>] = []
        var seen = Set<Int>()
        if halves.count == 2 {
            for group in halves[1].split(separator: ",", omittingEmptySubsequences: false) {
                let ends = group.split(separator: ".", omittingEmptySubsequences: false)
                guard ends.count <= 2, let first = number(ends[0], prefix: "c"),
                    let last = ends.count == 2 ? number(ends[1], prefix: "c") : first
                else { return fail("invalid category \"\(group)\": write c<number> or c<number>.c<number>") }
                guard first <= maximumCategory, last <= maximumCategory else {
                    return fail("invalid category \"\(group)\": categories go up to c\(maximumCategory)")
                }
                guard last >= first else {
                    return fail("invalid category \"\(group)\": the range ends below its start")
                }
                guard seen.isDisjoint(with: first...last) else {
                    return fail("invalid category \"\(group)\": a category is given more than once")
                }
                seen.formUnion(first...last)
                categories.append(first...last)
            }
        }
        return .success(SELinuxRange(low: low, high: high, categories: categories))
    }

    /// The range as `semanage -r` takes it.
    public var description: String {
        var text = "s\(low)" + (high.map { "-s\($0)" } ?? "")
        if !categories.isEmpty {
            text +=
                ":"
                + categories.map { $0.count == 1 ? "c\($0.lowerBound)" : "c\($0.lowerBound).c\($0.upperBound)" }
                .joined(separator: ",")
        }
        return text
    }
}

/// Why an SELinux range was refused.
public struct SELinuxRangeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The range as written.
    public var range: String
    /// What is wrong with it.
    public var reason: String

    /// An error for `range`, saying `reason`.
    public init(range: String, reason: String) {
        self.range = range
        self.reason = reason
    }

    public var description: String { "invalid sensitivity/category in SELinux range \"\(range)\": \(reason)" }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
