import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayModel
import Synchronization

extension HTTPField.Name {
    static let amzTarget = Self("X-Amz-Target")!
    static let amzRequestID = Self("x-amzn-RequestId")!
    static let amzDate = Self("X-Amz-Date")!
    static let amzContentSHA256 = Self("x-amz-content-sha256")!
    static let agentVersion = Self(CodeDeployCommand.agentVersionHeader)!
}

/// Unique ids in the form of AWS request ids (a UUID): the `x-amzn-RequestId` of every request, logged with every
/// line, and the state token of every deployment save.
enum UniqueIDs {
    /// 16 random hex digits drawn at start, then a counter: unique within the server's life and, as far as 64
    /// random bits go, across restarts; in the 8-4-4-4-12 form of AWS's request ids. Request ids and the state
    /// token of every deployment save are drawn here: a `UUID()` opens `/dev/urandom` on Linux, a system call per
    /// id that showed in profiles.
    private static let template: [UInt8] = {
        var random = SystemRandomNumberGenerator()
        var bytes = (0..<36).map { _ in hexDigits[Int(random.next() % 16)] }
        for dash in [8, 13, 18, 23] { bytes[dash] = UInt8(ascii: "-") }
        return bytes
    }()
    /// Where the counter's 16 hex digits go, least significant first.
    private static let counterPositions: [Int] = Array((24..<36).reversed()) + Array((19..<23).reversed())
    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let counter = Atomic<UInt64>(0)

    static func make() -> String {
        var number = counter.add(1, ordering: .relaxed).newValue
        var bytes = template
        for position in counterPositions {
            bytes[position] = hexDigits[Int(number & 0xF)]
            number >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Response {
    /// A JSON response of an AWS JSON 1.1 API.
    static func awsJSON(_ body: Data, status: HTTPResponse.Status = .ok, requestID: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: AWSJSON.contentType,
                .amzRequestID: requestID,
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    /// An AWS JSON error response, with the error type in the body and in `x-amzn-ErrorType`.
    static func awsJSON(_ error: AWSJSONError, requestID: String) -> Response {
        var response = Response.awsJSON(error.body, status: .init(code: error.status), requestID: requestID)
        response.headers[HTTPField.Name("x-amzn-ErrorType")!] = error.type
        return response
    }
}
