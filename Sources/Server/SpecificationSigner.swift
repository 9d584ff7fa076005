import Crypto
import Foundation
import SwiftASN1
@_spi(CMS) import X509

/// Signs deployment specifications as the stock CodeDeploy agent requires: a PEM `PKCS7` SignedData with the JSON
/// embedded and the signer certificate included (`Format: "PKCS7/JSON"`).
///
/// The key and certificate live in `<data-dir>/signing/`; they are made on first use, issued by the dev CA when there
/// is one (so `slipway agent` trusts them through the CA), self-signed otherwise (hosts then pin `signing.pem`). The
/// certificate carries what `slipway agent` requires of a signer: the subject ``subject`` exactly and, so that the
/// server's TLS certificate under the same CA cannot sign specifications, the code-signing extended key usage. CMS
/// signing comes from swift-certificates' `CMS` SPI, pinned by the package's version requirement and covered by a
/// test that `openssl smime -verify` accepts the output.
public struct SpecificationSigner: Sendable {
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey

    /// The signer's subject; `slipway agent` refuses specifications signed by any other.
    public static var subject: DistinguishedName {
        // The builder cannot fail for these two attributes.
        try! DistinguishedName {
            OrganizationName("Slipway")
            CommonName("Slipway deployment specification signer")
        }
    }

    /// How long before its end a signer is replaced.
    static let renewalMargin: TimeInterval = 30 * 86400

    /// The signer's certificate as PEM, for agents that verify specifications.
    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    /// Loads the signing identity from `directory`, or creates it there.
    ///
    /// A stored certificate is replaced (with a new key) when it is not valid for at least another 30 days, and, when
    /// there is an issuer, when it lacks the subject or the code-signing usage or is not that issuer's: agents that
    /// trust the CA then keep verifying. A self-signed certificate that lacks only the usage (made before it was
    /// required) is kept, as hosts pin that exact certificate and accept it without the usage.
    public static func loadOrCreate(
        in directory: URL, issuer: (certificate: Certificate, key: P256.Signing.PrivateKey)? = nil, now: Date = Date()
    ) throws -> SpecificationSigner {
        let certificateURL = directory.appendingPathComponent("signing.pem")
        let keyURL = directory.appendingPathComponent("signing-key.pem")
        if let certificateText = try? String(contentsOf: certificateURL, encoding: .utf8),
            let keyText = try? String(contentsOf: keyURL, encoding: .utf8)
        {
            let key = try P256.Signing.PrivateKey(pemRepresentation: keyText)
            let certificate = try Certificate(pemEncoded: certificateText)
            if isUsable(certificate, key: key, issuer: issuer?.certificate, now: now) {
                return SpecificationSigner(certificate: certificate, privateKey: .init(key))
            }
        }
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: issuer?.certificate.subject ?? subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.codeSigning])
            },
            issuerPrivateKey: .init(issuer?.key ?? key))
        try DataDirectory.prepare(directory)
        try SecretFile.write(try certificate.serializeAsPEM().pemString, to: certificateURL)
        try SecretFile.write(key.pemRepresentation, to: keyURL, mode: 0o600)
        return SpecificationSigner(certificate: certificate, privateKey: .init(key))
    }

    /// Whether a stored certificate may go on signing (see ``loadOrCreate(in:issuer:now:)``).
    static func isUsable(_ certificate: Certificate, key: P256.Signing.PrivateKey, issuer: Certificate?, now: Date)
        -> Bool
    {
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey), certificate.subject == subject,
            certificate.notValidBefore <= now, certificate.notValidAfter > now.addingTimeInterval(renewalMargin)
        else { return false }
        guard let issuer else { return true }
        let usage = (try? certificate.extensions.extendedKeyUsage) ?? nil
        return usage?.contains(.codeSigning) == true && certificate.issuer == issuer.subject
            && issuer.publicKey.isValidSignature(certificate.signature, for: certificate)
    }

    /// The PEM PKCS7 SignedData of `document`, content embedded, signer certificate included.
    public func sign(_ document: Data, now: Date) throws -> String {
        let der = try CMS.sign(
            document, signatureAlgorithm: .ecdsaWithSHA256, certificate: certificate, privateKey: privateKey,
            signingTime: now, detached: false)
        return PEMDocument(type: "PKCS7", derBytes: der).pemString
    }
}
