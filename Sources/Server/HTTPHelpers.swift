import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SlipwayModel

extension HTTPField.Name {
    static let amzTarget = Self("X-Amz-Target")!
    static let amzRequestID = Self("x-amzn-RequestId")!
    static let amzDate = Self("X-Amz-Date")!
    static let amzContentSHA256 = Self("x-amz-content-sha256")!
    static let agentVersion = Self(CodeDeployCommand.agentVersionHeader)!
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
