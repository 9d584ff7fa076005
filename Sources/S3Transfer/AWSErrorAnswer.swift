import Foundation

/// The code and message of an AWS error answer, as the JSON protocols write them (`__type`, of which the part after
/// `#` is the code, and `message` or `Message`) or as the query protocol and S3 do (`<Code>`, `<Message>`).
public struct AWSErrorAnswer: Sendable, Hashable {
    /// `ThrottlingException`, `AccessDenied`, …; nil when the answer names none.
    public var code: String?
    public var message: String?

    public init(code: String?, message: String?) {
        self.code = code
        self.message = message
    }

    /// Reads a JSON error body; a body that is not a JSON object has neither field.
    public init(json body: Data) {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let type = (object?["__type"] as? String)?.split(separator: "#").last.map(String.init)
        self.init(code: type, message: (object?["message"] ?? object?["Message"]) as? String)
    }

    /// Reads an XML error body (IAM's `ErrorResponse`, S3's `Error`).
    public init(xml text: String) {
        self.init(code: AWSXML.element("Code", in: text), message: AWSXML.element("Message", in: text))
    }
}

/// Reading the few plain-text fields clients need from AWS's XML answers, without an XML parser.
public enum AWSXML {
    /// The text of the first `<name>` element, its five predefined entities decoded: enough for answers whose fields
    /// are plain text without nested markup (a full XML parser would add a library for a few lookups).
    public static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"),
            let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
