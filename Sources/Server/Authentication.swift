import Foundation
import Hummingbird
import SigV4
import SlipwayModel
import Store

/// Verifies the SigV4 signature of every API request against the access keys in the store.
struct Authenticator: Sendable {
    let store: any Store
    let region: String
    let accountID: String
    let verifier: Verifier

    init(store: any Store, region: String, accountID: String, maximumClockSkew: TimeInterval) {
        self.store = store
        self.region = region
        self.accountID = accountID
        self.verifier = Verifier(maxSkew: maximumClockSkew)
    }

    /// The principal of a signed request, or an `AWSJSONError` (HTTP 403) that says what is wrong with its
    /// signature. `service` is the signing name the endpoint expects; IAM requests are signed for `us-east-1`.
    func authenticate(_ request: Request, body: Data, service: String, now: Date) async throws -> Principal {
        // HTTP/1 `Host` arrives as the request's authority (swift-http-types keeps it apart from the fields), yet
        // clients sign it as a header.
        var headers = request.headers.map { HTTPHeader($0.name.rawName, $0.value) }
        if let authority = request.head.authority { headers.append(HTTPHeader("host", authority)) }
        let signed = VerificationRequest(
            method: request.method.rawValue, target: request.head.path ?? "/", headers: headers,
            bodySHA256: Self.sha256Hex(body))
        do {
            let authorization = try Authorization.parse(signed)
            let key = try await store.read {
                try $0.get(AccessKeyRecord.self, .accessKey, name: authorization.accessKeyId)
            }
            guard let key, key.status == "Active" else {
                throw SigV4Error.unknownAccessKey(authorization.accessKeyId)
            }
            _ = try verifier.verify(
                signed, authorization: authorization, secretAccessKey: key.secretAccessKey, now: now,
                expectedRegion: service == "iam" ? "us-east-1" : region, expectedService: service)
            return Principal(
                accessKeyId: key.accessKeyId, role: key.role, instanceName: key.instanceName,
                arn: key.principalARN(accountID: accountID))
        } catch let error as SigV4Error {
            throw AWSJSONError(type: error.wireCode(for: .json), message: error.message, status: 403)
        }
    }

    static func sha256Hex(_ body: Data) -> String? {
        if case .sha256(let hex) = PayloadHash.of(body) { return hex }
        return nil
    }
}
