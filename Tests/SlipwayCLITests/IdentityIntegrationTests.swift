import Foundation
import Testing

/// Identity and access on a real `slipway server --dev`: the AWS CLI's `aws deploy register` and `deregister`, the
/// IAM API through boto3, and policies enforced on the CodeDeploy, command, S3 and IAM APIs.
@Suite("Identity and access through the AWS CLI and boto3", .serialized)
struct IdentityIntegrationTests {
    @Test(
        "aws deploy register writes a key that serves only its own host and reads revisions; deregister removes user, key, policy and registration; IAM errors and policies as IAM has them"
    )
    func registerAndPolicies() throws {
        let server = try DevServer(arguments: ["--poll-hold", "1"])
        defer { server.stop() }
        let script = SlipwayBinary.repositoryRoot.appendingPathComponent("Tests/SlipwayCLITests/Python/identity.py")
        let run = try runClient(["python3", script.path], environment: server.clientEnvironment)
        #expect(run.status == 0, "the identity checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("identity checks passed"))
    }

    @Test("the AWS CLI's IAM commands answer in IAM's shapes, and a deployer key may not use IAM")
    func awsIAMCommands() throws {
        let server = try DevServer()
        defer { server.stop() }
        let environment = server.clientEnvironment

        let created = try runClient(
            ["aws", "iam", "create-user", "--user-name", "builder", "--path", "/ci/"], environment: environment)
        #expect(created.status == 0, "\(created.stderr)")
        let user = try #require(try created.json()["User"] as? [String: Any])
        #expect(user["Arn"] as? String == "arn:aws:iam::000000000000:user/ci/builder")

        let missing = try runClient(["aws", "iam", "get-user", "--user-name", "nobody"], environment: environment)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("(NoSuchEntity)"), "\(missing.stderr)")

        let caller = try runClient(["aws", "iam", "get-user"], environment: environment)
        #expect(caller.status == 0, "\(caller.stderr)")
        #expect(
            (try caller.json()["User"] as? [String: Any])?["Arn"] as? String
                == "arn:aws:iam::000000000000:user/slipway/admin/\(try adminKeyID(server))")

        let deployer = try runClient(
            [
                SlipwayBinary.url.path, "keys", "create", "--data-dir", server.dataDirectory.path, "--role", "deployer",
                "--json",
            ], environment: ProcessInfo.processInfo.environment)
        let key = try #require(try deployer.json()["AccessKey"] as? [String: Any])
        var asDeployer = environment
        asDeployer["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"] as? String
        asDeployer["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"] as? String
        let refused = try runClient(
            ["aws", "iam", "create-user", "--user-name", "escalated"], environment: asDeployer)
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains("(AccessDenied)") && refused.stderr.contains("iam:CreateUser"), "\(refused.stderr)")
        let app = try runClient(
            ["aws", "deploy", "create-application", "--application-name", "allowed"], environment: asDeployer)
        #expect(app.status == 0, "a deployer key keeps the CodeDeploy API: \(app.stderr)")
        let listed = try runClient(["aws", "iam", "list-users"], environment: environment)
        #expect(
            (try listed.json()["Users"] as? [[String: Any]])?.compactMap { $0["UserName"] as? String } == ["builder"],
            "the refused create-user changed nothing")
    }

    private func adminKeyID(_ server: DevServer) throws -> String {
        let path = try #require(server.environment["AWS_SHARED_CREDENTIALS_FILE"])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("aws_access_key_id") })
        return line.split(separator: "=")[1].trimmingCharacters(in: .whitespaces)
    }
}
