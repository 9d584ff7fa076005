import Foundation
import Logging
import Testing

@testable import Agent

@Suite("Which revision a lifecycle event runs, and old revisions pruned")
struct ExecutorTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-exec-\(UUID().uuidString)")
    var layout: DeploymentLayout { DeploymentLayout(root: root) }

    func spec(_ id: String, creator: String = "user", type: String = "IN_PLACE") -> DeploymentSpec {
        DeploymentSpec(
            deploymentID: id, deploymentGroupID: "group", deploymentGroupName: "web", applicationName: "site",
            deploymentCreator: creator, deploymentType: type,
            revision: .s3(bucket: "b", key: "k", bundleType: "zip", version: nil, eTag: nil))
    }

    /// A deployment directory with an unpacked revision.
    func unpacked(_ id: String) throws -> URL {
        let directory = layout.deploymentDirectory(spec(id))
        try FileManager.default.createDirectory(
            at: DeploymentLayout.archiveDirectory(in: directory), withIntermediateDirectories: true)
        return directory
    }

    func mark(_ file: URL, _ directory: URL) throws {
        try FileManager.default.createDirectory(at: layout.instructionsDirectory, withIntermediateDirectories: true)
        try Data(directory.path.utf8).write(to: file)
    }

    @Test(
        "before the new revision is on the host, stop and block-traffic hooks run the last installed revision; a blue/green rollback swaps the traffic hooks"
    )
    func revisionSelection() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let installed = try unpacked("d-installed")
        let downloaded = try unpacked("d-downloaded")
        try mark(layout.lastSuccessfulInstallFile("group"), installed)
        try mark(layout.mostRecentInstallFile("group"), downloaded)
        let current = spec("d-current")
        let rollback = spec("d-current", creator: "codeDeployRollback", type: "BLUE_GREEN")
        #expect(layout.revisionDirectory(for: "ApplicationStop", spec: current) == installed)
        #expect(layout.revisionDirectory(for: "BeforeBlockTraffic", spec: current) == installed)
        #expect(layout.revisionDirectory(for: "AfterBlockTraffic", spec: rollback) == downloaded)
        #expect(layout.revisionDirectory(for: "ApplicationStop", spec: rollback) == installed)
        #expect(
            layout.revisionDirectory(for: "BeforeAllowTraffic", spec: current) == layout.deploymentDirectory(current))
        #expect(layout.revisionDirectory(for: "AfterAllowTraffic", spec: rollback) == installed)
        #expect(layout.revisionDirectory(for: "BeforeInstall", spec: current) == layout.deploymentDirectory(current))
        // Once the deployment's own revision is unpacked, every event runs it.
        let own = try unpacked("d-current")
        for event in ["ApplicationStop", "BeforeBlockTraffic", "AfterAllowTraffic"] {
            #expect(layout.revisionDirectory(for: event, spec: rollback) == own)
        }
    }

    @Test("with no earlier install ApplicationStop has nothing to run; a marker pointing outside the root is ignored")
    func firstDeployment() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(layout.revisionDirectory(for: "ApplicationStop", spec: spec("d-1")) == nil)
        let executor = CommandExecutor(
            layout: layout, maxRevisions: 5, downloader: BundleDownloader(http: .shared, s3: nil),
            logger: Logger(label: "test"))
        #expect(executor.isNoop("ApplicationStop", spec: spec("d-1")))
        #expect(!executor.isNoop("DownloadBundle", spec: spec("d-1")))
        let outside = FileManager.default.temporaryDirectory
        try mark(layout.lastSuccessfulInstallFile("group"), outside)
        #expect(layout.revisionDirectory(for: "ApplicationStop", spec: spec("d-1")) == nil)
    }

    @Test("pruning keeps the newest revisions up to max_revisions, the current one and the last successful one")
    func pruning() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        var directories: [URL] = []
        for index in 0..<6 {
            let directory = try unpacked("d-\(index)")
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSinceNow: Double(index - 10) * 60)], ofItemAtPath: directory.path)
            directories.append(directory)
        }
        try mark(layout.lastSuccessfulInstallFile("group"), directories[0])
        let executor = CommandExecutor(
            layout: layout, maxRevisions: 2, downloader: BundleDownloader(http: .shared, s3: nil),
            logger: Logger(label: "test"))
        try executor.pruneRevisions(groupID: "group", keeping: layout.deploymentDirectory(spec("d-new")))
        let left = try FileManager.default.contentsOfDirectory(atPath: layout.groupDirectory("group").path).sorted()
        #expect(left == ["d-0", "d-4", "d-5"])
    }
}
