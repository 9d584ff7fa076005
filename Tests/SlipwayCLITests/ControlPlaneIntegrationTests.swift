import Foundation
import Testing

/// The real `slipway server --dev` process, driven by the real AWS CLI and boto3 (`scripts/requirements.txt`).
@Suite("Control plane through the AWS CLI and boto3", .serialized)
struct ControlPlaneIntegrationTests {
    @Test(
        "boto3 manages applications, configurations, groups, revisions, instances and tags with paginators and modeled errors"
    )
    func boto3Script() throws {
        let server = try DevServer()
        defer { server.stop() }
        let script = SlipwayBinary.repositoryRoot.appendingPathComponent(
            "Tests/SlipwayCLITests/Python/control_plane.py")
        let run = try runClient(["python3", script.path], environment: server.clientEnvironment)
        #expect(run.status == 0, "the boto3 checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("control plane checks passed"))
    }

    @Test("the AWS CLI works with the printed exports, and refuses unsigned and wrongly signed requests")
    func awsCLI() throws {
        let server = try DevServer()
        defer { server.stop() }
        let environment = server.clientEnvironment

        let created = try runClient(
            ["aws", "deploy", "create-application", "--application-name", "ml-model"], environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        #expect((try created.json()["applicationId"] as? String)?.count == 36)

        let listed = try runClient(["aws", "deploy", "list-applications"], environment: environment)
        #expect(try listed.json()["applications"] as? [String] == ["ml-model"])

        let missing = try runClient(
            ["aws", "deploy", "get-application", "--application-name", "nope"], environment: environment)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("ApplicationDoesNotExistException"))

        let unsigned = try runClient(
            ["aws", "deploy", "list-applications", "--no-sign-request"], environment: environment)
        #expect(unsigned.status != 0)
        #expect(unsigned.stderr.contains("MissingAuthenticationToken"), "\(unsigned.stderr)")

        var wrongSecret = environment
        wrongSecret["AWS_ACCESS_KEY_ID"] = try adminKeyID(server)
        wrongSecret["AWS_SECRET_ACCESS_KEY"] = String(repeating: "x", count: 40)
        let forged = try runClient(
            ["aws", "deploy", "create-application", "--application-name", "forged"], environment: wrongSecret)
        #expect(forged.status != 0)
        #expect(forged.stderr.contains("InvalidSignatureException"), "\(forged.stderr)")
        let after = try runClient(["aws", "deploy", "list-applications"], environment: environment)
        #expect(try after.json()["applications"] as? [String] == ["ml-model"], "a refused request changed nothing")
    }

    @Test("the server stops cleanly on SIGTERM and a restart keeps every record and the same credentials")
    func restartKeepsData() throws {
        let first = try DevServer()
        let environment = first.clientEnvironment
        let created = try runClient(
            ["aws", "deploy", "create-application", "--application-name", "survivor"], environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(first.stop() == 0, "SIGTERM ends the server with status 0")

        let second = try DevServer(dataDirectory: first.dataDirectory)
        defer { second.stop() }
        #expect(second.environment["AWS_SHARED_CREDENTIALS_FILE"] == environment["AWS_SHARED_CREDENTIALS_FILE"])
        let listed = try runClient(["aws", "deploy", "list-applications"], environment: second.clientEnvironment)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try listed.json()["applications"] as? [String] == ["survivor"])
    }

    private func adminKeyID(_ server: DevServer) throws -> String {
        let path = try #require(server.environment["AWS_SHARED_CREDENTIALS_FILE"])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("aws_access_key_id") })
        return line.split(separator: "=")[1].trimmingCharacters(in: .whitespaces)
    }
}
