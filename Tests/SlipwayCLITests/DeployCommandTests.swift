import Foundation
import Testing

/// `slipway deploy` end to end: a real server, a real agent, the AWS CLI and boto3 to check what it did
/// (`Python/deploy_command.py`); and the bundle's contents through `--list-files`, which needs no server.
@Suite("slipway deploy", .serialized)
struct DeployCommandTests {
    private func scenario(_ name: String) throws -> ClientRun {
        let server = try DevServer(arguments: ["--pickup-timeout", "20", "--poll-hold", "5"])
        defer { server.stop() }
        let path = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/deploy_command.py")
        var environment = server.clientEnvironment
        environment["SLIPWAY_BIN"] = SlipwayBinary.url.path
        return try runClient(["python3", path.path, name], environment: environment)
    }

    @Test(
        "a directory deploys with --create-missing: the file is installed, a line per lifecycle event, the zip without .git or ignored files with modes and links, --json, status; a failing ValidateService exits 1 with its log tail and error code"
    )
    func deploy() throws {
        let run = try scenario("deploy")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("deploy checks passed"))
    }

    @Test("an invalid appspec, a missing application and an unreachable server are refused with exit 3 before upload")
    func refuse() throws {
        let run = try scenario("refuse")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("refuse checks passed"))
    }

    @Test("watch of a deployment stopped with the AWS CLI exits 2; status of a running one exits 4")
    func stop() throws {
        let run = try scenario("stop")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("stop checks passed"))
    }

    @Test("on a terminal the deployment is a table of hosts redrawn in place, with a full progress bar at the end")
    func terminalTable() throws {
        let run = try scenario("tty")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("tty checks passed"))
    }

    // MARK: The bundle, through --list-files

    /// A temporary directory with `files` (path → contents; a trailing `/` makes a directory, `-> target` a link).
    private func listing(_ files: [String: String], ignore: String?) throws -> ClientRun {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-bundle-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for (path, contents) in files {
            let url = root.appendingPathComponent(path)
            if path.hasSuffix("/") {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
                continue
            }
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if contents.hasPrefix("-> ") {
                try FileManager.default.createSymbolicLink(
                    atPath: url.path, withDestinationPath: String(contents.dropFirst(3)))
            } else {
                try Data(contents.utf8).write(to: url)
            }
        }
        if let ignore { try Data(ignore.utf8).write(to: root.appendingPathComponent(".slipwayignore")) }
        return try runClient(
            [SlipwayBinary.url.path, "deploy", root.path, "--list-files"],
            environment: ProcessInfo.processInfo.environment)
    }

    @Test(
        "without .slipwayignore everything but version-control folders is bundled, depth first with names in byte order"
    )
    func listsEverythingButVersionControl() throws {
        let run = try listing(
            [
                "appspec.yml": "version: 0.0\nos: linux\n", "b/x.txt": "x", "B.txt": "B", "a-b.txt": "", "a/c": "",
                ".git/HEAD": "ref", "sub/.svn/entries": "", ".hg/store/data": "", "link": "-> b/x.txt", "empty/": "",
            ], ignore: nil)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stdout.split(separator: "\n") == [
                "B.txt", "a/", "a/c", "a-b.txt", "appspec.yml", "b/", "b/x.txt", "empty/", "link -> b/x.txt", "sub/",
            ])
    }

    @Test(
        "ignore patterns: names at any depth, dir/ only for directories, *.ext, anchored paths, path/**, **/name, comments and ! re-including"
    )
    func ignorePatterns() throws {
        let files = [
            "appspec.yml": "", "app.log": "", "logs/today.log": "", "keep.log": "", "src/main.c": "", "src/main.o": "",
            "build/out.bin": "", "docs/build": "", "tmp/cache/a": "", "tmp/keep": "", "deep/x/node_modules/m.js": "",
            "top.txt": "", "sub/top.txt": "", "vendor/a/b/c.txt": "", "vendor/readme": "",
        ]
        let ignore = """
            # comments and blank lines are skipped

            *.log
            !keep.log
            *.o
            build/
            /top.txt
            tmp/**
            **/node_modules
            vendor/**/c.txt
            """
        let run = try listing(files, ignore: ignore)
        #expect(run.status == 0, "\(run.stderr)")
        let listed = Set(run.stdout.split(separator: "\n").map(String.init))
        for kept in [
            "appspec.yml", "keep.log", "src/main.c", "docs/build", "sub/top.txt", "tmp/", "vendor/readme", "deep/x/",
            "logs/",
        ] {
            #expect(listed.contains(kept), "\(kept) should be bundled: \(listed.sorted())")
        }
        for left in [
            "app.log", "logs/today.log", "src/main.o", "build/", "build/out.bin", "top.txt", "tmp/keep",
            "tmp/cache/a", "deep/x/node_modules/", "deep/x/node_modules/m.js", "vendor/a/b/c.txt", ".slipwayignore",
        ] {
            #expect(!listed.contains(left), "\(left) should be left out: \(listed.sorted())")
        }
    }

    @Test("nothing inside an excluded directory can be re-included, as in git; an escaped # is a pattern")
    func negationInsideExcludedDirectory() throws {
        let run = try listing(
            ["appspec.yml": "", "out/keep.txt": "", "out/drop.txt": "", "#notes": ""],
            ignore: "out/\n!out/keep.txt\n\\#notes\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n") == ["appspec.yml"])
    }

    @Test("a link that leaves the directory is refused before anything is bundled; one that stays inside is kept")
    func linksOutsideAreRefused() throws {
        let inside = try listing(["appspec.yml": "", "a/b/up": "-> ../../appspec.yml"], ignore: nil)
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stdout.contains("a/b/up -> ../../appspec.yml"))
        for destination in ["../../../etc/passwd", "/etc/passwd"] {
            let outside = try listing(["appspec.yml": "", "a/b/out": "-> \(destination)"], ignore: nil)
            #expect(outside.status == 3)
            #expect(outside.stderr.contains("a/b/out links to \(destination), outside the bundle"), "\(outside.stderr)")
        }
        let ignored = try listing(["appspec.yml": "", "out": "-> /etc/passwd"], ignore: "out\n")
        #expect(ignored.status == 0, "\(ignored.stderr)")
    }

    @Test("deploy without --application is a usage error with exit 3 that says what to give")
    func missingApplication() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Data("version: 0.0\nos: linux\n".utf8).write(to: root.appendingPathComponent("appspec.yml"))
        let usage = try runClient(
            [SlipwayBinary.url.path, "deploy", root.path, "--deployment-group", "dev"],
            environment: ProcessInfo.processInfo.environment)
        #expect(usage.status == 3)
        #expect(usage.stderr.contains("--application"))
    }
}
