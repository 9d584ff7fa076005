import AppSpec
import Foundation
import Testing

/// One AppSpec file of the fixture set and what reading it must report.
struct Fixture: CustomTestStringConvertible, Sendable {
    /// A finding the fixture expects, from a line `severity line:column path | message fragment` of its `.expect`
    /// file (`-` for no location or no path).
    struct Expected: Sendable {
        var severity: AppSpecDiagnostic.Severity
        var location: SourcePosition?
        var path: String
        var fragment: String
    }

    var name: String
    var url: URL
    var options: AppSpecParseOptions
    var expected: [Expected]

    var testDescription: String { name }

    static func all(in folder: String) -> [Fixture] {
        let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasSuffix(".expect") }.sorted().map { name in
            let url = root.appendingPathComponent(name)
            let expectation = (try? String(contentsOf: url.appendingPathExtension("expect"), encoding: .utf8)) ?? ""
            var options = AppSpecParseOptions()
            var expected: [Expected] = []
            for line in expectation.split(separator: "\n").map(String.init) {
                if line.hasPrefix("options:") {
                    for setting in line.dropFirst("options:".count).split(separator: " ") {
                        let pair = setting.split(separator: "=").map(String.init)
                        if pair[0] == "os" { options.operatingSystem = OperatingSystem(rawValue: pair[1]) }
                        if pair[0] == "platform" { options.computePlatform = ComputePlatform(rawValue: pair[1]) }
                    }
                    continue
                }
                let halves = line.split(separator: "|", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                let head = halves[0].split(separator: " ").map(String.init)
                let location: SourcePosition? =
                    head[1] == "-"
                    ? nil
                    : SourcePosition(
                        line: Int(head[1].split(separator: ":")[0])!,
                        column: Int(head[1].split(separator: ":")[1])!
                    )
                expected.append(
                    Expected(
                        severity: AppSpecDiagnostic.Severity(rawValue: head[0])!,
                        location: location,
                        path: head[2] == "-" ? "" : head[2],
                        fragment: halves[1]
                    )
                )
            }
            return Fixture(name: "\(folder)/\(name)", url: url, options: options, expected: expected)
        }
    }
}

@Suite("The fixture set")
struct FixtureTests {
    @Test("the fixture set covers valid and invalid files")
    func fixtureSetIsThere() {
        #expect(Fixture.all(in: "valid").count >= 15)
        #expect(Fixture.all(in: "invalid").count >= 45)
    }

    @Test("a valid fixture is accepted, with exactly the warnings it expects", arguments: Fixture.all(in: "valid"))
    func validFixture(_ fixture: Fixture) throws {
        let result = AppSpec.parse(bytes: try Data(contentsOf: fixture.url), options: fixture.options)
        #expect(result.isValid, "\(result.diagnostics)")
        check(result.diagnostics, against: fixture.expected)
    }

    @Test("an invalid fixture is refused with exactly the errors it expects", arguments: Fixture.all(in: "invalid"))
    func invalidFixture(_ fixture: Fixture) throws {
        #expect(fixture.expected.contains { $0.severity == .error }, "an invalid fixture must expect an error")
        let result = AppSpec.parse(bytes: try Data(contentsOf: fixture.url), options: fixture.options)
        #expect(!result.isValid)
        #expect(result.appSpec == nil)
        check(result.diagnostics, against: fixture.expected)
    }

    private func check(_ diagnostics: [AppSpecDiagnostic], against expected: [Fixture.Expected]) {
        #expect(diagnostics.count == expected.count, "\(diagnostics.map(\.description).joined(separator: "\n"))")
        for (found, wanted) in zip(diagnostics, expected) {
            #expect(found.severity == wanted.severity, "\(found)")
            #expect(found.location == wanted.location, "\(found)")
            #expect(found.path == wanted.path, "\(found)")
            #expect(found.message.contains(wanted.fragment), "\(found) should say \(wanted.fragment)")
        }
    }
}
