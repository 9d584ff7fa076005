import ArtifactStore
import S3Transfer
import SigV4

extension ExternalBuckets {
    /// The external endpoints of the server's configuration, by bucket and for every other bucket.
    init(_ endpoints: [ServerConfiguration.ExternalS3Endpoint]) {
        self.init()
        for endpoint in endpoints {
            let s3 = S3Endpoint(
                url: endpoint.url, region: endpoint.region,
                credentials: Credentials(accessKeyId: endpoint.accessKeyID, secretAccessKey: endpoint.secretAccessKey))
            if endpoint.buckets.isEmpty {
                fallback = s3
            } else {
                for bucket in endpoint.buckets { perBucket[bucket] = s3 }
            }
        }
    }
}

/// Where CreateDeployment looks up an S3 revision: the built-in store, then the configured external endpoints.
func makeRevisionLocator(artifacts: LocalArtifactStore, configuration: ServerConfiguration) -> RevisionLocators {
    RevisionLocators(local: artifacts, external: ExternalBuckets(configuration.externalS3))
}
