import Foundation
import SigV4
import Store
import Testing

@testable import Server

#if canImport(Glibc)
    import Glibc
#endif

/// Requests that used to crash the server, corrupt its records or leak its secrets, against the application
/// in-process.
@Suite("Hardening: the server survives hostile values and keeps its secrets")
struct HardeningTests {
    @Test(
        "a traffic-routing configuration with huge or negative numbers is refused, and the server keeps answering",
        arguments: [
            #"{"type":"TimeBasedLinear","timeBasedLinear":{"linearPercentage":1,"linearInterval":100000000000000000}}"#,
            #"{"type":"TimeBasedLinear","timeBasedLinear":{"linearPercentage":1,"linearInterval":2147483647}}"#,
            #"{"type":"TimeBasedLinear","timeBasedLinear":{"linearPercentage":1,"linearInterval":2881}}"#,
            #"{"type":"TimeBasedLinear","timeBasedLinear":{"linearPercentage":1,"linearInterval":-2147483648}}"#,
            #"{"type":"TimeBasedCanary","timeBasedCanary":{"canaryPercentage":10,"canaryInterval":9223372036854775807}}"#,
            #"{"type":"TimeBasedCanary","timeBasedCanary":{"canaryPercentage":-1,"canaryInterval":5}}"#,
            #"{"type":"TimeBasedCanary","timeBasedCanary":{"canaryPercentage":1e300,"canaryInterval":5}}"#,
        ])
    func trafficRoutingNumbers(_ routing: String) async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            let answer = try await client.codeDeploy(
                "CreateDeploymentConfig",
                #"{"deploymentConfigName":"c","computePlatform":"Lambda","trafficRoutingConfig":\#(routing)}"#,
                as: admin)
            #expect(answer.status == 400)
            #expect(
                ["InvalidTrafficRoutingConfigurationException", "SerializationException"].contains(answer.errorType),
                "\(String(decoding: answer.body, as: UTF8.self))")
            let listed = try await client.codeDeploy("ListDeploymentConfigs", "{}", as: admin)
            #expect(listed.status == 200)
        }
    }

    @Test("the longest linear shift within the limits is accepted (99 shifts of 29 minutes fit in 2880)")
    func linearWithinLimits() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            let routing = #"{"type":"TimeBasedLinear","timeBasedLinear":{"linearPercentage":1,"linearInterval":29}}"#
            let answer = try await client.codeDeploy(
                "CreateDeploymentConfig",
                #"{"deploymentConfigName":"slow","computePlatform":"Lambda","trafficRoutingConfig":\#(routing)}"#,
                as: admin)
            #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        }
    }

    @Test("a name with a NUL never reaches the record of the name without it")
    func nulInNames() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            #expect(
                try await client.codeDeploy("CreateApplication", #"{"applicationName":"prod"}"#, as: admin).status
                    == 200)
            for operation in ["GetApplication", "DeleteApplication"] {
                let answer = try await client.codeDeploy(operation, #"{"applicationName":"prod\u0000"}"#, as: admin)
                #expect(answer.status == 400)
                #expect(
                    answer.errorType == "InvalidApplicationNameException" || answer.errorType == "ValidationException")
            }
            let kept = try await client.codeDeploy("GetApplication", #"{"applicationName":"prod"}"#, as: admin)
            #expect(kept.status == 200, "the application named without the NUL is untouched")
        }
    }

    @Test(
        "secret access keys are sealed in the database: a copy of it alone reveals none, and the server still verifies them"
    )
    func secretsSealedAtRest() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let admin = try await server.key(.admin)
        try await server.run { client in
            let listed = try await client.codeDeploy("ListApplications", "{}", as: admin)
            #expect(listed.status == 200)
        }
        let raw = try await server.store.read { tx in try tx.allRecords(.accessKey) }
        #expect(raw.count == 1)
        let document = String(decoding: raw[0].document, as: UTF8.self)
        #expect(!document.contains(admin.secretAccessKey), "the plaintext secret is in the database")
        #expect(document.contains(SecretSealer.prefix))
        let keyFile = server.dataDirectory.appendingPathComponent(SecretSealer.keyFileName)
        var status = stat()
        #expect(stat(keyFile.path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
    }

    @Test("a secret stored in plaintext by an earlier version is sealed by the migration and keeps working")
    func plaintextSecretsAreSealed() async throws {
        let server = try TestServer()
        defer { server.remove() }
        let old = AccessKeyFactory.make(role: .admin, instanceName: nil, now: Date())
        try await server.store.write { tx in _ = try tx.create(old, .accessKey, name: old.accessKeyId) }
        let sealed = SealingStore(
            base: server.store, sealer: try SecretSealer.loadOrCreate(dataDirectory: server.dataDirectory))
        #expect(try await sealed.sealPlaintextSecrets() == 1)
        #expect(try await sealed.sealPlaintextSecrets() == 0)
        let raw = try await server.store.read { tx in try tx.allRecords(.accessKey) }
        #expect(!String(decoding: raw[0].document, as: UTF8.self).contains(old.secretAccessKey))
        try await server.run { client in
            let credentials = Credentials(accessKeyId: old.accessKeyId, secretAccessKey: old.secretAccessKey)
            let listed = try await client.codeDeploy("ListApplications", "{}", as: credentials)
            #expect(listed.status == 200)
        }
    }

    @Test("a sealed secret moved to another key's record, or opened with another data directory's key, does not open")
    func sealedSecretsAreBoundToTheirKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sealer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sealer = try SecretSealer.loadOrCreate(dataDirectory: directory)
        let sealed = try sealer.seal("secret", accessKeyId: "AKIAONE")
        #expect(try sealer.open(sealed, accessKeyId: "AKIAONE") == "secret")
        #expect(throws: StoreError.self) { try sealer.open(sealed, accessKeyId: "AKIATWO") }
        let other = try SecretSealer.loadOrCreate(
            dataDirectory: directory.appendingPathComponent("other", isDirectory: true))
        #expect(throws: StoreError.self) { try other.open(sealed, accessKeyId: "AKIAONE") }
        #expect(
            try SecretSealer.loadOrCreate(dataDirectory: directory).open(sealed, accessKeyId: "AKIAONE") == "secret")
    }

    @Test("the data directory is made private, and a new database is created 0600 before SQLite opens it")
    func dataDirectoryModes() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("modes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: parent) }
        let directory = parent.appendingPathComponent("data")
        #expect(try DataDirectory.prepare(directory) == nil)
        func mode(_ url: URL) -> mode_t {
            var status = stat()
            return stat(url.path, &status) == 0 ? status.st_mode & 0o777 : 0
        }
        #expect(mode(directory) == 0o700)
        chmod(directory.path, 0o755)
        #expect(try DataDirectory.prepare(directory) != nil)
        #expect(mode(directory) == 0o700)
        let database = directory.appendingPathComponent("slipway.sqlite")
        #expect(try DataDirectory.prepareDatabase(at: database.path).isEmpty)
        #expect(mode(database) == 0o600)
        let store = try SQLiteStore(path: database.path)
        try store.close()
        for file in [database.path, database.path + "-wal"] where FileManager.default.fileExists(atPath: file) {
            #expect(mode(URL(fileURLWithPath: file)) == 0o600, "\(file)")
        }
        chmod(database.path, 0o644)
        #expect(try DataDirectory.prepareDatabase(at: database.path) == [database.path])
        #expect(mode(database) == 0o600)
    }

    @Test("every PEM the dev environment writes ends with a newline and is private; an old one without is mended")
    func pemFilesEndWithNewline() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pem-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try DataDirectory.prepare(directory)
        let dev = DevEnvironment(dataDirectory: directory)
        try dev.ensureCertificates()
        for file in [dev.caCertificate, dev.caKey, dev.serverCertificate, dev.serverKey] {
            let data = try Data(contentsOf: file)
            #expect(data.last == 0x0A, "\(file.lastPathComponent) has no final newline")
            var status = stat()
            #expect(stat(file.path, &status) == 0 && status.st_mode & 0o077 == 0, "\(file.lastPathComponent)")
        }
        let text = try String(contentsOf: dev.caCertificate, encoding: .utf8)
        try SecretFile.write(Data(text.dropLast().utf8), to: dev.caCertificate)
        try dev.ensureCertificates()
        #expect(try String(contentsOf: dev.caCertificate, encoding: .utf8) == text)
    }
}

@Suite("Hardening: what a request must show before its body is read")
struct BodyAdmissionTests {
    /// A body over the limit gets the authentication error, not the body's.
    @Test("a JSON or IAM request with no key, or an unknown one, is refused before its body is read")
    func keyBeforeBody() async throws {
        let server = try TestServer()
        defer { server.remove() }
        try await server.run { client in
            let large = Data(repeating: UInt8(ascii: " "), count: 5 << 20)
            let unsigned = try await client.send(
                .post, "/", headers: [HTTPHeader("x-amz-target", "CodeDeploy_20141006.ListApplications")],
                body: large)
            #expect(unsigned.status == 403, "\(String(decoding: unsigned.body.prefix(300), as: UTF8.self))")
            #expect(unsigned.errorType == "MissingAuthenticationTokenException")
            let unknown = try await client.json(
                target: "CodeDeploy_20141006.ListApplications", body: large, service: "codedeploy",
                credentials: Credentials(accessKeyId: "AKIAUNKNOWNUNKNOWN00", secretAccessKey: "x"))
            #expect(unknown.status == 403)
            #expect(unknown.errorType == "UnrecognizedClientException")
            let iam = try await client.send(
                .post, "/", headers: [HTTPHeader("content-type", "application/x-www-form-urlencoded")],
                body: Data("Action=ListUsers&Version=2010-05-08&".utf8) + Data(repeating: 0x61, count: 2 << 20))
            #expect(iam.status == 403, "\(String(decoding: iam.body.prefix(300), as: UTF8.self))")
        }
    }
}
