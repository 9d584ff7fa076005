/// A listening address given on the command line: `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces).
public struct ListenAddress: Sendable, Hashable {
    public var host: String
    public var port: Int

    /// Parses `text`, naming `option` (say `--listen`) in the error.
    public init(parsing text: String, option: String) throws(ListenAddressError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ListenAddressError("\(option) must be HOST:PORT (for example 127.0.0.1:7443), not '\(text)'")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard portText.count <= 5, let port = Int(portText), (0...65535).contains(port) else {
            throw ListenAddressError("the port in \(option) '\(text)' must be a number from 0 to 65535")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ListenAddressError("the host in \(option) '\(text)' must be a name or an address, without spaces")
        }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }
}

public struct ListenAddressError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) { self.description = description }
}
