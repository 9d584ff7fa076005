import AppSpec
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes `<deployment-group-id>-cleanup`: one path a line, each written with a single `write` *before* the copy it
/// describes, so an agent that dies mid-install leaves a record the next install can undo. The file is flushed to
/// disk every ``syncInterval`` records and at the end: syncing before every copy would make large revisions crawl,
/// and a power cut can at worst forget the last few records (the stock agent never syncs).
final class CleanupRecorder {
    static let syncInterval = 256

    let path: String
    private let descriptor: Int32
    private var unsynced = 0

    init(path: String) throws(InstallError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw InstallError(path: path, doing: "create", errno: errno) }
    }

    deinit { close(descriptor) }

    /// Appends one line.
    func record(_ line: String) throws(InstallError) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw InstallError(path: path, doing: "write", errno: errno)
            }
            offset += written
        }
        unsynced += 1
        if unsynced >= Self.syncInterval { try sync() }
    }

    /// Flushes what was recorded to disk.
    func sync() throws(InstallError) {
        guard unsynced > 0 else { return }
        guard fsync(descriptor) == 0 else { throw InstallError(path: path, doing: "sync", errno: errno) }
        unsynced = 0
    }
}

/// Carries out install instructions in order, recording what it creates for the next install's cleanup.
struct InstallExecutor {
    let behavior: FileExistsBehavior
    let recorder: CleanupRecorder
    private(set) var copied = 0
    private(set) var directoriesCreated = 0
    /// Entries that appeared between planning and copying and that RETAIN kept.
    private(set) var retained = 0

    init(behavior: FileExistsBehavior, recorder: CleanupRecorder) {
        self.behavior = behavior
        self.recorder = recorder
    }

    mutating func run(_ instructions: [InstallInstruction]) throws(InstallError) {
        for instruction in instructions {
            try execute(instruction)
        }
        try recorder.sync()
    }

    private mutating func execute(_ instruction: InstallInstruction) throws(InstallError) {
        switch instruction {
        case .copy(let source, let destination): try copy(source, to: destination)
        case .mkdir(let directory): try makeDirectory(directory)
        case .chmod(let mode, let file): try changeMode(file, to: mode_t(mode.bits))
        case .setfacl(let acl, let file): try setACL(acl, on: file)
        case .semanage(let context, let file): try setContext(context, on: file)
        case .chown(let owner, let group, let file): try changeOwner(file, owner: owner, group: group)
        }
    }

    // MARK: - Files

    private mutating func copy(_ source: String, to destination: String) throws(InstallError) {
        guard let sourceStatus = try InstallFileSystem.status(source) else {
            throw InstallError(path: source, doing: "copy", errno: ENOENT)
        }
        guard let existing = try InstallFileSystem.status(destination) else {
            try recorder.record(destination)
            try create(destination, from: source, kind: sourceStatus.kind)
            copied += 1
            return
        }
        switch behavior {
        case .disallow: throw .fileExists(destination)
        case .retain:
            retained += 1
            return
        case .overwrite: break
        }
        // Build the new entry beside the old one and rename it into place: a file or link is replaced in one step
        // (readers never see half a file, and a link is replaced, never written through). The temporary name is
        // recorded too, so an interrupted install leaves nothing behind after the next cleanup.
        let temporary =
            InstallPlanner.parent(of: destination) + "/.slipway-install-" + UUID().uuidString.prefix(8).lowercased()
        try recorder.record(destination)
        try recorder.record(temporary)
        do {
            try create(temporary, from: source, kind: sourceStatus.kind)
            if existing.kind == .directory { try InstallFileSystem.removeAnything(destination) }
            try InstallFileSystem.move(temporary, to: destination)
        } catch {
            try? InstallFileSystem.removeEntry(temporary)
            throw error
        }
        copied += 1
    }

    private func create(_ path: String, from source: String, kind: InstallFileSystem.Kind) throws(InstallError) {
        switch kind {
        case .symlink: try InstallFileSystem.makeSymlink(at: path, target: InstallFileSystem.readLink(source))
        case .regular: try InstallFileSystem.copyRegularFile(from: source, to: path)
        case .directory, .other: throw InstallError(path: source, doing: "copy", errno: EINVAL)
        }
    }

    private mutating func makeDirectory(_ directory: String) throws(InstallError) {
        if try InstallFileSystem.status(directory) != nil {
            // Created by someone else since planning: use it, but it is not ours to remove.
            if InstallFileSystem.isDirectoryFollowingLinks(directory) { return }
            guard behavior == .overwrite else { throw .fileExists(directory) }
            try InstallFileSystem.removeEntry(directory)
        }
        try InstallFileSystem.makeDirectory(directory)
        try recorder.record(directory)
        directoriesCreated += 1
    }

    // MARK: - Permissions

    private func changeMode(_ path: String, to mode: mode_t) throws(InstallError) {
        guard try InstallFileSystem.status(path)?.kind != .symlink else { return }
        guard chmod(path, mode) == 0 else { throw InstallError(path: path, doing: "set the mode of", errno: errno) }
    }

    private func setACL(_ entries: [ACLEntry], on path: String) throws(InstallError) {
        guard try InstallFileSystem.status(path)?.kind != .symlink else { return }
        let acl = try Self.fullACL(entries, mode: InstallFileSystem.permissionBits(path)).joined(separator: ",")
        guard let setfacl = InstallTools.find("setfacl") else {
            throw InstallError(
                "The deployment failed because the permissions section of the AppSpec file gives \(path) ACL "
                    + "entries, but setfacl is missing on this host. Install the acl package, and then try again."
            )
        }
        let result = try InstallTools.run(setfacl, ["--set", acl, path])
        guard result.status == 0 else {
            throw InstallError(
                "The deployment failed because of a problem with the acls permission settings in the application "
                    + "specification file for this object: \(path). Failed command: setfacl --set \(acl) \(path). "
                    + "Exit code: \(result.status). \(result.output)"
            )
        }
    }

    /// The AppSpec's entries completed with what `setfacl --set` requires, taken from the object's mode as the stock
    /// agent does: the base user, group and other entries; a mask equal to the group bits when there are named
    /// entries (so the mode's group digit stays the mask); and for default ACLs, the missing default base entries
    /// and mask.
    static func fullACL(_ entries: [ACLEntry], mode: mode_t) -> [String] {
        func letters(_ bits: mode_t) -> String {
            (bits & 4 != 0 ? "r" : "-") + (bits & 2 != 0 ? "w" : "-") + (bits & 1 != 0 ? "x" : "-")
        }
        let owner = letters(mode >> 6 & 7)
        let group = letters(mode >> 3 & 7)
        let other = letters(mode & 7)
        let access = entries.filter { !$0.isDefault }
        let defaults = entries.filter(\.isDefault)
        func has(_ list: [ACLEntry], _ tag: ACLEntry.Tag, named: Bool) -> Bool {
            list.contains { $0.tag == tag && ($0.name != nil) == named }
        }
        var result = entries.map(\.longForm)
        result += ["user::" + owner, "group::" + group, "other::" + other]
        if access.contains(where: { $0.name != nil }), !has(access, .mask, named: false) {
            result.append("mask::" + group)
        }
        if !defaults.isEmpty {
            if !has(defaults, .user, named: false) { result.append("default:user::" + owner) }
            let defaultGroup = defaults.first { $0.tag == .group && $0.name == nil }
            if defaultGroup == nil { result.append("default:group::" + group) }
            if !has(defaults, .other, named: false) { result.append("default:other::" + other) }
            if defaults.contains(where: { $0.name != nil }), !has(defaults, .mask, named: false) {
                let groupBits = defaultGroup.map { String($0.longForm.suffix(3)) } ?? group
                result.append("default:mask::" + groupBits)
            }
        }
        return result
    }

    private func setContext(_ context: SELinuxContext, on path: String) throws(InstallError) {
        guard let semanage = InstallTools.find("semanage"), let restorecon = InstallTools.find("restorecon") else {
            throw InstallError(
                "The deployment failed because the permissions section of the AppSpec file gives \(path) an SELinux "
                    + "context, but the SELinux tools (semanage, restorecon) are missing on this host."
            )
        }
        let real = InstallFileSystem.realPath(path) ?? path
        var arguments = ["fcontext", "-a"]
        if let user = context.user { arguments += ["-s", user] }
        arguments += ["-t", context.type]
        if let range = context.range { arguments += ["-r", range.description] }
        arguments.append(real)
        for (tool, toolArguments) in [(semanage, arguments), (restorecon, ["-v", real])] {
            let result = try InstallTools.run(tool, toolArguments)
            guard result.status == 0 else {
                throw InstallError(
                    "The deployment failed because the application specification file contains an error in the "
                        + "settings for the context parameter for \(path). Update the permissions section of the "
                        + "AppSpec file, and then try again. Failed command: \(tool) "
                        + toolArguments.joined(separator: " ") + ". Exit code: \(result.status). \(result.output)"
                )
            }
        }
        try recorder.record("semanage\0" + real)
    }

    private func changeOwner(_ path: String, owner: String?, group: String?) throws(InstallError) {
        let userID = try owner.map { name throws(InstallError) in
            guard let id = InstallAccounts.userID(name) else {
                throw InstallError("The deployment failed because the user \(name) (owner of \(path)) does not exist")
            }
            return id
        }
        let groupID = try group.map { name throws(InstallError) in
            guard let id = InstallAccounts.groupID(name) else {
                throw InstallError("The deployment failed because the group \(name) (group of \(path)) does not exist")
            }
            return id
        }
        let status = try InstallFileSystem.status(path)
        guard lchown(path, userID ?? uid_t.max, groupID ?? gid_t.max) == 0 else {
            throw InstallError(path: path, doing: "change the owner of", errno: errno)
        }
        // A change of owner clears the set-user-ID and set-group-ID bits; the AppSpec's mode keeps them.
        if let status, status.kind != .symlink, status.mode & 0o6000 != 0 {
            guard chmod(path, status.mode & 0o7777) == 0 else {
                throw InstallError(path: path, doing: "set the mode of", errno: errno)
            }
        }
    }
}
