import Agent
import AppSpec
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A scratch host in a temporary directory: revisions under `<root>/dg-1/<deployment-id>/deployment-archive`, the
/// instruction files under `<root>/deployment-instructions`, and `host/` standing in for the destinations.
private final class Sandbox {
    let root: URL
    let host: String
    let instructions: URL
    let installer: Installer

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-install-\(UUID().uuidString)")
        host = root.path + "/host"
        instructions = root.appendingPathComponent("deployment-instructions")
        installer = Installer(instructionsDirectory: instructions, deploymentGroupID: "dg-1")
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func deploymentRoot(_ deployment: String) -> URL { root.appendingPathComponent("dg-1/\(deployment)") }

    func archive(_ deployment: String) -> String { deploymentRoot(deployment).path + "/deployment-archive" }

    /// Writes a file of a revision (`revision:path`) or of the host (absolute path).
    func write(_ path: String, _ text: String, in deployment: String = "d-1", mode: mode_t = 0o644) throws {
        let full = path.hasPrefix("/") ? path : archive(deployment) + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        chmod(full, mode)
    }

    func link(_ path: String, to target: String, in deployment: String = "d-1") throws {
        let full = path.hasPrefix("/") ? path : archive(deployment) + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
    }

    func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @discardableResult
    func install(
        _ files: [FileMapping],
        deployment: String = "d-1",
        fileExistsBehavior: FileExistsBehavior? = nil,
        permissions: [Permission] = [],
        deploymentBehavior: FileExistsBehavior? = nil
    ) throws -> InstallSummary {
        try FileManager.default.createDirectory(atPath: archive(deployment), withIntermediateDirectories: true)
        let spec = ServerAppSpec(
            os: .linux,
            files: files,
            fileExistsBehavior: fileExistsBehavior,
            permissions: permissions
        )
        return try installer.install(
            appSpec: spec,
            archiveDirectory: URL(fileURLWithPath: archive(deployment)),
            deploymentRoot: deploymentRoot(deployment),
            deploymentFileExistsBehavior: deploymentBehavior
        )
    }

    /// The message of the error an install throws, or `nil` when it succeeds.
    func failure(
        _ files: [FileMapping],
        deployment: String = "d-1",
        fileExistsBehavior: FileExistsBehavior? = nil,
        permissions: [Permission] = [],
        deploymentBehavior: FileExistsBehavior? = nil
    ) -> String? {
        do {
            try install(
                files,
                deployment: deployment,
                fileExistsBehavior: fileExistsBehavior,
                permissions: permissions,
                deploymentBehavior: deploymentBehavior
            )
            return nil
        } catch let error as InstallError {
            return error.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    var cleanupFile: String { instructions.path + "/dg-1-cleanup" }

    var cleanupLines: [String] {
        (read(cleanupFile) ?? "").split(separator: "\n").map(String.init)
    }
}

private func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

private func kind(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
}

private func mode(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
}

private func owner(_ path: String) -> (uid: uid_t, gid: gid_t)? {
    var info = stat()
    return lstat(path, &info) == 0 ? (info.st_uid, info.st_gid) : nil
}

private func linkTarget(_ path: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path)
}

private func tool(_ name: String) -> String? {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
}

/// Runs a program and returns its standard output.
private func output(of executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

private let isRoot = geteuid() == 0

@Suite("Install step: copying a revision onto the host")
struct InstallerTests {
    // MARK: - Copying

    @Test("a file source lands in the destination directory under its own name, keeping its mode and time")
    func fileSource() throws {
        let box = try Sandbox()
        try box.write("bin/run.sh", "#!/bin/sh\n", mode: 0o750)
        let past = Date(timeIntervalSince1970: 1_600_000_000)
        try FileManager.default.setAttributes(
            [.modificationDate: past], ofItemAtPath: box.archive("d-1") + "/bin/run.sh")
        try box.makeDirectory(box.host + "/opt")

        let summary = try box.install([FileMapping(source: "bin/run.sh", destination: box.host + "/opt")])

        let installed = box.host + "/opt/run.sh"
        #expect(box.read(installed) == "#!/bin/sh\n")
        #expect(mode(installed) == 0o750)
        let modified = try FileManager.default.attributesOfItem(atPath: installed)[.modificationDate] as? Date
        #expect(modified == past)
        #expect(summary == InstallSummary(copied: 1, directoriesCreated: 0, retained: 0, removedByCleanup: 0))
    }

    @Test("a directory source copies its contents recursively into the destination, not the directory itself")
    func directorySource() throws {
        let box = try Sandbox()
        try box.write("site/index.html", "<h1>hi</h1>")
        try box.write("site/css/app.css", "body{}")
        try box.write("site/css/print/p.css", "p{}")

        let summary = try box.install([FileMapping(source: "site", destination: box.host + "/www")])

        #expect(box.read(box.host + "/www/index.html") == "<h1>hi</h1>")
        #expect(box.read(box.host + "/www/css/app.css") == "body{}")
        #expect(box.read(box.host + "/www/css/print/p.css") == "p{}")
        #expect(!exists(box.host + "/www/site"))
        #expect(summary.copied == 3)
        #expect(summary.directoriesCreated == 3)
    }

    @Test("source / installs the whole revision, appspec.yml included")
    func wholeRevision() throws {
        let box = try Sandbox()
        try box.write("appspec.yml", "version: 0.0\nos: linux\n")
        try box.write("app/main.py", "print(1)")

        try box.install([FileMapping(source: "/", destination: box.host + "/app")])

        #expect(box.read(box.host + "/app/appspec.yml") == "version: 0.0\nos: linux\n")
        #expect(box.read(box.host + "/app/app/main.py") == "print(1)")
    }

    @Test("missing destination directories and their ancestors are created and recorded, each after its parent")
    func missingAncestors() throws {
        let box = try Sandbox()
        try box.write("conf/app.ini", "x=1")

        try box.install([FileMapping(source: "conf/app.ini", destination: box.host + "/a/b/c")])

        #expect(box.read(box.host + "/a/b/c/app.ini") == "x=1")
        #expect(
            box.cleanupLines == [box.host + "/a", box.host + "/a/b", box.host + "/a/b/c", box.host + "/a/b/c/app.ini"]
        )
    }

    @Test("an existing destination directory is reused and is not recorded for cleanup")
    func existingDestination() throws {
        let box = try Sandbox()
        try box.write("app.ini", "x=1")
        try box.makeDirectory(box.host + "/etc")

        try box.install([FileMapping(source: "app.ini", destination: box.host + "/etc")])

        #expect(box.cleanupLines == [box.host + "/etc/app.ini"])
    }

    @Test("symbolic links in the revision are recreated with the same target text, never followed")
    func symlinksCopiedAsLinks() throws {
        let box = try Sandbox()
        try box.write("releases/v1/app", "binary")
        try box.link("current", to: "releases/v1")
        try box.link("dangling", to: "/nowhere/at/all")

        try box.install([FileMapping(source: "/", destination: box.host + "/srv")])

        #expect(linkTarget(box.host + "/srv/current") == "releases/v1")
        #expect(linkTarget(box.host + "/srv/dangling") == "/nowhere/at/all")
        #expect(kind(box.host + "/srv/current") == S_IFLNK)
        #expect(box.read(box.host + "/srv/releases/v1/app") == "binary")
    }

    @Test("two sources for the same destination fail with the stock message")
    func duplicateDestination() throws {
        let box = try Sandbox()
        try box.write("a/config", "a")
        try box.write("b/config", "b")

        let message = box.failure([
            FileMapping(source: "a/config", destination: box.host + "/etc"),
            FileMapping(source: "b/config", destination: box.host + "/etc"),
        ])

        #expect(message?.contains("specifies two source files named") == true)
        #expect(message?.contains("for the same destination (\(box.host)/etc/config)") == true)
    }

    @Test("a source that leaves the revision through .. or a symbolic link is refused")
    func escapingSource() throws {
        let box = try Sandbox()
        try box.write(box.root.path + "/secret/key", "s3cr3t")
        try box.write("ok", "ok")
        try box.link("out", to: box.root.path + "/secret")

        let dotDot = box.failure([FileMapping(source: "../../../secret/key", destination: box.host + "/x")])
        let throughLink = box.failure([FileMapping(source: "out/key", destination: box.host + "/x")])

        #expect(dotDot?.contains("outside the revision") == true)
        #expect(throughLink?.contains("outside the revision") == true)
        #expect(!exists(box.host + "/x"))
    }

    @Test("a source missing from the revision fails, naming it")
    func missingSource() throws {
        let box = try Sandbox()
        let message = box.failure([FileMapping(source: "nope.txt", destination: box.host + "/x")])
        #expect(message?.contains("(nope.txt) that does not exist in the revision") == true)
    }

    // MARK: - File-exists behaviour

    @Test("DISALLOW fails with the stock message naming the path, before anything is copied")
    func disallow() throws {
        let box = try Sandbox()
        try box.write("site/a.txt", "new a")
        try box.write("site/b.txt", "new b")
        try box.write(box.host + "/www/b.txt", "old b")

        let message = box.failure([FileMapping(source: "site", destination: box.host + "/www")])

        #expect(
            message == "The deployment failed because a specified file already exists at this location: "
                + box.host + "/www/b.txt"
        )
        #expect(!exists(box.host + "/www/a.txt"))
        #expect(box.read(box.host + "/www/b.txt") == "old b")
    }

    @Test("OVERWRITE replaces an existing file and records it for cleanup")
    func overwriteFile() throws {
        let box = try Sandbox()
        try box.write("app.ini", "new")
        try box.write(box.host + "/etc/app.ini", "old")

        try box.install(
            [FileMapping(source: "app.ini", destination: box.host + "/etc")], fileExistsBehavior: .overwrite)

        #expect(box.read(box.host + "/etc/app.ini") == "new")
        #expect(box.cleanupLines.first == box.host + "/etc/app.ini")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: box.host + "/etc")
        #expect(leftovers == ["app.ini"])
    }

    @Test("OVERWRITE replaces an existing directory (and what is in it) with the revision's file")
    func overwriteDirectoryWithFile() throws {
        let box = try Sandbox()
        try box.write("config", "file now")
        try box.write(box.host + "/etc/config/old.conf", "old")

        try box.install([FileMapping(source: "config", destination: box.host + "/etc")], fileExistsBehavior: .overwrite)

        #expect(kind(box.host + "/etc/config") == S_IFREG)
        #expect(box.read(box.host + "/etc/config") == "file now")
    }

    @Test("OVERWRITE merges a revision directory into an existing directory, keeping the files it does not replace")
    func overwriteMergesDirectories() throws {
        let box = try Sandbox()
        try box.write("www/index.html", "new index")
        try box.write(box.host + "/www/index.html", "old index")
        try box.write(box.host + "/www/uploads/u.png", "user data")

        try box.install([FileMapping(source: "www", destination: box.host + "/www")], fileExistsBehavior: .overwrite)

        #expect(box.read(box.host + "/www/index.html") == "new index")
        #expect(box.read(box.host + "/www/uploads/u.png") == "user data")
    }

    @Test("OVERWRITE puts the revision's symbolic link in place of an existing file")
    func overwriteFileWithLink() throws {
        let box = try Sandbox()
        try box.link("current", to: "releases/v2")
        try box.write(box.host + "/srv/current", "a plain file")

        try box.install(
            [FileMapping(source: "current", destination: box.host + "/srv")], fileExistsBehavior: .overwrite)

        #expect(linkTarget(box.host + "/srv/current") == "releases/v2")
    }

    @Test("OVERWRITE replaces an existing symbolic link itself and leaves what it pointed to untouched")
    func overwriteLinkWithFile() throws {
        let box = try Sandbox()
        try box.write("app.ini", "from the revision")
        try box.write(box.root.path + "/elsewhere/app.ini", "precious", mode: 0o600)
        try box.link(box.host + "/etc/app.ini", to: box.root.path + "/elsewhere/app.ini")

        try box.install(
            [FileMapping(source: "app.ini", destination: box.host + "/etc")], fileExistsBehavior: .overwrite)

        #expect(kind(box.host + "/etc/app.ini") == S_IFREG)
        #expect(box.read(box.host + "/etc/app.ini") == "from the revision")
        #expect(box.read(box.root.path + "/elsewhere/app.ini") == "precious")
        #expect(mode(box.root.path + "/elsewhere/app.ini") == 0o600)
    }

    @Test("OVERWRITE replaces a file that stands where the revision has a directory, and records the new directory")
    func overwriteFileWithDirectory() throws {
        let box = try Sandbox()
        try box.write("www/static/app.js", "js")
        try box.write(box.host + "/www/static", "a file in the way")

        try box.install([FileMapping(source: "www", destination: box.host + "/www")], fileExistsBehavior: .overwrite)

        #expect(kind(box.host + "/www/static") == S_IFDIR)
        #expect(box.read(box.host + "/www/static/app.js") == "js")
        #expect(box.cleanupLines == [box.host + "/www/static", box.host + "/www/static/app.js"])
    }

    @Test("RETAIN keeps the existing content and leaves it out of the cleanup list")
    func retain() throws {
        let box = try Sandbox()
        try box.write("etc/app.ini", "new")
        try box.write("etc/other.ini", "other")
        try box.write(box.host + "/etc/app.ini", "old")

        let summary = try box.install(
            [FileMapping(source: "etc", destination: box.host + "/etc")],
            fileExistsBehavior: .retain
        )

        #expect(box.read(box.host + "/etc/app.ini") == "old")
        #expect(box.read(box.host + "/etc/other.ini") == "other")
        #expect(box.cleanupLines == [box.host + "/etc/other.ini"])
        #expect(summary.retained == 1)
    }

    @Test("the AppSpec's file_exists_behavior wins over the deployment's, which wins over DISALLOW")
    func precedence() throws {
        let box = try Sandbox()
        try box.write("app.ini", "new")
        let mapping = [FileMapping(source: "app.ini", destination: box.host + "/etc")]

        try box.write(box.host + "/etc/app.ini", "old")
        #expect(box.failure(mapping)?.contains("already exists") == true)

        try box.write(box.host + "/etc/app.ini", "old")
        #expect(box.failure(mapping, fileExistsBehavior: .disallow, deploymentBehavior: .overwrite) != nil)

        try box.write(box.host + "/etc/app.ini", "old")
        try box.install(mapping, fileExistsBehavior: .retain, deploymentBehavior: .overwrite)
        #expect(box.read(box.host + "/etc/app.ini") == "old")

        try box.write(box.host + "/etc/app.ini", "old")
        try box.install(mapping, deploymentBehavior: .overwrite)
        #expect(box.read(box.host + "/etc/app.ini") == "new")
    }

    // MARK: - Cleanup of the previous revision

    @Test("the next install removes the previous revision's files and the directories it created once empty")
    func secondInstallCleansUp() throws {
        let box = try Sandbox()
        try box.write("app/v1-only.txt", "1", in: "d-1")
        try box.write("app/shared.txt", "1", in: "d-1")
        try box.write("app/cache/c.txt", "1", in: "d-1")
        try box.write("app/logs/keep-me/.placeholder", "", in: "d-1")
        try box.install([FileMapping(source: "app", destination: box.host + "/srv/app")], deployment: "d-1")
        try box.write(box.host + "/srv/app/logs/keep-me/user.log", "written by the application")

        try box.write("app/shared.txt", "2", in: "d-2")
        let summary = try box.install(
            [FileMapping(source: "app", destination: box.host + "/srv/app")],
            deployment: "d-2"
        )

        #expect(!exists(box.host + "/srv/app/v1-only.txt"))
        #expect(!exists(box.host + "/srv/app/cache"))
        #expect(!exists(box.host + "/srv/app/logs/keep-me/.placeholder"))
        #expect(box.read(box.host + "/srv/app/logs/keep-me/user.log") == "written by the application")
        #expect(box.read(box.host + "/srv/app/shared.txt") == "2")
        // Four files and the emptied cache directory; keep-me and its ancestors still hold the user's log.
        #expect(summary.removedByCleanup == 5)
        #expect(summary.directoriesCreated == 0)
    }

    @Test("the next install removes a link the previous revision installed, not what the link points to")
    func cleanupUnlinksLinks() throws {
        let box = try Sandbox()
        try box.write(box.root.path + "/data/keep.txt", "kept")
        try box.link("app/data", to: box.root.path + "/data", in: "d-1")
        try box.install([FileMapping(source: "app", destination: box.host + "/app")], deployment: "d-1")
        #expect(linkTarget(box.host + "/app/data") == box.root.path + "/data")

        try box.install([], deployment: "d-2")

        #expect(!exists(box.host + "/app"))
        #expect(box.read(box.root.path + "/data/keep.txt") == "kept")
    }

    @Test("a torn last line of the cleanup file (no line break) is ignored")
    func tornLastLine() throws {
        let box = try Sandbox()
        try box.write(box.host + "/old/complete.txt", "x")
        try box.write(box.host + "/old/torn.txt", "y")
        try box.makeDirectory(box.instructions.path)
        try Data((box.host + "/old/complete.txt\n" + box.host + "/old/torn.txt").utf8)
            .write(to: URL(fileURLWithPath: box.cleanupFile))

        let summary = try box.install([])

        #expect(!exists(box.host + "/old/complete.txt"))
        #expect(box.read(box.host + "/old/torn.txt") == "y")
        #expect(summary.removedByCleanup == 1)
    }

    @Test("a failed install keeps what it recorded, and the next install removes those files")
    func failedInstallIsCleanedUpNextTime() throws {
        let box = try Sandbox()
        try box.write("a.txt", "a")
        let broken = try ACLEntry.parse("u:no-such-user-for-slipway-tests:r").get()
        let message = box.failure(
            [FileMapping(source: "a.txt", destination: box.host + "/app")],
            permissions: [Permission(object: box.host + "/app", acls: [broken])]
        )
        #expect(message?.contains("setfacl --set") == true)
        #expect(message?.contains(box.host + "/app/a.txt") == true)
        #expect(exists(box.host + "/app/a.txt"))

        try box.install([], deployment: "d-2")

        #expect(!exists(box.host + "/app"))
    }

    // MARK: - Instruction files

    @Test("install.json holds the instructions in the stock agent's format")
    func installJSON() throws {
        let box = try Sandbox()
        try box.write("bin/tool", "#!/bin/sh\n", mode: 0o755)
        let acl = try ACLEntry.parse("u:nobody:6").get()
        let me = try String(cString: #require(getpwuid(geteuid())).pointee.pw_name)

        try box.install(
            [FileMapping(source: "bin", destination: box.host + "/opt/bin")],
            permissions: [
                Permission(object: box.host + "/opt", mode: FileMode(bits: 0o750), acls: [acl], types: [.file]),
                Permission(object: box.host, owner: me, types: [.directory]),
            ]
        )

        let archive = try #require(realpath(box.archive("d-1"), nil).map { String(cString: $0) })
        let host = box.host
        let expected =
            #"{"instructions":["#
            + #"{"type":"mkdir","directory":"\#(host)/opt"},"#
            + #"{"type":"mkdir","directory":"\#(host)/opt/bin"},"#
            + #"{"type":"copy","source":"\#(archive)/bin/tool","destination":"\#(host)/opt/bin/tool"},"#
            + #"{"type":"chmod","mode":"750","file":"\#(host)/opt/bin/tool"},"#
            + #"{"type":"setfacl","acl":["user:nobody:rw-"],"file":"\#(host)/opt/bin/tool"},"#
            + #"{"type":"chown","owner":"\#(me)","group":null,"file":"\#(host)/opt"},"#
            + #"{"type":"chown","owner":"\#(me)","group":null,"file":"\#(host)/opt/bin"}"#
            + "]}"
        #expect(box.read(box.instructions.path + "/dg-1-install.json") == expected)
    }

    @Test("the last successful install file holds the deployment root's path")
    func lastSuccessfulInstall() throws {
        let box = try Sandbox()
        try box.install([])
        #expect(box.read(box.instructions.path + "/dg-1_last_successful_install") == box.deploymentRoot("d-1").path)
    }

    // MARK: - Permissions

    @Test("a mode applies to the files this deployment copied, never to files that were already there")
    func modeOnCopiedFilesOnly() throws {
        let box = try Sandbox()
        try box.write("www/new.html", "new", mode: 0o644)
        try box.write(box.host + "/www/existing.html", "old", mode: 0o644)

        try box.install(
            [FileMapping(source: "www", destination: box.host + "/www")],
            permissions: [Permission(object: box.host + "/www", mode: FileMode(bits: 0o600))]
        )

        #expect(mode(box.host + "/www/new.html") == 0o600)
        #expect(mode(box.host + "/www/existing.html") == 0o644)
    }

    @Test("pattern, except and type choose which direct children get a permission")
    func patternExceptAndType() throws {
        let box = try Sandbox()
        try box.write("app/start.sh", "", mode: 0o644)
        try box.write("app/stop.sh", "", mode: 0o644)
        try box.write("app/README", "", mode: 0o644)
        try box.write("app/sub/deep.sh", "", mode: 0o644)
        try box.write("app/data/x", "", mode: 0o644)
        let object = box.host + "/app"

        try box.install(
            [FileMapping(source: "app", destination: object)],
            permissions: [
                Permission(object: object, pattern: "*.sh", except: ["stop.sh"], mode: FileMode(bits: 0o755)),
                Permission(object: object, pattern: "d*", mode: FileMode(bits: 0o700), types: [.directory]),
            ]
        )

        #expect(mode(object + "/start.sh") == 0o755)
        #expect(mode(object + "/stop.sh") == 0o644)
        #expect(mode(object + "/README") == 0o644)
        #expect(mode(object + "/sub/deep.sh") == 0o644)
        #expect(mode(object + "/data") == 0o700)
        #expect(mode(object + "/data/x") == 0o644)
    }

    @Test("a mode for a directory of symbolic links never changes what the links point to")
    func permissionsNotThroughLinks() throws {
        let box = try Sandbox()
        try box.write(box.root.path + "/outside/target", "t", mode: 0o600)
        try box.link("app/link", to: box.root.path + "/outside/target")

        try box.install(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [Permission(object: box.host + "/app", mode: FileMode(bits: 0o777))]
        )

        #expect(mode(box.root.path + "/outside/target") == 0o600)
    }

    @Test("two permission entries for the same installed object fail, naming it")
    func permissionSpecifiedTwice() throws {
        let box = try Sandbox()
        try box.write("app/a", "")
        let message = box.failure(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [
                Permission(object: box.host + "/app", mode: FileMode(bits: 0o600)),
                Permission(object: box.host, mode: FileMode(bits: 0o644)),
            ]
        )
        #expect(message?.contains("\(box.host)/app/a is specified more than once") == true)
        #expect(!exists(box.host + "/app/a"))
    }

    @Test("owner and group are changed by name on what was installed", .enabled(if: isRoot, "chown needs root"))
    func ownerAndGroup() throws {
        let box = try Sandbox()
        try box.write("app/run", "", mode: 0o4755)
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let nogroup = try #require(getgrnam("nogroup")).pointee.gr_gid

        try box.install(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [Permission(object: box.host + "/app", owner: "nobody", group: "nogroup", types: [.file])]
        )

        let ids = try #require(owner(box.host + "/app/run"))
        #expect(ids.uid == nobody && ids.gid == nogroup)
        #expect(mode(box.host + "/app/run") == 0o4755)
        #expect(owner(box.host + "/app")?.uid == 0)
    }

    @Test("an owner that does not exist on the host fails before anything is copied, naming user and path")
    func unknownOwner() throws {
        let box = try Sandbox()
        try box.write("app/a", "")
        let message = box.failure(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [Permission(object: box.host + "/app", owner: "no-such-user-for-slipway-tests")]
        )
        #expect(message?.contains("user no-such-user-for-slipway-tests") == true)
        #expect(message?.contains(box.host + "/app/a") == true)
        #expect(!exists(box.host + "/app"))
    }

    @Test(
        "ACL entries are set with setfacl, base entries coming from the mode",
        .enabled(if: tool("setfacl") != nil && tool("getfacl") != nil, "needs the acl tools (setfacl, getfacl)")
    )
    func acl() throws {
        let box = try Sandbox()
        try box.write("app/data.db", "")
        try box.write("app/logs/.keep", "")
        let user = try ACLEntry.parse("u:nobody:rw").get()
        let defaultUser = try ACLEntry.parse("d:u:nobody:rwx").get()

        try box.install(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [
                Permission(object: box.host + "/app", mode: FileMode(bits: 0o640), acls: [user], types: [.file]),
                Permission(object: box.host + "/app", pattern: "logs", acls: [defaultUser], types: [.directory]),
            ]
        )

        let fileACL = try output(of: tool("getfacl")!, ["-c", "-p", "-E", box.host + "/app/data.db"])
        #expect(
            fileACL.split(separator: "\n").map(String.init) == [
                "user::rw-", "user:nobody:rw-", "group::r--", "mask::r--", "other::---",
            ])
        let directoryACL = try output(of: tool("getfacl")!, ["-c", "-p", box.host + "/app/logs"])
        #expect(directoryACL.contains("default:user:nobody:rwx"))
    }

    @Test(
        "an SELinux context is given with semanage and restorecon and recorded for cleanup",
        .enabled(if: tool("semanage") != nil && tool("restorecon") != nil, "SELinux tools (semanage) are not installed")
    )
    func selinuxContext() throws {
        let box = try Sandbox()
        try box.write("app/index.html", "")
        try box.install(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [Permission(object: box.host + "/app", context: SELinuxContext(type: "httpd_sys_content_t"))]
        )
        let real = try #require(realpath(box.host + "/app/index.html", nil).map { String(cString: $0) })
        #expect(box.cleanupLines.contains("semanage\0" + real))
    }

    @Test(
        "an SELinux context on a host without the SELinux tools fails clearly, naming the path",
        .enabled(if: tool("semanage") == nil, "semanage is installed here")
    )
    func selinuxToolsMissing() throws {
        let box = try Sandbox()
        try box.write("app/index.html", "")
        let message = box.failure(
            [FileMapping(source: "app", destination: box.host + "/app")],
            permissions: [Permission(object: box.host + "/app", context: SELinuxContext(type: "httpd_sys_content_t"))]
        )
        #expect(message?.contains("SELinux tools are missing") == true)
        #expect(message?.contains(box.host + "/app/index.html") == true)
    }
}
