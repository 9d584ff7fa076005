import AppSpec
import Foundation
import Logging
import Synchronization
import Testing

@testable import Agent

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the agent writes is the agent's user's alone: no other local user can change a script before it runs as
/// that user, or read a revision or its output.
@Suite struct FileModeTests {
    @Test("group- and world-writable modes in a tar bundle lose their write bits; other bits stay")
    func tarModesMasked() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive(
            "tar",
            [
                .directory("open", mode: 0o777),
                .directory("sticky", mode: 0o1777),
                .directory("group", mode: 0o2775),
                .file("open/run.sh", "#!/bin/sh\n", mode: 0o777),
                .file("shared.txt", "x", mode: 0o666),
                .file("group.sh", "x", mode: 0o6775),
                .file("private.key", "x", mode: 0o600),
            ])
        _ = try await BundleUnpacker().unpack(archive, type: .tar, into: sandbox.target)
        #expect(try sandbox.mode(of: "open") == 0o755)
        #expect(try sandbox.mode(of: "sticky") == 0o1755)
        #expect(try sandbox.mode(of: "group") == 0o755)
        #expect(try sandbox.mode(of: "open/run.sh") == 0o755)
        #expect(try sandbox.mode(of: "shared.txt") == 0o644)
        #expect(try sandbox.mode(of: "group.sh") == 0o755)
        #expect(try sandbox.mode(of: "private.key") == 0o600)
    }

    @Test("group- and world-writable modes in zip and directory bundles lose their write bits")
    func zipAndDirectoryModesMasked() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive(
            "zip", [.directory("open", mode: 0o777), .file("open/run.sh", "#!/bin/sh\n", mode: 0o777)])
        _ = try await BundleUnpacker().unpack(archive, type: .zip, into: sandbox.target)
        #expect(try sandbox.mode(of: "open") == 0o755)
        #expect(try sandbox.mode(of: "open/run.sh") == 0o755)
        try FileManager.default.removeItem(at: sandbox.target)

        let source = sandbox.work.appendingPathComponent("source")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try "#!/bin/sh\n".write(to: source.appendingPathComponent("run.sh"), atomically: false, encoding: .utf8)
        chmod(source.appendingPathComponent("run.sh").path, 0o777)
        _ = try await BundleUnpacker().unpack(source, type: .directory, into: sandbox.target)
        #expect(try sandbox.mode(of: "run.sh") == 0o755)
    }

    @Test("DownloadBundle creates the deployment root and its directories 0700")
    func deploymentDirectoriesPrivate() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-modes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let bundle = base.appendingPathComponent("bundle.tar")
        try Data(TarBytes.header("appspec.yml", size: 1) + TarBytes.data("x") + TarBytes.end).write(to: bundle)
        let layout = DeploymentLayout(root: base.appendingPathComponent("root/deployment-root"))
        let executor = CommandExecutor(
            layout: layout, maxRevisions: 5, downloader: BundleDownloader(http: .shared, s3: nil),
            logger: Logger(label: "test"))
        let spec = Self.spec(revision: .local(location: bundle.path, bundleType: "tar"))
        let outcome = await executor.execute("DownloadBundle", spec: spec)
        #expect(outcome.succeeded, "\(outcome)")
        let deployment = layout.deploymentDirectory(spec)
        for directory in [
            base.appendingPathComponent("root"), layout.root, layout.groupDirectory("group"), deployment,
            layout.instructionsDirectory,
        ] {
            #expect(Self.mode(directory.path) == 0o700, "\(directory.path)")
        }
    }

    @Test("an existing deployment root the agent owns that others can enter is tightened to 0700, with a log line")
    func looseRootTightened() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-modes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let layout = DeploymentLayout(root: base.appendingPathComponent("deployment-root"))
        try FileManager.default.createDirectory(at: layout.root, withIntermediateDirectories: true)
        chmod(layout.root.path, 0o755)
        let bundle = base.appendingPathComponent("bundle.tar")
        try Data(TarBytes.header("appspec.yml", size: 1) + TarBytes.data("x") + TarBytes.end).write(to: bundle)
        let recorder = RecordingLogHandler.Records()
        let executor = CommandExecutor(
            layout: layout, maxRevisions: 5, downloader: BundleDownloader(http: .shared, s3: nil),
            logger: Logger(label: "test") { _ in RecordingLogHandler(records: recorder) })
        let outcome = await executor.execute(
            "DownloadBundle", spec: Self.spec(revision: .local(location: bundle.path, bundleType: "tar")))
        #expect(outcome.succeeded, "\(outcome)")
        #expect(Self.mode(layout.root.path) == 0o700)
        #expect(
            recorder.messages.contains { $0.contains(layout.root.path) && $0.contains("0755") && $0.contains("0700") },
            "\(recorder.messages)")
        // Already private: nothing to say the second time.
        #expect(try layout.preparePrivateRoot() == nil)
    }

    @Test("scripts.log and its directory are created 0600 and 0700 whatever the umask")
    func scriptsLogPrivate() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("hello.sh", "echo hello")
        let previous = umask(0)
        defer { umask(previous) }
        let result = await sandbox.run([HookScript(location: "hello.sh", timeout: 10)])
        #expect(result.errorCode == .succeeded, "\(result)")
        #expect(Self.mode(sandbox.logFile.path) == 0o600)
        #expect(Self.mode(sandbox.logFile.deletingLastPathComponent().path) == 0o700)
    }

    @Test("a symbolic link planted at scripts.log is not followed")
    func scriptsLogLinkRefused() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("hello.sh", "echo hello")
        let victim = sandbox.root.appendingPathComponent("victim")
        try "keep".write(to: victim, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: sandbox.logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: sandbox.logFile, withDestinationURL: victim)
        let result = await sandbox.run([HookScript(location: "hello.sh", timeout: 10)])
        #expect(result.errorCode == .unknownError)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "keep")
    }

    static func spec(revision: DeploymentSpec.Revision) -> DeploymentSpec {
        DeploymentSpec(
            deploymentID: "d-MODES", deploymentGroupID: "group", deploymentGroupName: "web", applicationName: "site",
            deploymentCreator: "user", deploymentType: "IN_PLACE", revision: revision)
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }
}

/// Keeps the messages logged through it, for tests that check what the agent says.
struct RecordingLogHandler: LogHandler {
    final class Records: Sendable {
        private let storage = Mutex<[String]>([])
        var messages: [String] { storage.withLock { $0 } }
        func append(_ message: String) { storage.withLock { $0.append(message) } }
    }

    let records: Records
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append("\(event.level) \(event.message)")
    }
}
