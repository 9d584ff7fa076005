/// What CreateDeployment needs to know about a revision's S3 object.
public struct RevisionObject: Sendable, Hashable {
    /// The ETag without quotes (`<md5>` or `<md5>-<parts>`).
    public var eTag: String
    /// The version id, nil for an object in a bucket that never had versioning.
    public var versionID: String?
    public var size: Int64

    public init(eTag: String, versionID: String?, size: Int64) {
        self.eTag = eTag
        self.versionID = versionID
        self.size = size
    }
}

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
