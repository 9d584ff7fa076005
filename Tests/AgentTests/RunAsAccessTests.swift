import Foundation
import Testing

@testable import Agent

#if canImport(Glibc)
    import Glibc
#endif

/// A hook run as another user (`runas`) reaches its script below the agent's private deployment root.
@Suite("runas users reach their scripts")
struct RunAsAccessTests {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    @Test("the agent's directories down to a revision become passable (0711), never listable; the bundle's are kept")
    func directoriesBecomePassable() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("runas-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let layout = DeploymentLayout(root: base.appendingPathComponent("root"))
        try layout.preparePrivateRoot()
        let archive = layout.root.appendingPathComponent("group/d-ABCDEFGHI/deployment-archive")
        try DeploymentLayout.makePrivateDirectory(archive)
        let scripts = archive.appendingPathComponent("scripts")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: false)
        chmod(scripts.path, 0o750)
        #expect(mode(layout.root.path) == 0o700)

        try layout.letOthersPass(to: archive)
        for path in [
            layout.root.path, layout.root.path + "/group", layout.root.path + "/group/d-ABCDEFGHI", archive.path,
        ] {
            #expect(mode(path) == 0o711, "\(path)")
        }
        #expect(mode(scripts.path) == 0o750, "a directory of the bundle keeps its own mode")
        #expect(try layout.preparePrivateRoot() == nil, "a passable root is not tightened back")
        chmod(layout.root.path, 0o755)
        #expect(try layout.preparePrivateRoot() != nil, "a listable root is")
        #expect(mode(layout.root.path) == 0o700)
    }

    @Test("nothing outside the deployment root is changed")
    func outsideTheRootIsLeftAlone() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("runas-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let layout = DeploymentLayout(root: base.appendingPathComponent("root"))
        try layout.preparePrivateRoot()
        let outside = base.appendingPathComponent("elsewhere")
        try DeploymentLayout.makePrivateDirectory(outside)
        try layout.letOthersPass(to: outside)
        #expect(mode(outside.path) == 0o700)
        #expect(mode(layout.root.path) == 0o700)
    }

    @Test(
        "as another user, a script of a passable revision can be read and run, and the root cannot be listed",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser"),
            "switching to another user needs root and runuser"))
    func anotherUserReachesTheScript() throws {
        let base = URL(fileURLWithPath: "/tmp").appendingPathComponent("runas-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: false)
        chmod(base.path, 0o755)
        let layout = DeploymentLayout(root: base.appendingPathComponent("root"))
        try layout.preparePrivateRoot()
        let archive = layout.root.appendingPathComponent("group/d-ABCDEFGHI/deployment-archive")
        try DeploymentLayout.makePrivateDirectory(archive)
        let script = archive.appendingPathComponent("hook.sh")
        try Data("#!/bin/sh\necho ran\n".utf8).write(to: script)
        chmod(script.path, 0o755)
        func asNobody(_ command: String) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "nobody", "--", "/bin/sh", "-c", command]
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try asNobody("test -x '\(script.path)'") != 0, "the private root keeps others out")
        try layout.letOthersPass(to: archive)
        #expect(try asNobody("'\(script.path)' >/dev/null") == 0)
        #expect(try asNobody("ls '\(layout.root.path)' >/dev/null 2>&1") != 0, "the root cannot be listed")
    }
}
