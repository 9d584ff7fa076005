import Foundation
import HTTPTypes
import SlipwayModel

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
}

/// The frame of every page, and the small pieces pages share (statuses, times, durations).
enum ConsoleLayout {
    static func page(title: String, context: ConsoleContext?, body: HTML, live: String? = nil) -> HTML {
        let header: HTML
        if let context {
            header = """
                <header class="bar">
                <a class="brand" href="/ui/">Slipway</a>
                <nav aria-label="Sections"><ul>
                <li><a href="/ui/">Overview</a></li>
                <li><a href="/ui/applications">Applications</a></li>
                <li><a href="/ui/instances">Instances</a></li>
                </ul></nav>
                <form class="sign-out" method="post" action="/ui/sign-out">
                <span class="who" title="\(context.principal.arn)">\(context.principal.userName ?? context.principal.accessKeyId)</span>
                \(csrf(context))
                <button type="submit">Sign out</button>
                </form>
                </header>
                """
        } else {
            header = "<header class=\"bar\"><span class=\"brand\">Slipway</span></header>"
        }
        let liveAttribute: HTML = live.map { " data-live=\"\($0)\"" } ?? .empty
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Slipway</title>
            <link rel="icon" href="data:,">
            <link rel="stylesheet" href="/ui/static/console.css">
            <script src="/ui/static/console.js" defer></script>
            </head>
            <body\(liveAttribute)>
            <a class="skip" href="#main">Skip to content</a>
            \(header)
            <main id="main">
            \(body)
            </main>
            </body>
            </html>
            """
    }

    /// The hidden field every state-changing form carries.
    static func csrf(_ context: ConsoleContext) -> HTML {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(context.session.csrfToken)\">"
    }

    /// A status as a word and a colour: the word carries the meaning, the colour helps.
    static func status(_ status: String?) -> HTML {
        let text = status ?? "Unknown"
        return "<span class=\"status status-\(text.lowercased())\">\(text)</span>"
    }

    /// A time in UTC (so that what one person reads out matches what another sees), with its machine form.
    static func time(_ date: Date?) -> HTML {
        guard let date else { return "—" }
        let iso = date.formatted(.iso8601)
        let shown = iso.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
        return "<time datetime=\"\(iso)\">\(shown)</time>"
    }

    /// A duration in words a person reads at a glance: 850 ms, 12.4 s, 3 min 05 s, 2 h 10 min.
    static func duration(_ seconds: TimeInterval?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "—" }
        if seconds < 1 { return "\(Int(seconds * 1000)) ms" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(min(seconds, 1e9))
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, whole % 3600 / 60)
    }

    static func duration(from start: Date?, to end: Date?) -> String {
        guard let start, let end else { return "—" }
        return duration(end.timeIntervalSince(start))
    }
}
