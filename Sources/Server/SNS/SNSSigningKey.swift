import Crypto
import Foundation
import Notifications
import SwiftASN1
import X509
import _CryptoExtras

/// The key the SNS API signs the messages it sends endpoints with, and its self-signed certificate, which receivers
/// fetch from `SigningCertURL` to verify them (SNS signs with RSA: PKCS #1 v1.5 over SHA-1 for `SignatureVersion` 1,
/// SHA-256 for 2). Kept in `<data-dir>/sns/`, made on first start, replaced a month before it expires.
struct SNSSigningKey: SNSMessageSigner {
    let key: _RSA.Signing.PrivateKey
    let certificatePEM: String
    let certificateURL: String

    static func loadOrCreate(in directory: URL, certificateURL: String, now: Date = Date()) throws -> SNSSigningKey {
        let certificateFile = directory.appendingPathComponent("signing-certificate.pem")
        let keyFile = directory.appendingPathComponent("signing-key.pem")
        if let certificateText = try? String(contentsOf: certificateFile, encoding: .utf8),
            let keyText = try? String(contentsOf: keyFile, encoding: .utf8),
            let key = try? _RSA.Signing.PrivateKey(pemRepresentation: keyText),
            let certificate = try? Certificate(pemEncoded: certificateText),
            certificate.publicKey == Certificate.PublicKey(key.publicKey),
            certificate.notValidAfter > now.addingTimeInterval(30 * 86400)
        {
            return SNSSigningKey(key: key, certificatePEM: certificateText, certificateURL: certificateURL)
        }
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let subject = try DistinguishedName {
            OrganizationName("Slipway")
            CommonName("Slipway SNS message signer")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(5 * 365 * 86400),
            issuer: subject, subject: subject, signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
            },
            issuerPrivateKey: .init(key))
        let pem = try certificate.serializeAsPEM().pemString
        try DataDirectory.prepare(directory)
        try SecretFile.write(pem, to: certificateFile)
        try SecretFile.write(key.pemRepresentation, to: keyFile, mode: 0o600)
        return SNSSigningKey(key: key, certificatePEM: pem, certificateURL: certificateURL)
    }

    func signature(of text: String, version: String) throws -> String {
        let data = Data(text.utf8)
        let signature =
            version == "2"
            ? try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
            : try key.signature(for: Insecure.SHA1.hash(data: data), padding: .insecurePKCS1v1_5)
        return signature.rawRepresentation.base64EncodedString()
    }
}
