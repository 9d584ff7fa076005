import AppSpec

/// Turns an AppSpec's `files` and `permissions` into install instructions, checking what is on the host now (after
/// the previous revision's cleanup) against the file-exists behaviour.
///
/// Decisions where the stock agent is silent or buggy:
/// - an existing directory, or a symbolic link to one, where the revision has a directory is merged into (as the
///   stock agent and `cp -r` do); it is not recorded for cleanup;
/// - anything else where the revision has a directory (a file, a link to a file, a dangling link) is "a file that
///   already exists": DISALLOW fails, RETAIN keeps it and skips that part of the revision, OVERWRITE replaces it
///   with a new directory;
/// - anything at all where the revision has a file or link is "a file that already exists", checked without
///   following links: OVERWRITE replaces the entry itself (a directory with everything in it), never what a link
///   points to;
/// - permissions are never applied through a symbolic link the revision installs: only its owner changes.
struct InstallPlanner {
    /// The unpacked revision, as a canonical path.
    let archive: String
    /// What to do with files that already exist at a destination.
    let behavior: FileExistsBehavior

    private(set) var instructions: [InstallInstruction] = []
    /// How many existing entries RETAIN kept in place of the revision's.
    private(set) var retained = 0

    private var copyTargets: [String: String] = [:]
    private var copies: [(path: String, isSymlink: Bool)] = []
    private var createdDirectories: Set<String> = []
    private var createdOrder: [String] = []
    private var existingDirectories: Set<String> = []

    init(archive: String, behavior: FileExistsBehavior) {
        self.archive = archive
        self.behavior = behavior
    }

    /// Plans the whole Install step for `appSpec`.
    mutating func plan(_ appSpec: ServerAppSpec) throws(InstallError) {
        for mapping in appSpec.files {
            try plan(mapping)
        }
        try planPermissions(appSpec)
    }

    // MARK: - Files

    private mutating func plan(_ mapping: FileMapping) throws(InstallError) {
        let source = try sourcePath(mapping.source)
        guard let destination = Self.normalisedAbsolute(mapping.destination) else {
            throw InstallError(
                "The deployment failed because the files section of the AppSpec file names a destination "
                    + "(\(mapping.destination)) that is not an absolute path. Update the AppSpec file, and then try again."
            )
        }
        guard let status = try InstallFileSystem.status(source) else {
            throw InstallError(
                "The deployment failed because the files section of the AppSpec file names a source "
                    + "(\(mapping.source)) that does not exist in the revision at \(source). Update the AppSpec file "
                    + "or the revision, and then try again."
            )
        }
        if status.kind == .directory {
            try createMissingAncestors(of: destination)
            try planDirectory(source, into: destination)
        } else {
            let target = Self.join(destination, Self.lastComponent(of: source))
            try createMissingAncestors(of: target)
            try planEntry(source, kind: status.kind, to: target)
        }
    }

    /// The absolute path of a source inside the revision; refused when `..` or a symbolic link leads out of it.
    /// `/` (or an empty source) is the whole revision.
    private func sourcePath(_ source: String) throws(InstallError) -> String {
        let outside = InstallError(
            "The deployment failed because the files section of the AppSpec file names a source (\(source)) outside "
                + "the revision. Sources are paths inside the revision; update the AppSpec file, and then try again."
        )
        var parts: [Substring] = []
        for part in source.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { throw outside }
                parts.removeLast()
            default: parts.append(part)
            }
        }
        guard !parts.isEmpty else { return archive }
        let path = archive + "/" + parts.joined(separator: "/")
        // The source itself may be a link (it is copied as a link, never followed); what leads to it may not leave.
        let container = Self.parent(of: path)
        if let real = InstallFileSystem.realPath(container), real != archive, !real.hasPrefix(archive + "/") {
            throw outside
        }
        return path
    }

    /// Plans `mkdir` for the missing directories above `path`, top down.
    private mutating func createMissingAncestors(of path: String) throws(InstallError) {
        var ancestors: [String] = []
        var current = Self.parent(of: path)
        while current != "/" {
            ancestors.append(current)
            current = Self.parent(of: current)
        }
        for directory in ancestors.reversed() {
            if createdDirectories.contains(directory) || existingDirectories.contains(directory) { continue }
            if let source = copyTargets[directory] { throw Self.directoryOverCopiedFile(directory, source: source) }
            if InstallFileSystem.isDirectoryFollowingLinks(directory) {
                existingDirectories.insert(directory)
            } else if try InstallFileSystem.status(directory) != nil {
                throw InstallError(
                    "The deployment failed because \(directory) exists and is not a directory, so the files of the "
                        + "revision cannot be installed below it. Remove it or change the destination in the AppSpec "
                        + "file, and then try again."
                )
            } else {
                try makeDirectory(directory)
            }
        }
    }

    /// Plans the copy of a directory's contents into `destination`, recursively.
    private mutating func planDirectory(_ source: String, into destination: String) throws(InstallError) {
        guard try prepareDirectory(destination) else { return }
        for name in try InstallFileSystem.entries(of: source) {
            let child = source + "/" + name
            let target = Self.join(destination, name)
            guard let status = try InstallFileSystem.status(child) else { continue }
            if status.kind == .directory {
                try planDirectory(child, into: target)
            } else {
                try planEntry(child, kind: status.kind, to: target)
            }
        }
    }

    /// Makes sure a directory will be at `path`; `false` when RETAIN keeps a non-directory there (the revision's
    /// directory is then skipped).
    private mutating func prepareDirectory(_ path: String) throws(InstallError) -> Bool {
        if createdDirectories.contains(path) || existingDirectories.contains(path) { return true }
        if let source = copyTargets[path] { throw Self.directoryOverCopiedFile(path, source: source) }
        if InstallFileSystem.isDirectoryFollowingLinks(path) {
            existingDirectories.insert(path)
            return true
        }
        if try InstallFileSystem.status(path) != nil {
            switch behavior {
            case .disallow: throw .fileExists(path)
            case .retain:
                retained += 1
                return false
            case .overwrite: break
            }
        }
        try makeDirectory(path)
        return true
    }

    private mutating func makeDirectory(_ path: String) throws(InstallError) {
        try Self.checkRecordable(path)
        instructions.append(.mkdir(directory: path))
        createdDirectories.insert(path)
        createdOrder.append(path)
    }

    /// Plans the copy of one file or symbolic link to `target`.
    private mutating func planEntry(
        _ source: String,
        kind: InstallFileSystem.Kind,
        to target: String
    ) throws(InstallError) {
        guard kind == .regular || kind == .symlink else {
            throw InstallError(
                "The deployment failed because the revision holds \(source), which is neither a file, a directory nor "
                    + "a symbolic link (a FIFO, socket or device cannot be installed). Remove it from the revision, and "
                    + "then try again."
            )
        }
        try Self.checkRecordable(target)
        if let other = copyTargets[target] {
            throw InstallError(
                "The deployment failed because the application specification file specifies two source files named "
                    + "\(source) and \(other) for the same destination (\(target)). Remove one of the source file "
                    + "paths from the AppSpec file, and then try again."
            )
        }
        if createdDirectories.contains(target) || existingDirectories.contains(target) {
            throw InstallError(
                "The deployment failed because the application specification file calls for installing the file "
                    + "\(source), but a file with that name already exists at the location (\(target)). Update your "
                    + "AppSpec file or directory structure, and then try again."
            )
        }
        if try InstallFileSystem.status(target) != nil {
            switch behavior {
            case .disallow: throw .fileExists(target)
            case .retain:
                retained += 1
                return
            case .overwrite: break
            }
        }
        instructions.append(.copy(source: source, destination: target))
        copyTargets[target] = source
        copies.append((target, kind == .symlink))
    }

    private static func directoryOverCopiedFile(_ path: String, source: String) -> InstallError {
        InstallError(
            "The deployment failed because the application specification file includes an mkdir command more than "
                + "once for the same destination path (\(path)) from (\(source)). Update the files section of the "
                + "AppSpec file, and then try again."
        )
    }

    /// The cleanup file holds one path a line: a path with a line break could not be removed by the next install.
    private static func checkRecordable(_ path: String) throws(InstallError) {
        guard !path.contains("\n") && !path.contains("\r") else {
            throw InstallError(
                "The deployment failed because the path \(path.debugDescription) contains a line break, which the "
                    + "agent cannot record for cleanup. Rename the file in the revision, and then try again."
            )
        }
    }

    // MARK: - Permissions

    private mutating func planPermissions(_ appSpec: ServerAppSpec) throws(InstallError) {
        guard !appSpec.permissions.isEmpty else { return }
        // Matches per entry, in AppSpec order; each entry's copied files first, then its created directories, as the
        // stock agent orders them.
        var matches = [[(path: String, type: PermissionObjectType, isSymlink: Bool)]](
            repeating: [],
            count: appSpec.permissions.count
        )
        let objects =
            copies.map { ($0.path, PermissionObjectType.file, $0.isSymlink) }
            + createdOrder.map { ($0, PermissionObjectType.directory, false) }
        for (path, type, isSymlink) in objects {
            let permission: Permission?
            do {
                permission = try appSpec.permission(for: InstalledObject(path: path, type: type))
            } catch {
                throw InstallError(
                    "The deployment failed because \(error.reason). Update the permissions section of the AppSpec "
                        + "file, and then try again."
                )
            }
            guard let permission, let index = appSpec.permissions.firstIndex(of: permission) else { continue }
            if type == .file, permission.acls.contains(where: \.isDefault) {
                throw InstallError(
                    "The deployment failed because the -d parameter has been specified to apply an acl setting to a "
                        + "file (\(path)). This parameter is supported for directories only. Update the AppSpec file, "
                        + "and then try again."
                )
            }
            matches[index].append((path, type, isSymlink))
        }
        var needsSELinux: String?
        for (index, permission) in appSpec.permissions.enumerated() {
            for object in matches[index] {
                let path = object.path
                if !object.isSymlink {
                    if let mode = permission.mode { instructions.append(.chmod(mode: mode, file: path)) }
                    if !permission.acls.isEmpty { instructions.append(.setfacl(acl: permission.acls, file: path)) }
                    if let context = permission.context {
                        instructions.append(.semanage(context: context, file: path))
                        needsSELinux = needsSELinux ?? path
                    }
                }
                if permission.owner != nil || permission.group != nil {
                    try Self.checkAccounts(owner: permission.owner, group: permission.group, path: path)
                    instructions.append(.chown(owner: permission.owner, group: permission.group, file: path))
                }
            }
        }
        if let path = needsSELinux, InstallTools.find("semanage") == nil || InstallTools.find("restorecon") == nil {
            throw InstallError(
                "The deployment failed because the permissions section of the AppSpec file gives \(path) an SELinux "
                    + "context, but the SELinux tools are missing on this host (semanage and restorecon were not both "
                    + "found). Install them (policycoreutils) or remove the context, and then try again."
            )
        }
    }

    /// Fails before anything is copied when an owner or group does not exist on this host.
    private static func checkAccounts(owner: String?, group: String?, path: String) throws(InstallError) {
        if let owner, InstallAccounts.userID(owner) == nil {
            throw InstallError(
                "The deployment failed because the user \(owner), the owner the permissions section of the AppSpec "
                    + "file gives \(path), does not exist on this host. Create the user or update the AppSpec file, "
                    + "and then try again."
            )
        }
        if let group, InstallAccounts.groupID(group) == nil {
            throw InstallError(
                "The deployment failed because the group \(group), the group the permissions section of the AppSpec "
                    + "file gives \(path), does not exist on this host. Create the group or update the AppSpec file, "
                    + "and then try again."
            )
        }
    }

    // MARK: - Paths

    /// An absolute path with `.`, `..`, repeated and trailing slashes resolved as text (as Ruby's `expand_path`
    /// does for absolute paths); `nil` for a relative path.
    static func normalisedAbsolute(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory == "/" ? "/" + name : directory + "/" + name
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    static func lastComponent(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }
}
