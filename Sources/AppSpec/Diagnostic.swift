/// A position in an AppSpec file: 1-based line and column (columns count Unicode scalars).
public struct SourcePosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The line, from 1.
    public var line: Int
    /// The column, from 1, counted in Unicode scalars.
    public var column: Int

    /// A location at `line`:`column`.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`, as editors and compilers print it.
    public var description: String { "\(line):\(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One finding about an AppSpec file: an error (the file is rejected) or a warning (accepted, but probably not
/// what its author meant).
public struct AppSpecDiagnostic: Hashable, Sendable, CustomStringConvertible {
    /// Whether the finding rejects the file.
    public enum Severity: String, Hashable, Sendable {
        case error
        case warning
    }

    /// Error or warning.
    public var severity: Severity
    /// Where in the document the finding is, as a field path such as `hooks.AfterInstall[0].timeout`; empty for the
    /// document as a whole.
    public var path: String
    /// The line and column of the offending node, when the finding has one.
    public var location: SourcePosition?
    /// What is wrong and, where it helps, how to fix it. Keeps the stock agent's wording where users search for it.
    public var message: String

    /// A finding with all its parts.
    public init(severity: Severity, path: String, location: SourcePosition?, message: String) {
        self.severity = severity
        self.path = path
        self.location = location
        self.message = message
    }

    /// `line:column: severity: path: message`, without a file name.
    public var description: String { rendered(file: nil) }

    /// The finding as one line, `file:line:column: severity: path: message`, leaving out the parts it lacks.
    public func rendered(file: String?) -> String {
        var prefix = ""
        if let file { prefix += "\(file):" }
        if let location { prefix += "\(location):" }
        if !prefix.isEmpty { prefix += " " }
        let field = path.isEmpty ? "" : "\(path): "
        return "\(prefix)\(severity.rawValue): \(field)\(message)"
    }
}

/// The errors that rejected an AppSpec file, with the warnings found along the way.
public struct AppSpecError: Error, Sendable, CustomStringConvertible {
    /// Every finding, errors and warnings, in document order.
    public var diagnostics: [AppSpecDiagnostic]

    /// An error carrying these findings.
    public init(diagnostics: [AppSpecDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// The findings that reject the file.
    public var errors: [AppSpecDiagnostic] { diagnostics.filter { $0.severity == .error } }

    /// One finding per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
