import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import Agent

/// `slipway-agent --check` without a server: each part of the set-up it finds wrong is named, with what to do. The
/// server probe itself is tested against a real server (`AgentIntegrationTests`).
@Suite("The agent's set-up check")
struct AgentCheckTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private func write(_ text: String, _ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func certificatePEM(validUntil end: Date) throws -> String {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("check test") }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: end.addingTimeInterval(-400 * 86400), notValidAfter: end, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(), issuerPrivateKey: .init(key))
        return try certificate.serializeAsPEM().pemString
    }

    /// A configuration of this directory: an http endpoint unless `endpoint` says otherwise, a root under it.
    private func configuration(endpoint: String? = "https://deploy.example:7443", caFile: URL? = nil)
        -> AgentConfiguration
    {
        var configuration = AgentConfiguration(configDirectory: directory)
        configuration.deployControlEndpoint = endpoint
        configuration.rootDirectory = directory.appendingPathComponent("root")
        configuration.caFile = caFile
        return configuration
    }

    private func finding(_ check: AgentCheck, _ subject: String) -> AgentCheck.Finding? {
        check.findings.first { $0.subject == subject }
    }

    @Test("a configuration file that cannot be read fails the check at once, with the file's error")
    func unreadableConfiguration() async throws {
        var check = AgentCheck()
        await check.run(
            configuration: .failure(AgentConfigurationError("codedeployagent.yml:3: max_revisions must be …")),
            source: "codedeployagent.yml")
        #expect(!check.passed)
        #expect(check.findings.count == 1)
        #expect(check.findings[0].description.hasPrefix("FAIL  configuration  codedeployagent.yml:3"))
    }

    @Test("an unregistered host without an endpoint fails on both, says how to register, and probes no server")
    func unregistered() async throws {
        var check = AgentCheck()
        await check.run(configuration: .success(configuration(endpoint: nil)), source: "/nowhere/codedeployagent.yml")
        #expect(!check.passed)
        #expect(finding(check, "configuration")?.outcome == .warning)
        #expect(finding(check, "endpoint")?.outcome == .failed)
        #expect(finding(check, "endpoint")?.detail.contains("--server") == true)
        #expect(finding(check, "instance")?.detail.contains("slipway agent register") == true)
        #expect(finding(check, "server")?.detail.hasPrefix("not checked") == true)
    }

    @Test("a plain-HTTP endpoint is a warning, not a failure")
    func plainHTTP() async throws {
        var check = AgentCheck()
        await check.run(configuration: .success(configuration(endpoint: "http://10.0.0.5:7443")), source: "x")
        #expect(finding(check, "endpoint")?.outcome == .warning)
        #expect(finding(check, "endpoint")?.detail.contains("plain HTTP") == true)
    }

    @Test("a session-credentials file that is missing fails the instance, naming the file")
    func missingSessionCredentials() async throws {
        let credentials = directory.appendingPathComponent("missing-credentials")
        let file = try write(
            "---\nregion: us-east-1\niam_session_arn: arn:aws:sts::123456789012:assumed-role/host/h1\n"
                + "aws_credentials_file: \(credentials.path)\n", "codedeploy.onpremises.yml")
        var configuration = configuration()
        configuration.onPremisesConfigFile = file
        var check = AgentCheck()
        await check.run(configuration: .success(configuration), source: "x")
        #expect(finding(check, "instance")?.outcome == .failed)
        #expect(finding(check, "instance")?.detail.contains(credentials.path) == true)
    }

    @Test("a root that is a file, or that this user cannot create, fails; one that can be created passes")
    func root() async throws {
        var check = AgentCheck()
        var configuration = configuration()
        configuration.rootDirectory = try write("x", "a-file")
        await check.run(configuration: .success(configuration), source: "x")
        #expect(finding(check, "root")?.outcome == .failed)
        #expect(finding(check, "root")?.detail.contains("not a directory") == true)

        check = AgentCheck()
        configuration.rootDirectory = directory.appendingPathComponent("a-file/below")
        await check.run(configuration: .success(configuration), source: "x")
        #expect(finding(check, "root")?.outcome == .failed)

        check = AgentCheck()
        configuration.rootDirectory = directory.appendingPathComponent("new/root")
        await check.run(configuration: .success(configuration), source: "x")
        #expect(finding(check, "root")?.outcome == .ok)
        #expect(finding(check, "root")?.detail.contains("created when the agent starts") == true)
    }

    @Test("trust: no CA file fails; an expired CA fails; one expiring within 30 days warns; not PEM fails")
    func trust() async throws {
        let now = Date()
        // Without a CA file or AWS_CA_BUNDLE (the tests' environment may set one: only the file given is used).
        if ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"] == nil {
            var check = AgentCheck(now: now)
            await check.run(configuration: .success(configuration()), source: "x")
            #expect(finding(check, "trust")?.outcome == .failed)
            #expect(finding(check, "trust")?.detail.contains("--ca-file") == true)
        }
        let expired = try write(try certificatePEM(validUntil: now.addingTimeInterval(-60)), "expired.pem")
        var check = AgentCheck(now: now)
        await check.run(configuration: .success(configuration(caFile: expired)), source: "x")
        #expect(finding(check, "trust")?.outcome == .failed)
        #expect(finding(check, "trust")?.detail.contains("expired") == true)

        let soon = try write(try certificatePEM(validUntil: now.addingTimeInterval(10 * 86400 + 3600)), "soon.pem")
        check = AgentCheck(now: now)
        await check.run(configuration: .success(configuration(caFile: soon)), source: "x")
        #expect(finding(check, "trust")?.outcome == .warning)
        #expect(finding(check, "trust")?.detail.contains("in 10 days") == true, "\(check.findings)")

        let later = try write(try certificatePEM(validUntil: now.addingTimeInterval(400 * 86400)), "later.pem")
        check = AgentCheck(now: now)
        await check.run(configuration: .success(configuration(caFile: later)), source: "x")
        #expect(finding(check, "trust")?.outcome == .ok)

        for text in [
            "", "not a certificate\u{0}\u{1}", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let garbage = try write(text, "garbage.pem")
            check = AgentCheck(now: now)
            await check.run(configuration: .success(configuration(caFile: garbage)), source: "x")
            #expect(finding(check, "trust")?.outcome == .failed, "\(text.debugDescription)")
        }
    }
}
