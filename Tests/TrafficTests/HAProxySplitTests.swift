import Foundation
import Synchronization
import Testing

@testable import Traffic

/// Traffic splits as values, and what Slipway reads from HAProxy's map commands: no HAProxy needed.
@Suite("Traffic split values and map replies")
struct HAProxySplitParsingTests {
    private let address = HAProxyAddress.unixSocket(path: "/run/haproxy.sock")
    private let map = try! HAProxyMapFile(path: "/etc/haproxy/split.map")

    @Test("a map path must be absolute, short and free of anything that could start another command or name a file")
    func mapPaths() throws {
        for good in ["/etc/haproxy/split.map", "/tmp/slipway-split-0A1B/split.map", "/a/.b/c..d/x+y@z,w=v~.map"] {
            #expect(try HAProxyMapFile(path: good).path == good)
        }
        for bad in [
            "", "split.map", "./split.map", "etc/haproxy/split.map", "/etc/haproxy/split.map\nshow info",
            "/etc/haproxy/split.map;commit map @1 /x", "/etc/haproxy/split map", "/etc/haproxy/split\tmap",
            "/etc/haproxy/split\u{0}.map", "/etc/haproxy/../passwd", "/etc/haproxy/..", "/../split.map",
            "/etc/haproxy/split#.map", "/etc/haproxy/split\\.map", "/etc/haproxy/split.map<<", "/etc/haproxy/",
            "/etc/haproxy/é.map", "/" + String(repeating: "a", count: 2000), "/etc/\u{7f}.map",
        ] {
            let error = #expect(throws: HAProxyError.self, "\(bad.debugDescription)") { try HAProxyMapFile(path: bad) }
            #expect(error?.message.contains("give the absolute path haproxy.cfg names the map by") == true)
        }
        _ = try HAProxyMapFile(path: "/" + String(repeating: "a", count: 1023))
        #expect(throws: HAProxyError.self) { try HAProxyMapFile(path: "/" + String(repeating: "a", count: 1024)) }
    }

    @Test("map keys and values that could end the entry, start a comment or another command are refused")
    func mapEntries() throws {
        #expect(try HAProxyMapEntry(key: "0:9", value: "green").description == "0:9 green")
        _ = try HAProxyMapEntry(key: "/api/v1", value: "be_api-2.x")
        for (key, value) in [
            ("", "green"), ("0:9", ""), ("0:9 1", "green"), ("0:9", "green;show info"), ("0:9;", "green"),
            ("0:9\n", "green"),
            ("0:9", "green\u{0}"), ("#0:9", "green"), ("0:9", "<<"), ("0:9", "gr\\een"), ("0:9", "grün"),
            (String(repeating: "1", count: 257), "green"),
        ] {
            #expect(throws: HAProxyError.self, "\(key.debugDescription) \(value.debugDescription)") {
                try HAProxyMapEntry(key: key, value: value)
            }
        }
    }

    @Test("a share outside 0...100, a backend name HAProxy would not allow, or one backend on both sides is refused")
    func hostileSplits() throws {
        for percent in [-1, 101, Int.max, Int.min] {
            let error = #expect(throws: HAProxyError.self, "\(percent)") {
                try TrafficSplit(greenPercent: percent, blue: "blue", green: "green")
            }
            #expect(error?.message.contains("give a whole percent from 0 to 100") == true)
        }
        for (blue, green) in [
            ("", "green"), ("blue", "green blue"), ("blue;show info", "green"), ("blue", "green\n"),
            (String(repeating: "b", count: 101), "green"), ("blue", "blue"), ("blue", "gr/een"),
        ] {
            #expect(throws: HAProxyError.self, "\(blue.debugDescription) \(green.debugDescription)") {
                try TrafficSplit(greenPercent: 10, blue: blue, green: green)
            }
        }
    }

    @Test("a split sends 0:(p-1) to green and p:99 to blue; at 0 % and 100 % one entry names one backend")
    func splitEntries() throws {
        func entries(_ percent: Int) throws -> [String] {
            try TrafficSplit(greenPercent: percent, blue: "blue", green: "green").entries.map(\.description)
        }
        #expect(try entries(0) == ["0:99 blue"])
        #expect(try entries(1) == ["0:0 green", "1:99 blue"])
        #expect(try entries(10) == ["0:9 green", "10:99 blue"])
        #expect(try entries(99) == ["0:98 green", "99:99 blue"])
        #expect(try entries(100) == ["0:99 green"])
        let file = try TrafficSplit(greenPercent: 10, blue: "blue", green: "green").fileContents
        #expect(file.hasPrefix("# "), "a comment says who wrote it")
        #expect(file.split(separator: "\n").dropFirst() == ["0:9 green", "10:99 blue"])
    }

    @Test("every share from 0 to 100 reads back from its entries in either order; other entries read as no split")
    func splitRoundTrip() throws {
        for percent in 0...100 {
            let split = try TrafficSplit(greenPercent: percent, blue: "blue", green: "green")
            #expect(TrafficSplit(entries: split.entries, blue: "blue", green: "green") == split)
            #expect(TrafficSplit(entries: split.entries.reversed(), blue: "blue", green: "green") == split)
            let swapped = TrafficSplit(entries: split.entries, blue: "green", green: "blue")
            if percent == 0 || percent == 100 {
                #expect(swapped?.greenPercent == 100 - percent, "one entry naming one backend reads both ways")
            } else {
                #expect(swapped == nil, "\(percent)")
            }
            #expect(TrafficSplit(entries: split.entries + split.entries, blue: "blue", green: "green") == nil)
        }
        func entries(_ lines: [(String, String)]) throws -> [HAProxyMapEntry] {
            try lines.map { try HAProxyMapEntry(key: $0.0, value: $0.1) }
        }
        for lines in [
            [], [("0:9", "green")], [("0:9", "green"), ("11:99", "blue")], [("0:9", "blue"), ("10:99", "green")],
            [("0:9", "green"), ("10:99", "other")], [("0:100", "blue")], [("0:99", "other")],
            [("0:99", "blue"), ("0:99", "green")], [("0:9", "green"), ("10:99", "blue"), ("5", "blue")],
        ] {
            #expect(TrafficSplit(entries: try entries(lines), blue: "blue", green: "green") == nil, "\(lines)")
        }
        let valid = try TrafficSplit(greenPercent: 10, blue: "blue", green: "green").entries
        #expect(TrafficSplit(entries: valid, blue: "blue;x", green: "green") == nil, "names are checked")
    }

    @Test("prepare map's reply is a version only when it is `New version created: <digits>` within 32 bits")
    func prepareReplies() throws {
        #expect(try HAProxyMapReply.version("New version created: 1\n\n", of: map, from: address) == 1)
        #expect(try HAProxyMapReply.version("New version created: 4294967295\n", of: map, from: address) == .max)
        for reply in [
            "", "\n", "New version created: ", "New version created: 99999999999999999999999",
            "New version created: 4294967296", "New version created: -1", "New version created: +5",
            "New version created: x", "New version created: 1 2", "New version created: 0x10", "New version created: ١",
            "new version created: 1", "Unknown map identifier. Please use #<id> or <file>.\n\n", "Permission denied",
            String(repeating: "x", count: 10_000),
        ] {
            let error = #expect(throws: HAProxyError.self, "\(reply.debugDescription)") {
                try HAProxyMapReply.version(reply, of: map, from: address)
            }
            #expect((error?.message.count ?? 0) < 700, "an endless reply is cut")
        }
    }

    @Test("show map's reply is read a line at a time; a line that is not `0x<address> <key> <value>` is an error")
    func showReplies() throws {
        let entries = try HAProxyMapReply.entries(
            "0x55f3a0d86480 0:49 green\n0x7f4d28061510 50:99 blue\n\n", of: map, from: address)
        #expect(entries.map(\.description) == ["0:49 green", "50:99 blue"])
        #expect(try HAProxyMapReply.entries("\n", of: map, from: address).isEmpty, "an empty map")
        #expect(try HAProxyMapReply.entries("", of: map, from: address).isEmpty)
        for reply in [
            "garbage\n", "0x1 0:9\n", "0x 0:9 green\n", "0xZZ 0:9 green\n", "0x1 0:9 green extra\n",
            "0x1  0:9 green\n", "0x1 0:9 gr;een\n", "0x1 0:9 green\r\n", "0x1 0:9 green\nshow info\n",
            "0x12345678901234567 0:9 green\n", "0x1 0:9 green\u{0}\n", "0x1 0:9 \u{1b}[31mgreen\n",
            "Unknown map identifier. Please use #<id> or <file>.\n\n", "Permission denied\n",
            "0x1 0:9 green\n" + String(repeating: "x", count: 10_000),
        ] {
            let error = #expect(throws: HAProxyError.self, "\(reply.debugDescription)") {
                try HAProxyMapReply.entries(reply, of: map, from: address)
            }
            #expect((error?.message.count ?? 0) < 700, "an endless reply is cut")
        }
    }

    @Test("HAProxy's refusals of map commands become messages that say what to fix")
    func refusals() {
        func explain(_ text: String) -> String {
            HAProxyMapReply.explain(text, map: map, address: address, doing: "commit the new entries of")
        }
        #expect(
            explain("Unknown map identifier. Please use #<id> or <file>.").contains(
                "has loaded no map from '/etc/haproxy/split.map': give the path exactly as haproxy.cfg writes it"))
        #expect(explain("Permission denied").contains("needs `level admin`"))
        #expect(explain("Version number out of range.").contains("another change of the map was committed"))
        #expect(
            explain("'a:b' is not a valid number range.").hasSuffix(
                "refused to commit the new entries of map /etc/haproxy/split.map: 'a:b' is not a valid number range."))
        #expect(explain("bad\u{1b}[2J\nshow").contains("\"bad\\u{1B}[2J\\nshow\""), "control characters are escaped")
        #expect(explain(String(repeating: "x", count: 10_000)).count < 600, "an endless refusal is cut")
    }

    @Test("the map file is replaced at once with mode 0644, and a symlink is never followed")
    func mapFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-map-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try HAProxyMapFile(path: directory.appendingPathComponent("split.map").path)
        let split = try TrafficSplit(greenPercent: 10, blue: "blue", green: "green")

        try file.write(try TrafficSplit(greenPercent: 50, blue: "blue", green: "green"))
        try file.write(split)
        #expect(try String(contentsOfFile: file.path, encoding: .utf8) == split.fileContents)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["split.map"], "no leftover")

        let victim = directory.appendingPathComponent("victim")
        try "keep".write(to: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: directory.appendingPathComponent(".tmp").path,
            withDestinationPath: victim.path)
        #expect(throws: HAProxyError.self) { try file.write("0:99 green\n", temporaryName: ".tmp") }
        #expect(try String(contentsOf: victim, encoding: .utf8) == "keep", "the symlink's target is untouched")
        #expect(try String(contentsOfFile: file.path, encoding: .utf8) == split.fileContents)

        try FileManager.default.removeItem(atPath: file.path)
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: victim.path)
        try file.write(split)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "keep", "the symlink is replaced, not followed")
        #expect(try String(contentsOfFile: file.path, encoding: .utf8) == split.fileContents)

        let missing = try HAProxyMapFile(path: directory.appendingPathComponent("none/split.map").path)
        let error = #expect(throws: HAProxyError.self) { try missing.write(split) }
        #expect(error?.message.contains("directory must exist") == true, "\(String(describing: error))")
    }
}

/// Traffic splits through a real HAProxy with two backends, `blue` and `green`.
@Suite(
    "Traffic split through HAProxy", .serialized,
    .enabled(if: HAProxyHarness.isAvailable, "needs Debian's haproxy (.ci/run installs it)"))
struct HAProxySplitTests {
    @Test("at 10 % green gets 10 ± 3 % of 2,000 requests; at 0 % and 100 % every request goes to one side")
    func shares() async throws {
        let haproxy = try await HAProxySplitHarness(initial: HAProxySplitHarness.split(50))
        try await haproxy.runtime.replaceMap(haproxy.map, with: HAProxySplitHarness.split(10).entries)
        let answers = await haproxy.answers(2000)
        #expect(answers.keys.sorted() == ["blue", "green"], "\(answers)")
        let green = Double(answers["green", default: 0]) / 20
        #expect(abs(green - 10) <= 3, "green got \(green) %")

        try await haproxy.runtime.replaceMap(haproxy.map, with: HAProxySplitHarness.split(0).entries)
        #expect(await haproxy.answers(1000) == ["blue": 1000])
        try await haproxy.runtime.replaceMap(haproxy.map, with: HAProxySplitHarness.split(100).entries)
        #expect(await haproxy.answers(1000) == ["green": 1000])
    }

    @Test("a replace is atomic: while requests flow, switching 0 → 100 → 0 fails none, and each commit holds at once")
    func atomicSwitch() async throws {
        let haproxy = try await HAProxySplitHarness(initial: HAProxySplitHarness.split(0))
        let port = haproxy.frontendPort
        let answers = try await withThrowingTaskGroup(of: [String: Int].self) { group in
            let stopped = StopFlag()
            for _ in 0..<4 {
                group.addTask {
                    var answers: [String: Int] = [:]
                    while !stopped.isSet { answers[await HAProxySplitHarness.answer(port: port), default: 0] += 1 }
                    return answers
                }
            }
            var afterCommits: [String: Int] = [:]
            for _ in 0..<10 {
                for (percent, side) in [(100, "green"), (0, "blue")] {
                    try await haproxy.runtime.replaceMap(haproxy.map, with: HAProxySplitHarness.split(percent).entries)
                    for _ in 0..<20 {
                        let answer = await HAProxySplitHarness.answer(port: port)
                        afterCommits[answer == side ? "as committed" : "\(answer) at \(percent) %", default: 0] += 1
                    }
                }
            }
            stopped.set()
            #expect(afterCommits == ["as committed": 400])
            return try await group.reduce(into: [:]) { total, answers in total.merge(answers, uniquingKeysWith: +) }
        }
        #expect(answers.keys.sorted() == ["blue", "green"], "no request failed: \(answers)")
        #expect(answers.values.reduce(0, +) > 200, "requests flowed during the switches: \(answers)")
    }

    @Test("with every green server in maintenance and the split at 100 %, the nbsrv guard sends every request to blue")
    func greenDown() async throws {
        let haproxy = try await HAProxySplitHarness(initial: HAProxySplitHarness.split(0))
        try await haproxy.runtime.setState(.maint, of: HAProxyServer(backend: "green", server: "g1"))
        try await haproxy.runtime.replaceMap(haproxy.map, with: HAProxySplitHarness.split(100).entries)
        #expect(await haproxy.answers(1000) == ["blue": 1000])
        try await haproxy.runtime.setState(.ready, of: HAProxyServer(backend: "green", server: "g1"))
        #expect(await haproxy.answers(100) == ["green": 100], "green takes them back once in service")
    }

    @Test("HAProxy loads the file Slipway wrote, and mapEntries reads back what replaceMap wrote")
    func readBack() async throws {
        let haproxy = try await HAProxySplitHarness(initial: HAProxySplitHarness.split(25))
        let loaded = try await haproxy.runtime.mapEntries(of: haproxy.map)
        #expect(TrafficSplit(entries: loaded, blue: "blue", green: "green") == (try HAProxySplitHarness.split(25)))
        for percent in [0, 1, 10, 50, 99, 100] {
            let split = try HAProxySplitHarness.split(percent)
            try await haproxy.runtime.replaceMap(haproxy.map, with: split.entries)
            let entries = try await haproxy.runtime.mapEntries(of: haproxy.map)
            #expect(entries == split.entries, "\(percent) %")
            #expect(TrafficSplit(entries: entries, blue: "blue", green: "green") == split)
        }
    }

    @Test("HAProxy's refusals (a map it did not load, an entry it rejects) say what to fix; the map keeps its entries")
    func refusals() async throws {
        let haproxy = try await HAProxySplitHarness(initial: HAProxySplitHarness.split(10))
        let other = try HAProxyMapFile(path: haproxy.directory.appendingPathComponent("other.map").path)
        let replaced = await #expect(throws: HAProxyError.self) {
            try await haproxy.runtime.replaceMap(other, with: [])
        }
        let read = await #expect(throws: HAProxyError.self) { try await haproxy.runtime.mapEntries(of: other) }
        for error in [replaced, read] {
            #expect(
                error?.message.contains("has loaded no map from '\(other.path)': give the path exactly") == true,
                "\(String(describing: error))")
        }
        let error = await #expect(throws: HAProxyError.self) {
            try await haproxy.runtime.replaceMap(
                haproxy.map,
                with: [HAProxyMapEntry(key: "0:99", value: "green"), HAProxyMapEntry(key: "a:b", value: "blue")])
        }
        #expect(
            error?.message.contains("refused to add 'a:b blue' to map \(haproxy.map.path): 'a:b' is not a valid")
                == true, "\(String(describing: error))")
        let entries = try await haproxy.runtime.mapEntries(of: haproxy.map)
        #expect(entries == (try HAProxySplitHarness.split(10).entries), "the uncommitted version changed nothing")
        let answers = await haproxy.answers(500)
        #expect(
            answers["green", default: 0] < 100, "the uncommitted `0:99 green` sends no request to green: \(answers)")
    }
}

/// A flag the workers of a test read while the test body sets it.
private final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
