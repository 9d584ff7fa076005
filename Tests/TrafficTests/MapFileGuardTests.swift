import Deployments
import Engine
import Foundation
import Testing
import Traffic

/// A map path comes from a deployment group: Slipway must never rewrite a file that is not one of HAProxy's maps.
@Suite("Which files a traffic split may rewrite")
struct MapFileGuardTests {
    static func file(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-map-\(UUID())").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a file of map entries and comments may be rewritten; any other file, link or directory may not")
    func onlyMapFiles() throws {
        let map = try Self.file("# Slipway's split\n0:9 app-b\n10:99 app-a\n\n")
        defer { unlink(map) }
        #expect(try HAProxyMapFile(path: map).holdsSplitEntries)
        for contents in [
            "root:x:0:0:root:/root:/bin/bash\n", "0:99 app a\n", "0:99\n", "x:99 app-a\n", "0:99 app;b\n",
            "99999999999:1 app-a\n", String(repeating: "0:99 app-a\n", count: 7000),
        ] {
            let other = try Self.file(contents)
            defer { unlink(other) }
            #expect(try !HAProxyMapFile(path: other).holdsSplitEntries, "\(contents.prefix(40).debugDescription)")
        }
        let link = map + ".link"
        symlink(map, link)
        defer { unlink(link) }
        #expect(try !HAProxyMapFile(path: link).holdsSplitEntries)
        #expect(try !HAProxyMapFile(path: FileManager.default.temporaryDirectory.path).holdsSplitEntries)
        #expect(try !HAProxyMapFile(path: map + ".missing").holdsSplitEntries)
    }

    @Test(
        "a split naming a map HAProxy does not know fails and leaves the file at that path alone",
        .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
    func unknownMapIsNotWritten() async throws {
        let haproxy = try await HAProxyHarness(servers: ["s1", "s2"], pair: true)
        let other = try Self.file("0:99 app-a\n")
        defer { unlink(other) }
        let controller = HAProxyTrafficController(runtimes: [haproxy.runtime])
        let result = await controller.route(
            TrafficRoute(
                deploymentId: "d-AAAAAAAAA", step: 0, map: other, originalBackend: "app-a", replacementBackend: "app-b",
                replacementPercent: 0))
        guard case .failed = result else {
            Issue.record("the split succeeded: \(result)")
            return
        }
        #expect(try String(contentsOfFile: other, encoding: .utf8) == "0:99 app-a\n")
    }
}
