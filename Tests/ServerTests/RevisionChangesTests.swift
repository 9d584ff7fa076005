import Foundation
import Testing
import ZipIndex

@testable import Server

@Suite("What changed between two zip revisions")
struct RevisionChangesTests {
    private func entry(_ path: String, crc: UInt32, size: UInt64) -> ZipDirectory.Entry {
        ZipDirectory.Entry(path: path, crc32: crc, compressedSize: size, uncompressedSize: size, localHeaderOffset: 0)
    }

    @Test("files are added, removed, changed (size or CRC-32) or unchanged; directories are not files")
    func comparison() {
        let old = [
            entry("app/", crc: 0, size: 0), entry("app/a.py", crc: 1, size: 10), entry("model.bin", crc: 2, size: 1000),
            entry("old.txt", crc: 3, size: 5), entry("same-size.txt", crc: 4, size: 7),
        ]
        let new = [
            entry("app/", crc: 0, size: 0), entry("app/a.py", crc: 1, size: 12), entry("model.bin", crc: 2, size: 1000),
            entry("new.txt", crc: 5, size: 6), entry("same-size.txt", crc: 9, size: 7),
        ]
        let changes = RevisionChanges(old: old, new: new)
        #expect(changes.added.map(\.path) == ["new.txt"])
        #expect(changes.removed.map(\.path) == ["old.txt"])
        #expect(changes.changed.map(\.path) == ["app/a.py", "same-size.txt"])
        #expect(changes.unchanged == 1)
        #expect(changes.changedBytes == 6 + 12 + 7)
        #expect(changes.totalBytes == 12 + 1000 + 6 + 7)
    }

    @Test("sizes near the top of UInt64 add up without trapping; a path given twice counts once")
    func hostileSizes() {
        let new = [entry("a", crc: 1, size: .max), entry("b", crc: 2, size: .max), entry("a", crc: 3, size: 1)]
        let changes = RevisionChanges(old: [], new: new)
        #expect(changes.added.count == 2)
        _ = changes.totalBytes
    }

    @Test(
        "a deployment's page names what changed from the group's previous zip revision, and says why when it cannot"
    )
    func onThePage() async throws {
        try await TestServer.withAdmin { server, client, admin in
            try await client.prepareFleet(as: admin)
            for (name, files) in [
                ("v1.zip", #"{"appspec.yml":"version: 0.0\nos: linux\n","a.txt":"one","b.bin":"same","c.txt":"gone"}"#),
                ("v2.zip", #"{"appspec.yml":"version: 0.0\nos: linux\n","a.txt":"two","b.bin":"same","d.txt":"new"}"#),
            ] {
                let put = try await client.s3(.put, "/releases/\(name)", body: try Self.zip(files), as: admin)
                #expect(put.status == 200, "\(put.text)")
            }
            let agent = try await server.key(.agent, instanceName: "gpu-01")
            func deploy(_ key: String) async throws -> String {
                let answer = try await client.codeDeploy(
                    "CreateDeployment",
                    #"{"applicationName":"web","deploymentGroupName":"prod","revision":{"revisionType":"S3","s3Location":{"bucket":"releases","key":"\#(key)","bundleType":"zip"}}}"#,
                    as: admin)
                let id = try #require(answer.json?["deploymentId"] as? String, "\(answer.text)")
                _ = try await client.runEveryCommand(as: agent)
                return id
            }
            let first = try await deploy("v1.zip")
            let second = try await deploy("v2.zip")
            let third = try await deploy("app.zip")
            var browser = ConsoleBrowser(client: client)
            _ = try await browser.signIn(admin)
            #expect(!(try await browser.get("/ui/deployments/\(first)").text.contains("changes-heading")))
            let page = try await browser.get("/ui/deployments/\(second)").text
            #expect(page.contains("1 added, 1 removed, 1 changed, 2 unchanged"), "\(page)")
            #expect(page.contains(#"<span class="revision">d.txt</span>"#))
            let notZip = try await browser.get("/ui/deployments/\(third)").text
            #expect(notZip.contains("Not shown: s3://releases/app.zip is not a readable zip"), "\(notZip)")
        }
    }

    /// A zip made by Python's zipfile from {name: text}.
    static func zip(_ filesJSON: String) throws -> Data {
        let script = """
            import io, json, sys, zipfile
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, text in json.loads(sys.argv[1]).items():
                    archive.writestr(name, text)
            sys.stdout.buffer.write(data.getvalue())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, filesJSON]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return data
    }
}
