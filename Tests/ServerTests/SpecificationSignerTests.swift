import Crypto
import Foundation
import SlipwayModel
import Testing
import X509

@testable import Server

@Suite("Deployment specification signing")
struct SpecificationSignerTests {
    private func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("slipway-signer-\(UUID().uuidString)")
    }

    private func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("openssl smime -verify accepts a signed specification against the signer certificate and yields the JSON")
    func opensslVerifies() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let signer = try SpecificationSigner.loadOrCreate(in: directory)
        let document = DeploymentSpecificationDocument(
            deploymentId: "d-ABCDEFGH1", deploymentGroupId: "0d8e6f4e-9a43-4a5e-9c1f-1f2a3b4c5d6e",
            deploymentGroupName: "prod", applicationName: "ml-model",
            revision: .init(s3: .init(bucket: "releases", key: "model.zip", bundleType: "zip", eTag: "abc")))
        let json = try JSONEncoder().encode(document)
        let pem = try signer.sign(json, now: Date())
        #expect(pem.hasPrefix("-----BEGIN PKCS7-----"))

        let specification = directory.appendingPathComponent("spec.pem")
        try pem.write(to: specification, atomically: true, encoding: .utf8)
        let verified = try openssl([
            "smime", "-verify", "-inform", "PEM", "-in", specification.path, "-CAfile",
            directory.appendingPathComponent("signing.pem").path, "-purpose", "any",
        ])
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains(String(decoding: json, as: UTF8.self)))
    }

    @Test("a specification altered after signing fails verification")
    func tamperingIsDetected() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let signer = try SpecificationSigner.loadOrCreate(in: directory)
        let pem = try signer.sign(Data(#"{"DeploymentId":"d-ABCDEFGH1"}"#.utf8), now: Date())
        // Flip one byte of the embedded content inside the DER.
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var der = try #require(Data(base64Encoded: base64))
        let marker = try #require(der.range(of: Data("d-ABCDEFGH1".utf8)))
        der[marker.lowerBound] = UInt8(ascii: "X")
        let tampered =
            "-----BEGIN PKCS7-----\n" + der.base64EncodedString(options: .lineLength64Characters)
            + "\n-----END PKCS7-----\n"
        let file = directory.appendingPathComponent("tampered.pem")
        try tampered.write(to: file, atomically: true, encoding: .utf8)
        let verified = try openssl([
            "smime", "-verify", "-inform", "PEM", "-in", file.path, "-CAfile",
            directory.appendingPathComponent("signing.pem").path, "-purpose", "any",
        ])
        #expect(verified.status != 0)
    }

    @Test("the signing identity is created once and reused")
    func identityIsReused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try SpecificationSigner.loadOrCreate(in: directory)
        let second = try SpecificationSigner.loadOrCreate(in: directory)
        #expect(first.certificate == second.certificate)
        let mode =
            try FileManager.default.attributesOfItem(
                atPath: directory.appendingPathComponent("signing-key.pem").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// A CA as `slipway server --dev` makes it, and a signer certificate as earlier versions wrote it: no extended
    /// key usage.
    private func authority(now: Date) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Slipway")
            CommonName("Slipway development CA")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3650 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        return (certificate, key)
    }

    private func writeOldSigner(
        in directory: URL, issuer: (certificate: Certificate, key: P256.Signing.PrivateKey)?, now: Date,
        until: TimeInterval = 3650 * 86400
    ) throws -> Certificate {
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(until),
            issuer: issuer?.certificate.subject ?? SpecificationSigner.subject, subject: SpecificationSigner.subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
            },
            issuerPrivateKey: .init(issuer?.key ?? key))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try certificate.serializeAsPEM().pemString.write(
            to: directory.appendingPathComponent("signing.pem"), atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(
            to: directory.appendingPathComponent("signing-key.pem"), atomically: true, encoding: .utf8)
        return certificate
    }

    private func hasCodeSigning(_ certificate: Certificate) throws -> Bool {
        try certificate.extensions.extendedKeyUsage?.contains(.codeSigning) == true
    }

    @Test("a new signer has the signer subject and the code-signing usage, issued by the CA when there is one")
    func newSignerCarriesTheMarker() throws {
        let now = Date()
        let ca = try authority(now: now)
        for issuer in [ca, nil] {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let signer = try SpecificationSigner.loadOrCreate(in: directory, issuer: issuer, now: now)
            #expect(signer.certificate.subject == SpecificationSigner.subject)
            #expect(try hasCodeSigning(signer.certificate))
            #expect(signer.certificate.issuer == (issuer?.certificate.subject ?? SpecificationSigner.subject))
            let issuerKey = issuer?.certificate.publicKey ?? signer.certificate.publicKey
            #expect(issuerKey.isValidSignature(signer.certificate.signature, for: signer.certificate))
        }
    }

    @Test("an old data directory's signer without the code-signing usage is renewed under the same CA")
    func oldSignerRenewedUnderCA() throws {
        let now = Date()
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ca = try authority(now: now)
        let old = try writeOldSigner(in: directory, issuer: ca, now: now)
        let renewed = try SpecificationSigner.loadOrCreate(in: directory, issuer: ca, now: now)
        #expect(renewed.certificate != old)
        #expect(try hasCodeSigning(renewed.certificate))
        #expect(ca.certificate.publicKey.isValidSignature(renewed.certificate.signature, for: renewed.certificate))
        // Written back: the next start keeps it.
        #expect(
            try SpecificationSigner.loadOrCreate(in: directory, issuer: ca, now: now).certificate == renewed.certificate
        )
    }

    @Test("a signer that expires within 30 days, or is not the CA's, is renewed")
    func expiringOrForeignSignerRenewed() throws {
        let now = Date()
        let ca = try authority(now: now)
        for (issuer, until) in [(ca, 29.0 * 86400), (nil, 29.0 * 86400), (nil, -60.0)] {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let old = try writeOldSigner(in: directory, issuer: issuer, now: now, until: until)
            let renewed = try SpecificationSigner.loadOrCreate(in: directory, issuer: issuer, now: now)
            #expect(renewed.certificate != old)
            #expect(renewed.certificate.notValidAfter > now.addingTimeInterval(365 * 86400))
        }
        // Self-signed before the data directory had a CA: the CA now issues it.
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try SpecificationSigner.loadOrCreate(in: directory, now: now)
        let issued = try SpecificationSigner.loadOrCreate(in: directory, issuer: ca, now: now)
        #expect(issued.certificate.issuer == ca.certificate.subject)
        #expect(ca.certificate.publicKey.isValidSignature(issued.certificate.signature, for: issued.certificate))
    }

    @Test("without a CA, a valid self-signed signer of an earlier version is kept: hosts pin that certificate")
    func pinnedSelfSignedSignerKept() throws {
        let now = Date()
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = try writeOldSigner(in: directory, issuer: nil, now: now)
        #expect(try SpecificationSigner.loadOrCreate(in: directory, now: now).certificate == old)
    }
}
