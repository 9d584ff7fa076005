import ArtifactStore
import Foundation
import Logging
import ServiceLifecycle

/// Aborts incomplete multipart uploads older than the configured expiry: once when the server starts, then every
/// ``interval`` while it runs.
struct UploadExpiryService: Service {
    let artifacts: LocalArtifactStore
    let expiry: TimeInterval
    let clock: @Sendable () -> Date
    let logger: Logger

    /// A tenth of the expiry, between a minute and an hour: an upload outlives its expiry by at most that.
    var interval: Duration {
        .seconds(min(3600, max(60, expiry / 10)))
    }

    /// One sweep at `now`; returns how many uploads it aborted. Failures are logged, and the next sweep tries again.
    @discardableResult
    func sweep(now: Date) async -> Int {
        do {
            let aborted = try await artifacts.expireUploads(initiatedBefore: now.addingTimeInterval(-expiry))
            for (bucket, upload) in aborted {
                logger.info(
                    "aborted an expired multipart upload",
                    metadata: [
                        "bucket": .string(bucket), "key": .string(upload.key), "uploadId": .string(upload.uploadID),
                    ])
            }
            return aborted.count
        } catch {
            logger.error("sweeping expired multipart uploads failed", metadata: ["error": "\(error)"])
            return 0
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweep(now: clock())
                try? await Task.sleep(for: interval)
            }
        }
    }
}
