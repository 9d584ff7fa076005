import Foundation
import Testing

@testable import Agent

/// Revision bundles are hostile input: every refused bundle leaves nothing behind, inside or outside the target.
@Suite struct BundleUnpackerTests {
    // MARK: Round trips

    @Test("a tar bundle unpacks with contents, modes, times, links and long names preserved")
    func tarRoundTrip() async throws {
        for format in ["gnu", "pax"] {
            let sandbox = try BundleSandbox()
            defer { sandbox.remove() }
            let longName = "deep/" + String(repeating: "n", count: 120) + "/" + String(repeating: "f", count: 110)
            let archive = try sandbox.archive(
                "tar", format: format,
                [
                    .directory("deep", mode: 0o750),
                    .file("appspec.yml", "version: 0.0\n"),
                    .file("scripts/start.sh", "#!/bin/sh\necho hi\n", mode: 0o755),
                    .file("private.key", "secret", mode: 0o600),
                    .file("setuid", "x", mode: 0o4755),
                    .file(longName, "long"),
                    .file("données/été.txt", "accents"),
                    .symlink("scripts/current", to: "start.sh"),
                    .hardLink("start-copy", to: "scripts/start.sh"),
                ])
            let summary = try await BundleUnpacker().unpack(archive, type: .tar, into: sandbox.target)
            #expect(summary.strippedDirectory == nil)
            #expect(summary.entries == 9)
            let target = sandbox.target.path
            #expect(try String(contentsOfFile: target + "/scripts/start.sh", encoding: .utf8) == "#!/bin/sh\necho hi\n")
            #expect(try sandbox.mode(of: "scripts/start.sh") == 0o755)
            #expect(try sandbox.mode(of: "private.key") == 0o600)
            #expect(try sandbox.mode(of: "setuid") == 0o755)
            #expect(try sandbox.mode(of: "deep") == 0o750)
            #expect(try sandbox.modificationTime(of: "appspec.yml") == 1_700_000_000)
            #expect(try sandbox.modificationTime(of: "deep") == 1_700_000_000)
            #expect(try String(contentsOfFile: target + "/" + longName, encoding: .utf8) == "long")
            #expect(try String(contentsOfFile: target + "/données/été.txt", encoding: .utf8) == "accents")
            #expect(
                try FileManager.default.destinationOfSymbolicLink(atPath: target + "/scripts/current") == "start.sh")
            let original = try FileManager.default.attributesOfItem(atPath: target + "/scripts/start.sh")
            let copy = try FileManager.default.attributesOfItem(atPath: target + "/start-copy")
            #expect(original[.systemFileNumber] as? Int == copy[.systemFileNumber] as? Int)
        }
    }

    @Test("a tgz bundle made by tar unpacks to the same tree, and a .tar bundle that is gzipped is detected")
    func tgzRoundTrip() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let source = sandbox.work.appendingPathComponent("source")
        try FileManager.default.createDirectory(
            at: source.appendingPathComponent("lib/sub"), withIntermediateDirectories: true)
        var expected: [String: Data] = [:]
        for index in 0..<40 {
            let name = index % 2 == 0 ? "lib/file\(index).txt" : "lib/sub/file\(index).bin"
            let data = Data((0..<(index * 10_000)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
            try data.write(to: source.appendingPathComponent(name))
            expected[name] = data
        }
        try "version: 0.0\n".write(to: source.appendingPathComponent("appspec.yml"), atomically: false, encoding: .utf8)
        let archive = sandbox.work.appendingPathComponent("bundle.tar")
        try runTool("tar", "-czf", archive.path, "-C", source.path, ".")

        for type in [BundleType.tgz, .tar] {
            let summary = try await BundleUnpacker().unpack(archive, type: type, into: sandbox.target)
            #expect(summary.bytes == Int64(expected.values.map(\.count).reduce(0, +) + 13))
            for (name, data) in expected {
                #expect(try Data(contentsOf: sandbox.target.appendingPathComponent(name)) == data)
            }
            try FileManager.default.removeItem(at: sandbox.target)
        }
    }

    @Test("a zip bundle unpacks with modes and symbolic links preserved")
    func zipRoundTrip() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive(
            "zip",
            [
                .file("appspec.yml", "version: 0.0\n"),
                .directory("scripts", mode: 0o755),
                .file("scripts/start.sh", String(repeating: "echo hi\n", count: 1000), mode: 0o755),
                .file("config/app.conf", "a=1", mode: 0o640),
                .symlink("scripts/current", to: "start.sh"),
            ])
        let summary = try await BundleUnpacker().unpack(archive, type: .zip, into: sandbox.target)
        #expect(summary.entries == 5)
        #expect(summary.bytes == 13 + 8000 + 3)
        #expect(try sandbox.mode(of: "scripts/start.sh") == 0o755)
        #expect(try sandbox.mode(of: "config/app.conf") == 0o640)
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: sandbox.target.path + "/scripts/current")
                == "start.sh")
        #expect(
            try String(contentsOfFile: sandbox.target.path + "/scripts/start.sh", encoding: .utf8).count == 8000)
    }

    @Test("a directory bundle is copied with its links, and refused when a link points outside it")
    func directoryCopy() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let source = sandbox.work.appendingPathComponent("source")
        try FileManager.default.createDirectory(
            at: source.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try "run".write(to: source.appendingPathComponent("bin/run.sh"), atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o754], ofItemAtPath: source.appendingPathComponent("bin/run.sh").path)
        try FileManager.default.createSymbolicLink(
            atPath: source.appendingPathComponent("link").path, withDestinationPath: "bin/run.sh")
        let summary = try await BundleUnpacker().unpack(source, type: .directory, into: sandbox.target)
        #expect(summary.entries == 3)
        #expect(try sandbox.mode(of: "bin/run.sh") == 0o754)
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: sandbox.target.path + "/link") == "bin/run.sh")

        try FileManager.default.removeItem(at: sandbox.target)
        try FileManager.default.createSymbolicLink(
            atPath: source.appendingPathComponent("bin/etc").path, withDestinationPath: "/etc")
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(source, type: .directory, into: sandbox.target)
        }
        #expect(error?.entry == "bin/etc")
        try sandbox.expectNothingLeft()
    }

    // MARK: The top directory

    @Test("a single top-level directory holding the AppSpec file is stripped; one without it is kept")
    func stripsTopDirectory() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive(
            "tgz",
            [
                .file("myapp/AppSpec.yml", "version: 0.0\n"),
                .file("myapp/myapp/inner.txt", "same name as the top"),
                .directory("myapp/scripts", mode: 0o700),
                .symlink("myapp/scripts/spec", to: "../AppSpec.yml"),
            ])
        let summary = try await BundleUnpacker().unpack(archive, type: .tgz, into: sandbox.target)
        #expect(summary.strippedDirectory == "myapp")
        #expect(FileManager.default.fileExists(atPath: sandbox.target.path + "/AppSpec.yml"))
        #expect(FileManager.default.fileExists(atPath: sandbox.target.path + "/myapp/inner.txt"))
        #expect(try sandbox.mode(of: "scripts") == 0o700)
        #expect(try String(contentsOfFile: sandbox.target.path + "/scripts/spec", encoding: .utf8) == "version: 0.0\n")

        try FileManager.default.removeItem(at: sandbox.target)
        let plain = try sandbox.archive("tar", [.file("myapp/readme.txt", "no spec here")])
        let kept = try await BundleUnpacker().unpack(plain, type: .tar, into: sandbox.target)
        #expect(kept.strippedDirectory == nil)
        #expect(FileManager.default.fileExists(atPath: sandbox.target.path + "/myapp/readme.txt"))
    }

    @Test("a link that would leave the archive once the top directory is stripped is refused")
    func stripKeepsLinksInside() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive(
            "tar", [.file("top/appspec.yml", "version: 0.0\n"), .symlink("top/root", to: "..")])
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(archive, type: .tar, into: sandbox.target)
        }
        #expect(error?.entry == "top/root")
        try sandbox.expectNothingLeft()
    }

    // MARK: HostileBundle tar bundles

    @Test(
        "hostile tar entries are refused, naming the entry, with nothing written anywhere",
        arguments: [
            HostileBundle(
                "parent traversal", [.file("ok.txt", "fine"), .file("../x", "escaped")], entry: "../x",
                reason: "leaves the archive directory"),
            HostileBundle(
                "traversal inside a path", [.file("a/../../x", "escaped")], entry: "a/../../x",
                reason: "leaves the archive directory"),
            HostileBundle("absolute path", [.file("ABSOLUTE/x", "escaped")], entry: "ABSOLUTE/x", reason: "absolute"),
            HostileBundle("symlink to /etc", [.symlink("l", to: "/etc")], entry: "l", reason: "absolute"),
            HostileBundle("symlink up two levels", [.symlink("l", to: "../..")], entry: "l", reason: "outside"),
            HostileBundle(
                "symlink that climbs after a name", [.symlink("a/l", to: "b/../../..")], entry: "a/l",
                reason: "after a name"),
            HostileBundle(
                "write through a symlink to the root", [.symlink("d/up", to: ".."), .file("d/up/x", "through")],
                entry: "d/up/x", reason: "through the symbolic link \"d/up\""),
            HostileBundle(
                "write through a symlink inside", [.directory("sub"), .symlink("a", to: "sub"), .file("a/x", "x")],
                entry: "a/x", reason: "through the symbolic link \"a\""),
            HostileBundle(
                "hard link outside", [.hardLink("h", to: "../../../etc/passwd")], entry: "h",
                reason: "leaves the archive directory"),
            HostileBundle(
                "hard link to a symlink", [.symlink("s", to: "x"), .hardLink("h", to: "s")], entry: "h",
                reason: "not a regular file"),
            HostileBundle(
                "hard link to a later entry", [.hardLink("h", to: "later"), .file("later", "x")], entry: "h",
                reason: "not a regular file"),
            HostileBundle("character device", [.device("dev/null")], entry: "dev/null", reason: "device"),
            HostileBundle("FIFO", [.fifo("pipe")], entry: "pipe", reason: "FIFO"),
            HostileBundle(
                "a file replacing a directory", [.file("d/x", "x"), .file("d", "file")], entry: "d",
                reason: "would replace a directory"),
        ])
    func hostileTar(_ hostile: HostileBundle) async throws {
        for type in ["tar", "tgz"] {
            let sandbox = try BundleSandbox()
            defer { sandbox.remove() }
            // Absolute names point into the sandbox, so a broken unpacker would not touch the real /tmp.
            let absolute = sandbox.base.appendingPathComponent("absolute-escape").path
            let entries = hostile.entries.map { $0.replacing("ABSOLUTE", with: absolute) }
            let archive = try sandbox.archive(type, entries)
            let error = await #expect(throws: BundleError.self, "\(hostile.name) (\(type))") {
                try await BundleUnpacker().unpack(archive, type: type == "tar" ? .tar : .tgz, into: sandbox.target)
            }
            let entry = hostile.entry.replacing("ABSOLUTE", with: absolute)
            #expect(error?.entry == entry, "\(hostile.name)")
            #expect(error?.reason.contains(hostile.reason) == true, "\(hostile.name): \(String(describing: error))")
            #expect(error?.description.contains(entry) == true)
            try sandbox.expectNothingLeft()
        }
    }

    @Test("bundles beyond the byte or entry limits are refused")
    func limits() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let big = try sandbox.archive(
            "tgz", [.file("small", "x"), .file("zeros", String(repeating: "\0", count: 1 << 20))])
        let bytes = await #expect(throws: BundleError.self) {
            try await BundleUnpacker(limits: UnpackLimits(maximumBytes: 1 << 16, maximumEntries: 10))
                .unpack(big, type: .tgz, into: sandbox.target)
        }
        #expect(bytes?.entry == "zeros")
        #expect(bytes?.reason.contains("limit") == true)
        try sandbox.expectNothingLeft()

        let many = try sandbox.archive("tar", (0..<6).map { .file("f\($0)", "x") })
        let entries = await #expect(throws: BundleError.self) {
            try await BundleUnpacker(limits: UnpackLimits(maximumBytes: 1 << 20, maximumEntries: 5))
                .unpack(many, type: .tar, into: sandbox.target)
        }
        #expect(entries?.entry == "f5")
        try sandbox.expectNothingLeft()
    }

    @Test("truncated and corrupt archives are refused")
    func truncated() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let payload = String((0..<200_000).map { _ in "abcdefghij".randomElement()! })
        for type in ["tar", "tgz"] {
            let archive = try sandbox.archive(type, [.file("a.txt", "a"), .file("big.txt", payload)])
            let data = try Data(contentsOf: archive)
            try data.prefix(data.count / 2).write(to: archive)
            let error = await #expect(throws: BundleError.self) {
                try await BundleUnpacker().unpack(archive, type: type == "tar" ? .tar : .tgz, into: sandbox.target)
            }
            #expect(error?.reason.contains("truncated") == true, "\(type): \(String(describing: error))")
            try sandbox.expectNothingLeft()
        }
        let garbage = sandbox.work.appendingPathComponent("garbage.tar")
        try Data((0..<4096).map { _ in UInt8.random(in: 1...255) }).write(to: garbage)
        for type in [BundleType.tar, .tgz, .zip] {
            await #expect(throws: BundleError.self) {
                try await BundleUnpacker().unpack(garbage, type: type, into: sandbox.target)
            }
            try sandbox.expectNothingLeft()
        }
    }

    @Test("a target directory that already has contents is refused and left alone")
    func occupiedTarget() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive("tar", [.file("a", "a")])
        try FileManager.default.createDirectory(at: sandbox.target, withIntermediateDirectories: false)
        try "keep".write(to: sandbox.target.appendingPathComponent("mine"), atomically: false, encoding: .utf8)
        await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(archive, type: .tar, into: sandbox.target)
        }
        #expect(FileManager.default.fileExists(atPath: sandbox.target.path + "/mine"))
    }

    // MARK: HostileBundle zip bundles

    @Test(
        "hostile zip entries are refused, with nothing left behind",
        arguments: [
            HostileBundle(
                "parent traversal", [.file("ok.txt", "fine"), .file("../evil.txt", "x")], entry: "../evil.txt",
                reason: "leaves the archive directory"),
            HostileBundle("symlink escape", [.symlink("l", to: "../../etc")], entry: "l", reason: "outside"),
            HostileBundle("absolute symlink", [.symlink("l", to: "/etc/passwd")], entry: "l", reason: "absolute"),
            HostileBundle(
                "write through a symlink", [.symlink("a", to: "."), .file("a/x", "x")], entry: "a/x",
                reason: "through the symbolic link"),
        ])
    func hostileZip(_ hostile: HostileBundle) async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive("zip", hostile.entries)
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(archive, type: .zip, into: sandbox.target)
        }
        #expect(error?.entry == hostile.entry, "\(hostile.name)")
        #expect(error?.reason.contains(hostile.reason) == true, "\(hostile.name): \(String(describing: error))")
        try sandbox.expectNothingLeft()
    }

    @Test("a zip bomb is refused by its declared size before anything is written")
    func zipBomb() async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive(
            "zip", [.file("first.txt", "x"), .file("bomb", String(repeating: "\0", count: 4 << 20))])
        #expect(try FileManager.default.attributesOfItem(atPath: archive.path)[.size] as? Int ?? 0 < 100_000)
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker(limits: UnpackLimits(maximumBytes: 1 << 20, maximumEntries: 100))
                .unpack(archive, type: .zip, into: sandbox.target)
        }
        #expect(error?.entry == "bomb")
        try sandbox.expectNothingLeft()
    }

    /// A bomb that lies low (declares 1,000 bytes, inflates to 4 MiB) passes the check of declared sizes; the bytes
    /// must then be stopped as they inflate. One that declares more than it holds is refused too.
    @Test("a zip entry that inflates to another size than it declares is refused", arguments: [1000, 8 << 20])
    func zipEntryWithLyingSize(_ declared: Int) async throws {
        let sandbox = try BundleSandbox()
        defer { sandbox.remove() }
        let archive = try sandbox.archive("zip", [.file("bomb.bin", String(repeating: "\0", count: 4 << 20))])
        var bytes = [UInt8](try Data(contentsOf: archive))
        // The uncompressed size sits at offset 22 of the local file header (PK\3\4) and 24 of the central
        // directory's header (PK\1\2); both are rewritten.
        func patch(signature: [UInt8], offset: Int) {
            for start in 0..<(bytes.count - 4) where Array(bytes[start..<start + 4]) == signature {
                for byte in 0..<4 { bytes[start + offset + byte] = UInt8(truncatingIfNeeded: declared >> (8 * byte)) }
            }
        }
        patch(signature: [0x50, 0x4B, 0x03, 0x04], offset: 22)
        patch(signature: [0x50, 0x4B, 0x01, 0x02], offset: 24)
        try Data(bytes).write(to: archive)
        let error = await #expect(throws: BundleError.self) {
            try await BundleUnpacker().unpack(archive, type: .zip, into: sandbox.target)
        }
        #expect(error?.entry == "bomb.bin")
        #expect(error?.reason.contains("declared size") == true, "\(String(describing: error))")
        let written = (try? FileManager.default.attributesOfItem(atPath: sandbox.target.path + "/bomb.bin"))?[.size]
        #expect(written == nil, "nothing of the entry is left")
    }
}

// MARK: - Fixtures

/// One entry of an archive built by Python's tarfile/zipfile.
struct BundleEntrySpec: Sendable, CustomStringConvertible {
    var name: String
    var type: String
    var data = ""
    var link = ""
    var mode = 0o644

    static func file(_ name: String, _ data: String, mode: Int = 0o644) -> BundleEntrySpec {
        BundleEntrySpec(name: name, type: "file", data: data, mode: mode)
    }
    static func directory(_ name: String, mode: Int = 0o755) -> BundleEntrySpec {
        BundleEntrySpec(name: name, type: "dir", mode: mode)
    }
    static func symlink(_ name: String, to target: String) -> BundleEntrySpec {
        BundleEntrySpec(name: name, type: "symlink", link: target, mode: 0o777)
    }
    static func hardLink(_ name: String, to target: String) -> BundleEntrySpec {
        BundleEntrySpec(name: name, type: "hardlink", link: target)
    }
    static func device(_ name: String) -> BundleEntrySpec { BundleEntrySpec(name: name, type: "char") }
    static func fifo(_ name: String) -> BundleEntrySpec { BundleEntrySpec(name: name, type: "fifo") }

    func replacing(_ marker: String, with value: String) -> BundleEntrySpec {
        var copy = self
        copy.name = name.replacingOccurrences(of: marker, with: value)
        return copy
    }

    var json: [String: Any] { ["name": name, "type": type, "data": data, "link": link, "mode": mode] }
    var description: String { "\(type) \(name)" }
}

struct HostileBundle: Sendable, CustomTestStringConvertible {
    var name: String
    var entries: [BundleEntrySpec]
    var entry: String
    var reason: String

    init(_ name: String, _ entries: [BundleEntrySpec], entry: String, reason: String) {
        self.name = name
        self.entries = entries
        self.entry = entry
        self.reason = reason
    }

    var testDescription: String { name }
}

/// A temporary directory: `work/` for archives, and the target `deploy/d-1/deployment-archive`, whose parents must
/// stay empty after a refused bundle.
struct BundleSandbox {
    let base: URL
    var work: URL { base.appendingPathComponent("work") }
    var target: URL { base.appendingPathComponent("deploy/d-1/deployment-archive") }

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: base.appendingPathComponent("deploy/d-1"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: base) }

    /// Nothing was written into the target's parents or beside the sandbox's own folders, and the target is gone.
    func expectNothingLeft(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let manager = FileManager.default
        #expect(
            try manager.contentsOfDirectory(atPath: base.path).sorted() == ["deploy", "work"],
            sourceLocation: sourceLocation)
        #expect(
            try manager.contentsOfDirectory(atPath: base.path + "/deploy") == ["d-1"], sourceLocation: sourceLocation)
        #expect(
            try manager.contentsOfDirectory(atPath: base.path + "/deploy/d-1") == [], sourceLocation: sourceLocation)
    }

    func mode(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: target.path + "/" + path)
        return (attributes[.posixPermissions] as? Int ?? -1) & 0o7777
    }

    func modificationTime(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: target.path + "/" + path)
        return Int((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1)
    }

    /// Builds `kind` ("tar", "tgz" or "zip") from `entries` with Python, which writes whatever names it is given.
    func archive(_ kind: String, format: String = "gnu", _ entries: [BundleEntrySpec]) throws -> URL {
        let output = work.appendingPathComponent("bundle-\(UUID().uuidString).\(kind)")
        let spec: [String: Any] = [
            "kind": kind, "format": format, "output": output.path, "entries": entries.map(\.json),
        ]
        let input = try JSONSerialization.data(withJSONObject: spec)
        try runTool("python3", "-c", archiveBuilder, input: input)
        return output
    }
}

func runTool(_ arguments: String..., input: Data? = nil) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    let stderr = Pipe()
    process.standardError = stderr
    try process.run()
    if let input {
        try stdin.fileHandleForWriting.write(contentsOf: input)
        try stdin.fileHandleForWriting.close()
    }
    let message = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailure(description: "\(arguments) failed: \(String(decoding: message, as: UTF8.self))")
    }
}

struct ToolFailure: Error, CustomStringConvertible {
    var description: String
}

private let archiveBuilder = """
    import io, json, sys, tarfile, zipfile
    spec = json.load(sys.stdin)
    entries = spec["entries"]
    if spec["kind"] in ("tar", "tgz"):
        fmt = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}[spec["format"]]
        types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
        with tarfile.open(spec["output"], "w:gz" if spec["kind"] == "tgz" else "w", format=fmt) as archive:
            for e in entries:
                info = tarfile.TarInfo(e["name"])
                info.type = types[e["type"]]
                info.mode = e["mode"]
                info.mtime = 1700000000
                info.linkname = e["link"]
                data = e["data"].encode()
                if e["type"] == "file":
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
                else:
                    archive.addfile(info)
    else:
        with zipfile.ZipFile(spec["output"], "w") as archive:
            for e in entries:
                name = e["name"] + "/" if e["type"] == "dir" else e["name"]
                info = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
                info.create_system = 3
                if e["type"] == "symlink":
                    info.external_attr = (0o120777 << 16)
                    archive.writestr(info, e["link"], compress_type=zipfile.ZIP_STORED)
                elif e["type"] == "dir":
                    info.external_attr = ((0o040000 | e["mode"]) << 16) | 0x10
                    archive.writestr(info, b"")
                else:
                    info.external_attr = ((0o100000 | e["mode"]) << 16)
                    archive.writestr(info, e["data"].encode(), compress_type=zipfile.ZIP_DEFLATED)
    """
