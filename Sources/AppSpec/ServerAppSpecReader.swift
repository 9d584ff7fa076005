import SlipwayModel
import Yams

/// Reads and validates an EC2/on-premises AppSpec (the rules of CodeDeploy's agent, with clearer messages).
struct ServerAppSpecReader {
    var document: DocumentReader

    private static let topLevelKeys = ["version", "os", "files", "file_exists_behavior", "permissions", "hooks"]
    private static let ignoredBy = "CodeDeploy ignores it silently"

    mutating func read(_ root: Node) -> ServerAppSpec? {
        guard let entries = document.mapping(root, at: "", what: "the AppSpec") else { return nil }
        func value(_ key: String) -> MappingEntry? { entries.first { $0.key == key } }
        document.warnUnknownKeys(entries, known: Self.topLevelKeys, in: "the AppSpec", ignoredBy: Self.ignoredBy)

        document.checkVersion(value("version")?.value, path: "version", parent: root)
        let os = readOS(value("os"), root: root)
        let files = value("files").map { readFiles($0) } ?? []
        let fileExistsBehavior = value("file_exists_behavior").flatMap { readFileExistsBehavior($0) }
        var permissions: [Permission] = []
        if let entry = value("permissions") {
            permissions = readPermissions(entry)
            if os == .windows, !permissions.isEmpty {
                document.error(
                    entry.path,
                    entry.keyNode,
                    "the AppSpec file specifies file permissions, but the deployment is targeting Windows, "
                        + "where permissions are not supported; remove the permissions section"
                )
            }
        }
        let hooks = value("hooks").map { readHooks($0, os: os) } ?? [:]
        guard let os else { return nil }
        return ServerAppSpec(
            os: os,
            files: files,
            fileExistsBehavior: fileExistsBehavior,
            permissions: permissions,
            hooks: hooks
        )
    }

    // MARK: - os, file_exists_behavior

    private mutating func readOS(_ entry: MappingEntry?, root: Node) -> OperatingSystem? {
        guard let entry else {
            document.error("os", root, "unsupported operating system (missing): add `os: linux` or `os: windows`")
            return nil
        }
        let text = document.string(entry.value, at: entry.path, what: "os")
        guard let text else {
            if document.isNull(entry.value) {
                document.error(entry.path, entry.value, "unsupported operating system (empty): use linux or windows")
            }
            return nil
        }
        guard let os = OperatingSystem(rawValue: text) else {
            document.error(
                entry.path,
                entry.value,
                "unsupported operating system (\(text)): use linux or windows, in lower case"
            )
            return nil
        }
        if let host = document.options.operatingSystem, host != os {
            document.error(
                entry.path,
                entry.value,
                "unsupported operating system (\(text)): the deployment is targeting \(host.rawValue) hosts"
            )
        }
        return os
    }

    private mutating func readFileExistsBehavior(_ entry: MappingEntry) -> FileExistsBehavior? {
        guard let text = document.string(entry.value, at: entry.path, what: "file_exists_behavior") else { return nil }
        guard let behavior = FileExistsBehavior(rawValue: text) else {
            document.error(
                entry.path,
                entry.value,
                "invalid file_exists_behavior value (\(text)): use DISALLOW, OVERWRITE or RETAIN, in upper case"
            )
            return nil
        }
        return behavior
    }

    // MARK: - files

    private mutating func readFiles(_ entry: MappingEntry) -> [FileMapping] {
        guard let items = document.list(entry.value, at: entry.path, what: "files") else { return [] }
        var files: [FileMapping] = []
        for (index, item) in items.enumerated() {
            let path = DocumentReader.join(entry.path, index: index)
            guard let fields = document.mapping(item, at: path, what: "a files entry") else { continue }
            document.warnUnknownKeys(
                fields, known: ["source", "destination"], in: "a files entry", ignoredBy: Self.ignoredBy)
            let sourceEntry = fields.first { $0.key == "source" }
            let destinationEntry = fields.first { $0.key == "destination" }
            let source = sourceEntry.flatMap { document.string($0.value, at: $0.path, what: "source") }
            let destination = destinationEntry.flatMap { document.string($0.value, at: $0.path, what: "destination") }
            switch (source.flatMap(nonEmpty), destination.flatMap(nonEmpty)) {
            case (let source?, let destination?):
                if document.options.operatingSystem != .windows, !destination.hasPrefix("/"),
                    !Self.looksLikeWindowsPath(destination)
                {
                    document.warning(
                        destinationEntry!.path,
                        destinationEntry!.value,
                        "destination \(destination) is not an absolute path; the agent would resolve it against "
                            + "its own working directory"
                    )
                }
                files.append(FileMapping(source: source, destination: destination))
            case (nil, _?):
                document.error(
                    DocumentReader.join(path, "source"),
                    item,
                    "the AppSpec file specifies a destination file, but no source file"
                )
            case (let source?, nil):
                document.error(
                    DocumentReader.join(path, "destination"),
                    item,
                    "the AppSpec file specifies only a source file (\(source)); add its destination"
                )
            case (nil, nil):
                document.error(path, item, "a files entry needs a source and a destination")
            }
        }
        return files
    }

    private static func looksLikeWindowsPath(_ path: String) -> Bool {
        let characters = Array(path)
        return characters.count >= 2 && characters[0].isLetter && characters[1] == ":"
    }

    private func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    // MARK: - permissions

    private static let permissionKeys = [
        "object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type",
    ]

    private mutating func readPermissions(_ entry: MappingEntry) -> [Permission] {
        guard let items = document.list(entry.value, at: entry.path, what: "permissions") else { return [] }
        var permissions: [Permission] = []
        for (index, item) in items.enumerated() {
            let path = DocumentReader.join(entry.path, index: index)
            guard let fields = document.mapping(item, at: path, what: "a permissions entry") else { continue }
            if let permission = readPermission(fields, node: item, path: path) { permissions.append(permission) }
        }
        return permissions
    }

    private mutating func readPermission(_ fields: [MappingEntry], node: Node, path: String) -> Permission? {
        func field(_ key: String) -> MappingEntry? { fields.first { $0.key == key } }
        document.warnUnknownKeys(
            fields, known: Self.permissionKeys, in: "a permissions entry", ignoredBy: Self.ignoredBy)
        var valid = true

        let object = field("object").flatMap { document.string($0.value, at: $0.path, what: "object") }
        if object?.isEmpty ?? true {
            document.error(
                DocumentReader.join(path, "object"), field("object")?.value ?? node, "a permission has no object value")
            valid = false
        }
        var permission = Permission(object: object ?? "")
        if let entry = field("pattern") {
            if let pattern = document.string(entry.value, at: entry.path, what: "pattern") {
                if pattern.isEmpty {
                    document.error(
                        entry.path, entry.value, "pattern is empty: leave it out to match everything (\"**\")")
                    valid = false
                }
                permission.pattern = pattern
            }
        }
        if let entry = field("except") {
            permission.except = stringList(entry, what: "except")
        }
        permission.owner = field("owner").flatMap { document.string($0.value, at: $0.path, what: "owner") }
        permission.group = field("group").flatMap { document.string($0.value, at: $0.path, what: "group") }
        if let entry = field("mode"), let text = document.string(entry.value, at: entry.path, what: "mode") {
            switch FileMode.parse(text) {
            case .success(let mode): permission.mode = mode
            case .failure(let failure):
                document.error(entry.path, entry.value, failure.description)
                valid = false
            }
        }
        if let entry = field("acls") {
            for (index, text) in stringListWithNodes(entry, what: "acls") {
                switch ACLEntry.parse(text.0) {
                case .success(let acl): permission.acls.append(acl)
                case .failure(let failure):
                    document.error(DocumentReader.join(entry.path, index: index), text.1, failure.description)
                    valid = false
                }
            }
        }
        if let entry = field("context") {
            if let context = readContext(entry) {
                permission.context = context
            } else if !document.isNull(entry.value) {
                valid = false
            }
        }
        if let entry = field("type"), !document.isNull(entry.value) {
            var types = Set<PermissionObjectType>()
            for (index, text) in stringListWithNodes(entry, what: "type") {
                if let type = PermissionObjectType(rawValue: text.0) {
                    types.insert(type)
                } else {
                    document.error(
                        DocumentReader.join(entry.path, index: index),
                        text.1,
                        "object type not supported for permissions (\(text.0)): use file or directory"
                    )
                    valid = false
                }
            }
            if case .sequence(let items) = entry.value, items.isEmpty {
                document.warning(entry.path, entry.value, "type is an empty list: this permission applies to nothing")
            }
            permission.types = types
        }
        return valid ? permission : nil
    }

    private mutating func readContext(_ entry: MappingEntry) -> SELinuxContext? {
        guard let fields = document.mapping(entry.value, at: entry.path, what: "context"), !fields.isEmpty else {
            return nil
        }
        func field(_ key: String) -> MappingEntry? { fields.first { $0.key == key } }
        document.warnUnknownKeys(
            fields, known: ["name", "user", "type", "range"], in: "context", ignoredBy: Self.ignoredBy)
        var valid = true
        let name = field("name").flatMap { document.string($0.value, at: $0.path, what: "context name") }
        let user = field("user").flatMap { document.string($0.value, at: $0.path, what: "context user") }
        if let name, let user, name != user {
            document.error(
                field("user")!.path,
                field("user")!.value,
                "the SELinux user is given twice, as name (\(name)) and user (\(user)); give it once"
            )
            valid = false
        }
        let type = field("type").flatMap { document.string($0.value, at: $0.path, what: "context type") }
        if type?.isEmpty ?? true {
            document.error(
                DocumentReader.join(entry.path, "type"),
                field("type")?.value ?? entry.value,
                "invalid context type: an SELinux context needs a type, e.g. httpd_sys_content_t"
            )
            valid = false
        }
        var range: SELinuxRange?
        if let rangeEntry = field("range"),
            let text = document.string(rangeEntry.value, at: rangeEntry.path, what: "range")
        {
            switch SELinuxRange.parse(text) {
            case .success(let parsed): range = parsed
            case .failure(let failure):
                document.error(rangeEntry.path, rangeEntry.value, failure.description)
                valid = false
            }
        }
        guard valid, let type else { return nil }
        return SELinuxContext(user: name ?? user, type: type, range: range)
    }

    private mutating func stringList(_ entry: MappingEntry, what: String) -> [String] {
        stringListWithNodes(entry, what: what).map(\.1.0)
    }

    private mutating func stringListWithNodes(_ entry: MappingEntry, what: String) -> [(Int, (String, Node))] {
        guard let items = document.list(entry.value, at: entry.path, what: what) else { return [] }
        var result: [(Int, (String, Node))] = []
        for (index, item) in items.enumerated() {
            let path = DocumentReader.join(entry.path, index: index)
            if let text = document.string(item, at: path, what: "an item of \(what)") {
                result.append((index, (text, item)))
            }
        }
        return result
    }

    // MARK: - hooks

    private mutating func readHooks(_ entry: MappingEntry, os: OperatingSystem?) -> [LifecycleEvent: [HookScript]] {
        if case .sequence = entry.value {
            document.error(
                entry.path,
                entry.value,
                "hooks of an EC2/on-premises AppSpec must be a mapping of lifecycle event names to lists of scripts "
                    + "(a list of hooks is the Lambda and ECS form)"
            )
            return [:]
        }
        guard let events = document.mapping(entry.value, at: entry.path, what: "hooks") else { return [:] }
        var hooks: [LifecycleEvent: [HookScript]] = [:]
        for event in events {
            guard let lifecycleEvent = LifecycleEvent(rawValue: event.key), lifecycleEvent.isServerHook else {
                warnUnusableEvent(event)
                continue
            }
            guard let items = document.list(event.value, at: event.path, what: "the scripts of \(event.key)") else {
                continue
            }
            var scripts: [HookScript] = []
            for (index, item) in items.enumerated() {
                let path = DocumentReader.join(event.path, index: index)
                if let script = readScript(item, path: path, os: os) { scripts.append(script) }
            }
            if scripts.isEmpty { continue }
            hooks[lifecycleEvent] = scripts
            let total = scripts.reduce(0) { $0 + $1.timeout }
            if total > HookScript.defaultTimeout {
                document.warning(
                    event.path,
                    event.keyNode,
                    "the timeouts of \(event.key) add up to \(total) seconds; CodeDeploy allows one lifecycle event "
                        + "3600 seconds for all its scripts together"
                )
            }
        }
        return hooks
    }

    private mutating func warnUnusableEvent(_ event: MappingEntry) {
        if LifecycleEvent(rawValue: event.key) != nil {
            document.warning(
                event.path,
                event.keyNode,
                "\(event.key) runs no scripts on EC2/on-premises hosts; these scripts never run"
            )
            return
        }
        var message = "unknown lifecycle event \(event.key): its scripts never run"
        if let meant = LifecycleEvent.serverHooks.first(where: { $0.rawValue.lowercased() == event.key.lowercased() }) {
            message += "; event names are case-sensitive: did you mean \(meant.rawValue)?"
        } else {
            message +=
                "; the events that run scripts are "
                + LifecycleEvent.serverHooks.map(\.rawValue).joined(separator: ", ")
        }
        document.warning(event.path, event.keyNode, message)
    }

    private mutating func readScript(_ node: Node, path: String, os: OperatingSystem?) -> HookScript? {
        guard let fields = document.mapping(node, at: path, what: "a script") else { return nil }
        func field(_ key: String) -> MappingEntry? { fields.first { $0.key == key } }
        document.warnUnknownKeys(
            fields, known: ["location", "timeout", "runas", "sudo"], in: "a script", ignoredBy: Self.ignoredBy)
        var valid = true
        let location = field("location").flatMap { document.string($0.value, at: $0.path, what: "location") }
        if location?.isEmpty ?? true {
            document.error(
                DocumentReader.join(path, "location"),
                field("location")?.value ?? node,
                "the AppSpec file specifies a script with no location value"
            )
            valid = false
        }
        var timeout = HookScript.defaultTimeout
        if let entry = field("timeout"), let text = document.string(entry.value, at: entry.path, what: "timeout") {
            if let seconds = readTimeout(text, entry: entry) { timeout = seconds } else { valid = false }
        }
        let runas = field("runas").flatMap { document.string($0.value, at: $0.path, what: "runas") }
        if let entry = field("runas"), os == .windows, runas != nil {
            document.warning(
                entry.path, entry.value, "runas is ignored on Windows: the script runs as the agent's user")
        }
        var sudo = false
        if let entry = field("sudo"), !document.isNull(entry.value) {
            if let value = document.bool(entry.value, at: entry.path, what: "sudo") {
                sudo = value
            } else {
                valid = false
            }
        }
        guard valid, let location else { return nil }
        return HookScript(location: location, timeout: timeout, runas: runas, sudo: sudo)
    }

    /// The stock agent reads a timeout with Ruby's `to_i` (the leading digits; none is 0) and refuses what is not
    /// above 0. The same values are accepted here; trailing text it would drop earns a warning.
    private mutating func readTimeout(_ text: String, entry: MappingEntry) -> Int? {
        let trimmed = text.drop { $0 == " " || $0 == "\t" }
        var digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        if trimmed.first == "+" { digits = trimmed.dropFirst().prefix { $0.isASCII && $0.isNumber } }
        let negative = trimmed.first == "-"
        let value = negative ? 0 : (Int(digits.prefix(12)) ?? 0)
        guard value > 0 else {
            document.error(
                entry.path,
                entry.value,
                "invalid timeout value (\(text)): a timeout is a whole number of seconds greater than 0"
            )
            return nil
        }
        let consumed = (trimmed.first == "+" ? 1 : 0) + digits.count
        if consumed < trimmed.count {
            document.warning(
                entry.path,
                entry.value,
                "timeout \(text) is read as \(value) seconds, the way CodeDeploy reads it; write just the number"
            )
        }
        return value
    }
}
