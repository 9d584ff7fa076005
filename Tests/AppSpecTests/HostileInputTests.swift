import AppSpec
import Foundation
import Testing

@Suite("Hostile input gets a clear error, never a crash or a hang")
struct HostileInputTests {
    private func onlyError(_ result: AppSpecParseResult) -> String {
        #expect(!result.isValid)
        #expect(result.errors.count == 1, "\(result.diagnostics)")
        return result.errors.first?.message ?? ""
    }

    @Test("100,000 nested flow lists stop at a nesting limit")
    func deepFlowNesting() {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(onlyError(AppSpec.parse(text)).contains("the document nests lists and mappings"))
    }

    @Test("deeply nested block lists and mappings stop at the depth limit")
    func deepBlockNesting() {
        let lists = (0..<200).map { String(repeating: " ", count: $0) + "-" }.joined(separator: "\n")
        #expect(onlyError(AppSpec.parse(lists)).contains("more than 64 levels deep"))
        let mappings = (0..<200).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")
        #expect(onlyError(AppSpec.parse(mappings)).contains("more than 64 levels deep"))
    }

    @Test("a billion-laughs document is refused before it is expanded")
    func billionLaughs() {
        var text = "version: 0.0\nos: linux\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            text +=
                "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        #expect(onlyError(AppSpec.parse(text)).contains("once its aliases are expanded"))
    }

    @Test("an alias bomb used as mapping keys, which a duplicate-key check would hash for ever, is refused")
    func aliasBombInKeys() {
        var text = "a: &a [x, x, x, x, x, x, x, x]\n"
        for (previous, name) in zip("abcdefgh", "bcdefghi") {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 8).joined(separator: ", ") + "]\n"
        }
        text += "? *i\n: 1\n? *i\n: 2\n"
        #expect(onlyError(AppSpec.parse(text)).contains("once its aliases are expanded"))
    }

    @Test("a file of several megabytes is refused by its size")
    func multiMegabyte() {
        let text =
            "version: 0.0\nos: linux\n" + String(repeating: "# padding padding padding padding\n", count: 100_000)
        #expect(onlyError(AppSpec.parse(text)).contains("an AppSpec file may be at most 1048576 bytes"))
    }

    @Test("a large file within the limit is read whole")
    func largeValidFile() throws {
        let files = (0..<5_000).map { "  - source: dir\($0)\n    destination: /srv/dir\($0)\n" }.joined()
        let spec = try #require(try AppSpec.parse("version: 0.0\nos: linux\nfiles:\n" + files).get().server)
        #expect(spec.files.count == 5_000)
    }

    @Test("the limits can be tightened by the caller")
    func customLimits() {
        let limits = AppSpecLimits(maximumBytes: 10, maximumDepth: 1, maximumNodes: 3)
        let result = AppSpec.parse("version: 0.0\nos: linux\n", options: AppSpecParseOptions(limits: limits))
        #expect(onlyError(result).contains("at most 10 bytes"))
        let nested = AppSpec.parse("a: [b]", options: AppSpecParseOptions(limits: AppSpecLimits(maximumDepth: 1)))
        #expect(onlyError(nested).contains("more than 1 levels deep"))
    }

    @Test("NUL bytes, invalid UTF-8 and random bytes are refused as not UTF-8 text or not YAML")
    func binary() {
        #expect(onlyError(AppSpec.parse(bytes: [0x00, 0x01, 0x02])).contains("not UTF-8 text"))
        #expect(onlyError(AppSpec.parse(bytes: [0xC3, 0x28])).contains("not UTF-8 text"))
        var generator = SplitMix(seed: 42)
        for length in [1, 7, 64, 512, 4096] {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let result = AppSpec.parse(bytes: bytes)
                #expect(!result.isValid)
            }
        }
    }

    @Test("a list, a mapping or a scalar in any field is an error, never a crash")
    func wrongTypesEverywhere() {
        let template = """
            version: 0.0
            os: linux
            files:
              - source: a
                destination: /srv
            file_exists_behavior: RETAIN
            permissions:
              - object: /srv
                pattern: "*"
                except: [x]
                owner: o
                group: g
                mode: 644
                acls: ["u:bob:rw"]
                context: {name: n, type: t, range: s0}
                type: [file]
            hooks:
              AfterInstall:
                - location: a.sh
                  timeout: 5
                  runas: r
                  sudo: true
            """
        let lines = template.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(AppSpec.parse(template).isValid)
        for (index, line) in lines.enumerated() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            for replacement in ["[1, 2]", "{k: v}", "\"text\"", "", "-1", "!!binary aGk="] {
                var copy = lines
                copy[index] = String(line[...colon]) + " " + replacement
                // Reading must end (with or without an error) for every variant.
                _ = AppSpec.parse(copy.joined(separator: "\n"))
            }
        }
    }

    @Test("a YAML stream with several documents is refused")
    func severalDocuments() {
        #expect(onlyError(AppSpec.parse("version: 0.0\n---\nos: linux\n")).contains("more than one YAML document"))
    }
}

/// A small deterministic generator, so a failing random input can be reproduced.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

@Suite("Messages quoting the file")
struct QuotedTextTests {
    @Test("a message quoting a long or control-laden value is cut and made safe for a terminal")
    func printableMessages() throws {
        let long = String(repeating: "x", count: 5_000)
        let result = AppSpec.parse("version: 0.0\nos: \"\(long)\\e[31m\"\n")
        let message = try #require(result.errors.first?.message)
        #expect(message.count <= 301)
        #expect(message.hasSuffix("…"))
        let escape = AppSpec.parse("version: 0.0\nos: \"linux\\e[2J\"\n")
        #expect(escape.errors.first?.message.contains("\u{1B}") == false)
        #expect(escape.errors.first?.message.contains("linux?[2J") == true)
    }
}
