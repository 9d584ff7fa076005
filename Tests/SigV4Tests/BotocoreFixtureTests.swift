import Foundation
import Testing

@testable import SigV4

/// Requests signed by botocore's own SigV4 signers (`SigV4Auth`, `S3SigV4Auth`, `SigV4QueryAuth`,
/// `S3SigV4QueryAuth`), produced by `Fixtures/botocore_sign.py` and committed as `Fixtures/botocore_signed.json`.
///
/// Every committed request must verify and must re-sign to botocore's exact signature. Where `python3` with
/// botocore is importable, the script is run again and its output must equal the committed file's cases.
@Suite struct BotocoreFixtureTests {
    struct Fixture: Decodable, Equatable {
        var botocoreVersion: String
        var cases: [Case]
    }

    struct Case: Decodable, Equatable, Sendable, CustomTestStringConvertible {
        var name: String
        var service: String
        var region: String
        var accessKeyId: String
        var secretAccessKey: String
        var sessionToken: String?
        var method: String
        var path: String
        var query: String
        var headers: [[String]]
        var body: String
        var bodySHA256: String
        var presigned: Bool
        var timestamp: String

        var testDescription: String { name }
        var httpHeaders: [HTTPHeader] { headers.map { HTTPHeader($0[0], $0[1]) } }
        var signingDate: Date { AmzDate.date(fromTimestamp: timestamp)! }
        var credentials: Credentials {
            Credentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
        }
    }

    static let fixturesDirectory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func decode(_ data: Data) throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: data)
    }

    static let committed: Fixture = {
        let url = fixturesDirectory.appendingPathComponent("botocore_signed.json")
        // A missing or unreadable fixture fails every test that uses it, loudly.
        return try! decode(Data(contentsOf: url))
    }()

    /// Runs `python3` (found on PATH) with `arguments`; returns its exit status and standard output.
    static func runPython(_ arguments: [String]) -> (status: Int32, output: Data)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    static let botocoreAvailable: Bool = runPython(["-c", "import botocore"])?.status == 0

    @Test("the committed fixture covers the request shapes Slipway serves")
    func fixtureCoversTheServices() {
        let cases = Self.committed.cases
        #expect(cases.count >= 10)
        let services = Set(cases.map(\.service))
        #expect(services.isSuperset(of: ["codedeploy", "codedeploy-commands-secure", "s3", "iam"]))
        #expect(cases.contains { $0.presigned && $0.service == "s3" })
        #expect(cases.contains { $0.presigned && $0.service != "s3" })
        #expect(cases.contains { $0.sessionToken != nil && !$0.presigned })
        #expect(cases.contains { $0.sessionToken != nil && $0.presigned })
    }

    @Test(
        "botocore run live signs exactly what is committed",
        .enabled(if: botocoreAvailable, "python3 with botocore is not importable here"))
    func liveBotocoreAgreesWithCommittedFixture() throws {
        let script = Self.fixturesDirectory.appendingPathComponent("botocore_sign.py").path
        let run = try #require(Self.runPython([script]))
        #expect(run.status == 0)
        let live = try Self.decode(run.output)
        #expect(live.cases.count == Self.committed.cases.count)
        for (liveCase, committedCase) in zip(live.cases, Self.committed.cases) {
            #expect(liveCase == committedCase, "case '\(committedCase.name)' differs from the committed fixture")
        }
    }

    @Test("verifies every botocore-signed request", arguments: committed.cases)
    func verifiesBotocoreSignedRequest(_ fixture: Case) throws {
        #expect(Support.sha256(fixture.body) == fixture.bodySHA256)
        let request = VerificationRequest(
            method: fixture.method, path: fixture.path, query: fixture.query, headers: fixture.httpHeaders,
            bodySHA256: fixture.bodySHA256)
        var looked: [String] = []
        let verified = try Verifier().authenticate(
            request, now: fixture.signingDate.addingTimeInterval(30), expectedRegion: fixture.region,
            expectedService: fixture.service
        ) { accessKeyId in
            looked.append(accessKeyId)
            return accessKeyId == fixture.accessKeyId ? fixture.secretAccessKey : nil
        }
        #expect(looked == [fixture.accessKeyId])
        #expect(verified.authorization.isPresigned == fixture.presigned)
        #expect(verified.authorization.timestamp == fixture.timestamp)
        #expect(verified.authorization.securityToken == fixture.sessionToken)
    }

    @Test("re-signs every botocore-signed request to the same signature", arguments: committed.cases)
    func reSignsLikeBotocore(_ fixture: Case) throws {
        let signer = Signer(credentials: fixture.credentials, region: fixture.region, service: fixture.service)
        let headers = fixture.httpHeaders
        if fixture.presigned {
            let original = fixture.query.split(separator: "&").filter { !$0.hasPrefix("X-Amz-") }
                .joined(separator: "&")
            let expires = try #require(Support.queryValue("X-Amz-Expires", in: fixture.query).flatMap { Int($0) })
            let presigned = signer.presign(
                method: fixture.method, path: fixture.path, query: original, headers: headers, expires: expires,
                date: fixture.signingDate)
            #expect(presigned.signature == Support.queryValue("X-Amz-Signature", in: fixture.query))
            #expect(presigned.query == fixture.query)
        } else {
            let declared = headers.first(named: "X-Amz-Content-SHA256")
            let payload = try #require(declared.map { PayloadHash(headerValue: $0) } ?? .sha256(fixture.bodySHA256))
            let unsigned = ["Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"]
                .reduce(headers) { $0.removing(named: $1) }
            let signed = signer.sign(
                method: fixture.method, path: fixture.path, query: fixture.query, headers: unsigned,
                payload: payload, date: fixture.signingDate, addContentSHA256Header: declared != nil)
            #expect(signed.authorization == headers.first(named: "Authorization"))
            #expect(signed.headers.first(named: "X-Amz-Security-Token") == fixture.sessionToken)
        }
    }
}
