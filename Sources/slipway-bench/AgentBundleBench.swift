import Agent
import ArgumentParser
import Foundation
import Logging
import S3Transfer
import SigV4

/// Download and unpack of a large tgz revision from a real `slipway server` (plain HTTP on loopback): the agent's
/// way (the object streamed into `BundleUnpacker`) against `curl … | tar -xz` in the same run; then the same
/// revision again (linked), and a zip v1 and a v2 that only adds a file (fetched around v1's files).
struct AgentBundleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-bundle",
        abstract:
            "Download + unpack of a large tgz bundle by the agent against curl | tar -xz "
            + "(goal: the agent at ≥ 90 % of the baseline's speed, a few MiB of memory)."
    )

    @Option(name: .customLong("size-mib"), help: "Approximate size of the tgz in MiB.")
    var sizeMiB = 1024

    @Option(help: "Measured runs of each method; the median is reported.")
    var runs = 3

    @Option(help: "The slipway binary. (default: the one next to slipway-bench)")
    var slipway: String?

    func run() async throws {
        let binary = slipway.map { URL(fileURLWithPath: $0) } ?? executableDirectory.appendingPathComponent("slipway")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "slipway-bench-bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        let bundle = work.appendingPathComponent("bundle.tgz")
        let zipV1 = work.appendingPathComponent("v1.zip")
        let zipV2 = work.appendingPathComponent("v2.zip")
        let (files, uncompressed) = try Self.makeBundle(bundle, sizeMiB: sizeMiB, work: work, zip: zipV1)
        // v2: the same files (the weights) and one small file more, appended to a copy of v1.
        try Self.shell(
            "cp '\(zipV1.path)' '\(zipV2.path)' && python3 -c 'import sys, zipfile; "
                + "zipfile.ZipFile(sys.argv[1], \"a\").writestr(\"RELEASE\", \"v2\\n\")' '\(zipV2.path)'")
        let compressed = (try FileManager.default.attributesOfItem(atPath: bundle.path)[.size] as? Int) ?? 0

        let server = try ServerProcess(binary: binary)
        defer { server.stop() }
        let key = try server.adminKey(binary: binary)
        let credentials = Credentials(accessKeyId: key.id, secretAccessKey: key.secret)
        let signer = Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let host = "127.0.0.1:\(server.port)"
        func url(_ method: String, _ path: String) -> String {
            let presigned = signer.presign(
                method: method, path: path, headers: [HTTPHeader("Host", host)], expires: 3600, date: Date())
            return "http://\(host)\(path)?\(presigned.query)"
        }
        _ = try ArtifactStoreBench.curl(["-X", "PUT", url("PUT", "/bench")])
        _ = try ArtifactStoreBench.curl(["-T", bundle.path, url("PUT", "/bench/bundle.tgz")])
        _ = try ArtifactStoreBench.curl(["-T", zipV1.path, url("PUT", "/bench/v1.zip")])
        _ = try ArtifactStoreBench.curl(["-T", zipV2.path, url("PUT", "/bench/v2.zip")])
        let zipSize = (try FileManager.default.attributesOfItem(atPath: zipV2.path)[.size] as? Int) ?? 0
        for file in [bundle, zipV1, zipV2] { try FileManager.default.removeItem(at: file) }

        let client = S3Client(
            endpoint: S3Endpoint(url: "http://\(host)", region: "us-east-1", credentials: credentials))
        var baseline: [Double] = []
        var totals: [Double] = []
        var memory: [Double] = []
        var reuses: [Double] = []
        var reuseWritten: [Int64] = []
        var treeBytes: Int64 = 0
        for run in 0..<runs {
            let directory = work.appendingPathComponent("run-\(run)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

            // (a) curl | tar -xz
            let extracted = directory.appendingPathComponent("tar")
            try FileManager.default.createDirectory(at: extracted, withIntermediateDirectories: true)
            let baselineStart = Date()
            try Self.shell("curl -sS --fail '\(url("GET", "/bench/bundle.tgz"))' | tar -xz -C '\(extracted.path)'")
            baseline.append(Date().timeIntervalSince(baselineStart))
            try FileManager.default.removeItem(at: extracted)

            // (b) the agent's way: the object streamed from S3 into the unpacker, no archive on disk
            let archive = directory.appendingPathComponent("deployment-archive")
            let before = Self.residentBytes ?? 0
            let sampler = Task {
                var peak = 0
                while !Task.isCancelled {
                    peak = max(peak, Self.residentBytes ?? 0)
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return peak
            }
            let start = Date()
            let summary = try await BundleUnpacker().unpack(streaming: .tgz, into: archive) { pipe in
                _ = try await client.stream(bucket: "bench", key: "bundle.tgz", version: nil, expectedETag: nil) {
                    guard await pipe.send($0) else { throw CancellationError() }
                }
            }
            let end = Date()
            sampler.cancel()
            memory.append(Double(max(await sampler.value, Self.residentBytes ?? 0) - before) / Double(1 << 20))
            totals.append(end.timeIntervalSince(start))
            guard summary.bytes == uncompressed else {
                throw BenchError("unpacked \(summary.bytes) bytes, expected \(uncompressed)")
            }
            // (c) a redeployment or rollback of the same revision: what DownloadBundle does when the revision is
            // already on the host.
            let again = directory.appendingPathComponent("again")
            try FileManager.default.createDirectory(at: again, withIntermediateDirectories: true)
            let reuseStart = Date()
            let linked = try TreeLinker.linkTree(archive, to: again.appendingPathComponent("deployment-archive"))
            reuses.append(Date().timeIntervalSince(reuseStart))
            guard linked.bytes == uncompressed else {
                throw BenchError("linked \(linked.bytes) bytes, expected \(uncompressed)")
            }
            treeBytes = DiskUsage.bytes(of: [archive])
            reuseWritten.append(DiskUsage.bytes(of: [archive, again]) - treeBytes)
            try FileManager.default.removeItem(at: directory)
        }

        let delta = try await zipDelta(host: host, credentials: credentials, work: work, runs: runs)
        let resumed = try await cutAndResumed(serverPort: server.port, credentials: credentials, work: work)

        let mib = Double(1 << 20)
        let a = median(baseline)
        let b = median(totals)
        print(
            "agent-bundle, \(String(format: "%.0f", Double(compressed) / mib)) MiB tgz "
                + "(\(String(format: "%.0f", Double(uncompressed) / mib)) MiB in \(files) files), loopback, "
                + "median of \(runs):")
        print(String(format: "  (a) curl | tar -xz                 %7.2f s", a))
        print(
            String(
                format:
                    "  (b) the agent: unpacked while it downloads  %7.2f s  (%.0f MiB/s written, no archive on disk)",
                b, Double(uncompressed) / mib / b))
        print(String(format: "  ratio b/a (time)                   %7.2f", b / a))
        print(
            String(
                format: "  (c) the same revision again         %7.3f s  (%.1f %% of b; %.1f KiB of directories "
                    + "written, no file data)",
                median(reuses), 100 * median(reuses) / b, Double(reuseWritten.max() ?? 0) / 1024))
        let kept = 3 * Double(treeBytes) / mib
        let stock = 3 * Double(Int64(compressed) + treeBytes) / mib
        print(
            String(
                format: "  disk for three different revisions kept: %.0f MiB (the stock agent's bundle plus "
                    + "unpacked copy: %.0f MiB)", kept, stock))
        print(
            String(
                format: "  (d) zip v1, first deployment        %7.2f s  (%.0f MiB zip)", delta.first,
                Double(zipSize) / mib))
        print(
            String(
                format: "  (e) zip v2, the weights unchanged   %7.3f s  (%.1f %% of d; %.1f KiB downloaded, %.1f KiB "
                    + "of file data written, %.0f MiB linked)",
                delta.second, 100 * delta.second / delta.first, Double(delta.received) / 1024,
                Double(delta.written) / 1024, Double(delta.linked) / mib))
        print(
            String(
                format: "  (f) (b) cut at half and resumed     %7.2f s  (%.1f MiB fetched twice: in flight at the cut)",
                resumed.seconds, Double(resumed.twice) / mib))
        print(String(format: "  RSS growth during (b), peak        %7.1f MiB", memory.max() ?? 0))
        print(
            String(
                format: "agent-bundle: the agent at %.0f %% of curl | tar -xz's speed (goal ≥ 90 %%), +%.1f MiB RSS",
                100 * a / b, memory.max() ?? 0))
    }

    /// (b) once more through a proxy that cuts the connection halfway: the time, and the bytes the proxy forwarded
    /// beyond the object's size (what was in flight when the connection dropped, fetched again by the resumed read,
    /// and the second response's headers).
    private func cutAndResumed(serverPort: Int, credentials: Credentials, work: URL) async throws
        -> (seconds: Double, twice: Int64)
    {
        let direct = S3Client(
            endpoint: S3Endpoint(url: "http://127.0.0.1:\(serverPort)", region: "us-east-1", credentials: credentials))
        guard let object = try await direct.head(bucket: "bench", key: "bundle.tgz", version: nil) else {
            throw BenchError("bundle.tgz is gone")
        }
        let proxy = try CuttingProxy(upstreamPort: serverPort, cutAfter: object.size / 2)
        defer { proxy.stop() }
        var retrying = S3Client(
            endpoint: S3Endpoint(url: "http://127.0.0.1:\(proxy.port)", region: "us-east-1", credentials: credentials))
        retrying.initialBackoff = .milliseconds(1)
        let client = retrying
        let archive = work.appendingPathComponent("resumed/deployment-archive")
        try FileManager.default.createDirectory(
            at: archive.deletingLastPathComponent(), withIntermediateDirectories: true)
        let start = Date()
        _ = try await BundleUnpacker().unpack(streaming: .tgz, into: archive) { pipe in
            _ = try await client.stream(bucket: "bench", key: "bundle.tgz", version: nil, expectedETag: object.eTag) {
                guard await pipe.send($0) else { throw CancellationError() }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        guard proxy.cuts == 1 else { throw BenchError("the proxy did not cut the download") }
        try FileManager.default.removeItem(at: archive.deletingLastPathComponent())
        return (seconds, proxy.forwarded - object.size)
    }

    /// The zip scenario, as DownloadBundle runs it: v1 downloaded whole and unpacked (its files recorded, as a kept
    /// revision), then v2 (v1 plus one small file) fetched around the files v1 already has, which are linked.
    /// Medians of `runs` for both times; the bytes of the last run.
    private func zipDelta(host: String, credentials: Credentials, work: URL, runs: Int) async throws
        -> (first: Double, second: Double, received: Int64, written: Int64, linked: Int64)
    {
        let client = S3Client(
            endpoint: S3Endpoint(url: "http://\(host)", region: "us-east-1", credentials: credentials))
        let downloader = BundleDownloader(
            http: .shared,
            s3: ("http://\(host)", "us-east-1", CredentialSource(.user(arn: "bench", credentials: credentials))))
        var firsts: [Double] = []
        var seconds: [Double] = []
        var last: (received: Int64, written: Int64, linked: Int64) = (0, 0, 0)
        for run in 0..<runs {
            let group = work.appendingPathComponent("zip-\(run)")
            let one = group.appendingPathComponent("d-1")
            let two = group.appendingPathComponent("d-2")
            for directory in [one, two] {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            let start = Date()
            let bundle = one.appendingPathComponent("bundle.tar")
            try await client.download(bucket: "bench", key: "v1.zip", version: nil, expectedETag: nil, to: bundle)
            let first = try await BundleUnpacker().unpack(
                bundle, type: .zip, into: one.appendingPathComponent("deployment-archive"))
            try FileManager.default.removeItem(at: bundle)
            let files = KeptRevisions.Kept.stamped(
                first.zipFiles, archive: one.appendingPathComponent("deployment-archive"),
                stripped: first.strippedDirectory)
            try KeptRevisions.remember(
                KeptRevisions.Record(identity: nil, stripped: first.strippedDirectory, files: files), in: one)
            firsts.append(Date().timeIntervalSince(start))

            let secondStart = Date()
            let sparse = two.appendingPathComponent("bundle.tar")
            guard
                let plan = try await downloader.downloadZipDelta(
                    bucket: "bench", key: "v2.zip", version: nil, eTag: nil, to: sparse,
                    kept: KeptRevisions(groupDirectory: group).all(except: two), maximumEntries: 1_000_000,
                    logger: Logger(label: "bench"))
            else { throw BenchError("v2.zip was not fetched in part: nothing of v1 was found to reuse") }
            let second = try await BundleUnpacker().unpack(
                sparse, type: .zip, into: two.appendingPathComponent("deployment-archive"), reuse: plan.reuse)
            let sparseBytes = DiskUsage.bytes(of: [sparse])
            try FileManager.default.removeItem(at: sparse)
            seconds.append(Date().timeIntervalSince(secondStart))
            last = (plan.received, second.bytes + sparseBytes, second.reusedBytes)
            try FileManager.default.removeItem(at: group)
        }
        return (median(firsts), median(seconds), last.received, last.written, last.linked)
    }

    /// Writes `files` files of text over a 16-letter alphabet (compresses to a bit over half) in a few
    /// directories, so that the tgz is about `sizeMiB`; returns the file count and the uncompressed bytes.
    static func makeBundle(_ bundle: URL, sizeMiB: Int, work: URL, zip: URL? = nil) throws -> (files: Int, bytes: Int64)
    {
        let source = work.appendingPathComponent("source")
        let files = 400
        let total = Int64(sizeMiB) << 20 * 7 / 4
        let perFile = Int(total / Int64(files))
        var generator = SystemRandomNumberGenerator()
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var written: Int64 = 0
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try Data("version: 0.0\nos: linux\n".utf8).write(to: source.appendingPathComponent("appspec.yml"))
        written += 23
        for index in 0..<files {
            let directory = source.appendingPathComponent("dir\(index % 8)/sub\(index % 3)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let file = directory.appendingPathComponent("file\(index).dat")
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw BenchError("cannot create \(file.path)")
            }
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            var remaining = perFile + index  // sizes that are not all multiples of a block
            while remaining > 0 {
                let count = min(remaining, block.count)
                block.withUnsafeMutableBytes { bytes in
                    let words = bytes.bindMemory(to: UInt64.self)
                    for word in 0..<(count + 7) / 8 {
                        // Sixteen random nibbles become sixteen letters a–p.
                        var value = generator.next()
                        var letters: UInt64 = 0
                        for shift in stride(from: 0, to: 64, by: 8) {
                            letters |= ((value & 0xf) + 0x61) << UInt64(shift)
                            value >>= 4
                        }
                        words[word] = letters
                    }
                }
                try handle.write(contentsOf: block[0..<count])
                remaining -= count
                written += Int64(count)
            }
        }
        try shell("tar -C '\(source.path)' -cf - . | gzip -1 > '\(bundle.path)'")
        if let zip {
            // Deflated at level 1 like the tgz, the entries stored with their Unix modes.
            try shell(
                "python3 -c 'import os, sys, zipfile\n"
                    + "with zipfile.ZipFile(sys.argv[2], \"w\", zipfile.ZIP_DEFLATED, compresslevel=1) as z:\n"
                    + "    for d, _, names in os.walk(sys.argv[1]):\n"
                    + "        for n in names: z.write(os.path.join(d, n), os.path.relpath(os.path.join(d, n), "
                    + "sys.argv[1]))' '\(source.path)' '\(zip.path)'")
        }
        try FileManager.default.removeItem(at: source)
        return (files + 1, written)
    }

    static func shell(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "set -eo pipefail; " + command]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("failed: \(command)") }
    }

    /// This process's resident set size, from /proc (Linux).
    static var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}
