import Foundation
import SlipwayModel
import Testing

@testable import Agent

@Suite("Agent configuration: the stock agent's files")
struct ConfigurationTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-conf-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ text: String, _ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("the stock codedeployagent.yml with Ruby symbol keys is read unchanged, unknown keys ignored")
    func stockFile() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try write(
            """
            ---
            :log_aws_wire: false
            :log_dir: '/var/log/aws/codedeploy-agent/'
            :pid_dir: '/opt/codedeploy-agent/state/.pid/'
            :program_name: codedeploy-agent
            :root_dir: '/srv/deployment-root'
            :verbose: true
            :wait_between_runs: 1
            :proxy_uri:
            :max_revisions: 3
            :http_read_timeout: 90
            :enable_auth_policy: true
            :kill_agent_max_wait_time_seconds: 600
            :deploy_control_endpoint: 'https://slipway.example:8443'
            :s3_endpoint_override: 'https://s3.slipway.example'
            :on_premises_config_file: 'onprem.yml'
            """, "codedeployagent.yml")
        let configuration = try AgentConfiguration.load(configDirectory: directory)
        #expect(configuration.rootDirectory.path == "/srv/deployment-root")
        #expect(configuration.logDirectory.path == "/var/log/aws/codedeploy-agent")
        #expect(configuration.verbose)
        #expect(configuration.waitBetweenRuns == 1)
        #expect(configuration.proxyURI == nil)
        #expect(configuration.maxRevisions == 3)
        #expect(configuration.httpReadTimeout == 90)
        #expect(configuration.enableAuthPolicy)
        #expect(configuration.killAgentMaxWaitTimeSeconds == 600)
        #expect(configuration.deployControlEndpoint == "https://slipway.example:8443")
        #expect(configuration.effectiveS3Endpoint == "https://s3.slipway.example")
        // A relative path is relative to the file's directory.
        #expect(configuration.onPremisesConfigFile.path == directory.appendingPathComponent("onprem.yml").path)
    }

    @Test("plain keys work too, and S3 defaults to the command endpoint")
    func plainKeys() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try write("root_dir: /srv/x\ndeploy_control_endpoint: http://127.0.0.1:8443\n", "codedeployagent.yml")
        let configuration = try AgentConfiguration.load(configDirectory: directory)
        #expect(configuration.rootDirectory.path == "/srv/x")
        #expect(configuration.effectiveS3Endpoint == "http://127.0.0.1:8443")
    }

    @Test("a missing file means defaults; max_revisions below 1, bad numbers and bad endpoints are refused by name")
    func defaultsAndErrors() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let defaults = try AgentConfiguration.load(configDirectory: directory)
        #expect(defaults.maxRevisions == 5)
        #expect(defaults.onPremisesConfigFile.lastPathComponent == "codedeploy.onpremises.yml")
        for (text, word) in [
            (":max_revisions: 0\n", "max_revisions"), (":wait_between_runs: soon\n", "wait_between_runs"),
            (":deploy_control_endpoint: ftp://x\n", "ftp://x"), ("- a list\n", "mapping"),
        ] {
            _ = try write(text, "codedeployagent.yml")
            let error = #expect(throws: AgentConfigurationError.self) {
                try AgentConfiguration.load(configDirectory: directory)
            }
            #expect(error?.description.contains(word) == true, "\(text): \(String(describing: error))")
        }
    }

    @Test("an unwritable stock location falls back to directories under the configuration directory")
    func unprivilegedDefaults() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try write("", "a-file")
        #expect(AgentConfiguration.isUsable(file.appendingPathComponent("root").path) == false)
        #expect(AgentConfiguration.isUsable(directory.appendingPathComponent("a/b").path))
    }

    @Test(
        "the on-premises file: an IAM user with its key, or a session with a credentials file re-read when it changes")
    func onPremises() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let user = try OnPremisesConfiguration.load(
            from: try write(
                "---\nregion: eu-west-1\niam_user_arn: arn:aws:iam::123456789012:user/web-1\n"
                    + "aws_access_key_id: AKIAEXAMPLE\naws_secret_access_key: secret\n", "user.yml"))
        #expect(user.region == "eu-west-1")
        #expect(user.hostIdentifier == "arn:aws:iam::123456789012:user/web-1")
        #expect(try CredentialSource(user.identity).current().accessKeyId == "AKIAEXAMPLE")

        let credentials = try write(
            "[default]\naws_access_key_id = ASIAFIRST\naws_secret_access_key = s1\naws_session_token = t1\n", "creds")
        let session = try OnPremisesConfiguration.load(
            from: try write(
                "region: us-east-1\niam_session_arn: arn:aws:sts::123456789012:assumed-role/r/host\n"
                    + "aws_credentials_file: creds\n", "session.yml"))
        let source = CredentialSource(session.identity)
        #expect(try source.current().sessionToken == "t1")
        try "[default]\naws_access_key_id = ASIASECOND\naws_secret_access_key = s2\n".write(
            to: credentials, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: credentials.path)
        #expect(try source.current().accessKeyId == "ASIASECOND")

        for (text, word) in [
            ("iam_user_arn: x\n", "region"), ("region: r\n", "neither"),
            ("region: r\niam_user_arn: a\niam_session_arn: b\n", "both"),
            ("region: r\niam_user_arn: a\n", "aws_access_key_id"),
        ] {
            let error = #expect(throws: AgentConfigurationError.self) {
                try OnPremisesConfiguration.load(from: try write(text, "bad.yml"))
            }
            #expect(error?.description.contains(word) == true, "\(text): \(String(describing: error))")
        }
    }
}

@Suite("Deployment specifications as the agent reads them")
struct DeploymentSpecTests {
    func spec(_ extra: [String: Any] = [:], revision: [String: Any]? = nil) throws -> DeploymentSpec {
        var object: [String: Any] = [
            "DeploymentId": "arn:aws:codedeploy:us-east-1:123:deployment/d-ABCDEFGHI",
            "DeploymentGroupId": "group-1", "DeploymentGroupName": "web", "ApplicationName": "site",
            "Revision": revision ?? [
                "RevisionType": "S3",
                "S3Revision": ["Bucket": "b", "Key": "k.tgz", "BundleType": "tgz", "ETag": "abc", "Version": "v1"],
            ],
        ]
        object.merge(extra) { $1 }
        return try DeploymentSpec.parse(json: try JSONSerialization.data(withJSONObject: object))
    }

    @Test("an ARN deployment id is reduced to the id; defaults fill the optional fields; S3 bundle variables")
    func parsed() throws {
        let parsed = try spec()
        #expect(parsed.deploymentID == "d-ABCDEFGHI")
        #expect(parsed.appSpecFilename == "appspec.yml")
        #expect(parsed.deploymentCreator == "user")
        #expect(
            parsed.bundleVariables == [
                "BUNDLE_BUCKET": "b", "BUNDLE_KEY": "k.tgz", "BUNDLE_ETAG": "abc", "BUNDLE_VERSION": "v1",
            ])
        let overridden = try spec(["AgentActionOverrides": ["AgentOverrides": ["FileExistsBehavior": "OVERWRITE"]]])
        #expect(overridden.fileExistsBehavior == .overwrite)
    }

    @Test("missing names, unusable ids and unknown revision types are refused")
    func refused() throws {
        #expect(throws: SpecificationError.self) { try spec(["ApplicationName": ""]) }
        #expect(throws: SpecificationError.self) { try spec(["DeploymentGroupId": "../etc"]) }
        #expect(throws: SpecificationError.self) { try spec(revision: ["RevisionType": "FTP"]) }
        #expect(throws: SpecificationError.self) { try spec(revision: ["RevisionType": "S3", "S3Revision": [:]]) }
    }

    @Test("an unsigned TEXT/JSON specification is accepted only where allowed; other formats are refused")
    func unsigned() async throws {
        let verifier = SpecificationVerifier(trusted: [])
        let json =
            #"{"DeploymentId":"d-1","DeploymentGroupId":"g","DeploymentGroupName":"n","ApplicationName":"a","Revision":{"RevisionType":"GitHub","GitHubRevision":{"Account":"o","Repository":"r","CommitId":"c"}}}"#
        let opened = try await verifier.open(format: "TEXT/JSON", payload: json, allowUnsigned: true)
        #expect(opened.bundleVariables == ["BUNDLE_COMMIT": "c"])
        await #expect(throws: SpecificationError.self) {
            try await verifier.open(format: "TEXT/JSON", payload: json)
        }
        await #expect(throws: SpecificationError.self) {
            try await verifier.open(format: "PKCS7/JSON", payload: "not pem")
        }
    }
}

@Suite("Crash tracking and backoff")
struct TrackingTests {
    @Test("a tracked command survives a restart once; files older than a day are dropped unreported")
    func tracking() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-track-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tracker = CommandTracker(directory: directory)
        try tracker.begin(deploymentID: "d-1", commandID: "c-1")
        try tracker.begin(deploymentID: "d-2", commandID: "c-2")
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-2 * 86400)],
            ofItemAtPath: directory.appendingPathComponent("d-2").path)
        #expect(tracker.takeInterrupted(now: Date()) == ["c-1"])
        #expect(tracker.takeInterrupted(now: Date()).isEmpty)
        try tracker.begin(deploymentID: "d-3", commandID: "c-3")
        tracker.end(deploymentID: "d-3")
        #expect(tracker.takeInterrupted(now: Date()).isEmpty)
    }

    @Test("the error backoff grows from about 10 s to 90 s, as the stock agent's")
    func backoff() {
        let first = AgentRunner<NoService>.backoff(afterErrors: 1)
        let capped = AgentRunner<NoService>.backoff(afterErrors: 25)
        #expect(first > .seconds(9) && first < .seconds(11))
        #expect(capped == AgentRunner<NoService>.backoff(afterErrors: 10))
        #expect(capped > .seconds(89) && capped <= .seconds(90))
    }
}

/// A command service that is never called, for static helpers of the runner.
struct NoService: CommandService {
    struct Unused: Error {}
    func pollHostCommand(hostIdentifier: String) async throws -> CodeDeployCommand.HostCommandInstance? { nil }
    func getDeploymentSpecification(executionID: String, hostIdentifier: String) async throws
        -> CodeDeployCommand.GetDeploymentSpecificationOutput
    { throw Unused() }
    func acknowledge(_ commandID: String, isNoop: Bool, maxDuration: Int) async throws
        -> CodeDeployCommand.CommandStatus?
    { nil }
    func complete(_ commandID: String, status: CodeDeployCommand.CommandStatus, diagnostics: String) async throws {}
    func update(_ commandID: String) async throws -> CodeDeployCommand.CommandStatus? { nil }
    func uploadLog(_ commandID: String, log: String) async throws {}
}
