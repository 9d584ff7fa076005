import Crypto
import Foundation

/// The `x-amz-checksum-*` algorithms S3 clients send, and their incremental computation.
public enum ChecksumAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    case crc32 = "CRC32"
    case crc32c = "CRC32C"
    case crc64nvme = "CRC64NVME"
    case sha1 = "SHA1"
    case sha256 = "SHA256"

    /// The header carrying a checksum of this algorithm, e.g. `x-amz-checksum-crc32`.
    public var headerName: String { "x-amz-checksum-\(rawValue.lowercased())" }

    /// The algorithm a header name stands for.
    public init?(headerName: String) {
        let lower = headerName.lowercased()
        guard lower.hasPrefix("x-amz-checksum-") else { return nil }
        guard let algorithm = ChecksumAlgorithm(rawValue: String(lower.dropFirst(15)).uppercased()) else { return nil }
        self = algorithm
    }
}

/// An incremental checksum of one algorithm; ``value`` is base64 of the big-endian digest, as S3 sends it.
public struct Checksum: Sendable {
    private enum State: Sendable {
        case crc32(UInt32)
        case crc32c(UInt32)
        case crc64(UInt64)
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
    }

    public let algorithm: ChecksumAlgorithm
    private var state: State

    public init(_ algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .crc32: state = .crc32(0xFFFF_FFFF)
        case .crc32c: state = .crc32c(0xFFFF_FFFF)
        case .crc64nvme: state = .crc64(~0)
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .crc32(let crc): state = .crc32(CRCTables.crc32.update(crc, bytes))
        case .crc32c(let crc): state = .crc32c(CRCTables.crc32c.update(crc, bytes))
        case .crc64(let crc): state = .crc64(CRCTables.crc64(crc, bytes))
        case .sha1(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha1(hash)
        case .sha256(var hash):
            hash.update(bufferPointer: bytes)
            state = .sha256(hash)
        }
    }

    /// Base64 of the digest.
    public var value: String {
        switch state {
        case .crc32(let crc), .crc32c(let crc):
            let final = ~crc
            return Data([
                UInt8(final >> 24), UInt8((final >> 16) & 0xFF), UInt8((final >> 8) & 0xFF), UInt8(final & 0xFF),
            ])
            .base64EncodedString()
        case .crc64(let crc):
            let final = ~crc
            return Data((0..<8).reversed().map { UInt8((final >> (UInt64($0) * 8)) & 0xFF) }).base64EncodedString()
        case .sha1(let hash): return Data(hash.finalize()).base64EncodedString()
        case .sha256(let hash): return Data(hash.finalize()).base64EncodedString()
        }
    }
}

/// Slicing-by-8 tables for the reflected CRC-32 polynomials, and a bytewise CRC-64/NVME. swift-crypto has none of
/// these, so they are written here.
enum CRCTables {
    struct CRC32: Sendable {
        let tables: [[UInt32]]

        init(polynomial: UInt32) {
            var first = [UInt32](repeating: 0, count: 256)
            for index in 0..<256 {
                var crc = UInt32(index)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
                first[index] = crc
            }
            var tables = [first]
            for _ in 1..<8 {
                let previous = tables[tables.count - 1]
                tables.append(previous.map { ($0 >> 8) ^ first[Int($0 & 0xFF)] })
            }
            self.tables = tables
        }

        func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
            var crc = crc
            var index = 0
            let count = bytes.count
            tables.withUnsafeBufferPointer { t in
                let t0 = t[0]
                let t1 = t[1]
                let t2 = t[2]
                let t3 = t[3]
                let t4 = t[4]
                let t5 = t[5]
                let t6 = t[6]
                let t7 = t[7]
                while index + 8 <= count {
                    let low =
                        crc
                        ^ (UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16
                            | UInt32(bytes[index + 3]) << 24)
                    crc =
                        t7[Int(low & 0xFF)] ^ t6[Int((low >> 8) & 0xFF)] ^ t5[Int((low >> 16) & 0xFF)]
                        ^ t4[Int(low >> 24)] ^ t3[Int(bytes[index + 4])] ^ t2[Int(bytes[index + 5])]
                        ^ t1[Int(bytes[index + 6])] ^ t0[Int(bytes[index + 7])]
                    index += 8
                }
                while index < count {
                    crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(bytes[index])) & 0xFF)]
                    index += 1
                }
            }
            return crc
        }
    }

    static let crc32 = CRC32(polynomial: 0xEDB8_8320)
    static let crc32c = CRC32(polynomial: 0x82F6_3B78)

    static let crc64Table: [UInt64] = (0..<256).map { index in
        var crc = UInt64(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5 : crc >> 1 }
        return crc
    }

    static func crc64(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var crc = crc
        crc64Table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = (crc >> 8) ^ table[Int((crc ^ UInt64(byte)) & 0xFF)] }
        }
        return crc
    }
}
