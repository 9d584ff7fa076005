import S3Transfer

/// Answers "does bucket/key(/version) exist, and what are its ETag and version" for CreateDeployment.
public protocol RevisionLocator: Sendable {
    /// Whether the bucket is served by this locator (for the built-in store: it exists here).
    func hostsBucket(_ bucket: String) async throws -> Bool

    /// The object, or nil when the bucket, the key or the version does not exist (or is a delete marker).
    func locateRevision(bucket: String, key: String, version: String?) async throws -> RevisionObject?
}

extension LocalArtifactStore: RevisionLocator {
    public func hostsBucket(_ bucket: String) async throws -> Bool {
        guard BucketName.isPlausible(bucket) else { return false }
        return try await store.read { try $0.get(BucketRecord.self, .s3Bucket, name: bucket) } != nil
    }

    public func locateRevision(bucket: String, key: String, version: String?) async throws -> RevisionObject? {
        do {
            let record = try await object(bucket: bucket, key: key, versionID: version)
            return RevisionObject(eTag: record.eTag, versionID: record.versionID, size: record.size)
        } catch let error as S3Error where error.status == 404 || error.status == 405 || error.status == 400 {
            return nil
        }
    }
}

/// Finds revisions in the built-in store first, then on the external endpoint configured for the bucket.
public struct RevisionLocators: RevisionLocator {
    public let local: LocalArtifactStore
    public let external: ExternalBuckets

    public init(local: LocalArtifactStore, external: ExternalBuckets) {
        self.local = local
        self.external = external
    }

    public func hostsBucket(_ bucket: String) async throws -> Bool {
        if try await local.hostsBucket(bucket) { return true }
        return external.endpoint(for: bucket) != nil
    }

    public func locateRevision(bucket: String, key: String, version: String?) async throws -> RevisionObject? {
        if external.perBucket[bucket] == nil, try await local.hostsBucket(bucket) {
            return try await local.locateRevision(bucket: bucket, key: key, version: version)
        }
        guard let endpoint = external.endpoint(for: bucket) else { return nil }
        return try await S3Client(endpoint: endpoint).head(bucket: bucket, key: key, version: version)
    }
}
