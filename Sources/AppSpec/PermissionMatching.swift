/// An object the Install step copied or created, as the permission rules see it.
public struct InstalledObject: Hashable, Sendable {
    /// The absolute path on the host.
    public var path: String
    /// A copied file or a created directory.
    public var type: PermissionObjectType

    /// An installed object at `path`.
    public init(path: String, type: PermissionObjectType) {
        self.path = path
        self.type = type
    }
}

/// Why the permissions of an AppSpec cannot be applied to an installed object.
public struct PermissionMatchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The installed object's path.
    public var path: String
    /// What is wrong.
    public var reason: String

    /// An error about `path`, saying `reason`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { reason }
}

extension Permission {
    /// Whether this entry applies to an object the deployment installed (the rules of the stock agent's Install):
    /// - a copied file that *is* `object` gets it when `types` includes files;
    /// - below `object`, `**` matches everything at any depth, another pattern matches direct children by name
    ///   (`*` is the only wildcard), and `except` leaves direct children out the same way;
    /// - `object` itself, when a directory, never gets it; `types` limits it to copied files or created directories.
    ///
    /// Only what the deployment copies or creates is ever matched: the installer asks about those objects alone.
    public func applies(to installed: InstalledObject) -> Bool {
        guard types.contains(installed.type) else { return false }
        let objectPath = Self.normalised(object)
        let path = Self.normalised(installed.path)
        if path == objectPath { return installed.type == .file }
        let prefix = objectPath == "/" ? "/" : objectPath + "/"
        guard path.hasPrefix(prefix) else { return false }
        let relative = String(path.dropFirst(prefix.count))
        if pattern != Self.matchEverything, !Self.glob(pattern, matches: relative) { return false }
        return !except.contains { Self.glob($0, matches: relative) }
    }

    /// A simple glob: `*` stands for any run of characters except `/`; every other character is itself. A name with a
    /// `/` (an entry below a direct child) never matches.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        guard !name.contains("/") else { return false }
        let pieces = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard pieces.count > 1 else { return pattern == name }
        var rest = Substring(name)
        guard rest.hasPrefix(pieces.first!) else { return false }
        rest = rest.dropFirst(pieces.first!.count)
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let range = rest.range(of: piece) else { return false }
            rest = rest[range.upperBound...]
        }
        let last = pieces.last!
        return rest.count >= last.count && rest.hasSuffix(last)
    }

    static func normalised(_ path: String) -> String {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }
}

extension ServerAppSpec {
    /// The permission entries that apply to an installed object, in file order (see ``Permission/applies(to:)``).
    public func permissions(for installed: InstalledObject) -> [Permission] {
        permissions.filter { $0.applies(to: installed) }
    }

    /// The one permission entry to apply to an installed object, or `nil` when none applies. Throws as the stock
    /// agent fails the Install step: when several entries apply to the same path, or when an entry names a copied
    /// file as its object but carries a pattern, `except` globs or default ACLs (which only make sense for a
    /// directory).
    public func permission(for installed: InstalledObject) throws(PermissionMatchError) -> Permission? {
        let matching = permissions(for: installed)
        guard matching.count <= 1 else {
            throw PermissionMatchError(
                path: installed.path,
                reason: "the permissions setting for \(installed.path) is specified more than once in the "
                    + "application specification file (\(matching.count) entries match it)"
            )
        }
        guard let permission = matching.first else { return nil }
        if Permission.normalised(permission.object) == Permission.normalised(installed.path) {
            let problems = [
                permission.pattern != Permission.matchEverything ? "a pattern" : nil,
                permission.except.isEmpty ? nil : "except globs",
                permission.acls.contains(where: \.isDefault) ? "default ACL entries" : nil,
            ].compactMap { $0 }
            if !problems.isEmpty {
                throw PermissionMatchError(
                    path: installed.path,
                    reason: "invalid pattern for \(installed.path): the permission's object is a file, but it carries "
                        + problems.joined(separator: ", ") + ", such as a pattern for a file applied to a directory"
                )
            }
        }
        return permission
    }
}
