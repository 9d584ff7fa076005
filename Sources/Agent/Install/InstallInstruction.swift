import AppSpec

/// One step of the Install step, as the stock agent writes it to `<deployment-group-id>-install.json`.
enum InstallInstruction: Hashable, Sendable {
    /// Copy a file or symbolic link of the revision to `destination` (the full path of the new entry).
    case copy(source: String, destination: String)
    /// Create a directory that does not exist yet.
    case mkdir(directory: String)
    /// Set the permission bits of an installed object.
    case chmod(mode: FileMode, file: String)
    /// Set the ACL of an installed object to the AppSpec's entries; the base entries are added from the object's
    /// mode when the step runs.
    case setfacl(acl: [ACLEntry], file: String)
    /// Give an installed object an SELinux file context.
    case semanage(context: SELinuxContext, file: String)
    /// Change the owner and/or group of an installed object.
    case chown(owner: String?, group: String?, file: String)

    /// The instruction as a JSON object, with the stock agent's keys in its order.
    var json: String {
        switch self {
        case .copy(let source, let destination):
            InstallJSON.object([("type", "copy"), ("source", source), ("destination", destination)])
        case .mkdir(let directory):
            InstallJSON.object([("type", "mkdir"), ("directory", directory)])
        case .chmod(let mode, let file):
            InstallJSON.object([("type", "chmod"), ("mode", mode.description), ("file", file)])
        case .setfacl(let acl, let file):
            "{\"type\":\"setfacl\",\"acl\":[" + acl.map { InstallJSON.string($0.longForm) }.joined(separator: ",")
                + "],\"file\":"
                + InstallJSON.string(file) + "}"
        case .semanage(let context, let file):
            "{\"type\":\"semanage\",\"context\":"
                + InstallJSON.object([
                    ("user", context.user), ("role", nil), ("type", context.type),
                    ("range", context.range?.description),
                ]) + ",\"file\":" + InstallJSON.string(file) + "}"
        case .chown(let owner, let group, let file):
            InstallJSON.object([("type", "chown"), ("owner", owner), ("group", group), ("file", file)])
        }
    }

    /// The whole `install.json` document: `{"instructions":[…]}`.
    static func document(_ instructions: [InstallInstruction]) -> String {
        "{\"instructions\":[" + instructions.map(\.json).joined(separator: ",") + "]}"
    }
}

extension ACLEntry {
    /// The entry as the stock agent records it: `[default:]user|group|mask|other:[name]:rwx` with all three
    /// permission letters (`-` for those not granted).
    var longForm: String {
        let tagName: String
        switch tag {
        case .user: tagName = "user"
        case .group: tagName = "group"
        case .mask: tagName = "mask"
        case .other: tagName = "other"
        }
        var read = false
        var write = false
        var execute = false
        if permissions.count == 1, let digit = permissions.first?.wholeNumberValue, digit < 8 {
            read = digit & 4 != 0
            write = digit & 2 != 0
            execute = digit & 1 != 0
        } else {
            read = permissions.contains("r")
            write = permissions.contains("w")
            execute = permissions.contains("x")
        }
        return (isDefault ? "default:" : "") + tagName + ":" + (name ?? "") + ":" + (read ? "r" : "-")
            + (write ? "w" : "-") + (execute ? "x" : "-")
    }
}

/// Just enough JSON writing for the instruction file. Written by hand because the stock format has a fixed key order
/// and unescaped slashes, which `JSONEncoder` does not promise.
enum InstallJSON {
    /// An object of string (or null) members, in the given order.
    static func object(_ members: [(String, String?)]) -> String {
        "{" + members.map { string($0.0) + ":" + ($0.1.map(string) ?? "null") }.joined(separator: ",") + "}"
    }

    /// A JSON string literal.
    static func string(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
