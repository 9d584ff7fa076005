import AppSpec
import AsyncHTTPClient
import Foundation
import Logging
import S3Transfer
import SigV4
import SlipwayModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a command ended, in the form the command API takes: a status, the diagnostics JSON, and the event's full log.
public struct CommandOutcome: Sendable, Hashable {
    public var succeeded: Bool
    /// `{"error_code":N,"script_name":"…","message":"…","log":"…"}`.
    public var diagnostics: String
    /// The event's output as written to `scripts.log` (empty for DownloadBundle and Install).
    public var eventLog: String
    public var message: String

    static func success(_ hooks: HookResult? = nil) -> CommandOutcome {
        guard let hooks else {
            return CommandOutcome(
                succeeded: true, diagnostics: Self.diagnostics(code: .succeeded, message: "Succeeded"), eventLog: "",
                message: "Succeeded")
        }
        return CommandOutcome(hooks)
    }

    init(_ hooks: HookResult) {
        succeeded = hooks.succeeded
        // The stock agent sends no output for a successful event; Slipway sends its tail too, so the API shows what
        // the scripts printed either way.
        diagnostics =
            hooks.succeeded
            ? Self.diagnostics(code: .succeeded, message: hooks.message, log: hooks.logTail) : hooks.diagnosticsPayload
        eventLog = hooks.eventLog
        message = hooks.message
    }

    init(succeeded: Bool, diagnostics: String, eventLog: String, message: String) {
        self.succeeded = succeeded
        self.diagnostics = diagnostics
        self.eventLog = eventLog
        self.message = message
    }

    /// A failure outside any script (download, unpack, install, a bad AppSpec): error code 5, as the stock agent.
    static func failure(_ message: String, code: ScriptErrorCode = .unknownError) -> CommandOutcome {
        CommandOutcome(
            succeeded: false, diagnostics: diagnostics(code: code, message: message), eventLog: "", message: message)
    }

    static func diagnostics(code: ScriptErrorCode, scriptName: String = "", message: String, log: String = "") -> String
    {
        let object: [String: Any] = [
            "error_code": code.rawValue, "script_name": scriptName, "message": message, "log": log,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Runs one host command on this host: DownloadBundle, Install, or a lifecycle event's scripts. The same code serves
/// `slipway agent` (commands from a server) and `slipway local` (commands made up from the command line).
public struct CommandExecutor: Sendable {
    public let layout: DeploymentLayout
    public let maxRevisions: Int
    /// The most a group's kept revisions may take on disk; nil: only `maxRevisions` limits them.
    public var revisionDiskBudget: Int64?
    let hooks: HookExecutor
    /// The running event's log, which the runner uploads while the event runs.
    package let liveLog = LiveEventLog()
    let unpacker: BundleUnpacker
    let downloader: BundleDownloader
    let logger: Logger

    public init(
        layout: DeploymentLayout, maxRevisions: Int, downloader: BundleDownloader, hooks: HookExecutor = HookExecutor(),
        unpacker: BundleUnpacker = BundleUnpacker(), logger: Logger
    ) {
        self.layout = layout
        self.maxRevisions = maxRevisions
        self.hooks = hooks
        self.unpacker = unpacker
        self.downloader = downloader
        self.logger = logger
    }

    /// Whether `command` has nothing to do: a lifecycle event without scripts in the AppSpec that applies to it.
    /// DownloadBundle and Install always work. An AppSpec that cannot be read is not a no-op: running the command
    /// reports the error.
    public func isNoop(_ command: String, spec: DeploymentSpec) -> Bool {
        switch command {
        case LifecycleEvent.downloadBundle.rawValue, LifecycleEvent.install.rawValue: return false
        default:
            guard let directory = layout.revisionDirectory(for: command, spec: spec) else { return true }
            guard let appSpec = try? loadAppSpec(in: directory, spec: spec) else { return false }
            guard let event = LifecycleEvent(rawValue: command) else { return false }
            return appSpec.scripts(for: event).isEmpty
        }
    }

    /// Runs `command`. Errors become failed outcomes with a message that says what to do; nothing throws.
    public func execute(_ command: String, spec: DeploymentSpec) async -> CommandOutcome {
        do {
            switch command {
            case LifecycleEvent.downloadBundle.rawValue:
                try await downloadBundle(spec)
                return .success()
            case LifecycleEvent.install.rawValue:
                let executor = self
                try await runOnOwnThread { try executor.install(spec) }
                return .success()
            default:
                return try await runHooks(command, spec: spec)
            }
        } catch is CancellationError {
            return .failure("\(command) was stopped: the agent is shutting down or the server withdrew the command")
        } catch {
            return .failure("\(command) failed: \(error)")
        }
    }

    // MARK: DownloadBundle

    func downloadBundle(_ spec: DeploymentSpec) async throws {
        let deployment = layout.deploymentDirectory(spec)
        try pruneRevisions(groupID: spec.deploymentGroupID, keeping: deployment)
        let archive = DeploymentLayout.archiveDirectory(in: deployment)
        // A retried DownloadBundle starts from a clean directory, and is not a revision to reuse until it is whole.
        try? FileManager.default.removeItem(at: KeptRevisions.record(in: deployment))
        try? FileManager.default.removeItem(at: archive)
        if let tightened = try layout.preparePrivateRoot() { logger.warning("\(tightened)") }
        try DeploymentLayout.makePrivateDirectory(deployment)
        let identity = KeptRevisions.Identity(spec.revision)
        let keptRevisions = KeptRevisions(groupDirectory: layout.groupDirectory(spec.deploymentGroupID))
        if let identity, let kept = keptRevisions.archive(matching: identity, except: deployment) {
            do {
                let linked = try await runOnOwnThread { try TreeLinker.linkTree(kept.archive, to: archive) }
                var record = kept.record
                record.identity = identity
                logger.info(
                    "reused the revision already on this host",
                    metadata: [
                        "deployment": "\(spec.deploymentID)",
                        "from": "\(kept.archive.deletingLastPathComponent().lastPathComponent)",
                        "files": "\(linked.files)", "cloned": "\(linked.cloned)", "linked": "\(linked.linked)",
                        "bytes": "\(linked.bytes)",
                    ])
                return try finish(spec, deployment: deployment, record: record)
            } catch {
                logger.warning(
                    "cannot reuse the revision already on this host; downloading it",
                    metadata: ["deployment": "\(spec.deploymentID)", "error": "\(error)"])
            }
        }
        let bundle = layout.bundleFile(spec)
        if case .s3(let bucket, let key, let bundleType, let version, let eTag) = spec.revision,
            [.tar, .tgz].contains(Self.bundleType(bundleType))
        {
            // Unpacked while it downloads: no copy of the archive is ever on disk.
            let downloader = downloader
            let summary = try await unpacker.unpack(streaming: Self.bundleType(bundleType), into: archive) { pipe in
                try await downloader.streamS3(bucket: bucket, key: key, version: version, eTag: eTag, into: pipe)
            }
            logger.info(
                "downloaded and unpacked the revision",
                metadata: [
                    "deployment": "\(spec.deploymentID)", "entries": "\(summary.entries)", "bytes": "\(summary.bytes)",
                ])
            return try finish(
                spec, deployment: deployment,
                record: KeptRevisions.Record(identity: identity, stripped: summary.strippedDirectory, files: [:]))
        }
        let source: URL
        let type: BundleType
        var reuse: [String: URL] = [:]
        switch spec.revision {
        case .s3(let bucket, let key, let bundleType, let version, let eTag):
            type = Self.bundleType(bundleType)
            var partial: ZipDelta.Plan?
            if type == .zip {
                partial = try await downloader.downloadZipDelta(
                    bucket: bucket, key: key, version: version, eTag: eTag, to: bundle,
                    kept: keptRevisions.all(except: deployment), maximumEntries: unpacker.limits.maximumEntries,
                    logger: logger)
            }
            if let partial {
                reuse = partial.reuse
            } else {
                try await downloader.downloadS3(bucket: bucket, key: key, version: version, eTag: eTag, to: bundle)
            }
            source = bundle
        case .gitHub(let account, let repository, let commit, let bundleType, let token):
            let archiveType = Self.bundleType(bundleType) == .zip ? BundleType.zip : .tgz
            try await downloader.downloadGitHub(
                account: account, repository: repository, commit: commit, zip: archiveType == .zip, token: token,
                to: bundle)
            (source, type) = (bundle, archiveType)
        case .local(let location, let bundleType):
            (source, type) = (URL(fileURLWithPath: location), Self.bundleType(bundleType))
            guard FileManager.default.fileExists(atPath: source.path) else {
                throw AgentError("the local revision \(location) does not exist")
            }
        }
        let summary = try await unpacker.unpack(source, type: type, into: archive, reuse: reuse)
        logger.info(
            "unpacked the revision",
            metadata: [
                "deployment": "\(spec.deploymentID)", "entries": "\(summary.entries)", "bytes": "\(summary.bytes)",
                "reused": "\(summary.reusedBytes)",
            ])
        // The archive is not kept once its files are: the unpacked tree is what later deployments reuse.
        if source == bundle { try? FileManager.default.removeItem(at: bundle) }
        let files = KeptRevisions.Kept.stamped(
            summary.zipFiles, archive: archive, stripped: summary.strippedDirectory)
        try finish(
            spec, deployment: deployment,
            record: KeptRevisions.Record(identity: identity, stripped: summary.strippedDirectory, files: files))
    }

    /// The revision is whole in `deployment`: its record makes it reusable, and it is the group's most recent
    /// install.
    private func finish(_ spec: DeploymentSpec, deployment: URL, record: KeptRevisions.Record) throws {
        try KeptRevisions.remember(record, in: deployment)
        try DeploymentLayout.makePrivateDirectory(layout.instructionsDirectory)
        try Data(deployment.path.utf8).write(
            to: layout.mostRecentInstallFile(spec.deploymentGroupID), options: .atomic)
    }

    static func bundleType(_ text: String) -> BundleType {
        BundleType(rawValue: text.lowercased()) ?? .tar
    }

    /// Keeps the newest `maxRevisions` deployment directories of the group besides `current`, and always the last
    /// successfully installed one.
    func pruneRevisions(groupID: String, keeping current: URL) throws {
        let group = layout.groupDirectory(groupID)
        let keys: [URLResourceKey] = [.contentModificationDateKey, .isDirectoryKey]
        guard let entries = try? FileManager.default.contentsOfDirectory(at: group, includingPropertiesForKeys: keys)
        else { return }
        let protected = Set(
            [current.standardizedFileURL.path, layout.lastSuccessfulDeployment(groupID)?.path].compactMap { $0 })
        let candidates = entries.filter { entry in
            (try? entry.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true
                && !protected.contains(entry.standardizedFileURL.path)
        }
        .sorted { lhs, rhs in
            let left =
                (try? lhs.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate)
                ?? .distantPast
            let right =
                (try? rhs.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate)
                ?? .distantPast
            return left > right
        }
        for old in candidates.dropFirst(maxRevisions) {
            logger.info("removing an old revision", metadata: ["directory": "\(old.path)"])
            try? FileManager.default.removeItem(at: old)
        }
        guard let revisionDiskBudget else { return }
        // Then the oldest of the rest while the group's revisions (the new one's unknown size aside) exceed the budget.
        var kept = Array(candidates.prefix(maxRevisions))
        var used = DiskUsage.bytes(of: entries.filter { FileManager.default.fileExists(atPath: $0.path) })
        while used > revisionDiskBudget, let oldest = kept.popLast() {
            logger.info(
                "removing an old revision to keep within :slipway_revision_disk_budget:",
                metadata: ["directory": "\(oldest.path)", "used": "\(used)", "budget": "\(revisionDiskBudget)"])
            try? FileManager.default.removeItem(at: oldest)
            used = DiskUsage.bytes(of: entries.filter { FileManager.default.fileExists(atPath: $0.path) })
        }
    }

    // MARK: Install

    func install(_ spec: DeploymentSpec) throws {
        let deployment = layout.deploymentDirectory(spec)
        let archive = DeploymentLayout.archiveDirectory(in: deployment)
        guard FileManager.default.fileExists(atPath: archive.path) else {
            throw AgentError("the revision of \(spec.deploymentID) is not on this host: DownloadBundle did not run")
        }
        // Install alone falls back to appspec.yaml, as the stock agent does.
        let appSpec = try loadAppSpec(in: deployment, spec: spec, allowYAMLExtension: true)
        let installer = Installer(
            instructionsDirectory: layout.instructionsDirectory, deploymentGroupID: spec.deploymentGroupID)
        _ = try installer.install(
            appSpec: appSpec, archiveDirectory: archive, deploymentRoot: deployment,
            deploymentFileExistsBehavior: spec.fileExistsBehavior)
    }

    // MARK: Hooks

    func runHooks(_ command: String, spec: DeploymentSpec) async throws -> CommandOutcome {
        guard let event = LifecycleEvent(rawValue: command) else {
            throw AgentError("Unsupported command type: \(command)")
        }
        guard let directory = layout.revisionDirectory(for: command, spec: spec) else {
            return .success()  // no earlier revision on this host: nothing to stop
        }
        let appSpec = try loadAppSpec(in: directory, spec: spec)
        let scripts = appSpec.scripts(for: event)
        guard !scripts.isEmpty else { return .success() }
        let archive = DeploymentLayout.archiveDirectory(in: directory)
        if scripts.contains(where: { $0.runas.map { !Self.isCurrentUser($0) } ?? false }) {
            try layout.letOthersPass(to: archive)
        }
        let environment = HookEnvironment(
            lifecycleEvent: command, deploymentID: spec.deploymentID, applicationName: spec.applicationName,
            deploymentGroupName: spec.deploymentGroupName, deploymentGroupID: spec.deploymentGroupID,
            bundle: spec.bundleVariables)
        let result = await hooks.run(
            scripts: scripts, revisionDirectory: archive,
            environment: environment, logFile: layout.scriptsLog(spec), live: liveLog)
        try Task.checkCancellation()
        return CommandOutcome(result)
    }

    /// Whether `user` is the user the agent runs as (by name or numeric id).
    static func isCurrentUser(_ user: String) -> Bool {
        if let id = uid_t(user) { return id == geteuid() }
        guard let entry = getpwuid(geteuid()) else { return false }
        return String(cString: entry.pointee.pw_name) == user
    }

    /// The server AppSpec of the revision in `deploymentDirectory`.
    func loadAppSpec(in deploymentDirectory: URL, spec: DeploymentSpec, allowYAMLExtension: Bool = false) throws
        -> ServerAppSpec
    {
        let archive = DeploymentLayout.archiveDirectory(in: deploymentDirectory)
        var file = archive.appendingPathComponent(spec.appSpecFilename)
        if allowYAMLExtension, spec.appSpecFilename == "appspec.yml",
            !FileManager.default.fileExists(atPath: file.path)
        {
            file = archive.appendingPathComponent("appspec.yaml")
        }
        guard file.standardizedFileURL.path.hasPrefix(archive.standardizedFileURL.path + "/") else {
            throw AgentError("the AppSpec file name \(spec.appSpecFilename) points outside the revision")
        }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw AgentError(
                "The CodeDeploy agent did not find an AppSpec file within the unpacked revision directory at revision-relative path \"\(spec.appSpecFilename)\". The revision was unpacked to directory \"\(archive.path)\", and the AppSpec file was expected but not found at path \"\(file.path)\"."
            )
        }
        let parsed = AppSpec.parse(bytes: data, options: AppSpecParseOptions(computePlatform: .server))
        guard let appSpec = parsed.appSpec else {
            throw AgentError(
                "the AppSpec file \(spec.appSpecFilename) is invalid: "
                    + parsed.errors.map(\.description).joined(separator: "; "))
        }
        guard case .server(let server) = appSpec else {
            throw AgentError("the AppSpec file \(spec.appSpecFilename) is not for EC2/on-premises hosts")
        }
        return server
    }
}
