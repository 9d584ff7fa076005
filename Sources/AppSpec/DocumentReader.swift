import Yams

/// One key of a mapping, with the field path of its value.
struct MappingEntry {
    var key: String
    var keyNode: Node
    var value: Node
    var path: String
}

/// Reads an AppSpec document: prepares the bytes, runs the preflight, composes the YAML tree with Yams, and hands
/// the root to the reader of the right platform. Collects every finding rather than stopping at the first.
struct DocumentReader {
    let options: AppSpecParseOptions
    private(set) var diagnostics: [AppSpecDiagnostic] = []

    init(options: AppSpecParseOptions) {
        self.options = options
    }

    mutating func read(_ input: [UInt8]) -> AppSpec? {
        var bytes = input
        if bytes.count > options.limits.maximumBytes {
            error(
                "",
                nil,
                "the file is \(bytes.count) bytes; an AppSpec file may be at most "
                    + "\(options.limits.maximumBytes) bytes"
            )
            return nil
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }

        let report: PreflightReport
        switch YAMLPreflight.check(bytes, limits: options.limits) {
        case .failure(let failure):
            diagnostics.append(
                AppSpecDiagnostic(severity: .error, path: "", location: failure.location, message: failure.message)
            )
            return nil
        case .success(let success):
            report = success
        }
        guard report.documents > 0 else {
            emptyFile()
            return nil
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            error("", nil, "the file is not UTF-8 text")
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let yamlError as YamlError {
            composeFailure(yamlError)
            return nil
        } catch {
            self.error("", nil, "the file is not valid YAML: \(error)")
            return nil
        }
        guard let root, !isNull(root) else {
            emptyFile()
            return nil
        }
        guard case .mapping = root else {
            error(
                "",
                root,
                "an AppSpec file is a mapping of keys such as version, os, files and hooks; this document is "
                    + describe(root)
            )
            return nil
        }
        switch platform(of: root) {
        case .server:
            var reader = ServerAppSpecReader(document: self)
            let spec = reader.read(root)
            diagnostics = reader.document.diagnostics
            return spec.map(AppSpec.server)
        case .lambda:
            var reader = LambdaAppSpecReader(document: self)
            let spec = reader.read(root)
            diagnostics = reader.document.diagnostics
            return spec.map(AppSpec.lambda)
        case .ecs:
            var reader = ECSAppSpecReader(document: self)
            let spec = reader.read(root)
            diagnostics = reader.document.diagnostics
            return spec.map(AppSpec.ecs)
        }
    }

    /// Findings without a location first, then in document order; the order of findings at one place is kept.
    func sortedDiagnostics() -> [AppSpecDiagnostic] {
        diagnostics.enumerated().sorted { left, right in
            switch (left.element.location, right.element.location) {
            case (nil, nil): return left.offset < right.offset
            case (nil, _): return true
            case (_, nil): return false
            case (let l?, let r?): return l == r ? left.offset < right.offset : l < r
            }
        }.map(\.element)
    }

    // MARK: - Platform

    private func platform(of root: Node) -> ComputePlatform {
        if let given = options.computePlatform { return given }
        guard let resources = root.mapping?.first(where: { $0.key.scalar?.string.lowercased() == "resources" })?.value
        else { return .server }
        for resource in resources.sequence ?? [] {
            for (_, body) in resource.mapping ?? [:] {
                for (key, value) in body.mapping ?? [:] where key.scalar?.string.lowercased() == "type" {
                    switch value.scalar?.string {
                    case "AWS::ECS::Service": return .ecs
                    case "AWS::Lambda::Function": return .lambda
                    default: break
                    }
                }
            }
        }
        // No recognisable resource type: a file with `os` is an EC2/on-premises AppSpec with a stray key; otherwise
        // guess from the spelling, Lambda's lower-case `resources` or ECS's capitalised one.
        if root.mapping?.contains(where: { $0.key.scalar?.string == "os" }) == true { return .server }
        let key = root.mapping?.first(where: { $0.key.scalar?.string.lowercased() == "resources" })?.key.scalar?.string
        return key == "Resources" ? .ecs : .lambda
    }

    // MARK: - Failures of the whole file

    private mutating func emptyFile() {
        error(
            "",
            nil,
            "the application specification file was empty: an AppSpec file must define at minimum version and os "
                + "(EC2/on-premises) or version and resources (Lambda, ECS)"
        )
    }

    private mutating func composeFailure(_ failure: YamlError) {
        switch failure {
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "`\($0)`" }.joined(separator: ", ")
            diagnostics.append(
                AppSpecDiagnostic(
                    severity: .error,
                    path: "",
                    location: SourcePosition(line: context.mark.line, column: context.mark.column),
                    message: "duplicate key \(keys) in one mapping: give each key once"
                )
            )
        case .composer(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .scanner(_, let problem, let mark, _):
            diagnostics.append(
                AppSpecDiagnostic(
                    severity: .error,
                    path: "",
                    location: SourcePosition(line: mark.line, column: mark.column),
                    message: "the file is not valid YAML: \(problem)"
                )
            )
        default:
            error("", nil, "the file is not valid YAML: \(failure)")
        }
    }

    // MARK: - Recording findings

    mutating func error(_ path: String, _ node: Node?, _ message: String) {
        record(.error, path, node, message)
    }

    mutating func warning(_ path: String, _ node: Node?, _ message: String) {
        record(.warning, path, node, message)
    }

    private mutating func record(
        _ severity: AppSpecDiagnostic.Severity, _ path: String, _ node: Node?, _ message: String
    ) {
        diagnostics.append(
            AppSpecDiagnostic(
                severity: severity,
                path: Self.printable(path),
                location: location(of: node),
                message: Self.printable(message)
            )
        )
    }

    /// Text quoted from the file, made safe to print on a terminal and kept to a readable length: control
    /// characters become `?`, and anything past 300 characters is cut.
    static func printable(_ text: String) -> String {
        let limit = 300
        var scalars = String.UnicodeScalarView()
        for (index, scalar) in text.unicodeScalars.enumerated() {
            if index == limit {
                scalars.append("…")
                break
            }
            scalars.append(scalar.properties.generalCategory == .control ? "?" : scalar)
        }
        return String(scalars)
    }

    func location(of node: Node?) -> SourcePosition? {
        node?.mark.map { SourcePosition(line: $0.line, column: $0.column) }
    }

    // MARK: - Reading nodes

    /// Whether the node is YAML's null: an empty value, `~` or `null`, unquoted.
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// Words for the kind of a node, for "found …" in messages.
    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull(node) { return "empty (null)" }
            let text = scalar.string.count > 40 ? String(scalar.string.prefix(40)) + "…" : scalar.string
            return "the value \(quoted(text))"
        }
    }

    func quoted(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined() + "\""
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func join(_ path: String, index: Int) -> String { "\(path)[\(index)]" }

    /// The entries of a mapping whose keys are scalars; an error (and `nil`) for anything else. Null gives no entries.
    mutating func mapping(_ node: Node, at path: String, what: String) -> [MappingEntry]? {
        if isNull(node) { return [] }
        guard case .mapping(let mapping) = node else {
            error(path, node, "\(what) must be a mapping; found \(describe(node))")
            return nil
        }
        var entries: [MappingEntry] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                error(path, key, "a key in \(what) must be a plain name; found \(describe(key))")
                continue
            }
            entries.append(
                MappingEntry(key: scalar.string, keyNode: key, value: value, path: Self.join(path, scalar.string)))
        }
        return entries
    }

    /// The items of a list; an error (and `nil`) for anything else. Null gives no items.
    mutating func list(_ node: Node, at path: String, what: String) -> [Node]? {
        if isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            error(path, node, "\(what) must be a list; found \(describe(node))")
            return nil
        }
        return Array(sequence)
    }

    /// A scalar's text as written (whatever YAML 1.1 would resolve it to); `nil` for null, and an error for a list or
    /// a mapping.
    mutating func string(_ node: Node, at path: String, what: String) -> String? {
        if isNull(node) { return nil }
        guard case .scalar(let scalar) = node else {
            error(path, node, "\(what) must be a single value; found \(describe(node))")
            return nil
        }
        return scalar.string
    }

    /// A boolean written as YAML 1.1 allows (`true`/`false`, `yes`/`no`, `on`/`off`); an error for anything else.
    mutating func bool(_ node: Node, at path: String, what: String) -> Bool? {
        if isNull(node) { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else {
            error(path, node, "\(what) must be true or false; found \(describe(node))")
            return nil
        }
        switch scalar.string.lowercased() {
        case "true", "yes", "on", "y": return true
        case "false", "no", "off", "n": return false
        default:
            error(path, node, "\(what) must be true or false; found \(describe(node))")
            return nil
        }
    }

    /// A whole number written in decimal; an error for anything else.
    mutating func integer(_ node: Node, at path: String, what: String) -> Int? {
        if isNull(node) { return nil }
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            error(path, node, "\(what) must be a whole number; found \(describe(node))")
            return nil
        }
        return value
    }

    /// Warns about keys a reader does not know, naming the key it probably meant when only the case differs.
    mutating func warnUnknownKeys(_ entries: [MappingEntry], known: [String], in what: String, ignoredBy: String) {
        for entry in entries where !known.contains(entry.key) {
            if let meant = known.first(where: { $0.lowercased() == entry.key.lowercased() }) {
                warning(
                    entry.path,
                    entry.keyNode,
                    "unknown key `\(entry.key)` in \(what) is ignored (\(ignoredBy)); keys are case-sensitive: "
                        + "did you mean `\(meant)`?"
                )
            } else {
                let list = known.map { "`\($0)`" }.joined(separator: ", ")
                warning(
                    entry.path,
                    entry.keyNode,
                    "unknown key `\(entry.key)` in \(what) is ignored (\(ignoredBy)); known keys: \(list)"
                )
            }
        }
    }

    /// Reports `version` unless it is the number 0.0 (compared as a number, as the stock agent does).
    mutating func checkVersion(_ node: Node?, path: String, parent: Node) {
        guard let node else {
            error(
                path, parent,
                "invalid version value (missing): make sure the AppSpec file specifies \"0.0\" as the version")
            return
        }
        guard case .scalar(let scalar) = node else {
            error(
                path, node,
                "invalid version value (\(describe(node))): make sure the AppSpec file specifies \"0.0\" as the version"
            )
            return
        }
        let plain = scalar.style == .plain || scalar.style == .any
        if plain, isZeroNumber(scalar.string) { return }
        let hint = plain ? "" : "; write it unquoted, as a number: `version: 0.0`"
        error(
            path,
            node,
            "invalid version value (\(scalar.string)): make sure the AppSpec file specifies \"0.0\" as the version\(hint)"
        )
    }

    private func isZeroNumber(_ text: String) -> Bool {
        let allowed = Set("0123456789+-.eE")
        guard !text.isEmpty, text.allSatisfy({ allowed.contains($0) }), text.contains(where: \.isNumber),
            let value = Double(text)
        else { return false }
        return value == 0
    }
}
