import Crypto
import Foundation
import Logging
import SlipwayModel
import Synchronization
import Testing
@_spi(CMS) import X509

@testable import Agent

/// Certificates as a Slipway server and its neighbours make them, and specifications signed with them.
private struct Identity {
    let certificate: Certificate
    let key: P256.Signing.PrivateKey

    static let signerSubject = try! DistinguishedName {
        OrganizationName("Slipway")
        CommonName("Slipway deployment specification signer")
    }

    static func authority(_ name: String, now: Date) throws -> Identity {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Slipway")
            CommonName(name)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-86400), notValidAfter: now.addingTimeInterval(3650 * 86400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        return Identity(certificate: certificate, key: key)
    }

    /// A leaf issued by `issuer` (self-signed without one).
    static func leaf(
        subject: DistinguishedName = signerSubject, usages: [ExtendedKeyUsage.Usage]? = [.codeSigning],
        issuer: Identity?, now: Date, from: TimeInterval = -3600, until: TimeInterval = 365 * 86400
    ) throws -> Identity {
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(from), notValidAfter: now.addingTimeInterval(until),
            issuer: issuer?.certificate.subject ?? subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: usages == [.serverAuth]))
                if let usages { try ExtendedKeyUsage(usages) }
            },
            issuerPrivateKey: .init(issuer?.key ?? key))
        return Identity(certificate: certificate, key: key)
    }

    /// The server's TLS certificate as `slipway server --dev` makes it.
    static func tls(issuer: Identity, now: Date) throws -> Identity {
        try leaf(
            subject: DistinguishedName { CommonName("localhost") }, usages: [.serverAuth], issuer: issuer, now: now)
    }

    func sign(_ json: String, now: Date) throws -> String {
        let der = try CMS.sign(
            Data(json.utf8), signatureAlgorithm: .ecdsaWithSHA256, certificate: certificate,
            privateKey: .init(key), signingTime: now, detached: false)
        return "-----BEGIN PKCS7-----\n" + Data(der).base64EncodedString(options: .lineLength64Characters)
            + "\n-----END PKCS7-----\n"
    }
}

private func specification(deployment: String = "d-ABCDEFGH1", group: String = "4f1c2a9e-group") -> String {
    #"{"DeploymentId":"\#(deployment)","DeploymentGroupId":"\#(group)","DeploymentGroupName":"prod","#
        + #""ApplicationName":"web","Revision":{"RevisionType":"S3","S3Revision":{"Bucket":"b","Key":"k"}}}"#
}

private let executionID = "Slipway/us-east-1/4f1c2a9e-group/d-ABCDEFGH1"

@Suite("Deployment specifications: only the server's signer, valid now, for the command's deployment")
struct SpecificationVerifierTests {
    let now = Date()

    private func open(_ payload: String, trusting trusted: [Certificate], at time: Date? = nil) async throws
        -> DeploymentSpec
    {
        try await SpecificationVerifier(trusted: trusted).open(
            format: "PKCS7/JSON", payload: payload, executionID: executionID, now: time ?? now)
    }

    private func refusal(_ payload: String, trusting trusted: [Certificate], at time: Date? = nil) async -> String {
        do {
            _ = try await open(payload, trusting: trusted, at: time)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test("the server's signer under the trusted CA is accepted")
    func signerUnderCA() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        let signer = try Identity.leaf(issuer: ca, now: now)
        let spec = try await open(try signer.sign(specification(), now: now), trusting: [ca.certificate])
        #expect(spec.deploymentID == "d-ABCDEFGH1")
        #expect(spec.deploymentGroupID == "4f1c2a9e-group")
    }

    @Test("the server's TLS certificate, issued by the same trusted CA, cannot sign a specification")
    func tlsCertificateRefused() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        let tls = try Identity.tls(issuer: ca, now: now)
        let message = await refusal(try tls.sign(specification(), now: now), trusting: [ca.certificate])
        #expect(message.contains("not by the server's specification signer"), "\(message)")
    }

    @Test("a certificate with the signer's subject but no code-signing usage, under the trusted CA, is refused")
    func signerSubjectWithoutUsageRefused() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        for usages: [ExtendedKeyUsage.Usage]? in [nil, [.serverAuth], [.emailProtection]] {
            let impostor = try Identity.leaf(usages: usages, issuer: ca, now: now)
            let message = await refusal(try impostor.sign(specification(), now: now), trusting: [ca.certificate])
            #expect(message.contains("no code-signing extended key usage"), "\(message)")
        }
    }

    @Test("a signer-shaped certificate of a CA the agent does not trust is refused")
    func otherCARefused() async throws {
        let trusted = try Identity.authority("Slipway development CA", now: now)
        let other = try Identity.authority("Slipway development CA", now: now)
        let signer = try Identity.leaf(issuer: other, now: now)
        let message = await refusal(try signer.sign(specification(), now: now), trusting: [trusted.certificate])
        #expect(message.contains("not from a certificate this agent trusts"), "\(message)")
    }

    @Test("a trusted certificate is no signer unless it has the signer's subject: the CA itself, a pinned TLS leaf")
    func pinnedNonSignerRefused() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        let tls = try Identity.tls(issuer: ca, now: now)
        let selfSignedTLS = try Identity.leaf(
            subject: DistinguishedName { CommonName("deploy.example.internal") }, usages: [.serverAuth], issuer: nil,
            now: now)
        for (identity, trusted) in [
            (ca, [ca.certificate]), (tls, [ca.certificate, tls.certificate]),
            (selfSignedTLS, [selfSignedTLS.certificate]),
        ] {
            let message = await refusal(try identity.sign(specification(), now: now), trusting: trusted)
            #expect(message.contains("not by the server's specification signer"), "\(message)")
        }
    }

    @Test("a pinned self-signed signer is accepted, also one made before signers carried the code-signing usage")
    func pinnedSigner() async throws {
        for usages: [ExtendedKeyUsage.Usage]? in [[.codeSigning], nil] {
            let signer = try Identity.leaf(usages: usages, issuer: nil, now: now)
            let spec = try await open(try signer.sign(specification(), now: now), trusting: [signer.certificate])
            #expect(spec.deploymentID == "d-ABCDEFGH1")
        }
    }

    @Test("an expired or not yet valid signer is refused, under a CA and pinned")
    func validityChecked() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        let windows: [(from: TimeInterval, until: TimeInterval)] = [(-7200, -60), (3600, 7200)]
        for window in windows {
            let chained = try Identity.leaf(issuer: ca, now: now, from: window.from, until: window.until)
            let chainedMessage = await refusal(try chained.sign(specification(), now: now), trusting: [ca.certificate])
            #expect(chainedMessage != "accepted", "\(window)")
            #expect(chainedMessage.contains("expired") || chainedMessage.contains("not yet valid"), "\(chainedMessage)")

            let pinned = try Identity.leaf(issuer: nil, now: now, from: window.from, until: window.until)
            let pinnedMessage = await refusal(
                try pinned.sign(specification(), now: now), trusting: [pinned.certificate])
            #expect(pinnedMessage.contains("not now"), "\(pinnedMessage)")
        }
    }

    @Test("a specification of another deployment or group than the command's is refused")
    func idsMustMatch() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        let signer = try Identity.leaf(issuer: ca, now: now)
        let otherDeployment = await refusal(
            try signer.sign(specification(deployment: "d-OTHER0001"), now: now), trusting: [ca.certificate])
        #expect(otherDeployment.contains("is for deployment d-OTHER0001"), "\(otherDeployment)")
        let otherGroup = await refusal(
            try signer.sign(specification(group: "another-group"), now: now), trusting: [ca.certificate])
        #expect(otherGroup.contains("is for deployment group another-group"), "\(otherGroup)")
    }

    @Test("the deployment id is the execution id's last part, in Slipway's form and in CodeDeploy's ARN form")
    func executionIDForms() throws {
        let spec = try DeploymentSpec.parse(json: Data(specification().utf8))
        try spec.check(executionID: executionID)
        try spec.check(
            executionID: "CodeDeploy/us-east-1/prod/orpheus:public001/arn:aws:sds:us-east-1:1:deployment/d-ABCDEFGH1")
        #expect(throws: SpecificationError.self) { try spec.check(executionID: "Slipway/us-east-1/g/d-ABCDEFGH1/x") }
        #expect(throws: SpecificationError.self) { try spec.check(executionID: "d-ABCDEFGH10") }
        #expect(throws: SpecificationError.self) { try spec.check(executionID: "") }
    }

    @Test("the agent fails a command whose specification belongs to another deployment, and runs nothing")
    func runnerFailsMismatchedCommand() async throws {
        let ca = try Identity.authority("Slipway development CA", now: now)
        let signer = try Identity.leaf(issuer: ca, now: now)
        let service = ScriptedSpecificationService(
            payload: try signer.sign(specification(deployment: "d-OTHER0001"), now: now))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-spec-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let runner = AgentRunner(
            service: service, hostIdentifier: "arn:aws:iam::000000000000:user/host",
            executor: CommandExecutor(
                layout: DeploymentLayout(root: root), maxRevisions: 5,
                downloader: BundleDownloader(http: .shared, s3: nil), logger: Logger(label: "test")),
            verifier: SpecificationVerifier(trusted: [ca.certificate]), waitBetweenRuns: .zero,
            stopGrace: .seconds(1), logger: Logger(label: "test"))
        await runner.process(
            .init(
                hostCommandIdentifier: "command-1", hostIdentifier: "arn:aws:iam::000000000000:user/host",
                deploymentExecutionId: executionID, commandName: "DownloadBundle", nonce: 0),
            stop: StopSignal())
        let calls = service.calls.withLock { $0 }
        #expect(calls.acknowledged.isEmpty)
        #expect(calls.completed.count == 1)
        #expect(calls.completed.first?.status == .failed)
        #expect(calls.completed.first?.diagnostics.contains("is for deployment d-OTHER0001") == true)
    }
}

/// Answers every specification request with one signed payload and records acknowledgements and completions.
private final class ScriptedSpecificationService: CommandService {
    struct Calls {
        var acknowledged: [String] = []
        var completed: [(status: CodeDeployCommand.CommandStatus, diagnostics: String)] = []
    }
    let payload: String
    let calls = Mutex(Calls())

    init(payload: String) { self.payload = payload }

    func pollHostCommand(hostIdentifier: String) async throws -> CodeDeployCommand.HostCommandInstance? { nil }
    func getDeploymentSpecification(executionID: String, hostIdentifier: String) async throws
        -> CodeDeployCommand.GetDeploymentSpecificationOutput
    {
        .init(
            deploymentSpecification: .init(genericEnvelope: .init(format: "PKCS7/JSON", payload: payload)))
    }
    func acknowledge(_ commandID: String, isNoop: Bool, maxDuration: Int) async throws
        -> CodeDeployCommand.CommandStatus?
    {
        calls.withLock { $0.acknowledged.append(commandID) }
        return .inProgress
    }
    func complete(_ commandID: String, status: CodeDeployCommand.CommandStatus, diagnostics: String) async throws {
        calls.withLock { $0.completed.append((status, diagnostics)) }
    }
    func update(_ commandID: String) async throws -> CodeDeployCommand.CommandStatus? { nil }
    func uploadLog(_ commandID: String, log: String) async throws {}
}
