import Foundation

/// How a deployment is shown: a table redrawn in place on a terminal, one line per change otherwise, and the
/// closing summary. Pure text from snapshots; the caller writes it.
enum DeploymentView {
    // MARK: Lines, for logs and pipes

    /// One line per lifecycle event or deployment status that changed since `previous`, oldest first:
    /// `12:00:01 web-1 BeforeInstall Succeeded (0.4 s)`.
    static func changeLines(from previous: DeploymentSnapshot?, to current: DeploymentSnapshot, now: Date) -> [String] {
        var lines: [(time: Double, order: Int, text: String)] = []
        if previous?.status != current.status {
            let time = (current.isFinished ? current.completeTime : nil) ?? now.timeIntervalSince1970
            lines.append((time, lines.count, "\(clock(time)) \(current.id) \(current.status)"))
        }
        // A new status message (a blue/green wait, a traffic share) is a line of its own, right after the status.
        for message in current.statusMessages where !(previous?.statusMessages ?? []).contains(message) {
            lines.append(
                (now.timeIntervalSince1970, lines.count, "\(clock(now.timeIntervalSince1970)) \(current.id) \(message)")
            )
        }
        let before = Dictionary(
            (previous?.hosts ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for host in current.hosts {
            let old = Dictionary(
                (before[host.name]?.events ?? []).map { ($0.name, $0.status) }, uniquingKeysWith: { first, _ in first })
            for event in host.events where event.status != (old[event.name] ?? "Pending") {
                let time = (event.isDone ? event.endTime : event.startTime) ?? now.timeIntervalSince1970
                var text = "\(clock(time)) \(host.name) \(event.name) \(event.status)"
                if event.isDone, let start = event.startTime, let end = event.endTime {
                    text += " (\(seconds(end - start)))"
                }
                lines.append((time, lines.count, text))
            }
        }
        // The deployment's status comes first, unless it is the final one: that goes after the events that led to it.
        let deploymentFirst = !current.isFinished
        return lines.sorted {
            let rankA = $0.order == 0 && previous?.status != current.status ? (deploymentFirst ? 0 : 2) : 1
            let rankB = $1.order == 0 && previous?.status != current.status ? (deploymentFirst ? 0 : 2) : 1
            if rankA != rankB { return rankA < rankB }
            return ($0.time, $0.order) < ($1.time, $1.order)
        }.map(\.text)
    }

    // MARK: The live table

    /// The table: a header with the deployment, its status and counts, then a row per host.
    static func table(_ snapshot: DeploymentSnapshot, now: Date, width: Int, color: Bool) -> [String] {
        var header = "\(bold(snapshot.id, color)) \(paint(snapshot.status, color))"
        if !snapshot.applicationName.isEmpty {
            header += "  \(snapshot.applicationName)/\(snapshot.deploymentGroupName)"
        }
        if let created = snapshot.createTime {
            let end = snapshot.completeTime ?? now.timeIntervalSince1970
            header += "  \(seconds(max(0, end - created)))"
        }
        let counts = snapshot.overview.map { "\($0.name) \($0.count)" }.joined(separator: " · ")
        var lines = [header, counts] + snapshot.statusMessages
        let hosts = snapshot.hosts
        guard !hosts.isEmpty else {
            lines.append(snapshot.isFinished ? "(no hosts)" : "(waiting for hosts)")
            return lines.map { clip($0, width) }
        }
        let nameWidth = max(4, hosts.map(\.name.count).max() ?? 4)
        let eventWidth = max(15, hosts.compactMap { $0.currentEvent?.name.count }.max() ?? 15)
        // Blue/green deployments say which side each host is on.
        let labelled = hosts.contains { $0.label != nil }
        lines.append(
            pad("HOST", nameWidth) + "  " + (labelled ? pad("SIDE", 5) + "  " : "") + pad("STATUS", 10) + "  "
                + pad("EVENT", eventWidth) + "  " + pad("ELAPSED", 8) + "  PROGRESS")
        for host in hosts {
            let event = host.currentEvent
            let eventText = event.map(\.name)
            let total = host.events.count
            let done = host.doneCount
            let bar = progressBar(done: done, total: total, width: 20)
            let side = labelled ? paint(pad((host.label ?? "-").lowercased(), 5), color, side: host.label) + "  " : ""
            let row =
                pad(host.name, nameWidth) + "  " + side + paint(pad(host.status, 10), color, status: host.status)
                + "  " + pad(eventText ?? "-", eventWidth) + "  " + pad(host.elapsed(now: now).map(seconds) ?? "-", 8)
                + "  " + bar + " \(done)/\(total)"
            lines.append(row)
        }
        return lines.map { clip($0, width) }
    }

    static func progressBar(done: Int, total: Int, width: Int) -> String {
        let filled = total == 0 ? 0 : min(width, done * width / total)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    // MARK: The end

    /// The closing lines: a summary, then for a failure each failed host's event, error and log tail, the
    /// deployment's error, and the rollback deployment if one was created.
    static func summary(_ snapshot: DeploymentSnapshot) -> [String] {
        let hosts = snapshot.hosts
        var counts: [String: Int] = [:]
        for host in hosts { counts[host.status, default: 0] += 1 }
        let tally = ["Succeeded", "Failed", "Skipped", "Pending", "InProgress", "Unknown"].compactMap { name in
            counts[name].map { "\($0) \(name.lowercased())" }
        }.joined(separator: ", ")
        var took = ""
        if let created = snapshot.createTime, let completed = snapshot.completeTime {
            took = " in \(seconds(max(0, completed - created)))"
        }
        let hostCount = "\(hosts.count) host\(hosts.count == 1 ? "" : "s")"
        var lines = [
            "Deployment \(snapshot.id) \(snapshot.status.lowercased())\(took): \(hostCount)"
                + (tally.isEmpty ? "." : " (\(tally)).")
        ]
        for host in hosts {
            guard let event = host.events.first(where: { $0.status == "Failed" }) else { continue }
            lines.append(
                "\(host.name): \(event.name) failed: \(event.errorCode ?? "UnknownError"): \(event.message ?? "")")
            if let script = event.scriptName, !script.isEmpty { lines.append("  script: \(script)") }
            if let tail = event.logTail?.trimmingCharacters(in: .newlines), !tail.isEmpty {
                lines.append("  log tail:")
                lines += tail.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }
            }
        }
        if let code = snapshot.errorCode {
            lines.append("Error: \(code): \(snapshot.errorMessage ?? "")")
        }
        if let rollback = snapshot.rollbackDeploymentId {
            lines.append("Rollback deployment: \(rollback)")
        } else if let message = snapshot.rollbackMessage, !message.isEmpty {
            lines.append("Rollback: \(message)")
        }
        return lines
    }

    // MARK: Formatting

    static func seconds(_ value: Double) -> String {
        if value < 60 { return String(format: "%.1f s", value) }
        let whole = Int(value.rounded())
        return whole < 3600
            ? "\(whole / 60) m \(whole % 60) s" : "\(whole / 3600) h \(whole % 3600 / 60) m"
    }

    static func clock(_ epoch: Double) -> String {
        var time = time_t(epoch)
        var parts = tm()
        localtime_r(&time, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Cuts a line to the terminal width (escape sequences do not take columns), so that no row wraps and the
    /// cursor arithmetic of the redraw stays right.
    private static func clip(_ line: String, _ width: Int) -> String {
        var visible = 0
        var result = ""
        var inEscape = false
        for character in line {
            if character == "\u{1B}" {
                inEscape = true
            } else if inEscape {
                if character.isLetter { inEscape = false }
            } else {
                guard visible < width else { continue }
                visible += 1
            }
            result.append(character)
        }
        return result
    }

    private static func bold(_ text: String, _ color: Bool) -> String {
        color ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }

    private static func paint(_ text: String, _ color: Bool, status: String? = nil, side: String? = nil) -> String {
        guard color else { return text }
        let code: String
        switch (side, (status ?? text).trimmingCharacters(in: .whitespaces)) {
        case ("Blue"?, _): code = "34"
        case ("Green"?, _): code = "32"
        case (_, "Succeeded"): code = "32"
        case (_, "Failed"): code = "31"
        case (_, "Stopped"), (_, "Skipped"): code = "33"
        case (_, "InProgress"), (_, "Ready"): code = "36"
        default: return text
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}

/// Draws the table in place on a terminal: moves the cursor back up over the previous drawing and overwrites it.
struct TerminalTable {
    private var drawnLines = 0

    mutating func draw(_ lines: [String]) {
        var text = ""
        if drawnLines > 0 { text += "\u{1B}[\(drawnLines)A" }
        for line in lines { text += "\r\u{1B}[2K" + line + "\n" }
        // A shorter table than the last one: clear what is left below.
        if drawnLines > lines.count { text += "\u{1B}[J" }
        drawnLines = lines.count
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// The terminal's width in columns, 100 when it cannot be told.
    static var width: Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 100 }
        return Int(size.ws_col)
    }
}
