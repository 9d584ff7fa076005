import Crypto
import Foundation
import NIOCore
import SigV4
import Store

/// The built-in S3-compatible store: object metadata as records in the Slipway store, content as blob files.
///
/// Every operation validates its names, changes metadata in one store transaction, and touches files only
/// outside it: a body is written and verified in a temporary file, renamed into place as a blob, and only then
/// recorded; blobs an operation made obsolete are deleted after the transaction that dropped them.
public final class LocalArtifactStore: Sendable {
    public let store: any Store
    public let files: BlobFiles
    /// The region buckets report (`GetBucketLocation`) and accept in `CreateBucketConfiguration`.
    public let region: String
    /// The largest body of one PutObject or UploadPart.
    public static let maximumPutSize: Int64 = 5 << 30

    /// Opens the store with its files under `directory` and removes temporary files an earlier run left. `quota`
    /// bounds the bytes of every object version and uploaded part together (nil: no bound); see ``StorageUsage``.
    public init(store: any Store, directory: URL, region: String, quota: Int64? = nil) throws {
        self.store = store
        self.files = try BlobFiles(root: directory, quota: quota)
        self.region = region
        files.removeTemporaryFiles()
    }

    // MARK: Buckets

    public func createBucket(_ name: String, locationConstraint: String?, now: Date) async throws {
        try BucketName.validate(name)
        if let locationConstraint, !locationConstraint.isEmpty, locationConstraint != region {
            throw S3Error(
                "IllegalLocationConstraintException",
                "The \(locationConstraint) location constraint is incompatible for the region specific endpoint "
                    + "this request was sent to (\(region)).",
                status: 400)
        }
        let record = BucketRecord(name: name, creationDate: now, versioning: nil)
        let created = try await store.write { try $0.create(record, .s3Bucket, name: name) }
        guard created else { throw S3Error.bucketAlreadyOwnedByYou(name) }
    }

    public func bucket(_ name: String) async throws -> BucketRecord {
        guard BucketName.isPlausible(name),
            let bucket = try await store.read({ try $0.get(BucketRecord.self, .s3Bucket, name: name) })
        else { throw S3Error.noSuchBucket(name) }
        return bucket
    }

    public func listBuckets() async throws -> [BucketRecord] {
        try await store.read { try $0.list(BucketRecord.self, .s3Bucket).map(\.value) }
    }

    /// Deletes an empty bucket.
    public func deleteBucket(_ name: String) async throws {
        guard BucketName.isPlausible(name) else { throw S3Error.noSuchBucket(name) }
        try await store.write { writer in
            guard try writer.get(BucketRecord.self, .s3Bucket, name: name) != nil else {
                throw S3Error.noSuchBucket(name)
            }
            guard try writer.count(.s3Object, scope: name) == 0, try writer.count(.s3Upload, scope: name) == 0 else {
                throw S3Error.bucketNotEmpty(name)
            }
            try writer.delete(.s3Bucket, scope: "", name: name)
        }
    }

    /// Turns versioning on (`Enabled`) or pauses it (`Suspended`).
    public func setVersioning(_ bucket: String, status: String) async throws {
        guard status == "Enabled" || status == "Suspended" else {
            throw S3Error.malformedXML("Status must be Enabled or Suspended, not '\(status)'")
        }
        try await store.write { writer in
            guard var record = try writer.get(BucketRecord.self, .s3Bucket, name: bucket) else {
                throw S3Error.noSuchBucket(bucket)
            }
            record.versioning = status
            try writer.set(record, .s3Bucket, name: bucket)
        }
    }

    // MARK: Objects

    /// Streams a body into a verified blob file: the received body's facts and the blob's name.
    private func receiveBlob<Body: AsyncSequence>(
        _ body: Body, declaration: PayloadDeclaration, maximumSize: Int64
    ) async throws -> (ReceivedBody, String) where Body.Element == ByteBuffer {
        let received = try await BodyReceiver.receive(
            body, declaration: declaration, maximumSize: maximumSize, files: files)
        // Committed, the blob counts as stored; the reservation is released only then, so that the bytes are held
        // against the quota throughout.
        defer { files.usage.release(received.reserved) }
        do {
            return (received, try await files.commit(received.file))
        } catch {
            received.file.discard()
            throw error
        }
    }

    /// Receives a body and makes it the current version of `key`.
    public func putObject<Body: AsyncSequence>(
        bucket: String, key: String, headers: [String: String], metadata: [String: String], body: Body,
        declaration: PayloadDeclaration, now: @Sendable () -> Date
    ) async throws -> ObjectRecord where Body.Element == ByteBuffer {
        try ObjectKey.validate(key)
        _ = try await self.bucket(bucket)
        let (received, blob) = try await receiveBlob(body, declaration: declaration, maximumSize: Self.maximumPutSize)
        let record = ObjectRecord(
            key: key, versionID: nil, isDeleteMarker: false, blob: blob, size: received.size,
            eTag: Hex.encode(received.md5), lastModified: now(), headers: headers, metadata: metadata,
            checksums: received.checksums, sequence: 0)
        return try await install(record, bucket: bucket, orphanOnFailure: [blob])
    }

    /// Records `record` as the newest version of its key; deletes the blobs this replaces.
    private func install(_ record: ObjectRecord, bucket: String, orphanOnFailure: [String]) async throws
        -> ObjectRecord
    {
        let result: (ObjectRecord, [String])
        do {
            result = try await store.write { writer in
                guard let bucketRecord = try writer.get(BucketRecord.self, .s3Bucket, name: bucket) else {
                    throw S3Error.noSuchBucket(bucket)
                }
                return try Self.installVersion(record, in: bucketRecord, writer: writer)
            }
        } catch {
            await files.remove(orphanOnFailure)
            throw error
        }
        await files.remove(result.1)
        return result.0
    }

    /// The core of every write of a version: the versioning rules, in one transaction. Returns the record as
    /// stored and the blobs no longer referenced.
    static func installVersion(_ record: ObjectRecord, in bucket: BucketRecord, writer: any StoreWriter) throws
        -> (ObjectRecord, [String])
    {
        var record = record
        var obsolete: [String] = []
        let current = try writer.get(ObjectRecord.self, .s3Object, scope: bucket.name, name: record.key)
        record.sequence = max(
            Int64(record.lastModified.timeIntervalSince1970 * 1_000_000), (current?.sequence ?? 0) + 1)
        let versionScope = "\(bucket.name)/\(record.key)"
        switch bucket.versioning {
        case nil:
            record.versionID = nil
            if let blob = current?.blob { obsolete.append(blob) }
        case let status?:
            // An object written before versioning was turned on becomes the "null" version.
            if var current, current.versionID == nil {
                current.versionID = "null"
                try writer.set(current, .s3ObjectVersion, scope: versionScope, name: "null")
            }
            if status == "Enabled" {
                record.versionID = BlobFiles.newID()
            } else {
                record.versionID = "null"
                if let previous = try writer.get(
                    ObjectRecord.self, .s3ObjectVersion, scope: versionScope, name: "null"),
                    let blob = previous.blob
                {
                    obsolete.append(blob)
                }
            }
            try writer.set(record, .s3ObjectVersion, scope: versionScope, name: record.versionID!)
        }
        try writer.set(record, .s3Object, scope: bucket.name, name: record.key)
        return (record, obsolete)
    }

    /// The current version of `key`, or the version `versionID`. Delete markers are errors as S3 has them.
    public func object(bucket: String, key: String, versionID: String?) async throws -> ObjectRecord {
        try ObjectKey.validate(key)
        let found = try await store.read { reader -> (Bool, ObjectRecord?) in
            guard try reader.get(BucketRecord.self, .s3Bucket, name: bucket) != nil else { return (false, nil) }
            return (true, try Self.lookup(reader, bucket: bucket, key: key, versionID: versionID))
        }
        guard found.0 else { throw S3Error.noSuchBucket(bucket) }
        guard let record = found.1 else {
            if let versionID { throw S3Error.noSuchVersion(key, versionID: versionID) }
            throw S3Error.noSuchKey(key)
        }
        if record.isDeleteMarker {
            if versionID != nil {
                throw S3Error(
                    "MethodNotAllowed", "The specified method is not allowed against this resource.", status: 405,
                    headers: [("x-amz-delete-marker", "true"), ("x-amz-version-id", record.versionID ?? "null")])
            }
            throw S3Error.noSuchKey(key, deleteMarker: true)
        }
        return record
    }

    static func lookup(_ reader: any StoreReader, bucket: String, key: String, versionID: String?) throws
        -> ObjectRecord?
    {
        let current = try reader.get(ObjectRecord.self, .s3Object, scope: bucket, name: key)
        guard let versionID else { return current }
        if let current, current.versionID ?? "null" == versionID { return current }
        guard versionID.utf8.count <= 64 else { return nil }
        return try reader.get(ObjectRecord.self, .s3ObjectVersion, scope: "\(bucket)/\(key)", name: versionID)
    }

    /// Opens the content of a version found by ``object(bucket:key:versionID:)``.
    public func open(_ record: ObjectRecord) async throws -> BlobReader {
        guard let blob = record.blob, let reader = try await files.openBlob(blob) else {
            // Deleted between the lookup and the open.
            throw S3Error.noSuchKey(record.key)
        }
        return reader
    }

    /// The result of DeleteObject.
    public struct Deletion: Sendable, Hashable {
        public var versionID: String?
        public var deleteMarker: Bool
    }

    /// Deletes the current version (leaving a delete marker in a versioned bucket) or one version for good.
    public func deleteObject(bucket: String, key: String, versionID: String?, now: Date) async throws -> Deletion {
        try ObjectKey.validate(key)
        let (deletion, obsolete) = try await store.write { writer -> (Deletion, [String]) in
            guard let bucketRecord = try writer.get(BucketRecord.self, .s3Bucket, name: bucket) else {
                throw S3Error.noSuchBucket(bucket)
            }
            return try Self.delete(key: key, versionID: versionID, in: bucketRecord, writer: writer, now: now)
        }
        await files.remove(obsolete)
        return deletion
    }

    static func delete(key: String, versionID: String?, in bucket: BucketRecord, writer: any StoreWriter, now: Date)
        throws -> (Deletion, [String])
    {
        let current = try writer.get(ObjectRecord.self, .s3Object, scope: bucket.name, name: key)
        let versionScope = "\(bucket.name)/\(key)"
        if bucket.versioning == nil || (versionID == "null" && current?.versionID == nil && current != nil) {
            if let versionID, versionID != "null" { return (Deletion(versionID: versionID, deleteMarker: false), []) }
            guard let current else { return (Deletion(versionID: nil, deleteMarker: false), []) }
            try writer.delete(.s3Object, scope: bucket.name, name: key)
            return (Deletion(versionID: nil, deleteMarker: false), current.blob.map { [$0] } ?? [])
        }
        if let versionID {
            guard versionID.utf8.count <= 64,
                let version = try writer.get(ObjectRecord.self, .s3ObjectVersion, scope: versionScope, name: versionID)
            else {
                return (Deletion(versionID: versionID, deleteMarker: false), [])
            }
            try writer.delete(.s3ObjectVersion, scope: versionScope, name: versionID)
            if current?.versionID == versionID {
                let remaining = try writer.list(ObjectRecord.self, .s3ObjectVersion, scope: versionScope).map(\.value)
                if let newest = remaining.max(by: { $0.sequence < $1.sequence }) {
                    try writer.set(newest, .s3Object, scope: bucket.name, name: key)
                } else {
                    try writer.delete(.s3Object, scope: bucket.name, name: key)
                }
            }
            return (
                Deletion(versionID: versionID, deleteMarker: version.isDeleteMarker), version.blob.map { [$0] } ?? []
            )
        }
        // A versioned bucket: a delete marker becomes the current version.
        let marker = ObjectRecord(
            key: key, versionID: nil, isDeleteMarker: true, blob: nil, size: 0, eTag: "", lastModified: now,
            headers: [:], metadata: [:], checksums: [:], sequence: 0)
        let (stored, obsolete) = try installVersion(marker, in: bucket, writer: writer)
        return (Deletion(versionID: stored.versionID, deleteMarker: true), obsolete)
    }

    /// Copies a version to `key`, sharing the content; `replacing` gives new headers and metadata.
    public func copyObject(
        from source: (bucket: String, key: String, versionID: String?), to bucket: String, key: String,
        replacing: (headers: [String: String], metadata: [String: String])?, now: Date
    ) async throws -> (record: ObjectRecord, sourceVersionID: String?) {
        try ObjectKey.validate(key)
        let original = try await object(bucket: source.bucket, key: source.key, versionID: source.versionID)
        _ = try await self.bucket(bucket)
        guard let sourceBlob = original.blob else { throw S3Error.noSuchKey(source.key) }
        // A copy shares the file, yet counts at its size, as every object version does.
        try files.usage.reserve(original.size)
        let blob: String
        do {
            defer { files.usage.release(original.size) }
            blob = try await files.duplicate(sourceBlob)
        }
        var record = original
        record.key = key
        record.blob = blob
        record.lastModified = now
        record.versionID = nil
        if let replacing {
            record.headers = replacing.headers
            record.metadata = replacing.metadata
        }
        return (try await install(record, bucket: bucket, orphanOnFailure: [blob]), original.versionID)
    }

    // MARK: Listing

    /// One page of ListObjects(V2).
    public struct Listing: Sendable {
        public var objects: [ObjectRecord]
        public var commonPrefixes: [String]
        public var isTruncated: Bool
        /// The last key or common prefix returned; listing resumes after it.
        public var lastName: String?
    }

    /// Lists current versions (no delete markers) in key order, after `after`, grouping by `delimiter`.
    public func list(bucket: String, prefix: String, delimiter: String?, after: String?, maxKeys: Int) async throws
        -> Listing
    {
        _ = try await self.bucket(bucket)
        let delimiter = delimiter.flatMap { $0.isEmpty ? nil : $0 }
        var listing = Listing(objects: [], commonPrefixes: [], isTruncated: false, lastName: nil)
        guard maxKeys > 0 else { return listing }
        // Start at the prefix itself (inclusive) unless `after` is further along. Keys compare as UTF-8 bytes,
        // the order the store lists names in.
        var cursor: String?
        var includeCursor = false
        if let after, !Self.precedes(after, prefix) {
            cursor = after
        } else if !prefix.isEmpty {
            cursor = prefix
            includeCursor = true
        }
        let prefixBytes = Array(prefix.utf8)
        let delimiterBytes = delimiter.map { Array($0.utf8) }
        let pageSize = 1000
        while true {
            let start = cursor
            let checkCursor = includeCursor
            let page = try await store.read { reader -> [ObjectRecord] in
                var records: [ObjectRecord] = []
                if checkCursor, let start,
                    let exact = try reader.get(ObjectRecord.self, .s3Object, scope: bucket, name: start)
                {
                    records.append(exact)
                }
                records += try reader.list(ObjectRecord.self, .s3Object, scope: bucket, after: start, limit: pageSize)
                    .map(\.value)
                return records
            }
            includeCursor = false
            if page.isEmpty { return listing }
            for record in page {
                cursor = record.key
                let keyBytes = Array(record.key.utf8)
                guard keyBytes.starts(with: prefixBytes) else {
                    if Self.precedes(prefix, record.key) { return listing }
                    continue
                }
                if record.isDeleteMarker { continue }
                var group: String?
                if let delimiterBytes, !delimiterBytes.isEmpty {
                    let rest = keyBytes[prefixBytes.count...]
                    if let end = Self.firstRange(of: delimiterBytes, in: rest) {
                        group = String(decoding: keyBytes[..<end], as: UTF8.self)
                    }
                }
                if let group, group == listing.commonPrefixes.last { continue }
                if let group, let after, !Self.precedes(after, group) { continue }
                if listing.objects.count + listing.commonPrefixes.count == maxKeys {
                    listing.isTruncated = true
                    return listing
                }
                if let group {
                    listing.commonPrefixes.append(group)
                    listing.lastName = group
                } else {
                    listing.objects.append(record)
                    listing.lastName = record.key
                }
            }
            if page.count < pageSize { return listing }
        }
    }

    /// Whether `lhs` sorts before `rhs` in UTF-8 byte order.
    static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    /// The end index of the first occurrence of `needle` in `haystack`.
    static func firstRange(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index + needle.count }
            index += 1
        }
        return nil
    }

    // MARK: Multipart uploads

    public func createMultipartUpload(
        bucket: String, key: String, headers: [String: String], metadata: [String: String],
        checksumAlgorithm: String?, now: Date
    ) async throws -> UploadRecord {
        try ObjectKey.validate(key)
        let upload = UploadRecord(
            uploadID: BlobFiles.newID(), key: key, initiated: now, headers: headers, metadata: metadata,
            checksumAlgorithm: checksumAlgorithm)
        try await store.write { writer in
            guard try writer.get(BucketRecord.self, .s3Bucket, name: bucket) != nil else {
                throw S3Error.noSuchBucket(bucket)
            }
            try writer.set(upload, .s3Upload, scope: bucket, name: upload.uploadID)
        }
        return upload
    }

    public func upload(bucket: String, key: String, uploadID: String) async throws -> UploadRecord {
        guard BlobFiles.isValidID(uploadID) else { throw S3Error.noSuchUpload(uploadID) }
        let found = try await store.read { reader -> (Bool, UploadRecord?) in
            guard try reader.get(BucketRecord.self, .s3Bucket, name: bucket) != nil else { return (false, nil) }
            return (true, try reader.get(UploadRecord.self, .s3Upload, scope: bucket, name: uploadID))
        }
        guard found.0 else { throw S3Error.noSuchBucket(bucket) }
        guard let upload = found.1, upload.key == key else { throw S3Error.noSuchUpload(uploadID) }
        return upload
    }

    public func uploadPart<Body: AsyncSequence>(
        bucket: String, key: String, uploadID: String, partNumber: Int, body: Body, declaration: PayloadDeclaration,
        now: @Sendable () -> Date
    ) async throws -> PartRecord where Body.Element == ByteBuffer {
        guard (1...Multipart.maximumParts).contains(partNumber) else {
            throw S3Error.invalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive", name: "partNumber",
                value: String(partNumber))
        }
        _ = try await upload(bucket: bucket, key: key, uploadID: uploadID)
        let (received, blob) = try await receiveBlob(
            body, declaration: declaration, maximumSize: Multipart.maximumPartSize)
        let part = PartRecord(
            partNumber: partNumber, blob: blob, size: received.size, eTag: Hex.encode(received.md5),
            lastModified: now(), checksums: received.checksums)
        let replaced: String?
        do {
            replaced = try await store.write { writer -> String? in
                guard try writer.get(UploadRecord.self, .s3Upload, scope: bucket, name: uploadID) != nil else {
                    throw S3Error.noSuchUpload(uploadID)
                }
                let previous = try writer.get(
                    PartRecord.self, .s3UploadPart, scope: uploadID, name: PartName.of(partNumber))
                try writer.set(part, .s3UploadPart, scope: uploadID, name: PartName.of(partNumber))
                return previous?.blob
            }
        } catch {
            await files.remove([blob])
            throw error
        }
        if let replaced { await files.remove([replaced]) }
        return part
    }

    public func listParts(bucket: String, key: String, uploadID: String, after: Int, maxParts: Int) async throws
        -> (upload: UploadRecord, parts: [PartRecord], isTruncated: Bool)
    {
        let upload = try await upload(bucket: bucket, key: key, uploadID: uploadID)
        let limit = max(0, min(maxParts, 1000))
        let parts = try await store.read { reader in
            try reader.list(
                PartRecord.self, .s3UploadPart, scope: uploadID, after: after > 0 ? PartName.of(after) : nil,
                limit: limit + 1
            ).map(\.value)
        }
        return (upload, Array(parts.prefix(limit)), parts.count > limit)
    }

    public func listUploads(bucket: String, prefix: String) async throws -> [UploadRecord] {
        _ = try await self.bucket(bucket)
        let uploads = try await store.read { try $0.list(UploadRecord.self, .s3Upload, scope: bucket).map(\.value) }
        return uploads.filter { $0.key.hasPrefix(prefix) }.sorted {
            ($0.key, $0.initiated) < ($1.key, $1.initiated)
        }
    }

    /// Aborts every multipart upload initiated before `cutoff`, in every bucket, deleting its parts; returns the
    /// uploads aborted. Run when the server starts and periodically after (see `StorageLimits.uploadExpiry`).
    public func expireUploads(initiatedBefore cutoff: Date) async throws -> [(bucket: String, upload: UploadRecord)] {
        let expired = try await store.read { reader -> [(String, UploadRecord)] in
            var found: [(String, UploadRecord)] = []
            for bucket in try reader.list(BucketRecord.self, .s3Bucket).map(\.value.name) {
                for upload in try reader.list(UploadRecord.self, .s3Upload, scope: bucket).map(\.value)
                where upload.initiated < cutoff {
                    found.append((bucket, upload))
                }
            }
            return found
        }
        var aborted: [(bucket: String, upload: UploadRecord)] = []
        for (bucket, upload) in expired {
            do {
                try await abortMultipartUpload(bucket: bucket, key: upload.key, uploadID: upload.uploadID)
                aborted.append((bucket, upload))
            } catch let error as S3Error where error.code == "NoSuchUpload" || error.code == "NoSuchBucket" {
                continue  // completed or aborted meanwhile
            }
        }
        return aborted
    }

    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        _ = try await upload(bucket: bucket, key: key, uploadID: uploadID)
        let blobs = try await store.write { writer -> [String] in
            let parts = try writer.list(PartRecord.self, .s3UploadPart, scope: uploadID).map(\.value.blob)
            try writer.deleteAll(.s3UploadPart, scope: uploadID)
            try writer.delete(.s3Upload, scope: bucket, name: uploadID)
            return parts
        }
        await files.remove(blobs)
    }

    /// Assembles the listed parts into the object; the ETag is the MD5 of the parts' MD5s, then `-<count>`.
    public func completeMultipartUpload(
        bucket: String, key: String, uploadID: String, parts requested: [(number: Int, eTag: String)], now: Date
    ) async throws -> ObjectRecord {
        let upload = try await upload(bucket: bucket, key: key, uploadID: uploadID)
        guard !requested.isEmpty else {
            throw S3Error.malformedXML("CompleteMultipartUpload needs at least one Part")
        }
        let stored = try await store.read { reader in
            try reader.list(PartRecord.self, .s3UploadPart, scope: uploadID).map(\.value)
        }
        let byNumber = Dictionary(stored.map { ($0.partNumber, $0) }, uniquingKeysWith: { _, last in last })
        var chosen: [PartRecord] = []
        var previous = 0
        for (number, eTag) in requested {
            guard number > previous else { throw S3Error.invalidPartOrder() }
            previous = number
            let wanted = eTag.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            guard let part = byNumber[number], part.eTag == wanted else {
                throw S3Error.invalidPart(
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or "
                        + "the specified entity tag may not match the part's entity tag (part \(number)).")
            }
            chosen.append(part)
        }
        for part in chosen.dropLast() where part.size < Multipart.minimumPartSize {
            throw S3Error.entityTooSmall(part: part.partNumber, size: part.size)
        }
        var md5OfMD5s = Insecure.MD5()
        let file = try files.createTemporary()
        let blob: String
        do {
            for part in chosen {
                md5OfMD5s.update(data: Self.bytes(fromHex: part.eTag))
                try await files.append(part.blob, to: file)
            }
            blob = try await files.commit(file)
        } catch {
            file.discard()
            throw error
        }
        let record = ObjectRecord(
            key: key, versionID: nil, isDeleteMarker: false, blob: blob, size: chosen.reduce(0) { $0 + $1.size },
            eTag: "\(Hex.encode(md5OfMD5s.finalize()))-\(chosen.count)", lastModified: now, headers: upload.headers,
            metadata: upload.metadata, checksums: [:], sequence: 0)
        let outcome: (ObjectRecord, [String])
        do {
            outcome = try await store.write { writer in
                guard let bucketRecord = try writer.get(BucketRecord.self, .s3Bucket, name: bucket) else {
                    throw S3Error.noSuchBucket(bucket)
                }
                guard try writer.get(UploadRecord.self, .s3Upload, scope: bucket, name: uploadID) != nil else {
                    throw S3Error.noSuchUpload(uploadID)
                }
                let parts = try writer.list(PartRecord.self, .s3UploadPart, scope: uploadID).map(\.value.blob)
                try writer.deleteAll(.s3UploadPart, scope: uploadID)
                try writer.delete(.s3Upload, scope: bucket, name: uploadID)
                let (stored, obsolete) = try Self.installVersion(record, in: bucketRecord, writer: writer)
                return (stored, obsolete + parts)
            }
        } catch {
            await files.remove([blob])
            throw error
        }
        await files.remove(outcome.1)
        return outcome.0
    }

    static func bytes(fromHex hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = UInt8(String(UnicodeScalar(high)), radix: 16),
                let l = UInt8(String(UnicodeScalar(low)), radix: 16)
            else { return [] }
            bytes.append(h << 4 | l)
        }
        return bytes
    }
}
