import AsyncHTTPClient
import Deployments
import Foundation
import NIOCore
import SlipwayModel

/// How an alarm name of a deployment group matches Prometheus alerts: `HighErrorRate` matches an alert whose
/// `alertname` label is `HighErrorRate`; `HighErrorRate{application="shop",deployment_group="web"}` matches one that
/// also carries those labels with those values. A name that is not a well-formed selector is matched as a whole
/// against `alertname`.
package struct AlertSelector: Sendable, Hashable {
    package var alertName: String
    package var labels: [String: String]

    package init(_ alarmName: String) {
        if let parsed = Self.parse(alarmName) {
            self = parsed
        } else {
            alertName = alarmName
            labels = [:]
        }
    }

    private init(alertName: String, labels: [String: String]) {
        self.alertName = alertName
        self.labels = labels
    }

    /// Whether an alert with `alertLabels` matches.
    package func matches(_ alertLabels: [String: String]) -> Bool {
        alertLabels["alertname"] == alertName && labels.allSatisfy { alertLabels[$0.key] == $0.value }
    }

    /// `name{key="value",…}` with label names as Prometheus allows them and values with `\"` and `\\` escapes.
    private static func parse(_ text: String) -> AlertSelector? {
        guard let open = text.firstIndex(of: "{"), text.last == "}", open != text.startIndex else { return nil }
        let name = String(text[..<open])
        var rest = Substring(text[text.index(after: open)..<text.index(before: text.endIndex)])
        var labels: [String: String] = [:]
        while !rest.isEmpty {
            let key = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard let first = key.first, !first.isNumber else { return nil }
            rest = rest.dropFirst(key.count)
            guard rest.hasPrefix("=\"") else { return nil }
            rest = rest.dropFirst(2)
            var value = ""
            var closed = false
            while let character = rest.first {
                rest = rest.dropFirst()
                if character == "\"" {
                    closed = true
                    break
                }
                if character == "\\" {
                    guard let escaped = rest.first, escaped == "\"" || escaped == "\\" else { return nil }
                    value.append(escaped)
                    rest = rest.dropFirst()
                } else {
                    value.append(character)
                }
            }
            guard closed, labels.updateValue(value, forKey: String(key)) == nil else { return nil }
            if rest.hasPrefix(",") {
                rest = rest.dropFirst()
                guard !rest.isEmpty else { return nil }
            } else if !rest.isEmpty {
                return nil
            }
        }
        return AlertSelector(alertName: name, labels: labels)
    }
}

/// Why an alert source's answer could not be used.
package struct AlertSourceError: Error, CustomStringConvertible, Sendable {
    package let description: String

    package init(_ description: String) { self.description = description }
}

/// The firing alerts of Prometheus (`GET /api/v1/alerts`) or of Alertmanager (`GET /api/v2/alerts`): an alarm is in
/// ALARM while an alert it selects (``AlertSelector``) fires. A pending Prometheus alert (its `for` not yet over),
/// and a silenced or inhibited Alertmanager alert, do not count.
package struct AlertSource: AlarmSource {
    package enum Kind: Sendable {
        case prometheus
        case alertmanager
    }

    package let kind: Kind
    /// The server's base address (`http://prometheus:9090`, or with a path prefix).
    package let base: URL
    package let http: HTTPClient
    /// How long one request may take.
    package let timeout: TimeAmount
    /// The most a reply may hold.
    static let maximumReply = 32 << 20

    package init(_ kind: Kind, base: URL, http: HTTPClient = .shared, timeout: TimeAmount = .seconds(5)) {
        self.kind = kind
        self.base = base
        self.http = http
        self.timeout = timeout
    }

    package var description: String {
        "\(kind == .prometheus ? "Prometheus" : "Alertmanager") at \(base.absoluteString)"
    }

    /// The alerts' address.
    var url: String {
        let root = base.absoluteString.hasSuffix("/") ? String(base.absoluteString.dropLast()) : base.absoluteString
        switch kind {
        case .prometheus: return root + "/api/v1/alerts"
        case .alertmanager: return root + "/api/v2/alerts?active=true&silenced=false&inhibited=false"
        }
    }

    package func alarming(among names: Set<String>) async throws -> Set<String> {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: timeout)
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: Self.maximumReply)
        } catch {
            throw AlertSourceError("its reply is larger than \(Self.maximumReply) bytes")
        }
        guard response.status == .ok else {
            throw AlertSourceError("it answered HTTP \(response.status.code)")
        }
        let firing = try Self.firingAlerts(in: Data(body.readableBytesView), kind: kind)
        return Set(
            names.filter { name in
                let selector = AlertSelector(name)
                return firing.contains { selector.matches($0) }
            })
    }

    /// The labels of the firing alerts in a reply of `kind`; throws ``AlertSourceError`` for a reply of another
    /// shape.
    package static func firingAlerts(in reply: Data, kind: Kind) throws -> [[String: String]] {
        guard let document = try? JSONReader.value(from: reply) else {
            throw AlertSourceError("its reply is not JSON")
        }
        let alerts: [JSONValue]
        switch (kind, document) {
        case (.prometheus, .object(let top)):
            guard case .string("success")? = top["status"], case .object(let data)? = top["data"],
                case .array(let list)? = data["alerts"]
            else { throw AlertSourceError("its reply has no data.alerts list with status success") }
            alerts = list
        case (.alertmanager, .array(let list)):
            alerts = list
        default:
            throw AlertSourceError(
                "its reply is not the alert list of \(kind == .prometheus ? "/api/v1/alerts" : "/api/v2/alerts")")
        }
        var firing: [[String: String]] = []
        for alert in alerts {
            guard case .object(let members) = alert, case .object(let labelValues)? = members["labels"] else {
                throw AlertSourceError("an alert in its reply has no labels object")
            }
            let isFiring: Bool
            switch kind {
            case .prometheus:
                guard case .string(let state)? = members["state"] else {
                    throw AlertSourceError("an alert in its reply has no state")
                }
                isFiring = state == "firing"
            case .alertmanager:
                guard case .object(let status)? = members["status"], case .string(let state)? = status["state"] else {
                    throw AlertSourceError("an alert in its reply has no status.state")
                }
                isFiring = state == "active"
            }
            guard isFiring else { continue }
            var labels: [String: String] = [:]
            for (key, value) in labelValues {
                guard case .string(let text) = value else {
                    throw AlertSourceError("the label \(key) of an alert in its reply is not a string")
                }
                labels[key] = text
            }
            firing.append(labels)
        }
        return firing
    }
}
