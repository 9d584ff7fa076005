import Crypto
import SigV4

/// Decodes an `aws-chunked` request body as it streams in, verifying each chunk signature when the payload mode
/// has them and collecting the trailer.
///
/// Wire form: `<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n`, repeated, ending with a zero-size chunk, then
/// (with a trailer mode) `name:value\r\n` lines, and an empty line. Signed chunks chain from the request signature
/// (``ChunkSigner``); a signed trailer ends with `x-amz-trailer-signature:<sig>`.
///
/// The decoder never holds more than one header or trailer line; chunk data passes straight through to `emit`.
public struct AWSChunkedDecoder: Sendable {
    /// The longest chunk header or trailer line accepted.
    public static let maximumLineLength = 4096
    /// The most trailer lines accepted.
    public static let maximumTrailerLines = 16

    private enum State: Sendable {
        case header
        case data(remaining: Int)
        case dataEnd
        case trailer
        case done
    }

    private var state = State.header
    private var line: [UInt8] = []
    private var chunkHash: SHA256?
    private var chunkSignature: String?
    private var signer: ChunkSigner?
    private let hasTrailer: Bool
    /// The trailing headers received, in order (the trailer signature left out).
    public private(set) var trailers: [HTTPHeader] = []
    private var trailerSignature: String?
    /// How many payload bytes were emitted.
    public private(set) var decodedLength: Int64 = 0

    /// A decoder for `payload`, which must be a streaming mode; `signer` is required for signed chunks.
    public init(payload: PayloadHash, signer: ChunkSigner?) {
        self.hasTrailer = payload.hasTrailer
        self.signer = payload.hasSignedChunks ? signer : nil
    }

    /// Whether the final chunk and the trailer (if any) have been read.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Consumes `bytes`, passing the payload they carry to `emit`.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws(S3Error) -> Void
    ) throws(S3Error) {
        var index = 0
        let count = bytes.count
        while index < count {
            switch state {
            case .header, .trailer, .dataEnd:
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    let complete = line
                    line.removeAll(keepingCapacity: true)
                    try endOfLine(complete)
                } else {
                    guard line.count < Self.maximumLineLength else {
                        throw Self.malformed("a chunk header or trailer line is longer than 4096 bytes")
                    }
                    line.append(byte)
                }
            case .data(let remaining):
                let take = min(remaining, count - index)
                let slice = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)])
                chunkHash?.update(bufferPointer: slice)
                decodedLength += Int64(take)
                try emit(slice)
                index += take
                state = remaining == take ? .dataEnd : .data(remaining: remaining - take)
            case .done:
                throw Self.malformed("bytes follow the end of the aws-chunked body")
            }
        }
    }

    /// Checks that the body ended where the encoding says it ends.
    public func finish() throws(S3Error) {
        guard isComplete else {
            throw S3Error.incompleteBody("The aws-chunked body ended before its final chunk and trailer.")
        }
    }

    private mutating func endOfLine(_ line: [UInt8]) throws(S3Error) {
        switch state {
        case .dataEnd:
            guard line.isEmpty else { throw Self.malformed("a chunk is longer than its declared size") }
            try verifyChunk()
            state = .header
        case .header:
            try chunkHeader(line)
        case .trailer:
            if line.isEmpty {
                try endOfTrailer()
                state = .done
                return
            }
            guard hasTrailer else { throw Self.malformed("a trailer line in a payload mode without a trailer") }
            guard trailers.count < Self.maximumTrailerLines else { throw Self.malformed("too many trailer lines") }
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else {
                throw Self.malformed("a trailer line is not of the form name:value")
            }
            let name = text[..<colon].trimmingASCIISpaces().lowercased()
            let value = text[text.index(after: colon)...].trimmingASCIISpaces()
            if name == "x-amz-trailer-signature" {
                trailerSignature = value
            } else {
                trailers.append(HTTPHeader(name, value))
            }
        case .data, .done:
            preconditionFailure("lines are only read between chunks")
        }
    }

    private mutating func chunkHeader(_ line: [UInt8]) throws(S3Error) {
        let text = String(decoding: line, as: UTF8.self)
        let fields = text.split(separator: ";", omittingEmptySubsequences: false)
        let sizeText = fields[0].trimmingASCIISpaces()
        guard !sizeText.isEmpty, sizeText.count <= 16, let size = Int(sizeText, radix: 16), size >= 0 else {
            throw Self.malformed("'\(text.prefix(64))' is not a chunk header")
        }
        var signature: String?
        for field in fields.dropFirst() {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2 && parts[0].trimmingASCIISpaces() == "chunk-signature" {
                signature = parts[1].trimmingASCIISpaces()
            }
        }
        if signer != nil {
            guard let signature else {
                throw S3Error(
                    "SignatureDoesNotMatch", "A chunk of a signed aws-chunked body has no chunk-signature.",
                    status: 403)
            }
            chunkSignature = signature
            chunkHash = SHA256()
        }
        if size == 0 {
            // The final chunk is empty: its signature is checked now; the trailer (or the closing empty line) follows.
            try verifyChunk()
            state = .trailer
            return
        }
        // The signature of a non-empty chunk is checked when the CRLF after its data arrives.
        state = .data(remaining: size)
    }

    private mutating func verifyChunk() throws(S3Error) {
        guard var signer, let chunkSignature, let hash = chunkHash else { return }
        let computed = signer.sign(chunkSHA256: Hex.encode(hash.finalize()))
        self.signer = signer
        self.chunkHash = nil
        self.chunkSignature = nil
        guard Hex.constantTimeEqual(computed, chunkSignature) else {
            throw S3Error(
                "SignatureDoesNotMatch",
                "The signature of a chunk of the aws-chunked body does not match (chunk ending at byte "
                    + "\(decodedLength)); the body was altered or signed with another key.",
                status: 403)
        }
    }

    private mutating func endOfTrailer() throws(S3Error) {
        guard var signer else { return }
        guard let trailerSignature else {
            if trailers.isEmpty { return }
            throw S3Error(
                "SignatureDoesNotMatch", "The signed trailer has no x-amz-trailer-signature.", status: 403)
        }
        let valid = signer.verifyTrailer(trailers, signature: trailerSignature)
        self.signer = signer
        guard valid else {
            throw S3Error(
                "SignatureDoesNotMatch", "The signature of the aws-chunked trailer does not match.", status: 403)
        }
    }

    private static func malformed(_ reason: String) -> S3Error {
        S3Error("IncompleteBody", "The aws-chunked body is malformed: \(reason).", status: 400)
    }
}

extension StringProtocol {
    func trimmingASCIISpaces() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}

/// Hex encoding and a comparison that does not stop at the first difference.
enum Hex {
    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.lowercased().utf8)
        let right = Array(rhs.lowercased().utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
