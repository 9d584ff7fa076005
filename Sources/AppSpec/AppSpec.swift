import SlipwayModel

/// A parsed and validated AppSpec file, for one of CodeDeploy's three compute platforms.
public enum AppSpec: Hashable, Sendable {
    /// EC2 or on-premises hosts: files to install, permissions, hook scripts.
    case server(ServerAppSpec)
    /// A Lambda function alias shifted from one version to another.
    case lambda(LambdaAppSpec)
    /// An ECS service given a new task set.
    case ecs(ECSAppSpec)

    /// The platform this AppSpec deploys to.
    public var computePlatform: ComputePlatform {
        switch self {
        case .server: .server
        case .lambda: .lambda
        case .ecs: .ecs
        }
    }

    /// The EC2/on-premises AppSpec, if this is one.
    public var server: ServerAppSpec? {
        if case .server(let spec) = self { spec } else { nil }
    }

    /// The Lambda AppSpec, if this is one.
    public var lambda: LambdaAppSpec? {
        if case .lambda(let spec) = self { spec } else { nil }
    }

    /// The ECS AppSpec, if this is one.
    public var ecs: ECSAppSpec? {
        if case .ecs(let spec) = self { spec } else { nil }
    }
}

/// CodeDeploy's compute platforms, by the names `slipway appspec validate --compute-platform` takes.
public enum ComputePlatform: String, CaseIterable, Hashable, Sendable {
    /// EC2 instances and on-premises hosts (CodeDeploy's `Server`).
    case server
    /// AWS Lambda.
    case lambda
    /// Amazon ECS.
    case ecs
}

/// The operating system an EC2/on-premises AppSpec targets (`os:`).
public enum OperatingSystem: String, CaseIterable, Hashable, Sendable {
    case linux
    case windows
}

/// What to do when a file the AppSpec installs already exists at its destination (`file_exists_behavior:`).
public enum FileExistsBehavior: String, CaseIterable, Hashable, Sendable {
    /// Fail the deployment (CodeDeploy's default).
    case disallow = "DISALLOW"
    /// Replace the existing file.
    case overwrite = "OVERWRITE"
    /// Keep the existing file and skip the new one.
    case retain = "RETAIN"
}

/// The outcome of reading an AppSpec: the value when there is no error, and every finding either way.
public struct AppSpecParseResult: Sendable {
    /// The AppSpec, present exactly when ``errors`` is empty.
    public var appSpec: AppSpec?
    /// Errors and warnings, in document order (findings without a location first).
    public var diagnostics: [AppSpecDiagnostic]

    /// A result from its parts.
    public init(appSpec: AppSpec?, diagnostics: [AppSpecDiagnostic]) {
        self.appSpec = appSpec
        self.diagnostics = diagnostics
    }

    /// The findings that reject the file.
    public var errors: [AppSpecDiagnostic] { diagnostics.filter { $0.severity == .error } }
    /// The findings that leave the file accepted.
    public var warnings: [AppSpecDiagnostic] { diagnostics.filter { $0.severity == .warning } }
    /// Whether the file was accepted.
    public var isValid: Bool { appSpec != nil }

    /// The AppSpec, or an ``AppSpecError`` carrying every finding.
    public func get() throws(AppSpecError) -> AppSpec {
        guard let appSpec else { throw AppSpecError(diagnostics: diagnostics) }
        return appSpec
    }
}

/// How to read an AppSpec: what the caller already knows about the deployment, and the limits that protect the
/// process from hostile input.
public struct AppSpecParseOptions: Hashable, Sendable {
    /// The deployment's compute platform; `nil` tells it from the document (`resources` with a Lambda function or an
    /// ECS service, otherwise EC2/on-premises).
    public var computePlatform: ComputePlatform?
    /// The operating system of the host that will install the revision; `nil` accepts `linux` and `windows`.
    public var operatingSystem: OperatingSystem?
    /// Size, depth and alias limits.
    public var limits: AppSpecLimits

    /// Options; by default the platform is told from the document and either operating system is accepted.
    public init(
        computePlatform: ComputePlatform? = nil,
        operatingSystem: OperatingSystem? = nil,
        limits: AppSpecLimits = AppSpecLimits()
    ) {
        self.computePlatform = computePlatform
        self.operatingSystem = operatingSystem
        self.limits = limits
    }
}

/// Bounds on the input that keep a hostile file from exhausting memory, time or the stack. Real AppSpec files are
/// far below every default.
public struct AppSpecLimits: Hashable, Sendable {
    /// The largest file accepted, in bytes (default 1 MiB).
    public var maximumBytes: Int
    /// The deepest nesting of sequences and mappings accepted (default 64; an AppSpec needs about 6).
    public var maximumDepth: Int
    /// The most nodes the document may have once every alias is expanded (default 100,000). This is what stops
    /// "billion laughs" documents.
    public var maximumNodes: Int

    /// Limits, by default 1 MiB, depth 64 and 100,000 expanded nodes.
    public init(maximumBytes: Int = 1 << 20, maximumDepth: Int = 64, maximumNodes: Int = 100_000) {
        self.maximumBytes = maximumBytes
        self.maximumDepth = maximumDepth
        self.maximumNodes = maximumNodes
    }
}

extension AppSpec {
    /// Reads an AppSpec from its text (YAML or JSON). Never throws: every problem is a diagnostic in the result.
    public static func parse(_ text: String, options: AppSpecParseOptions = AppSpecParseOptions()) -> AppSpecParseResult
    {
        parse(bytes: Array(text.utf8), options: options)
    }

    /// Reads an AppSpec from the bytes of a file: UTF-8, with or without a byte-order mark, LF or CRLF line endings.
    public static func parse(
        bytes: some Collection<UInt8>,
        options: AppSpecParseOptions = AppSpecParseOptions()
    ) -> AppSpecParseResult {
        var reader = DocumentReader(options: options)
        let appSpec = reader.read(Array(bytes))
        let diagnostics = reader.sortedDiagnostics()
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return AppSpecParseResult(appSpec: hasErrors ? nil : appSpec, diagnostics: diagnostics)
    }

    /// Reads an inline AppSpec (a revision's `appSpecContent` or `string`): when `sha256` is given, the content must
    /// hash to it (hexadecimal, either case) before it is parsed.
    public static func parseInline(
        content: String,
        sha256: String?,
        options: AppSpecParseOptions = AppSpecParseOptions()
    ) -> AppSpecParseResult {
        if let expected = sha256?.trimmingWhitespace(), !expected.isEmpty {
            let actual = SHA256Digest.hex(of: Array(content.utf8))
            if actual != expected.lowercased() {
                let message =
                    "the AppSpec content does not match its SHA-256: the revision gives \(expected), "
                    + "the content hashes to \(actual)"
                return AppSpecParseResult(
                    appSpec: nil,
                    diagnostics: [AppSpecDiagnostic(severity: .error, path: "", location: nil, message: message)]
                )
            }
        }
        return parse(content, options: options)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
