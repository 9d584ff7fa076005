import Foundation

/// A piece of HTML that is safe to send: literals are taken as written, every interpolated `String` is escaped.
///
/// Pages are built from these, so that text from outside (names, descriptions, tags, log lines) can only reach the
/// page as text: putting it in unescaped takes ``HTML/trusted(_:)``, which nothing from a request goes through.
struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    /// Markup made by the console itself (never text from a request or the store).
    static func trusted(_ markup: String) -> HTML { HTML(stringLiteral: markup) }

    static let empty: HTML = ""

    var description: String { text }

    /// Text as HTML: `&<>"'` become references, NUL and other control characters (but tab and line breaks) become
    /// U+FFFD, so that what a script printed cannot open a tag, close an attribute or hide characters.
    static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
                escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity * 2) }

        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: Substring) { text += HTML.escape(String(value)) }
        /// An absent value shows as nothing.
        mutating func appendInterpolation(_ value: String?) { text += value.map(HTML.escape) ?? "" }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ html: HTML) { text += html.text }
        mutating func appendInterpolation(_ parts: [HTML]) {
            for part in parts { text += part.text }
        }
    }
}

extension Array where Element == HTML {
    func joined() -> HTML { .trusted(map(\.text).joined()) }
}

/// Addresses of the console's pages, built from names that may hold any character: every name is one
/// percent-encoded path segment.
enum ConsolePath {
    static let root = "/ui/"

    /// RFC 3986's unreserved characters; everything else is percent-encoded.
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func segment(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func application(_ name: String) -> String { "/ui/applications/\(segment(name))" }
    static func group(application: String, group: String) -> String {
        "\(self.application(application))/groups/\(segment(group))"
    }
    static func revisions(application: String) -> String { "\(self.application(application))/revisions" }
    static func deployment(_ id: String) -> String { "/ui/deployments/\(segment(id))" }
    static func host(deployment: String, instance: String) -> String {
        "\(self.deployment(deployment))/hosts/\(segment(instance))"
    }
    static func log(deployment: String, instance: String, event: String) -> String {
        "\(self.deployment(deployment))/logs/\(segment(instance))/\(segment(event))"
    }
}
