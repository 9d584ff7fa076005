import Foundation
import SigV4
import Store

@testable import Server

/// An ``Authenticator`` over a store in a temporary directory, with one key of `role`: the set-up of the tests that
/// authenticate requests without the rest of the server.
struct AuthenticatorFixture {
    let directory: URL
    let store: any Store
    let authenticator: Authenticator
    let key: AccessKeyRecord
    var credentials: Credentials { Credentials(accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey) }

    init(role: KeyRole) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-auth-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        authenticator = Authenticator(
            store: store, region: "us-east-1", accountID: "000000000000", maximumClockSkew: 900)
        key = try await AccessKeys.create(in: store, role: role, instanceName: nil)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
