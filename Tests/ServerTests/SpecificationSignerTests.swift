import Foundation
import SlipwayModel
import Testing

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
}
