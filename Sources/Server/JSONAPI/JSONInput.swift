import Foundation
import SlipwayModel

/// A JSON protocol request's body, read and parsed once: authorization reads the names it holds, the model's
/// validator checks it, and handlers take their typed input from it, never from the text again.
struct JSONInput: Sendable {
    /// The parsed body; `{}` for an empty one.
    let document: JSONValue

    /// Parses `body`; a body that is not JSON is a `SerializationException`.
    static func parse(_ body: Data) -> Result<JSONInput, AWSJSONError> {
        if body.isEmpty { return .success(JSONInput(document: .object([:]))) }
        guard let document = try? JSONReader.value(from: body) else {
            return .failure(.serialization("The request body is not valid JSON."))
        }
        return .success(JSONInput(document: document))
    }

    /// Checks the document against the model's `shape`; the first violation is thrown as `error` words it for the
    /// protocol.
    func validate(
        against shape: String, with validator: ShapeValidator, error: (ShapeViolation) -> AWSJSONError
    ) throws(AWSJSONError) {
        if let violation = validator.violations(of: document, against: shape).first { throw error(violation) }
    }

    /// The typed input.
    func decode<Input: JSONReadable>(_ type: Input.Type) throws(AWSJSONError) -> Input {
        do {
            return try Input(json: document)
        } catch {
            throw AWSJSONError.serialization("The request body does not match the shape of \(type): \(error)")
        }
    }
}
