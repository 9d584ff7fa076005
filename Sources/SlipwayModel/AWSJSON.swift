import Foundation

/// The JSON coding rules of the AWS JSON 1.1 protocol: timestamps as epoch seconds (with a fractional part,
/// to the millisecond), blobs as base64, absent optionals left out.
public enum AWSJSON {
    /// The `Content-Type` of requests and responses.
    public static let contentType = "application/x-amz-json-1.1"

    /// One encoder shared by every response, so that no request has to make a `JSONEncoder`. Never reconfigure it;
    /// call ``makeEncoder()`` for one of your own.
    public static let encoder = makeEncoder()

    /// One decoder shared by every request; never reconfigure it (``makeDecoder()`` makes one of your own).
    public static let decoder = makeDecoder()

    /// An encoder for response bodies and for clients' request bodies.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(epochSeconds(date))
        }
        encoder.dataEncodingStrategy = .base64
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    /// A decoder for request bodies and for clients' response bodies. Timestamps must be numbers.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            return Date(timeIntervalSince1970: try container.decode(Double.self))
        }
        decoder.dataDecodingStrategy = .base64
        return decoder
    }

    /// The epoch-seconds form of a date as AWS writes it: whole milliseconds, no binary-fraction noise.
    public static func epochSeconds(_ date: Date) -> Double {
        (date.timeIntervalSince1970 * 1000).rounded() / 1000
    }
}
