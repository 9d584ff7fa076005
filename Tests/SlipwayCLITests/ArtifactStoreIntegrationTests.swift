import Foundation
import Testing

/// The built-in S3 store of a real `slipway server --dev`, driven by the AWS CLI, boto3 and curl.
@Suite("Artifact store through the AWS CLI, boto3 and curl", .serialized)
struct ArtifactStoreIntegrationTests {
    @Test(
        "boto3 and curl: buckets, the three payload modes, ranged and conditional GETs, multipart, copy, versioning, presigned URLs and refusals"
    )
    func boto3Script() throws {
        let server = try DevServer()
        defer { server.stop() }
        var environment = server.clientEnvironment
        let registered = try runClient(
            [
                "aws", "deploy", "register-on-premises-instance", "--instance-name", "host-1", "--iam-user-arn",
                "arn:aws:iam::000000000000:user/host-1",
            ], environment: environment)
        #expect(registered.status == 0, "\(registered.stderr)")
        let agent = try createKey(server, role: "agent", instance: "host-1")
        environment["SLIPWAY_AGENT_KEY_ID"] = agent.id
        environment["SLIPWAY_AGENT_SECRET"] = agent.secret
        let script = SlipwayBinary.repositoryRoot.appendingPathComponent(
            "Tests/SlipwayCLITests/Python/artifact_store.py")
        let run = try runClient(["python3", script.path], environment: environment)
        #expect(run.status == 0, "the S3 checks failed:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("artifact store checks passed"))
    }

    @Test("aws s3 mb, cp, ls and rm work against the dev server")
    func awsS3Commands() throws {
        let server = try DevServer()
        defer { server.stop() }
        let environment = server.clientEnvironment
        let directory = try temporaryDirectory()
        let source = directory.appendingPathComponent("model.bin")
        let content = Data((0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try content.write(to: source)

        let made = try runClient(["aws", "s3", "mb", "s3://models"], environment: environment)
        #expect(made.status == 0, "\(made.stderr)")
        let copied = try runClient(
            ["aws", "s3", "cp", source.path, "s3://models/v1/model.bin"], environment: environment)
        #expect(copied.status == 0, "\(copied.stderr)")
        let listed = try runClient(["aws", "s3", "ls", "s3://models/v1/"], environment: environment)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("2000000 model.bin"), "\(listed.stdout)")
        let back = directory.appendingPathComponent("back.bin")
        let downloaded = try runClient(
            ["aws", "s3", "cp", "s3://models/v1/model.bin", back.path], environment: environment)
        #expect(downloaded.status == 0, "\(downloaded.stderr)")
        #expect(try Data(contentsOf: back) == content)
        let removed = try runClient(["aws", "s3", "rm", "s3://models/v1/model.bin"], environment: environment)
        #expect(removed.status == 0, "\(removed.stderr)")
        let empty = try runClient(["aws", "s3", "ls", "s3://models/v1/"], environment: environment)
        #expect(!empty.stdout.contains("model.bin"))
        let bucketRemoved = try runClient(["aws", "s3", "rb", "s3://models"], environment: environment)
        #expect(bucketRemoved.status == 0, "\(bucketRemoved.stderr)")
    }

    @Test("aws deploy push uploads a small and a multipart bundle and the revision records the S3 ETag")
    func deployPush() throws {
        let server = try DevServer()
        defer { server.stop() }
        let environment = server.clientEnvironment
        #expect(try runClient(["aws", "s3", "mb", "s3://releases"], environment: environment).status == 0)
        let created = try runClient(
            ["aws", "deploy", "create-application", "--application-name", "web"], environment: environment)
        #expect(created.status == 0, "\(created.stderr)")

        for (name, size) in [("small", 10_000), ("large", 9 << 20)] {
            let bundle = try temporaryDirectory()
            try "version: 0.0\nos: linux\n".write(
                to: bundle.appendingPathComponent("appspec.yml"), atomically: true, encoding: .utf8)
            // Random bytes do not compress, so the zip stays above the 6 MiB multipart threshold.
            var generator = SystemRandomNumberGenerator()
            let payload = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try payload.write(to: bundle.appendingPathComponent("payload.bin"))
            let pushed = try runClient(
                [
                    "aws", "deploy", "push", "--application-name", "web", "--s3-location", "s3://releases/\(name).zip",
                    "--source", bundle.path,
                ], environment: environment)
            #expect(pushed.status == 0, "\(pushed.stderr)")
            let head = try runClient(
                ["aws", "s3api", "head-object", "--bucket", "releases", "--key", "\(name).zip"],
                environment: environment)
            #expect(head.status == 0, "\(head.stderr)")
            let eTag = try #require(try head.json()["ETag"] as? String).trimmingCharacters(
                in: CharacterSet(charactersIn: "\""))
            #expect(eTag.contains("-") == (name == "large"), "a multipart upload has a -N ETag: \(eTag)")
            let revision = try runClient(
                [
                    "aws", "deploy", "get-application-revision", "--application-name", "web", "--s3-location",
                    "bucket=releases,key=\(name).zip,bundleType=zip,eTag=\(eTag)",
                ], environment: environment)
            #expect(revision.status == 0, "\(revision.stderr)")
            let location = try revision.json()["revision"] as? [String: Any]
            let s3Location = location?["s3Location"] as? [String: Any]
            #expect(s3Location?["eTag"] as? String == eTag, "\(revision.stdout)")
        }
    }

    @Test("a server killed in the middle of an upload leaves no visible object and no temporary file after restart")
    func crashMidUpload() throws {
        let first = try DevServer()
        let environment = first.clientEnvironment
        #expect(try runClient(["aws", "s3", "mb", "s3://crash"], environment: environment).status == 0)
        var crashEnvironment = environment
        crashEnvironment["SLIPWAY_SERVER_PID"] = String(first.process.processIdentifier)
        let script = SlipwayBinary.repositoryRoot.appendingPathComponent(
            "Tests/SlipwayCLITests/Python/artifact_store_crash.py")
        let crashed = try runClient(["python3", script.path], environment: crashEnvironment)
        #expect(crashed.status == 0, "\(crashed.stdout)\n\(crashed.stderr)")
        first.process.waitUntilExit()

        let second = try DevServer(dataDirectory: first.dataDirectory)
        defer { second.stop() }
        let listed = try runClient(
            ["aws", "s3api", "list-objects-v2", "--bucket", "crash"], environment: second.clientEnvironment)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(!listed.stdout.contains("partial.bin"), "\(listed.stdout)")
        let tmp = first.dataDirectory.appendingPathComponent("artifacts/tmp")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-s3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func createKey(_ server: DevServer, role: String, instance: String) throws -> (id: String, secret: String) {
        let run = try runClient(
            [
                SlipwayBinary.url.path, "keys", "create", "--data-dir", server.dataDirectory.path, "--role", role,
                "--instance-name", instance, "--json",
            ], environment: ProcessInfo.processInfo.environment)
        guard run.status == 0, let key = try run.json()["AccessKey"] as? [String: Any],
            let id = key["AccessKeyId"] as? String, let secret = key["SecretAccessKey"] as? String
        else { throw IntegrationError("slipway keys create failed: \(run.stderr)") }
        return (id, secret)
    }
}
