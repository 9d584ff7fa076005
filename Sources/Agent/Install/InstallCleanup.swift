import Foundation

/// Undoes a previous install from its cleanup file (the stock agent's format: one path a line, or
/// `semanage\0<path>` for an SELinux file context).
enum InstallCleanup {
    /// One line of a cleanup file.
    enum Entry: Hashable {
        /// A copied file or link, or a created directory.
        case path(String)
        /// An SELinux file context added with `semanage fcontext -a`.
        case selinuxContext(String)
    }

    /// The entries of a cleanup file, in the order they were written. A last line without its line break was torn
    /// by a crash while it was written and is ignored (the copy it announced never started).
    static func parse(_ data: Data) -> [Entry] {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // Either the empty remainder after the final line break, or a torn line.
        lines.removeLast()
        return lines.compactMap { line in
            guard !line.isEmpty else { return nil }
            let text = String(decoding: line, as: UTF8.self)
            let marker = "semanage\0"
            return text.hasPrefix(marker) ? .selinuxContext(String(text.dropFirst(marker.count))) : .path(text)
        }
    }

    /// Runs the cleanup file at `path`, newest entry first, then deletes it. Files and links are removed (links
    /// themselves, never what they point to); directories only when empty, so anything a user put in one keeps it.
    /// Returns how many entries were removed; no file means nothing to do.
    static func run(at path: String) throws(InstallError) -> Int {
        guard try InstallFileSystem.status(path) != nil else { return 0 }
        // Unreadable is an error, not "nothing to clean": the new install would overwrite the old records.
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InstallError("The deployment failed because the agent could not read the cleanup file \(path).")
        }
        var removed = 0
        for entry in parse(data).reversed() {
            switch entry {
            case .path(let target):
                guard let status = try InstallFileSystem.status(target) else { continue }
                if status.kind == .directory {
                    if try InstallFileSystem.removeDirectoryIfEmpty(target) { removed += 1 }
                } else {
                    try InstallFileSystem.removeEntry(target)
                    removed += 1
                }
            case .selinuxContext(let target):
                // As the stock agent: best effort, and only where the tools exist.
                if let semanage = InstallTools.find("semanage") {
                    _ = try? InstallTools.run(semanage, ["fcontext", "-d", target])
                }
            }
        }
        try InstallFileSystem.removeEntry(path)
        return removed
    }
}
