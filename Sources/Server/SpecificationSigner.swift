import Crypto
import Foundation
import SwiftASN1
@_spi(CMS) import X509

/// Signs deployment specifications as the stock CodeDeploy agent requires: a PEM `PKCS7` SignedData with the JSON
/// embedded and the signer certificate included (`Format: "PKCS7/JSON"`).
///
/// The key and certificate live in `<data-dir>/signing/`; they are made on first use, issued by the dev CA when there
/// is one (so `slipway agent` trusts them through the CA), self-signed otherwise. CMS signing comes from
/// swift-certificates' `CMS` SPI, pinned by the package's version requirement and covered by a test that
/// `openssl smime -verify` accepts the output.
public struct SpecificationSigner: Sendable {
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey

    /// The signer's certificate as PEM, for agents that verify specifications.
    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    /// Loads the signing identity from `directory`, or creates it there.
    public static func loadOrCreate(
        in directory: URL, issuer: (certificate: Certificate, key: P256.Signing.PrivateKey)? = nil, now: Date = Date()
    ) throws -> SpecificationSigner {
        let certificateURL = directory.appendingPathComponent("signing.pem")
        let keyURL = directory.appendingPathComponent("signing-key.pem")
        if let certificateText = try? String(contentsOf: certificateURL, encoding: .utf8),
            let keyText = try? String(contentsOf: keyURL, encoding: .utf8)
        {
            let key = try P256.Signing.PrivateKey(pemRepresentation: keyText)
            return SpecificationSigner(
                certificate: try Certificate(pemEncoded: certificateText), privateKey: .init(key))
        }
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Slipway")
            CommonName("Slipway deployment specification signer")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: issuer?.certificate.subject ?? subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
            },
            issuerPrivateKey: .init(issuer?.key ?? key))
        try DataDirectory.prepare(directory)
        try SecretFile.write(try certificate.serializeAsPEM().pemString, to: certificateURL)
        try SecretFile.write(key.pemRepresentation, to: keyURL, mode: 0o600)
        return SpecificationSigner(certificate: certificate, privateKey: .init(key))
    }

    /// The PEM PKCS7 SignedData of `document`, content embedded, signer certificate included.
    public func sign(_ document: Data, now: Date) throws -> String {
        let der = try CMS.sign(
            document, signatureAlgorithm: .ecdsaWithSHA256, certificate: certificate, privateKey: privateKey,
            signingTime: now, detached: false)
        return PEMDocument(type: "PKCS7", derBytes: der).pemString
    }
}
