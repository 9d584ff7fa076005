import ArtifactStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SigV4
import Store
import Testing

@testable import Server

/// The S3 API in process: a real SQLite store and artifact directory, requests signed with SigV4.
@Suite("S3 API")
struct S3APITests {
    /// 2026-03-14T09:26:53Z.
    static let now = Date(timeIntervalSince1970: 1_773_480_413)

    struct Fixture {
        let directory: URL
        let store: any Store
        let api: S3API
        let admin: Credentials

        init() async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-s3api-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
            let authenticator = Authenticator(
                store: store, region: "us-east-1", accountID: "000000000000", maximumClockSkew: 900)
            let artifacts = try LocalArtifactStore(
                store: store, directory: directory.appendingPathComponent("artifacts"), region: "us-east-1")
            api = S3API(
                artifacts: artifacts, authenticator: authenticator, accountID: "000000000000",
                clock: { S3APITests.now }, instanceScope: InstanceScope(store: store, readablePrefixes: []))
            let key = try await AccessKeys.create(in: store, role: .admin, instanceName: nil)
            admin = Credentials(accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }

        /// An IAM user whose only policy is `statements`, with one key.
        func user(_ name: String, _ statements: [PolicyStatement]) async throws -> Credentials {
            let key = AccessKeyFactory.make(userName: name, now: S3APITests.now)
            try await store.write { tx in
                try tx.setIAMUser(
                    IAMUserRecord(
                        userName: name, userId: "AIDA\(name.uppercased())", path: "/", createDate: S3APITests.now,
                        policies: [.init(name: "only", document: "{}", statements: statements)],
                        accessKeyIds: [key.accessKeyId], instanceName: nil))
                _ = try tx.create(key, .accessKey, name: key.accessKeyId)
            }
            return Credentials(accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey)
        }

        struct Answer {
            var status: Int
            var headers: HTTPFields
            var body: String
        }

        /// Sends `method target` signed with `credentials` (header SigV4, signed payload), or unsigned-presigned
        /// when `presigned` is set, with `unsignedHeaders` added after signing.
        func send(
            _ method: HTTPRequest.Method, _ target: String, body: String = "", as credentials: Credentials? = nil,
            headers: [(String, String)] = [], presigned: Bool = false, unsignedHeaders: [(String, String)] = []
        ) async -> Answer {
            let signer = Signer(credentials: credentials ?? admin, region: "us-east-1", service: "s3")
            let (path, query) =
                target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) }
                ?? (target, "")
            var sent = [HTTPHeader("host", "slipway.test")] + headers.map { HTTPHeader($0.0, $0.1) }
            var finalTarget = target
            if presigned {
                let url = signer.presign(
                    method: method.rawValue, path: path, query: query, headers: sent, expires: 600,
                    date: S3APITests.now)
                finalTarget = "\(path)?\(url.query)"
            } else {
                sent =
                    signer.sign(
                        method: method.rawValue, path: path, query: query, headers: sent,
                        payload: PayloadHash.of(Data(body.utf8)), date: S3APITests.now
                    ).headers
            }
            var fields = HTTPFields()
            for header in sent + unsignedHeaders.map({ HTTPHeader($0.0, $0.1) })
            where header.name.lowercased() != "host" {
                fields.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value))
            }
            fields[.contentLength] = String(body.utf8.count)
            let request = Request(
                head: HTTPRequest(
                    method: method, scheme: "http", authority: "slipway.test", path: finalTarget, headerFields: fields),
                body: RequestBody(buffer: ByteBuffer(string: body)))
            let response = await api.respond(
                to: request, requestID: "test", logger: Logger(label: "s3-test"))
            let text = await Self.collect(response)
            return Answer(status: Int(response.status.code), headers: response.headers, body: text)
        }

        static func collect(_ response: Response) async -> String {
            let box = Collector.Box()
            try? await response.body.write(Collector(box: box))
            return box.text
        }
    }

    struct Collector: ResponseBodyWriter {
        final class Box: @unchecked Sendable { var text = "" }
        var box = Box()
        mutating func write(_ buffer: ByteBuffer) async throws { box.text += String(buffer: buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    /// A bucket `bucket` with the object `k` ("secret content"), and an open multipart upload of `k`.
    static func prepared() async throws -> (Fixture, uploadID: String) {
        let fixture = try await Fixture()
        #expect(await fixture.send(.put, "/bucket").status == 200)
        #expect(await fixture.send(.put, "/bucket/k", body: "secret content").status == 200)
        let created = await fixture.send(.post, "/bucket/k?uploads")
        let uploadID = try #require(
            created.body.components(separatedBy: "<UploadId>").dropFirst().first?.components(separatedBy: "<").first)
        return (fixture, uploadID)
    }

    @Test("HEAD with uploadId by a principal allowed only to list parts reveals nothing about the object")
    func headWithUploadIDIsNotHeadObject() async throws {
        let (fixture, uploadID) = try await Self.prepared()
        defer { fixture.remove() }
        let lister = try await fixture.user(
            "lister", [PolicyStatement(effect: .allow, actions: ["s3:ListMultipartUploadParts"], resources: ["*"])])
        let head = await fixture.send(.head, "/bucket/k?uploadId=\(uploadID)", as: lister)
        #expect(head.status == 405)
        #expect(head.headers[.eTag] == nil)
        #expect(head.headers[HTTPField.Name("x-amz-meta-owner")!] == nil)
        #expect(await fixture.send(.get, "/bucket/k?uploadId=\(uploadID)", as: lister).status == 200)
        #expect(await fixture.send(.head, "/bucket/k", as: lister).status == 403)
    }

    @Test("a copy whose source has an encoded ? is authorised on the key it reads")
    func copySourceIsAuthorisedAsRead() async throws {
        let (fixture, _) = try await Self.prepared()
        defer { fixture.remove() }
        #expect(await fixture.send(.put, "/bucket/a%3Fb", body: "public").status == 200)
        // May read `a?b` only; the source `a%3Fb?versionId=…` must be checked, and served, as the key `a?b`.
        let copier = try await fixture.user(
            "copier",
            [
                PolicyStatement(effect: .allow, actions: ["s3:PutObject"], resources: ["arn:aws:s3:::bucket/out*"]),
                PolicyStatement(effect: .allow, actions: ["s3:GetObject"], resources: ["arn:aws:s3:::bucket/a?b"]),
            ])
        let allowed = await fixture.send(
            .put, "/bucket/out1", as: copier, headers: [("x-amz-copy-source", "/bucket/a%3Fb")])
        #expect(allowed.status == 200)
        #expect(await fixture.send(.get, "/bucket/out1").body == "public")
        let refused = await fixture.send(
            .put, "/bucket/out2", as: copier, headers: [("x-amz-copy-source", "/bucket/k")])
        #expect(refused.status == 403)
    }

    @Test("a presigned PUT with an unsigned x-amz-copy-source copies nothing")
    func presignedPUTCannotCopy() async throws {
        let (fixture, _) = try await Self.prepared()
        defer { fixture.remove() }
        let answer = await fixture.send(
            .put, "/bucket/out.bin", presigned: true, unsignedHeaders: [("x-amz-copy-source", "/bucket/k")])
        #expect(answer.status == 403)
        #expect(answer.body.contains("<Code>AccessDenied</Code>"))
        #expect(await fixture.send(.get, "/bucket/out.bin").status == 404)
    }

    @Test("DeleteObjects checks each key it deletes: a Deny on a prefix holds inside a batch")
    func deleteObjectsAuthorisesEachKey() async throws {
        let (fixture, _) = try await Self.prepared()
        defer { fixture.remove() }
        #expect(await fixture.send(.put, "/bucket/keep/a", body: "a").status == 200)
        #expect(await fixture.send(.put, "/bucket/tmp/b", body: "b").status == 200)
        let cleaner = try await fixture.user(
            "cleaner",
            [
                PolicyStatement(effect: .allow, actions: ["s3:DeleteObject"], resources: ["arn:aws:s3:::bucket/*"]),
                PolicyStatement(effect: .deny, actions: ["s3:DeleteObject"], resources: ["arn:aws:s3:::bucket/keep/*"]),
            ])
        let body = "<Delete><Object><Key>keep/a</Key></Object><Object><Key>tmp/b</Key></Object></Delete>"
        let answer = await fixture.send(.post, "/bucket?delete", body: body, as: cleaner)
        #expect(answer.status == 200)
        #expect(answer.body.contains("<Code>AccessDenied</Code>"))
        #expect(await fixture.send(.get, "/bucket/keep/a").status == 200)
        #expect(await fixture.send(.get, "/bucket/tmp/b").status == 404)
    }

    @Test("the upload expiry sweep aborts uploads older than the expiry at the time it is given")
    func expirySweep() async throws {
        let (fixture, young) = try await Self.prepared()
        defer { fixture.remove() }
        let old = try await fixture.api.artifacts.createMultipartUpload(
            bucket: "bucket", key: "old", headers: [:], metadata: [:], checksumAlgorithm: nil,
            now: Self.now.addingTimeInterval(-8 * 86_400))
        let service = UploadExpiryService(
            artifacts: fixture.api.artifacts, expiry: 7 * 86_400, clock: { S3APITests.now },
            logger: Logger(label: "sweep-test"))
        #expect(service.interval == .seconds(3600))
        #expect(await service.sweep(now: Self.now) == 1)
        let left = try await fixture.api.artifacts.listUploads(bucket: "bucket", prefix: "").map(\.uploadID)
        #expect(left == [young])
        #expect(!left.contains(old.uploadID))
        #expect(await service.sweep(now: Self.now.addingTimeInterval(7 * 86_400 + 1)) == 1)
    }
}
