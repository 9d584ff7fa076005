import ArtifactStore
import Deployments
import Foundation
import SlipwayModel
import ZipIndex

/// What changed between two zip revisions in the built-in store, from their central directories alone (two small
/// reads at each archive's end): files added, removed, and changed (another size or CRC-32).
struct RevisionChanges: Sendable, Equatable {
    struct File: Sendable, Equatable {
        var path: String
        var size: UInt64
    }

    var added: [File]
    var removed: [File]
    var changed: [File]
    var unchanged: Int
    /// The uncompressed bytes of the added and changed files, and of the whole new revision.
    var changedBytes: UInt64
    var totalBytes: UInt64

    /// Compares two archives' entries (directories left out).
    init(old: [ZipDirectory.Entry], new: [ZipDirectory.Entry]) {
        let before = Dictionary(
            old.filter { !$0.isDirectory }.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        let after = Dictionary(
            new.filter { !$0.isDirectory }.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        added = after.values.filter { before[$0.path] == nil }.map { File(path: $0.path, size: $0.uncompressedSize) }
            .sorted { $0.path < $1.path }
        removed = before.values.filter { after[$0.path] == nil }.map {
            File(path: $0.path, size: $0.uncompressedSize)
        }.sorted { $0.path < $1.path }
        var changed: [File] = []
        var unchanged = 0
        for entry in after.values {
            guard let previous = before[entry.path] else { continue }
            if previous.crc32 != entry.crc32 || previous.uncompressedSize != entry.uncompressedSize {
                changed.append(File(path: entry.path, size: entry.uncompressedSize))
            } else {
                unchanged += 1
            }
        }
        self.changed = changed.sorted { $0.path < $1.path }
        self.unchanged = unchanged
        changedBytes = (added + changed).reduce(0) { $0.addingReportingOverflow($1.size).partialValue }
        totalBytes = after.values.reduce(0) { $0.addingReportingOverflow($1.uncompressedSize).partialValue }
    }

    /// The most entries read from one archive's directory, and the largest directory read.
    static let maximumEntries = 200_000
    static let maximumDirectoryBytes: UInt64 = 32 << 20

    /// The changes from `previous` to `current`, when both are zip revisions in the built-in store; otherwise why
    /// they cannot be shown.
    static func between(
        _ previous: CodeDeploy.RevisionLocation?, _ current: CodeDeploy.RevisionLocation?, in store: LocalArtifactStore
    ) async -> Result<RevisionChanges, Unavailable> {
        guard let current else { return .failure(Unavailable("the deployment has no revision")) }
        guard let previous else { return .failure(Unavailable("the group had no earlier revision")) }
        do {
            let old = try await entries(of: previous, in: store)
            let new = try await entries(of: current, in: store)
            return .success(RevisionChanges(old: old, new: new))
        } catch let unavailable as Unavailable {
            return .failure(unavailable)
        } catch {
            return .failure(Unavailable("a revision could not be read (\(error))"))
        }
    }

    struct Unavailable: Error, Equatable {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The entries of a zip revision in the built-in store.
    static func entries(of location: CodeDeploy.RevisionLocation, in store: LocalArtifactStore) async throws
        -> [ZipDirectory.Entry]
    {
        guard let s3 = location.s3Location, let bucket = s3.bucket, let key = s3.key else {
            throw Unavailable("only revisions in S3 are compared")
        }
        let isZip = s3.bundleType.map { $0 == .zip } ?? key.lowercased().hasSuffix(".zip")
        guard isZip else { throw Unavailable("only zip revisions are compared (a tar has no index to read)") }
        let object: ObjectRecord
        do {
            object = try await store.object(bucket: bucket, key: key, versionID: s3.version)
        } catch {
            throw Unavailable("s3://\(bucket)/\(key) is not in Slipway's built-in store")
        }
        let reader = try await store.open(object)
        let size = UInt64(max(reader.size, 0))
        let tailLength = min(size, UInt64(ZipDirectory.tailLength))
        let tail = Array(
            try await reader.read(offset: Int64(size - tailLength), count: Int(tailLength)).readableBytesView)
        do {
            let location = try ZipDirectory.locate(tail: tail, archiveSize: size)
            guard location.size <= maximumDirectoryBytes else {
                throw Unavailable("the archive's index is larger than \(maximumDirectoryBytes >> 20) MiB")
            }
            let directory = Array(
                try await reader.read(offset: Int64(location.offset), count: Int(location.size)).readableBytesView)
            return try ZipDirectory.entries(directory, archiveSize: size, maximumEntries: maximumEntries)
        } catch let error as ZipDirectoryError {
            throw Unavailable("s3://\(bucket)/\(key) is not a readable zip: \(error.reason)")
        }
    }
}
