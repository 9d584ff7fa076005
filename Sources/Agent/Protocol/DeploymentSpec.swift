import AppSpec
import Foundation
import SlipwayModel
import SwiftASN1
@_spi(CMS) import X509

/// A deployment specification as the agent acts on it: read from the `GetDeploymentSpecification` envelope (signed
/// `PKCS7/JSON`, checked against the certificates the agent trusts) or built by `slipway local` (`TEXT/JSON`).
public struct DeploymentSpec: Sendable, Hashable {
    public enum Revision: Sendable, Hashable {
        case s3(bucket: String, key: String, bundleType: String, version: String?, eTag: String?)
        case gitHub(account: String, repository: String, commit: String, bundleType: String, token: String?)
        case local(location: String, bundleType: String)
    }

    public var deploymentID: String
    public var deploymentGroupID: String
    public var deploymentGroupName: String
    public var applicationName: String
    public var deploymentCreator: String
    public var deploymentType: String
    public var appSpecFilename: String
    public var revision: Revision
    public var fileExistsBehavior: FileExistsBehavior?
    /// Custom lifecycle events `slipway local --events` may run; nil for server deployments.
    public var allPossibleLifecycleEvents: [String]?

    public init(
        deploymentID: String, deploymentGroupID: String, deploymentGroupName: String, applicationName: String,
        deploymentCreator: String = "user", deploymentType: String = "IN_PLACE",
        appSpecFilename: String = "appspec.yml",
        revision: Revision, fileExistsBehavior: FileExistsBehavior? = nil, allPossibleLifecycleEvents: [String]? = nil
    ) {
        self.deploymentID = deploymentID
        self.deploymentGroupID = deploymentGroupID
        self.deploymentGroupName = deploymentGroupName
        self.applicationName = applicationName
        self.deploymentCreator = deploymentCreator
        self.deploymentType = deploymentType
        self.appSpecFilename = appSpecFilename
        self.revision = revision
        self.fileExistsBehavior = fileExistsBehavior
        self.allPossibleLifecycleEvents = allPossibleLifecycleEvents
    }

    /// Whether this deployment is the automatic rollback of a blue/green deployment (it changes which revision's
    /// scripts the traffic hooks run).
    public var isBlueGreenRollback: Bool {
        deploymentCreator == "codeDeployRollback" && deploymentType == "BLUE_GREEN"
    }

    /// The variables hooks see about the bundle.
    public var bundleVariables: [String: String] {
        switch revision {
        case .s3(let bucket, let key, _, let version, let eTag):
            var variables = ["BUNDLE_BUCKET": bucket, "BUNDLE_KEY": key]
            if let version { variables["BUNDLE_VERSION"] = version }
            if let eTag { variables["BUNDLE_ETAG"] = eTag }
            return variables
        case .gitHub(_, _, let commit, _, _):
            return ["BUNDLE_COMMIT": commit]
        case .local:
            return [:]
        }
    }

    /// Refuses a specification that is not the one of the command's deployment execution, so a specification of
    /// another deployment (or group) cannot be run in its place.
    ///
    /// The execution id names the deployment, and in Slipway's form its group too (``DeploymentExecutionID``).
    public func check(executionID: String) throws(SpecificationError) {
        let execution = DeploymentExecutionID(rawValue: executionID)
        guard let execution, execution.deploymentId == deploymentID else {
            throw SpecificationError(
                "the deployment specification is for deployment \(deploymentID), but the command is for the "
                    + "deployment execution \(executionID)")
        }
        if let group = execution.deploymentGroupId, group != deploymentGroupID {
            throw SpecificationError(
                "the deployment specification is for deployment group \(deploymentGroupID), but the command is "
                    + "for the deployment execution \(executionID)")
        }
    }

    /// Reads the JSON document, with the stock agent's rules: the four names required, an ARN deployment id
    /// reduced to its id, defaults for the rest.
    public static func parse(json data: Data) throws(SpecificationError) -> DeploymentSpec {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SpecificationError("the deployment specification is not a JSON object")
        }
        func required(_ key: String) throws(SpecificationError) -> String {
            guard let value = object[key] as? String, !value.isEmpty else {
                throw SpecificationError("the deployment specification has no \(key)")
            }
            return value
        }
        var deploymentID = try required("DeploymentId")
        if deploymentID.hasPrefix("arn:"), let last = deploymentID.split(separator: "/").last {
            deploymentID = String(last)
        }
        guard !deploymentID.contains("/"), !deploymentID.contains(".."), deploymentID != "." else {
            throw SpecificationError("the deployment id \(deploymentID) is not usable as a directory name")
        }
        let groupID = try required("DeploymentGroupId")
        guard !groupID.contains("/"), !groupID.contains(".."), groupID != "." else {
            throw SpecificationError("the deployment group id \(groupID) is not usable as a directory name")
        }
        let revision = object["Revision"] as? [String: Any] ?? [:]
        let parsedRevision: Revision
        switch revision["RevisionType"] as? String {
        case "S3":
            guard let s3 = revision["S3Revision"] as? [String: Any], let bucket = s3["Bucket"] as? String,
                let key = s3["Key"] as? String
            else { throw SpecificationError("the S3 revision names no Bucket and Key") }
            parsedRevision = .s3(
                bucket: bucket, key: key, bundleType: try bundleType(s3["BundleType"]),
                version: s3["Version"] as? String,
                eTag: s3["ETag"] as? String)
        case "GitHub":
            guard let gitHub = revision["GitHubRevision"] as? [String: Any], let account = gitHub["Account"] as? String,
                let repository = gitHub["Repository"] as? String, let commit = gitHub["CommitId"] as? String
            else { throw SpecificationError("the GitHub revision names no Account, Repository and CommitId") }
            let type = try bundleType(gitHub["BundleType"])
            parsedRevision = .gitHub(
                account: account, repository: repository, commit: commit, bundleType: type,
                token: object["GitHubAccessToken"] as? String)
        case "Local File", "Local Directory":
            guard let local = revision["LocalRevision"] as? [String: Any], let location = local["Location"] as? String
            else { throw SpecificationError("the local revision names no Location") }
            parsedRevision = .local(location: location, bundleType: try bundleType(local["BundleType"]))
        case let other:
            throw SpecificationError("the revision type \(other ?? "(none)") is not supported")
        }
        let overrides = (object["AgentActionOverrides"] as? [String: Any])?["AgentOverrides"] as? [String: Any]
        var fileExistsBehavior: FileExistsBehavior?
        if let text = overrides?["FileExistsBehavior"] as? String {
            guard let behavior = FileExistsBehavior(rawValue: text.uppercased()) else {
                throw SpecificationError("FileExistsBehavior \(text) is not DISALLOW, OVERWRITE or RETAIN")
            }
            fileExistsBehavior = behavior
        }
        let appSpecFilename = (object["AppSpecFilename"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "appspec.yml"
        return DeploymentSpec(
            deploymentID: deploymentID, deploymentGroupID: groupID,
            deploymentGroupName: try required("DeploymentGroupName"), applicationName: try required("ApplicationName"),
            deploymentCreator: object["DeploymentCreator"] as? String ?? "user",
            deploymentType: object["DeploymentType"] as? String ?? "IN_PLACE", appSpecFilename: appSpecFilename,
            revision: parsedRevision, fileExistsBehavior: fileExistsBehavior,
            allPossibleLifecycleEvents: object["AllPossibleLifecycleEvents"] as? [String])

        /// `tar`, `tgz`, `zip` or `directory`; anything else is unpacked as tar, as the stock agent does.
        func bundleType(_ value: Any?) throws(SpecificationError) -> String {
            (value as? String)?.lowercased() ?? "tar"
        }
    }
}

/// A deployment specification the agent refuses, and why.
public struct SpecificationError: Error, CustomStringConvertible, Sendable, Hashable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checks the `PKCS7/JSON` envelope of a deployment specification against the certificates this agent trusts.
///
/// The stock agent accepts any signature, or none that verifies; this one requires a valid CMS signature by the
/// server's specification signer, valid now. The signer is recognised by its subject (exactly ``signerSubject``) and,
/// when it chains to a trusted CA, by the code-signing extended key usage as well: the server's TLS certificate (same
/// CA, `serverAuth` only), the CA itself and certificates of public CAs (whose subjects carry more attributes) cannot
/// sign specifications even though the agent trusts them for TLS. A signer that is itself one of the trusted
/// certificates (a server without a CA signs with a self-signed certificate its hosts pin) needs the subject only:
/// the pin is that exact certificate, and signers made before the key usage was added have none.
public struct SpecificationVerifier: Sendable {
    let trusted: [Certificate]

    /// The subject of the server's specification signer (`SpecificationSigner` in the server makes it).
    public static var signerSubject: DistinguishedName {
        // The builder cannot fail for these two attributes.
        try! DistinguishedName {
            OrganizationName("Slipway")
            CommonName("Slipway deployment specification signer")
        }
    }

    public init(trusted: [Certificate]) {
        self.trusted = trusted
    }

    /// Reads every certificate of a PEM file.
    public static func certificates(inPEMFile url: URL) throws -> [Certificate] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw SpecificationError("cannot read the trusted certificates in \(url.path)")
        }
        let documents = try PEMDocument.parseMultiple(pemString: text).filter { $0.discriminator == "CERTIFICATE" }
        guard !documents.isEmpty else { throw SpecificationError("\(url.path) holds no PEM certificate") }
        return try documents.map { try Certificate(pemDocument: $0) }
    }

    /// The specification inside `envelope`, after checking its signature and, when `executionID` is given, that it
    /// is the specification of that deployment execution; `TEXT/JSON` only when `allowUnsigned`.
    public func open(
        format: String?, payload: String?, executionID: String? = nil, allowUnsigned: Bool = false, now: Date = Date()
    ) async throws(SpecificationError) -> DeploymentSpec {
        guard let payload else { throw SpecificationError("the deployment specification is empty") }
        let spec: DeploymentSpec
        switch format {
        case "PKCS7/JSON":
            spec = try DeploymentSpec.parse(json: Data(try await verifiedContent(payload, now: now)))
        case "TEXT/JSON" where allowUnsigned:
            spec = try DeploymentSpec.parse(json: Data(payload.utf8))
        default:
            throw SpecificationError("the deployment specification format \(format ?? "(none)") is not supported")
        }
        if let executionID { try spec.check(executionID: executionID) }
        return spec
    }

    /// The embedded content of a PEM CMS SignedData, once its signature and its signer are accepted.
    func verifiedContent(_ payload: String, now: Date) async throws(SpecificationError) -> [UInt8] {
        let der: [UInt8]
        do {
            der = try PEMDocument(pemString: payload).derBytes
        } catch {
            throw SpecificationError("the PKCS7 deployment specification is not PEM: \(error)")
        }
        guard let content = Self.embeddedContent(der) else {
            throw SpecificationError("the PKCS7 deployment specification carries no embedded content")
        }
        let result = await CMS.isValidSignature(
            dataBytes: content, signatureBytes: der, trustRoots: CertificateStore(trusted),
            allowAttachedContent: true
        ) {
            RFC5280Policy(validationTime: now)
        }
        let signer: Certificate
        let pinned: Bool
        switch result {
        case .success(let valid):
            // Chains to a trusted certificate, every certificate of the chain valid at `now`.
            signer = valid.signer
            pinned = trusted.contains(valid.signer)
        case .failure(.unableToValidateSigner(let failure)) where trusted.contains(failure.signer):
            // The signature is valid (the library checks it before the chain) and the signer is itself a trusted
            // certificate, which the chain rules refuse for a certificate that is not a CA.
            signer = failure.signer
            pinned = true
        case .failure(let failure):
            throw SpecificationError(
                "the deployment specification's signature is not from a certificate this agent trusts "
                    + "(give the server's CA with --ca-file or :slipway_ca_file:): \(failure)")
        }
        try Self.acceptSigner(signer, pinned: pinned, now: now)
        return content
    }

    /// Refuses a signer that is not the server's specification signer or is not valid at `now`.
    static func acceptSigner(_ signer: Certificate, pinned: Bool, now: Date) throws(SpecificationError) {
        guard signer.subject == signerSubject else {
            throw SpecificationError(
                "the deployment specification is signed by \(signer.subject), not by the server's specification "
                    + "signer (\(signerSubject)); a TLS or CA certificate cannot sign specifications")
        }
        guard now >= signer.notValidBefore, now <= signer.notValidAfter else {
            throw SpecificationError(
                "the deployment specification's signer certificate is valid from \(signer.notValidBefore) to "
                    + "\(signer.notValidAfter), not now (\(now))")
        }
        if !pinned {
            let usage = (try? signer.extensions.extendedKeyUsage) ?? nil
            guard let usage, usage.contains(.codeSigning) else {
                throw SpecificationError(
                    "the deployment specification's signer certificate has no code-signing extended key usage: "
                        + "restart the server to renew its signer under the same CA")
            }
        }
    }

    /// The encapsulated content of a CMS `ContentInfo { signedData { …, encapContentInfo { type, [0] OCTET STRING } } }`.
    static func embeddedContent(_ der: [UInt8]) -> [UInt8]? {
        guard let root = try? DER.parse(der), case .constructed(let outer) = root.content else { return nil }
        var contentInfo = outer.makeIterator()
        _ = contentInfo.next()  // contentType
        guard let explicit = contentInfo.next(), case .constructed(let wrapped) = explicit.content,
            let signedData = wrapped.first(where: { _ in true }), case .constructed(let fields) = signedData.content
        else { return nil }
        var members = fields.makeIterator()
        _ = members.next()  // version
        _ = members.next()  // digestAlgorithms
        guard let encapsulated = members.next(), case .constructed(let encapsulatedFields) = encapsulated.content else {
            return nil
        }
        var parts = encapsulatedFields.makeIterator()
        _ = parts.next()  // eContentType
        guard let tagged = parts.next(), case .constructed(let inner) = tagged.content,
            let octets = inner.first(where: { _ in true })
        else { return nil }
        switch octets.content {
        case .primitive(let bytes): return Array(bytes)
        case .constructed(let chunks):
            // BER may split an OCTET STRING into chunks; DER (what Slipway writes) never does.
            var bytes: [UInt8] = []
            for chunk in chunks {
                guard case .primitive(let piece) = chunk.content else { return nil }
                bytes += piece
            }
            return bytes
        }
    }
}
