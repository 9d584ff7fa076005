import Crypto
import Foundation
import NIOCore
import SigV4

/// What a request says about its body, for checking it while it streams in.
public struct PayloadDeclaration: Sendable {
    /// The signed payload line (`x-amz-content-sha256`, or `UNSIGNED-PAYLOAD` for presigned URLs).
    public var payload: PayloadHash
    /// For signed aws-chunked bodies: the chain seeded with the request signature.
    public var chunkSigner: ChunkSigner?
    /// The length of the content: `x-amz-decoded-content-length` for aws-chunked bodies, else `Content-Length`.
    public var contentLength: Int64?
    /// `Content-MD5` (base64), if sent.
    public var contentMD5: String?
    /// `x-amz-checksum-<algorithm>` headers sent with the request.
    public var checksums: [ChecksumAlgorithm: String]
    /// Checksums announced in `x-amz-trailer`, to arrive after the body.
    public var trailingChecksums: [ChecksumAlgorithm]

    public init(
        payload: PayloadHash, chunkSigner: ChunkSigner? = nil, contentLength: Int64? = nil, contentMD5: String? = nil,
        checksums: [ChecksumAlgorithm: String] = [:], trailingChecksums: [ChecksumAlgorithm] = []
    ) {
        self.payload = payload
        self.chunkSigner = chunkSigner
        self.contentLength = contentLength
        self.contentMD5 = contentMD5
        self.checksums = checksums
        self.trailingChecksums = trailingChecksums
    }
}

/// A body received in full into a temporary file, with every declared hash and checksum verified.
struct ReceivedBody {
    let file: TemporaryFile
    let size: Int64
    /// The bytes reserved against the quota for this body: release them once the file is committed or discarded.
    let reserved: Int64
    let md5: [UInt8]
    /// Verified checksums by algorithm name (`CRC32` → base64).
    let checksums: [String: String]
}

/// Streams a request body into a temporary file: decodes aws-chunked framing, checks chunk signatures, hashes
/// (MD5 for the ETag, SHA-256 when the payload hash was signed, the `x-amz-checksum-*` algorithms), and refuses
/// anything longer than `maximumSize` as soon as it is seen.
enum BodyReceiver {
    static func receive<Body: AsyncSequence>(
        _ body: Body, declaration: PayloadDeclaration, maximumSize: Int64, files: BlobFiles
    ) async throws -> ReceivedBody where Body.Element == ByteBuffer {
        if let length = declaration.contentLength, length > maximumSize {
            throw S3Error.entityTooLarge(length, maximum: maximumSize)
        }
        // A declared length is reserved whole, before anything is written; otherwise bytes are reserved as they come.
        let upfront = declaration.contentLength ?? 0
        try files.usage.reserve(upfront)
        let file: TemporaryFile
        do {
            file = try files.createTemporary()
        } catch {
            files.usage.release(upfront)
            throw error
        }
        var sink = Sink(
            declaration: declaration, maximumSize: maximumSize, file: file, usage: files.usage, reserved: upfront)
        do {
            var decoder =
                declaration.payload.isStreaming
                ? AWSChunkedDecoder(payload: declaration.payload, signer: declaration.chunkSigner) : nil
            for try await buffer in body {
                try buffer.withUnsafeReadableBytes { (bytes) throws(S3Error) in
                    if decoder != nil {
                        try decoder!.feed(bytes) { (slice) throws(S3Error) in try sink.take(slice) }
                    } else {
                        try sink.take(bytes)
                    }
                }
                if file.needsDrain { try await file.drain() }
            }
            try decoder?.finish()
            let received = try sink.finish(trailers: decoder?.trailers ?? [])
            return received
        } catch {
            file.discard()
            files.usage.release(sink.reserved)
            throw error
        }
    }

    struct Sink {
        let declaration: PayloadDeclaration
        let maximumSize: Int64
        let file: TemporaryFile
        let usage: StorageUsage
        /// Bytes reserved against the quota so far.
        var reserved: Int64
        var size: Int64 = 0
        var md5 = Insecure.MD5()
        var sha256: SHA256?
        var checksums: [Checksum]

        init(
            declaration: PayloadDeclaration, maximumSize: Int64, file: TemporaryFile, usage: StorageUsage,
            reserved: Int64
        ) {
            self.declaration = declaration
            self.maximumSize = maximumSize
            self.file = file
            self.usage = usage
            self.reserved = reserved
            if case .sha256 = declaration.payload { sha256 = SHA256() }
            let algorithms = Set(declaration.checksums.keys).union(declaration.trailingChecksums)
            checksums = algorithms.sorted { $0.rawValue < $1.rawValue }.map(Checksum.init)
        }

        mutating func take(_ bytes: UnsafeRawBufferPointer) throws(S3Error) {
            size += Int64(bytes.count)
            guard size <= maximumSize else { throw S3Error.entityTooLarge(size, maximum: maximumSize) }
            if let length = declaration.contentLength, size > length {
                throw S3Error.incompleteBody("The body is longer than the \(length) bytes the request declared.")
            }
            if size > reserved {
                let more = size - reserved
                try usage.reserve(more)
                reserved += more
            }
            md5.update(bufferPointer: bytes)
            sha256?.update(bufferPointer: bytes)
            for index in checksums.indices { checksums[index].update(bytes) }
            file.append(bytes)
        }

        func finish(trailers: [HTTPHeader]) throws(S3Error) -> ReceivedBody {
            if let length = declaration.contentLength, size != length {
                throw S3Error.incompleteBody(
                    "You did not provide the number of bytes specified by the Content-Length HTTP header: "
                        + "\(size) of \(length) arrived.")
            }
            let digest = Array(md5.finalize())
            if case .sha256(let declared) = declaration.payload, let sha256 {
                let actual = Hex.encode(sha256.finalize())
                guard Hex.constantTimeEqual(actual, declared) else {
                    throw S3Error(
                        "XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what was computed.", status: 400,
                        details: [("ClientComputedContentSHA256", declared), ("S3ComputedContentSHA256", actual)])
                }
            }
            if let contentMD5 = declaration.contentMD5 {
                guard let sent = Data(base64Encoded: contentMD5), sent.count == 16 else {
                    throw S3Error.invalidDigest("The Content-MD5 you specified was invalid.")
                }
                guard Array(sent) == digest else {
                    throw S3Error.badDigest("The Content-MD5 you specified did not match what we received.")
                }
            }
            var verified: [String: String] = [:]
            for checksum in checksums {
                let algorithm = checksum.algorithm
                let sent =
                    declaration.checksums[algorithm]
                    ?? trailers.first { $0.name.lowercased() == algorithm.headerName }?.value
                guard let sent else {
                    throw S3Error.invalidRequest(
                        "The trailer announced \(algorithm.headerName) in x-amz-trailer but did not send it.")
                }
                let actual = checksum.value
                guard sent == actual else {
                    throw S3Error.badDigest(
                        "The \(algorithm.rawValue) you specified did not match the calculated checksum.")
                }
                verified[algorithm.rawValue] = actual
            }
            return ReceivedBody(file: file, size: size, reserved: reserved, md5: digest, checksums: verified)
        }
    }
}
