import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import S3Transfer
import SigV4

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Fetches revision bundles: from S3 (the built-in store of a Slipway server, or any S3-compatible endpoint) and from
/// GitHub's archive API.
public struct BundleDownloader: Sendable {
    let http: HTTPClient
    /// The S3 endpoint (`https://host:port`), region and credentials; nil when the agent has no S3 access (local runs).
    let s3: (endpoint: String, region: String, credentials: CredentialSource)?
    /// `https://api.github.com` or a GitHub Enterprise API base.
    let gitHubAPI: String

    public init(
        http: HTTPClient, s3: (endpoint: String, region: String, credentials: CredentialSource)?,
        gitHubAPI: String = "https://api.github.com"
    ) {
        self.http = http
        self.s3 = s3
        self.gitHubAPI = gitHubAPI.hasSuffix("/") ? String(gitHubAPI.dropLast()) : gitHubAPI
    }

    /// The S3 client of this agent's endpoint and keys.
    private func s3Client() throws -> (client: S3Client, endpoint: String) {
        guard let s3 else {
            throw AgentError(
                "the revision is in S3 but this agent has no S3 endpoint: set :s3_endpoint_override: or "
                    + ":deploy_control_endpoint: in codedeployagent.yml")
        }
        // The keys are read again for every request, so a long download that resumes signs with fresh ones.
        let client = S3Client(
            client: SignedHTTPClient(
                endpoint: URL(string: s3.endpoint) ?? URL(fileURLWithPath: s3.endpoint), region: s3.region,
                credentials: s3.credentials, http: http))
        return (client, s3.endpoint)
    }

    /// Downloads the parts of the zip `s3://bucket/key` that `kept` revisions do not already hold into a sparse
    /// `destination`, and returns which entries to link from where; nil when none are held (or the object cannot be
    /// read in ranges), after which the whole object is downloaded as usual.
    package func downloadZipDelta(
        bucket: String, key: String, version: String?, eTag expected: String?, to destination: URL,
        kept: [KeptRevisions.Kept], maximumEntries: Int, logger: Logger
    ) async throws -> ZipDelta.Plan? {
        let (client, endpoint) = try s3Client()
        var plan: ZipDelta.Plan
        let object: RevisionObject
        do {
            guard kept.contains(where: { !$0.record.files.isEmpty }),
                let head = try await client.head(bucket: bucket, key: key, version: version)
            else { return nil }
            object = head
            if let expected, head.eTag != expected.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) {
                throw AgentError(
                    "Expected deployment artifact bundle etag \(expected) but was actually \(head.eTag)")
            }
            guard
                let planned = try await ZipDelta.plan(
                    client: client, bucket: bucket, key: key, version: version, eTag: head.eTag, size: head.size,
                    kept: kept, maximumEntries: maximumEntries)
            else { return nil }
            plan = planned
        } catch let error as AgentError {
            throw error
        } catch {
            logger.info(
                "cannot read the zip's directory in ranges; downloading it whole",
                metadata: ["object": "s3://\(bucket)/\(key)", "error": "\(error)"])
            return nil
        }
        let fd = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AgentError("cannot create \(destination.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // A sparse file of the object's size: the skipped entries take no disk.
        guard ftruncate(fd, off_t(object.size)) == 0 else {
            throw AgentError("cannot size \(destination.path): \(String(cString: strerror(errno)))")
        }
        for (offset, header) in plan.headers {
            let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            guard written == header.count else {
                throw AgentError("cannot write \(destination.path): \(String(cString: strerror(errno)))")
            }
        }
        var received = plan.headers.reduce(Int64(0)) { $0 + Int64($1.bytes.count) }
        do {
            received += try await client.download(
                bucket: bucket, key: key, version: version, eTag: object.eTag, ranges: plan.ranges, into: fd)
        } catch {
            throw AgentError("cannot download s3://\(bucket)/\(key) from \(endpoint): \(error)")
        }
        logger.info(
            "downloaded the changed part of the revision",
            metadata: [
                "object": "s3://\(bucket)/\(key)", "received": "\(received)", "size": "\(object.size)",
                "reusedFiles": "\(plan.reuse.count)", "reusedBytes": "\(plan.reusedBytes)",
            ])
        plan.received = received
        return plan
    }

    /// Sends the bytes of `s3://bucket/key` (at `version`) into `pipe` as they arrive, resuming after dropped
    /// connections and checking `eTag` when the deployment names one (the MD5 after the last byte).
    func streamS3(bucket: String, key: String, version: String?, eTag: String?, into pipe: ChunkPipe) async throws {
        let (client, endpoint) = try s3Client()
        do {
            try await client.stream(bucket: bucket, key: key, version: version, expectedETag: eTag) { buffer in
                guard await pipe.send(buffer) else { throw CancellationError() }
            }
        } catch let error as S3ClientError {
            throw Self.failure(error, bucket: bucket, key: key, endpoint: endpoint, eTag: eTag)
        }
    }

    /// Downloads `s3://bucket/key` (at `version`) to `destination`, resuming after dropped connections and checking
    /// `eTag` when the deployment names one.
    func downloadS3(bucket: String, key: String, version: String?, eTag: String?, to destination: URL) async throws {
        let (client, endpoint) = try s3Client()
        do {
            try await client.download(bucket: bucket, key: key, version: version, expectedETag: eTag, to: destination)
        } catch let error as S3ClientError {
            throw Self.failure(error, bucket: bucket, key: key, endpoint: endpoint, eTag: eTag)
        }
    }

    /// A failed S3 download as the agent reports it: the stock agent's words for an ETag that does not match.
    private static func failure(_ error: S3ClientError, bucket: String, key: String, endpoint: String, eTag: String?)
        -> AgentError
    {
        if let eTag, error.description.contains("ETag") {
            return AgentError(
                "Expected deployment artifact bundle etag \(eTag) but was actually something else: \(error)")
        }
        return AgentError("cannot download s3://\(bucket)/\(key) from \(endpoint): \(error)")
    }

    /// Downloads the tarball or zipball of `commit` (following GitHub's redirect to its code-load host).
    func downloadGitHub(
        account: String, repository: String, commit: String, zip: Bool, token: String?, to destination: URL
    ) async throws {
        for part in [account, repository, commit] where part.isEmpty || part.contains("/") || part.contains("..") {
            throw AgentError("the GitHub revision \(account)/\(repository)@\(commit) is not a valid name")
        }
        let url = "\(gitHubAPI)/repos/\(account)/\(repository)/\(zip ? "zipball" : "tarball")/\(commit)"
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "slipway-agent")
        request.headers.add(name: "Accept", value: "application/vnd.github+json")
        if let token, !token.isEmpty { request.headers.add(name: "Authorization", value: "token \(token)") }
        var response = try await http.execute(request, timeout: .hours(1))
        var redirects = 0
        while [301, 302, 303, 307, 308].contains(Int(response.status.code)), redirects < 5,
            let location = response.headers.first(name: "Location")
        {
            redirects += 1
            // The archive host needs no token; it must not leak to another host.
            var next = HTTPClientRequest(url: location)
            next.headers.add(name: "User-Agent", value: "slipway-agent")
            response = try await http.execute(next, timeout: .hours(1))
        }
        guard response.status == .ok else {
            throw AgentError(
                "GitHub answered \(response.status.code) for \(account)/\(repository) at \(commit)"
                    + (token == nil ? " (private repositories need a GitHub access token)" : ""))
        }
        let partial = destination.appendingPathExtension("partial")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
            throw AgentError("cannot create \(partial.path)")
        }
        let handle = try FileHandle(forWritingTo: partial)
        do {
            for try await buffer in response.body {
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
        _ = try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: partial, to: destination)
    }
}
