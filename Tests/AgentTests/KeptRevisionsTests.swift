import Foundation
import Logging
import Testing

@testable import Agent

/// Revisions already unpacked on the host are reused by identity, linked rather than downloaded or copied; the
/// kept revisions stay within `max_revisions` and the disk budget.
@Suite("Kept revisions: reuse, links, disk budget")
struct KeptRevisionsTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-kept-\(UUID().uuidString)")
    var layout: DeploymentLayout { DeploymentLayout(root: root) }

    func spec(_ id: String, _ revision: DeploymentSpec.Revision) -> DeploymentSpec {
        DeploymentSpec(
            deploymentID: id, deploymentGroupID: "group", deploymentGroupName: "web", applicationName: "model",
            deploymentCreator: "user", deploymentType: "IN_PLACE", revision: revision)
    }

    static let v1 = DeploymentSpec.Revision.s3(
        bucket: "models", key: "m.tgz", bundleType: "tgz", version: nil, eTag: "\"9a0364b9e99bb480dd25e1f0284c8555\"")

    /// An executor that cannot download anything: every S3 download fails, so a success proves nothing was fetched.
    func executor(maxRevisions: Int = 5, budget: Int64? = nil) -> CommandExecutor {
        var executor = CommandExecutor(
            layout: layout, maxRevisions: maxRevisions, downloader: BundleDownloader(http: .shared, s3: nil),
            logger: Logger(label: "test"))
        executor.revisionDiskBudget = budget
        return executor
    }

    /// A deployment of `revision` as an earlier DownloadBundle left it: its archive with `files`, its record.
    @discardableResult
    func kept(
        _ id: String, _ revision: DeploymentSpec.Revision, files: [String: Int] = ["weights.bin": 1 << 20],
        age: TimeInterval = 60
    ) throws -> URL {
        let deployment = layout.deploymentDirectory(spec(id, revision))
        let archive = DeploymentLayout.archiveDirectory(in: deployment)
        try FileManager.default.createDirectory(
            at: archive.appendingPathComponent("model"), withIntermediateDirectories: true)
        for (name, size) in files {
            try Data(repeating: 7, count: size).write(to: archive.appendingPathComponent(name))
        }
        try "version: 0.0\nos: linux\n".write(
            to: archive.appendingPathComponent("appspec.yml"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: archive.appendingPathComponent("model/current").path, withDestinationPath: "../weights.bin")
        try KeptRevisions.remember(
            KeptRevisions.Record(identity: KeptRevisions.Identity(revision), stripped: nil, files: [:]), in: deployment)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: deployment.path)
        return deployment
    }

    func inode(_ url: URL) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
    }

    @Test("redeploying a revision on the host links its files into the new deployment: nothing is downloaded or copied")
    func redeployLinks() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let earlier = try kept("d-v1", Self.v1)
        let outcome = await executor().execute("DownloadBundle", spec: spec("d-again", Self.v1))
        #expect(outcome.succeeded, "\(outcome.message)")
        let archive = DeploymentLayout.archiveDirectory(in: layout.deploymentDirectory(spec("d-again", Self.v1)))
        let before = DeploymentLayout.archiveDirectory(in: earlier)
        // The same file on disk (a hard link here; a clone would share the blocks instead).
        #expect(
            try inode(archive.appendingPathComponent("weights.bin"))
                == inode(before.appendingPathComponent("weights.bin")))
        #expect(
            try FileManager.default.destinationOfSymbolicLink(
                atPath: archive.appendingPathComponent("model/current").path)
                == "../weights.bin")
        #expect(FileManager.default.fileExists(atPath: archive.appendingPathComponent("appspec.yml").path))
        // The new deployment is itself reusable, and is the most recent install.
        let record = KeptRevisions.record(in: layout.deploymentDirectory(spec("d-again", Self.v1)))
        #expect(FileManager.default.fileExists(atPath: record.path))
        let recent = try String(contentsOf: layout.mostRecentInstallFile("group"), encoding: .utf8)
        #expect(recent == layout.deploymentDirectory(spec("d-again", Self.v1)).path)
    }

    @Test("another ETag, another key, a version, no pin at all, or a local bundle is not the same revision")
    func identity() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try kept("d-v1", Self.v1)
        let others: [DeploymentSpec.Revision] = [
            .s3(bucket: "models", key: "m.tgz", bundleType: "tgz", version: nil, eTag: "0000"),
            .s3(
                bucket: "models", key: "other.tgz", bundleType: "tgz", version: nil,
                eTag: "9a0364b9e99bb480dd25e1f0284c8555"),
            .s3(
                bucket: "models", key: "m.tgz", bundleType: "zip", version: nil,
                eTag: "9a0364b9e99bb480dd25e1f0284c8555"),
            .s3(bucket: "models", key: "m.tgz", bundleType: "tgz", version: "v-2", eTag: nil),
            .s3(bucket: "models", key: "m.tgz", bundleType: "tgz", version: nil, eTag: nil),
        ]
        for (index, revision) in others.enumerated() {
            let outcome = await executor().execute("DownloadBundle", spec: spec("d-other-\(index)", revision))
            // Not reused: it had to be downloaded, which this agent cannot do.
            #expect(!outcome.succeeded && outcome.message.contains("no S3 endpoint"), "\(revision): \(outcome.message)")
        }
        #expect(KeptRevisions.Identity(.local(location: "/tmp/x.tgz", bundleType: "tgz")) == nil)
        // Quotes around an ETag do not make it another revision. (The failed attempts above left five newer
        // deployment directories: with max_revisions at 5, d-v1 would now be pruned.)
        let unquoted = DeploymentSpec.Revision.s3(
            bucket: "models", key: "m.tgz", bundleType: "tgz", version: nil, eTag: "9a0364b9e99bb480dd25e1f0284c8555")
        #expect(
            await executor(maxRevisions: 10).execute("DownloadBundle", spec: spec("d-unquoted", unquoted)).succeeded)
    }

    @Test("an archive whose unpack did not finish (no record), or whose files are gone, is not reused")
    func incomplete() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let interrupted = try kept("d-v1", Self.v1)
        try FileManager.default.removeItem(at: KeptRevisions.record(in: interrupted))
        #expect(!(await executor().execute("DownloadBundle", spec: spec("d-next", Self.v1)).succeeded))
        let gone = try kept("d-v1b", Self.v1)
        try FileManager.default.removeItem(at: DeploymentLayout.archiveDirectory(in: gone))
        #expect(!(await executor().execute("DownloadBundle", spec: spec("d-next2", Self.v1)).succeeded))
    }

    @Test("a record that is not JSON, or names another revision, is ignored rather than trusted")
    func hostileRecord() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let deployment = try kept("d-v1", Self.v1)
        for text in ["", "\u{0}\u{1}", "{\"source\": 1}", String(repeating: "[", count: 100_000), "{}"] {
            try Data(text.utf8).write(to: KeptRevisions.record(in: deployment))
            #expect(!(await executor().execute("DownloadBundle", spec: spec("d-next", Self.v1)).succeeded))
        }
    }

    @Test("a recorded path names a file under the kept archive, past its stripped directory, and never outside it")
    func recordedPaths() {
        let kept = KeptRevisions.Kept(
            archive: URL(fileURLWithPath: "/r/a"), record: .init(identity: nil, stripped: "top", files: [:]))
        #expect(kept.file("top/model/w.bin")?.path == "/r/a/model/w.bin")
        for path in ["top/../etc/passwd", "/etc/passwd", "top/a\u{0}b", "other/w.bin", "top/../../x", "top/x/../../y"] {
            #expect(kept.file(path) == nil, "\(path.debugDescription)")
        }
    }

    @Test("the tree linker copies modes and links, never follows a link, and leaves nothing behind when it fails")
    func linker() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let source = root.appendingPathComponent("source")
        try FileManager.default.createDirectory(
            at: source.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try Data("#!/bin/sh\n".utf8).write(to: source.appendingPathComponent("bin/run.sh"))
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o750], ofItemAtPath: source.appendingPathComponent("bin/run.sh").path)
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o711], ofItemAtPath: source.appendingPathComponent("bin").path)
        // A link to a directory outside: recreated as a link, its target's files not linked.
        try FileManager.default.createSymbolicLink(
            atPath: source.appendingPathComponent("etc").path, withDestinationPath: "/etc")
        let copy = root.appendingPathComponent("copy")
        let summary = try TreeLinker.linkTree(source, to: copy)
        #expect(summary.files == 1)
        #expect(summary.cloned + summary.linked == 1)
        let mode =
            try FileManager.default.attributesOfItem(atPath: copy.appendingPathComponent("bin").path)[.posixPermissions]
            as? Int
        #expect(mode == 0o711)
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: copy.appendingPathComponent("etc").path) == "/etc"
        )
        // A FIFO cannot be reused: the copy is removed.
        #expect(mkfifo(source.appendingPathComponent("fifo").path, 0o600) == 0)
        let failed = root.appendingPathComponent("failed")
        #expect(throws: AgentError.self) { try TreeLinker.linkTree(source, to: failed) }
        #expect(!FileManager.default.fileExists(atPath: failed.path))
    }

    @Test("the disk budget removes the oldest kept revisions, counting files linked between them once")
    func budget() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let mib = 1 << 20
        // Three revisions of 4 MiB each, the oldest first; the newest of them links the middle one's weights.
        let oldest = try kept("d-1", Self.v1, files: ["weights.bin": 4 * mib], age: 300)
        let middle = try kept("d-2", Self.v1, files: ["weights.bin": 4 * mib], age: 200)
        let newest = layout.deploymentDirectory(spec("d-3", Self.v1))
        _ = try TreeLinker.linkTree(
            DeploymentLayout.archiveDirectory(in: middle),
            to: { () -> URL in
                try? FileManager.default.createDirectory(at: newest, withIntermediateDirectories: true)
                return DeploymentLayout.archiveDirectory(in: newest)
            }())
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -100)], ofItemAtPath: newest.path)
        // Linked files count once: the three take about 8 MiB, not 12.
        let used = DiskUsage.bytes(of: [oldest, middle, newest])
        #expect(used >= Int64(8 * mib) && used < Int64(9 * mib), "\(used)")

        // max_revisions alone keeps all three; a budget of 6 MiB removes the oldest (8 → 4 MiB).
        try executor(maxRevisions: 5, budget: nil).pruneRevisions(
            groupID: "group", keeping: root.appendingPathComponent("x"))
        #expect(FileManager.default.fileExists(atPath: oldest.path))
        try executor(maxRevisions: 5, budget: Int64(6 * mib)).pruneRevisions(
            groupID: "group", keeping: layout.deploymentDirectory(spec("d-4", Self.v1)))
        #expect(!FileManager.default.fileExists(atPath: oldest.path))
        #expect(
            FileManager.default.fileExists(atPath: middle.path) && FileManager.default.fileExists(atPath: newest.path))

        // The last successful install is never removed, even over the budget.
        try FileManager.default.createDirectory(at: layout.instructionsDirectory, withIntermediateDirectories: true)
        try Data(middle.path.utf8).write(to: layout.lastSuccessfulInstallFile("group"))
        try executor(maxRevisions: 5, budget: Int64(1 * mib)).pruneRevisions(
            groupID: "group", keeping: layout.deploymentDirectory(spec("d-4", Self.v1)))
        #expect(FileManager.default.fileExists(atPath: middle.path))
        #expect(!FileManager.default.fileExists(atPath: newest.path))
    }

    @Test(
        "slipway_revision_disk_budget takes sizes with binary units and refuses the rest",
        arguments: [
            ("20GiB", Int64(20) << 30), ("500MiB", Int64(500) << 20), ("1048576", Int64(1) << 20),
            ("2T", Int64(2) << 40),
            (" 64 M ", Int64(64) << 20), ("1KiB", nil), ("0", nil), ("-5GiB", nil), ("5.5GiB", nil), ("5GB", nil),
            ("99999999999999999999", nil), ("9223372036854775807", nil), ("1024TiB", Int64(1) << 50),
            ("1048577TiB", nil),
            ("GiB", nil), ("1\u{0}GiB", nil), ("", nil),
        ] as [(String, Int64?)])
    func budgetSizes(_ text: String, _ expected: Int64?) {
        #expect(AgentConfiguration.parseSize(text) == expected)
    }

    @Test("the budget is read from codedeployagent.yml, and a wrong value is an error naming the key")
    func budgetConfiguration() throws {
        var configuration = AgentConfiguration(configDirectory: root)
        try configuration.apply(yaml: ":slipway_revision_disk_budget: 40GiB\n", source: "c.yml", relativeTo: root)
        #expect(configuration.revisionDiskBudget == Int64(40) << 30)
        for bad in [
            ":slipway_revision_disk_budget: lots\n", ":slipway_revision_disk_budget: [1]\n",
            ":slipway_revision_disk_budget: 12\n",
        ] {
            var other = AgentConfiguration(configDirectory: root)
            #expect(throws: AgentConfigurationError.self) {
                try other.apply(yaml: bad, source: "c.yml", relativeTo: root)
            }
        }
    }
}
