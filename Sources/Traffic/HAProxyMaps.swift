import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A map HAProxy loaded, by the file path its configuration names it by (`map_int(/etc/haproxy/split.map,blue)`):
/// the runtime API knows a map only by that exact text. The path goes into runtime API commands, so only an absolute
/// path of letters, digits and `/ - _ . + @ , = ~` is accepted; a space, `;`, `#`, `\`, `<` or a control character
/// could start another command, a payload or a comment, and a `..` component could name another file.
public struct HAProxyMapFile: Sendable, Hashable, CustomStringConvertible {
    /// The absolute path, as written in HAProxy's configuration.
    public let path: String

    /// Accepts `path` if it is absolute, at most 1024 bytes, made of the characters above and has no `..` component.
    public init(path: String) throws(HAProxyError) {
        guard Self.isValidPath(path) else {
            throw HAProxyError(
                "'\(path.debugDescription.dropFirst().dropLast())' cannot name an HAProxy map file: give the absolute "
                    + "path haproxy.cfg names the map by, made of letters, digits, '/', '-', '_', '.', '+', '@', ',', "
                    + "'=' and '~', with no '..' component, at most 1024 bytes.")
        }
        self.path = path
    }

    static func isValidPath(_ path: String) -> Bool {
        guard path.hasPrefix("/"), !path.hasSuffix("/"), path.utf8.count <= 1024 else { return false }
        let allowed = path.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: "="),
                UInt8(ascii: "~"):
                true
            default:
                false
            }
        }
        return allowed && !path.split(separator: "/").contains("..")
    }

    public var description: String { path }
}

/// One entry of an HAProxy map: a key and the value it gives (`0:9 green`: for a `map_int`, a key `lo:hi` matches
/// every integer from `lo` to `hi`). Keys and values go into runtime API commands and into the map file, so they hold
/// only letters, digits and `- _ . : / + , @ =`; whitespace, `;`, `#` or a control character would end the entry,
/// start another command or a comment.
public struct HAProxyMapEntry: Sendable, Hashable, CustomStringConvertible {
    public let key: String
    public let value: String

    /// Accepts `key` and `value` if each is 1 to 256 of the characters above.
    public init(key: String, value: String) throws(HAProxyError) {
        for (what, text) in [("key", key), ("value", value)] where !Self.isValidText(text) {
            throw HAProxyError(
                "'\(text.debugDescription.dropFirst().dropLast())' cannot be an HAProxy map \(what): Slipway writes "
                    + "letters, digits, '-', '_', '.', ':', '/', '+', ',', '@' and '=' (at most 256 characters).")
        }
        self.key = key
        self.value = value
    }

    static func isValidText(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 256
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                    UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "@"),
                    UInt8(ascii: "="):
                    true
                default:
                    false
                }
            }
    }

    /// The entry as a map file line has it: `key value`.
    public var description: String { "\(key) \(value)" }
}

extension HAProxyRuntime {
    /// The entries of the map's current version: `show map <file>`.
    public func mapEntries(of map: HAProxyMapFile) async throws(HAProxyError) -> [HAProxyMapEntry] {
        try HAProxyMapReply.entries(try await send("show map \(map.path)"), of: map, from: address)
    }

    /// Replaces the map's entries at once: `prepare map <file>` opens a new version, `add map @<version> <file> <key>
    /// <value>` fills it an entry per command, and `commit map @<version> <file>` makes it the current one. Requests
    /// see the old entries until the commit and the new ones after it, never a mix. If a step fails, the version is
    /// left uncommitted and the map keeps its entries.
    ///
    /// HAProxy forgets runtime changes when it reloads and reads the map file again: write the file too
    /// (``HAProxyMapFile/write(_:)``).
    public func replaceMap(_ map: HAProxyMapFile, with entries: [HAProxyMapEntry]) async throws(HAProxyError) {
        let version = try HAProxyMapReply.version(try await send("prepare map \(map.path)"), of: map, from: address)
        for entry in entries {
            try HAProxyMapReply.expectNoText(
                try await send("add map @\(version) \(map.path) \(entry.key) \(entry.value)"), of: map, from: address,
                doing: "add '\(entry)' to")
        }
        try HAProxyMapReply.expectNoText(
            try await send("commit map @\(version) \(map.path)"), of: map, from: address,
            doing: "commit the new entries of")
    }
}

/// What HAProxy answers the map commands.
enum HAProxyMapReply {
    /// `prepare map`'s `New version created: <N>`: N is 1 to 10 digits and fits HAProxy's 32-bit version counter.
    static func version(_ reply: String, of map: HAProxyMapFile, from address: HAProxyAddress) throws(HAProxyError)
        -> UInt32
    {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = "New version created: "
        guard text.hasPrefix(prefix) else {
            throw HAProxyError(explain(text, map: map, address: address, doing: "prepare a new version of"))
        }
        let digits = text.dropFirst(prefix.count)
        guard (1...10).contains(digits.utf8.count),
            digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let version = UInt32(digits)
        else {
            throw HAProxyError(
                "HAProxy at \(address) answered `prepare map \(map)` with a version Slipway cannot read: "
                    + "\(String(text.prefix(300)).debugDescription).")
        }
        return version
    }

    /// `show map`'s lines, `0x<address> <key> <value>` each; an empty reply is an empty map.
    static func entries(_ reply: String, of map: HAProxyMapFile, from address: HAProxyAddress) throws(HAProxyError)
        -> [HAProxyMapEntry]
    {
        let lines = reply.split(separator: "\n")
        if let first = lines.first, !first.hasPrefix("0x") {
            let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
            throw HAProxyError(explain(text, map: map, address: address, doing: "read"))
        }
        var entries: [HAProxyMapEntry] = []
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            let pointer = fields.first?.dropFirst(2) ?? ""
            guard fields.count == 3, fields[0].hasPrefix("0x"), (1...16).contains(pointer.utf8.count),
                pointer.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit }),
                let entry = try? HAProxyMapEntry(key: String(fields[1]), value: String(fields[2]))
            else {
                throw HAProxyError(
                    "HAProxy at \(address) answered `show map \(map)` with a line that is not `0x<address> <key> "
                        + "<value>`: \(String(line.prefix(300)).debugDescription).")
            }
            entries.append(entry)
        }
        return entries
    }

    /// `add map` and `commit map` answer nothing when they succeed; any text is HAProxy's refusal.
    static func expectNoText(
        _ reply: String, of map: HAProxyMapFile, from address: HAProxyAddress, doing what: String
    ) throws(HAProxyError) {
        let text = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        throw HAProxyError(explain(text, map: map, address: address, doing: what))
    }

    /// HAProxy's refusal of a map command, with what to do about it.
    static func explain(_ text: String, map: HAProxyMapFile, address: HAProxyAddress, doing what: String) -> String {
        let shown = String(text.prefix(300))
        switch shown {
        case "Unknown map identifier. Please use #<id> or <file>.":
            return "HAProxy at \(address) has loaded no map from '\(map)': give the path exactly as haproxy.cfg "
                + "writes it in map_int(...), and reload HAProxy after adding the map to its configuration."
        case "Permission denied":
            return "HAProxy at \(address) refused to \(what) map \(map): its stats socket needs `level admin`."
        case "Version number out of range.":
            return "HAProxy at \(address) refused to \(what) map \(map): another change of the map was committed "
                + "after this one was prepared. Read the map again and retry."
        case "":
            return "HAProxy at \(address) answered nothing when asked to \(what) map \(map)."
        default:
            let printable = !shown.unicodeScalars.contains { $0.properties.generalCategory == .control }
            return "HAProxy at \(address) refused to \(what) map \(map): \(printable ? shown : shown.debugDescription)"
        }
    }
}

/// A share of requests between two HAProxy backends, blue (the one in service) and green (the one taking over), as
/// a map of `rand(100)` to backend names. HAProxy's configuration routes by it:
///
/// ```
/// frontend fe
///     acl green_ok nbsrv(green) gt 0
///     use_backend green if green_ok { rand(100),map_int(/etc/haproxy/split.map,blue) -m str green }
///     default_backend blue
/// ```
///
/// `rand(100)` draws 0 to 99; the entries send `0:(p-1)` to green and `p:99` to blue, so p % of requests go to
/// green. The `nbsrv` guard keeps every request on blue while green has no server up.
public struct TrafficSplit: Sendable, Hashable {
    /// The share of requests green gets, 0 to 100.
    public let greenPercent: Int
    /// The backend the rest go to.
    public let blueBackend: String
    /// The backend that gets `greenPercent` % of requests.
    public let greenBackend: String

    /// Refuses a share outside 0...100, a backend name HAProxy would not allow (see ``HAProxyServer``) and the same
    /// backend on both sides.
    public init(greenPercent: Int, blue: String, green: String) throws(HAProxyError) {
        guard (0...100).contains(greenPercent) else {
            throw HAProxyError("\(greenPercent) % cannot be a traffic share: give a whole percent from 0 to 100.")
        }
        for (what, name) in [("blue", blue), ("green", green)] where !HAProxyServer.isValidName(name) {
            throw HAProxyError(
                "'\(name.debugDescription.dropFirst().dropLast())' cannot be the \(what) HAProxy backend: HAProxy "
                    + "allows letters, digits, '-', '_', '.' and ':' (at most 100 characters).")
        }
        guard blue != green else {
            throw HAProxyError("a traffic split needs two backends; '\(blue)' was given as both blue and green.")
        }
        self.greenPercent = greenPercent
        blueBackend = blue
        greenBackend = green
    }

    /// Reads the share back from a map's entries; `nil` when they are not the entries ``entries`` gives for some
    /// share between `blue` and `green` (in either order).
    public init?(entries: [HAProxyMapEntry], blue: String, green: String) {
        for percent in 0...100 {
            guard let split = try? TrafficSplit(greenPercent: percent, blue: blue, green: green) else { return nil }
            if Set(split.entries) == Set(entries) && split.entries.count == entries.count {
                self = split
                return
            }
        }
        return nil
    }

    /// The map's entries: `0:(p-1) green` and `p:99 blue`; only `0:99 blue` at 0 %, only `0:99 green` at 100 %.
    public var entries: [HAProxyMapEntry] {
        // The names were checked by init, and `lo:hi` holds digits and ':' only.
        switch greenPercent {
        case 0: [try! HAProxyMapEntry(key: "0:99", value: blueBackend)]
        case 100: [try! HAProxyMapEntry(key: "0:99", value: greenBackend)]
        default:
            [
                try! HAProxyMapEntry(key: "0:\(greenPercent - 1)", value: greenBackend),
                try! HAProxyMapEntry(key: "\(greenPercent):99", value: blueBackend),
            ]
        }
    }

    /// The map file's text: a comment, then an entry per line. HAProxy reads it when it starts or reloads.
    public var fileContents: String {
        "# Written by Slipway: \(greenPercent) % of requests to \(greenBackend), the rest to \(blueBackend).\n"
            + entries.map { "\($0)\n" }.joined()
    }
}

extension HAProxyMapFile {
    /// Whether the path holds, on this machine, a map file Slipway may rewrite: a regular file of at most 64 KiB
    /// whose lines are blank, comments, or `<number or range> <name>` entries. The path comes from a deployment
    /// group, so without this check whoever may create one could have Slipway overwrite any file it can write.
    public var holdsSplitEntries: Bool {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size <= 65_536,
            let data = FileManager.default.contents(atPath: path), data.count <= 65_536,
            let text = String(data: data, encoding: .utf8)
        else { return false }
        return text.split(whereSeparator: \.isNewline).allSatisfy { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty || fields[0].hasPrefix("#") { return true }
            guard fields.count == 2 else { return false }
            let bounds = fields[0].split(separator: ":", omittingEmptySubsequences: false)
            return (1...2).contains(bounds.count)
                && bounds.allSatisfy {
                    !$0.isEmpty && $0.count <= 10 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber)
                }
                && HAProxyServer.isValidName(String(fields[1]))
        }
    }

    /// Writes `split` to the map file, which HAProxy reads again when it reloads (runtime changes are lost then), so
    /// that a reload keeps the share. The file is replaced at once: the text goes to a new file of the same directory
    /// (created exclusively, so a symlink already at that name is never followed), which is synced and renamed over
    /// the path; readers see the old file or the new one. The file's mode is 0644, so that HAProxy can read it. A
    /// symlink at the path itself is replaced, not followed.
    public func write(_ split: TrafficSplit) throws(HAProxyError) {
        try write(split.fileContents, temporaryName: ".\(name).slipway-\(UInt64.random(in: .min ... .max)).tmp")
    }

    /// The file's name, after the last `/`.
    private var name: Substring { path[path.index(after: path.lastIndex(of: "/")!)...] }

    /// The directory holding the file.
    private var directory: String {
        let slash = path.lastIndex(of: "/")!
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Writes `contents` to `<directory>/<temporaryName>`, then renames it over the path.
    func write(_ contents: String, temporaryName: String) throws(HAProxyError) {
        let temporary = (directory == "/" ? "" : directory) + "/" + temporaryName
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw fileError("create \(temporary)") }
        var written = false
        defer {
            if !written { unlink(temporary) }
        }
        var bytes = Array(contents.utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let error = fileError("write \(temporary)")
                close(descriptor)
                throw error
            }
            bytes = bytes.dropFirst(count)
        }
        guard fchmod(descriptor, 0o644) == 0, fsync(descriptor) == 0 else {
            let error = fileError("write \(temporary)")
            close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else { throw fileError("write \(temporary)") }
        guard rename(temporary, path) == 0 else { throw fileError("rename \(temporary) to \(path)") }
        written = true
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private func fileError(_ what: String) -> HAProxyError {
        HAProxyError(
            "cannot \(what): \(String(cString: strerror(errno))). The map file's directory must exist and be "
                + "writable by Slipway.")
    }
}

/// `write(2)`, named apart from ``HAProxyMapFile/write(_:)``.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.write(descriptor, bytes, count)
    #else
        Darwin.write(descriptor, bytes, count)
    #endif
}
