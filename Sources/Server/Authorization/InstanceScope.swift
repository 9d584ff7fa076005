import ArtifactStore
import Deployments
import Engine
import Foundation
import Store

/// What an on-premises instance may read from the built-in S3 store, on top of what its policies allow.
///
/// The keys an agent holds (an `agent` role key, or the IAM user `aws deploy register` and `slipway agent register`
/// make) carry policies such as `s3:Get*` on `*`, written by the AWS CLI, so their policies alone would let any host
/// read every bucket: another team's releases, or a model it was never sent. An instance's reads are therefore
/// also scoped: it may read an object when it is the revision of the deployment whose lifecycle event the instance
/// is running now (its agent downloads the bundle during DownloadBundle), or when it lies under one of the server's
/// `--agent-read-prefix` prefixes. Listing a bucket needs such a prefix for the bucket. Writes are not scoped: they
/// are what the policies say (agent policies allow none).
struct InstanceScope: Sendable {
    let store: any Store
    /// `bucket/` or `bucket/prefix` strings; an object whose `bucket/key` starts with one may be read by any instance.
    let readablePrefixes: [String]

    /// Throws `AccessDenied` unless `host` (the instance's identity ARN, as its agent polls with) may do `operation`.
    func authorize(_ operation: S3Operation, bucket: String, key: String, host: String, principalARN: String)
        async throws
    {
        let path = "\(bucket)/\(key)"
        switch operation {
        case .getObject(let versionID), .headObject(let versionID):
            if readablePrefixes.contains(where: { path.hasPrefix($0) }) { return }
            if try await isRunningRevision(bucket: bucket, key: key, versionID: versionID, host: host) { return }
            throw S3Error.accessDenied(
                "User: \(principalARN) is an on-premises instance, which may read only the revision of the deployment "
                    + "it is running (or objects under the server's --agent-read-prefix): \(path) is neither")
        case .listObjects, .headBucket, .getBucketLocation, .getBucketVersioning, .listMultipartUploads:
            if readablePrefixes.contains(where: { $0.hasPrefix("\(bucket)/") }) { return }
            throw S3Error.accessDenied(
                "User: \(principalARN) is an on-premises instance, which may list no bucket unless the server allows it "
                    + "with --agent-read-prefix \(bucket)/")
        default:
            return
        }
    }

    /// Whether the instance's current command belongs to a deployment whose revision is this S3 object.
    private func isRunningRevision(bucket: String, key: String, versionID: String?, host: String) async throws
        -> Bool
    {
        try await store.read { tx in
            guard let command = try tx.heldCommand(of: host),
                let deployment = try tx.deployment(command.deploymentId),
                let location = deployment.info.revision?.s3Location
            else { return false }
            guard location.bucket == bucket, location.key == key else { return false }
            // A deployment of one version lets the instance read that version only (agents name it, as the
            // specification does); without a version, the object as it is now.
            return versionID == location.version
        }
    }
}
