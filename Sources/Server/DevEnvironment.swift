import Crypto
import Foundation
import SwiftASN1
import X509

/// What `slipway server --dev` sets up under the data directory, and reuses on the next run:
///
/// - `tls/ca.pem`, `tls/ca-key.pem`: a local certificate authority;
/// - `tls/server.pem`, `tls/server-key.pem`: a server certificate it signed, for `localhost`, `127.0.0.1`, `::1` and
///   this machine's host name;
/// - `aws/credentials`, `aws/config`: an AWS profile `slipway` with an admin access key, the region, the endpoint and
///   the CA bundle, so the AWS CLI and boto3 work with `AWS_PROFILE=slipway`.
public struct DevEnvironment: Sendable {
    public let dataDirectory: URL

    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }

    public var tlsDirectory: URL { dataDirectory.appendingPathComponent("tls") }
    public var caCertificate: URL { tlsDirectory.appendingPathComponent("ca.pem") }
    public var caKey: URL { tlsDirectory.appendingPathComponent("ca-key.pem") }
    public var serverCertificate: URL { tlsDirectory.appendingPathComponent("server.pem") }
    public var serverKey: URL { tlsDirectory.appendingPathComponent("server-key.pem") }
    public var awsDirectory: URL { dataDirectory.appendingPathComponent("aws") }
    public var credentialsFile: URL { awsDirectory.appendingPathComponent("credentials") }
    public var configFile: URL { awsDirectory.appendingPathComponent("config") }
    public static let profile = "slipway"

    /// The local CA, when this data directory has one: it also issues the deployment-specification signer, so an
    /// agent that trusts the CA verifies specifications too.
    public func certificateAuthority() throws -> (certificate: Certificate, key: P256.Signing.PrivateKey)? {
        guard let certificate = try? String(contentsOf: caCertificate, encoding: .utf8),
            let key = try? String(contentsOf: caKey, encoding: .utf8)
        else { return nil }
        return (try Certificate(pemEncoded: certificate), try P256.Signing.PrivateKey(pemRepresentation: key))
    }

    /// Creates the CA and the server certificate unless both exist already.
    public func ensureCertificates(now: Date = Date()) throws {
        let files = FileManager.default
        if files.fileExists(atPath: caCertificate.path) && files.fileExists(atPath: serverCertificate.path)
            && files.fileExists(atPath: serverKey.path)
        {
            // Earlier versions wrote PEM files without a final newline.
            for file in [caCertificate, caKey, serverCertificate, serverKey] { try SecretFile.endWithNewline(file) }
            return
        }
        try DataDirectory.prepare(tlsDirectory)

        let caPrivateKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("Slipway")
            CommonName("Slipway development CA")
        }
        let caKeyID = Self.keyIdentifier(caPrivateKey.publicKey)
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caPrivateKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: caKeyID)
            },
            issuerPrivateKey: .init(caPrivateKey))

        let serverPrivateKey = P256.Signing.PrivateKey()
        let host = ProcessInfo.processInfo.hostName
        var names: [GeneralName] = [
            .dnsName("localhost"),
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
        ]
        if !host.isEmpty && host != "localhost" { names.append(.dnsName(host)) }
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverPrivateKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(825 * 86400),
            issuer: caName, subject: try DistinguishedName { CommonName("localhost") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(keyIdentifier: Self.keyIdentifier(serverPrivateKey.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: caKeyID)
            },
            issuerPrivateKey: .init(caPrivateKey))

        try SecretFile.write(try ca.serializeAsPEM().pemString, to: caCertificate)
        try SecretFile.write(caPrivateKey.pemRepresentation, to: caKey)
        try SecretFile.write(try server.serializeAsPEM().pemString, to: serverCertificate)
        try SecretFile.write(serverPrivateKey.pemRepresentation, to: serverKey)
    }

    /// Writes the `slipway` profile: credentials (mode 0600) and config with region, endpoint and CA bundle.
    public func writeProfile(key: AccessKeyRecord, region: String, endpoint: String) throws {
        try DataDirectory.prepare(awsDirectory)
        try SecretFile.write(
            """
            [\(Self.profile)]
            aws_access_key_id = \(key.accessKeyId)
            aws_secret_access_key = \(key.secretAccessKey)

            """, to: credentialsFile)
        try SecretFile.write(
            """
            [profile \(Self.profile)]
            region = \(region)
            endpoint_url = \(endpoint)
            ca_bundle = \(caCertificate.path)

            """, to: configFile)
    }

    /// The access key id of the profile's credentials file, if it exists.
    public func profileAccessKeyID() -> String? {
        guard let text = try? String(contentsOf: credentialsFile, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 && parts[0] == "aws_access_key_id" { return parts[1] }
        }
        return nil
    }

    /// The shell lines that point the AWS CLI and SDKs at the server.
    public func exportLines(endpoint: String, region: String, tls: Bool) -> [String] {
        var lines = [
            "export AWS_CONFIG_FILE=\(configFile.path)",
            "export AWS_SHARED_CREDENTIALS_FILE=\(credentialsFile.path)",
            "export AWS_PROFILE=\(Self.profile)",
            "export AWS_REGION=\(region)",
            "export AWS_ENDPOINT_URL=\(endpoint)",
        ]
        if tls { lines.append("export AWS_CA_BUNDLE=\(caCertificate.path)") }
        return lines
    }

    /// The key identifier of RFC 5280 method 1: the SHA-1 of the public key bits.
    private static func keyIdentifier(_ key: P256.Signing.PublicKey) -> ArraySlice<UInt8> {
        ArraySlice(Insecure.SHA1.hash(data: key.x963Representation))
    }
}
