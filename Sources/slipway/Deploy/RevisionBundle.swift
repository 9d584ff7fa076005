import AppSpec
import Crypto
import Foundation
import ZIPFoundation

/// A directory made into a zip revision: the entries chosen, the AppSpec checked, the archive written.
struct RevisionBundle {
    /// One entry of the bundle, by its path relative to the directory.
    struct Entry: Equatable {
        enum Kind: Equatable {
            case file
            case directory
            case symlink(destination: String)
        }

        var path: String
        var kind: Kind
    }

    /// Names never bundled, at any depth: version-control metadata and the ignore file itself.
    static let alwaysSkipped: Set<String> = [".git", ".hg", ".svn", ignoreFileName]
    static let ignoreFileName = ".slipwayignore"

    let directory: URL
    let entries: [Entry]
    /// Things that were neither files, directories nor links (sockets, pipes, devices) and were left out.
    let skippedSpecialFiles: [String]

    /// Lists the entries of `directory` in a deterministic order (depth first, the names of a directory in byte
    /// order, a directory before what it contains), leaving out version-control folders and what `.slipwayignore` excludes.
    init(directory: URL) throws {
        self.directory = directory.standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: self.directory.path, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw ClientError("\(directory.path) is not a directory")
        }
        let ignoreFile = self.directory.appendingPathComponent(Self.ignoreFileName)
        let rules = IgnoreRules(text: (try? String(contentsOf: ignoreFile, encoding: .utf8)) ?? "")
        var entries: [Entry] = []
        var special: [String] = []
        try Self.walk(
            self.directory.path, relative: "", rules: rules, into: &entries, special: &special)
        self.entries = entries
        self.skippedSpecialFiles = special
    }

    private static func walk(
        _ absolute: String, relative: String, rules: IgnoreRules, into entries: inout [Entry],
        special: inout [String]
    ) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: absolute)
        // Sorting the UTF-8 bytes gives the same order on every machine, whatever the locale.
        for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            guard !alwaysSkipped.contains(name) else { continue }
            let path = relative.isEmpty ? name : "\(relative)/\(name)"
            let full = "\(absolute)/\(name)"
            var info = stat()
            guard lstat(full, &info) == 0 else { throw ClientError("cannot read \(full)") }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard !rules.excludes(path, isDirectory: true) else { continue }
                entries.append(Entry(path: path, kind: .directory))
                try walk(full, relative: path, rules: rules, into: &entries, special: &special)
            case S_IFREG:
                guard !rules.excludes(path, isDirectory: false) else { continue }
                entries.append(Entry(path: path, kind: .file))
            case S_IFLNK:
                guard !rules.excludes(path, isDirectory: false) else { continue }
                let destination = try FileManager.default.destinationOfSymbolicLink(atPath: full)
                guard staysInside(link: path, destination: destination) else {
                    throw ClientError(
                        "\(path) links to \(destination), outside the bundle: agents refuse such links (exclude it in "
                            + "\(ignoreFileName) or link within the directory)")
                }
                entries.append(Entry(path: path, kind: .symlink(destination: destination)))
            default:
                if !rules.excludes(path, isDirectory: false) { special.append(path) }
            }
        }
    }

    /// Whether a relative link at `link` resolves, lexically, to a place inside the bundle.
    static func staysInside(link: String, destination: String) -> Bool {
        guard !destination.hasPrefix("/") else { return false }
        var depth = link.split(separator: "/").count - 1
        for component in destination.split(separator: "/") {
            switch component {
            case ".": continue
            case "..":
                depth -= 1
                if depth < 0 { return false }
            default: depth += 1
            }
        }
        return true
    }

    /// The AppSpec file at the root of the bundle: `appspec.yml`, else `appspec.yaml`.
    var appSpecPath: String? {
        ["appspec.yml", "appspec.yaml"].first { name in entries.contains { $0.path == name && $0.kind == .file } }
    }

    /// Checks the AppSpec as the agent will read it (EC2/on-premises); throws with every finding when it has errors,
    /// and returns the warnings otherwise.
    func validateAppSpec() throws -> [String] {
        guard let name = appSpecPath else {
            let onDisk = ["appspec.yml", "appspec.yaml"].contains {
                FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
            }
            throw ClientError(
                onDisk
                    ? "appspec.yml is excluded by \(Self.ignoreFileName); the bundle needs it at its root"
                    : "\(directory.path) has no appspec.yml (or appspec.yaml) at its root")
        }
        let url = directory.appendingPathComponent(name)
        guard let bytes = FileManager.default.contents(atPath: url.path) else {
            throw ClientError("cannot read \(url.path)")
        }
        let result = AppSpec.parse(bytes: bytes, options: .init(computePlatform: .server))
        let findings = result.renderedDiagnostics(file: name)
        guard result.isValid else {
            throw ClientError(
                "\(name) is invalid; nothing was uploaded:\n" + findings.joined(separator: "\n"))
        }
        return findings
    }

    /// Writes the zip to `destination` and returns its SHA-256 (hex). Modes (the executable bit of hook scripts)
    /// go into the external attributes, links are stored as links.
    @discardableResult
    func writeZip(to destination: URL) throws -> String {
        try? FileManager.default.removeItem(at: destination)
        let archive = try Archive(url: destination, accessMode: .create)
        for entry in entries {
            try archive.addEntry(
                with: entry.kind == .directory ? entry.path + "/" : entry.path, relativeTo: directory,
                compressionMethod: entry.kind == .file ? .deflate : .none)
        }
        return try Self.sha256(of: destination)
    }

    static func sha256(of file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(data: chunk)
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
