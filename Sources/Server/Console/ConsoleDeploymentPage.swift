import Deployments
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import SlipwayModel
import Store

/// A deployment: its status, configuration and revision, the per-host timeline, the actions, and its logs.
extension Console {
    /// A deployment as one read of the store saw it.
    struct DeploymentView: Sendable {
        var record: DeploymentRecord
        var hosts: [HostLifecycle]
        /// The stored state's token: it changes with every save of the deployment.
        var token: String

        /// Whether the page can change no more: the deployment ended, and a rollback it asked for is linked.
        var settled: Bool {
            let rollback = record.info.rollbackInfo
            let awaitsRollback =
                rollback?.rollbackMessage != nil && rollback?.rollbackDeploymentId == nil
                && rollback?.rollbackTriggeringDeploymentId == nil
            return record.isFinished && !awaitsRollback
        }
    }

    /// The deployment with its hosts, once the principal may see it (`codedeploy:GetDeployment` on its group, as
    /// `GetDeployment` is authorised on the record it shows).
    func deploymentView(_ id: String, _ context: ConsoleContext, withHosts: Bool = true) async throws
        -> DeploymentView
    {
        guard DeploymentID.isValid(id) else {
            throw ConsoleError(.notFound, "Not found", "\(id) is not a deployment id (d- and 9 characters).")
        }
        let view = try await store.read { tx -> DeploymentView in
            let record = try tx.existingDeployment(id)
            let token = try tx.record(.deploymentState, scope: "", name: id).map {
                String(decoding: $0.document, as: UTF8.self)
            }
            return DeploymentView(
                record: record, hosts: withHosts ? try tx.deploymentHosts(id) : [], token: token ?? "")
        }
        try context.principal.authorizeCodeDeploy(
            .getDeployment, deploymentGroup: view.record.info.deploymentGroupName ?? "",
            application: view.record.info.applicationName ?? "", arns: arns)
        return view
    }

    func deploymentPage(_ id: String, _ context: ConsoleContext) async throws -> Response {
        let view = try await deploymentView(id, context)
        let axis = TimelineAxis(view.record.info, now: context.now)
        let info = view.record.info
        let now = context.now
        let rows = view.hosts.enumerated().map { hostRow($1, index: $0, deployment: id, axis: axis, now: now) }
        let changes: HTML =
            info.previousRevision == nil
            ? .empty
            : Self.changesSection(await RevisionChanges.between(info.previousRevision, info.revision, in: artifacts))
        let body: HTML = """
            <nav class="crumbs" aria-label="Breadcrumb"><a href="\(ConsolePath.application(info.applicationName ?? ""))">\(info.applicationName)</a> / <a href="\(ConsolePath.group(application: info.applicationName ?? "", group: info.deploymentGroupName ?? ""))">\(info.deploymentGroupName)</a> / \(id)</nav>
            <div id="deployment-head" aria-live="polite">\(deploymentHead(view, context))</div>
            \(configurationSection(view.record))
            \(changes)
            <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">Hosts</h2>
            <div class="table-wrap"><table class="timeline">
            <caption>Lifecycle events per host, in scheduling order: each bar is an event, its length its duration</caption>
            <thead><tr><th scope="col">Host</th><th scope="col">Status</th><th scope="col">Timeline</th><th scope="col">Duration</th><th scope="col">Events</th></tr></thead>
            <tbody id="hosts" data-axis="\(axis.viewBox)">\(rows)</tbody>
            </table></div>
            </section>
            """
        let live = view.settled ? nil : ConsolePath.deployment(id) + "/events"
        return Self.html(ConsoleLayout.page(title: id, context: context, body: body, live: live))
    }

    /// The part of the page that changes with the deployment's status: heading, counts, error, links, actions.
    func deploymentHead(_ view: DeploymentView, _ context: ConsoleContext) -> HTML {
        let info = view.record.info
        let id = view.record.id
        let overview = info.deploymentOverview
        let counts: [(String, Int64?)] = [
            ("Pending", overview?.pending), ("In progress", overview?.inProgress), ("Succeeded", overview?.succeeded),
            ("Failed", overview?.failed), ("Skipped", overview?.skipped), ("Ready", overview?.ready),
        ]
        let countItems: [HTML] = counts.map { "<div><dt>\($0.0)</dt><dd>\(Int(clamping: $0.1 ?? 0))</dd></div>" }
        let error: HTML =
            info.errorInformation.map {
                "<p class=\"alert\" role=\"alert\"><strong>\($0.code?.rawValue ?? "Error")</strong>: \($0.message)</p>"
            } ?? .empty
        var links: [HTML] = []
        if let of = info.rollbackInfo?.rollbackTriggeringDeploymentId {
            links.append("<li>Rollback of <a href=\"\(ConsolePath.deployment(of))\">\(of)</a></li>")
        }
        if let by = info.rollbackInfo?.rollbackDeploymentId {
            links.append("<li>Rolled back by <a href=\"\(ConsolePath.deployment(by))\">\(by)</a></li>")
        }
        if let message = info.rollbackInfo?.rollbackMessage { links.append("<li>\(message)</li>") }
        let messages: [HTML] = (info.deploymentStatusMessages ?? []).map { "<li>\($0)</li>" }
        let slowest = view.hosts.max { hostDuration($0, now: context.now) < hostDuration($1, now: context.now) }
        let failed = view.hosts.filter { $0.status == .failed }
        var findings: [HTML] = []
        if let slowest, view.hosts.count > 1 {
            findings.append(
                "<li>Slowest host: <a href=\"#host-\(view.hosts.firstIndex(of: slowest) ?? 0)\">\(slowest.instanceName)</a> (\(ConsoleLayout.duration(hostDuration(slowest, now: context.now))))</li>"
            )
        }
        for host in failed.prefix(5) {
            let event = host.events.first { $0.status == .failed }
            findings.append(
                "<li>Failed: \(host.instanceName) at \(event?.event.rawValue ?? "—") (\(event?.diagnostics?.errorCode?.rawValue ?? failureText(host.failure)))</li>"
            )
        }
        return """
            <h1>Deployment \(id) \(ConsoleLayout.status(info.status?.rawValue))</h1>
            \(error)
            <dl class="facts">
            <div><dt>Created</dt><dd>\(ConsoleLayout.time(info.createTime)) by \(info.creator == .codeDeployRollback ? "an automatic rollback" : (view.record.createdBy ?? info.creator?.rawValue ?? "user"))</dd></div>
            <div><dt>Duration</dt><dd>\(ConsoleLayout.duration(from: info.startTime ?? info.createTime, to: info.completeTime ?? (view.record.isFinished ? nil : context.now)))</dd></div>
            <div><dt>Description</dt><dd>\(info.description ?? "—")</dd></div>
            </dl>
            <dl class="counts" aria-label="Hosts by status">\(countItems)</dl>
            \(links.isEmpty ? .empty : "<ul class=\"links\">\(links)</ul>" as HTML)
            \(messages.isEmpty ? .empty : "<ul class=\"messages\">\(messages)</ul>" as HTML)
            \(findings.isEmpty ? .empty : "<ul class=\"findings\">\(findings)</ul>" as HTML)
            \(fleets(view))
            \(actions(view.record, context))
            """
    }

    /// A blue/green deployment's two fleets, and where its traffic goes.
    private func fleets(_ view: DeploymentView) -> HTML {
        let labelled = view.hosts.filter { $0.target.label != nil }
        guard !labelled.isEmpty else { return .empty }
        func fleet(_ label: DeploymentTarget.Label, _ name: String) -> HTML {
            let hosts = labelled.filter { $0.target.label == label }
            let byStatus = Dictionary(grouping: hosts, by: { $0.status.rawValue }).map { "\($0.value.count) \($0.key)" }
                .sorted().joined(separator: ", ")
            return "<div><dt>\(name)</dt><dd>\(hosts.count) hosts\(byStatus.isEmpty ? "" : " (\(byStatus))")</dd></div>"
        }
        let traffic: HTML
        if let percent = view.record.progress.replacementTrafficPercent {
            let share = min(max(percent, 0), 100)
            traffic = """
                <div class="traffic"><span>Traffic: \(share) % to the replacement (green) fleet, \(100 - share) % to the original (blue)</span>
                <svg viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="\(share) % of traffic to the replacement fleet"><rect x="0" y="0" width="\(100 - share)" height="8" class="fleet-blue"></rect><rect x="\(100 - share)" y="0" width="\(share)" height="8" class="fleet-green"></rect></svg></div>
                """
        } else {
            traffic = "<p class=\"note\">Traffic moves host by host with the BlockTraffic and AllowTraffic events.</p>"
        }
        return """
            <section class="fleets" aria-label="Blue/green fleets">
            <dl class="facts">\(fleet(.blue, "Original fleet (blue)"))\(fleet(.green, "Replacement fleet (green)"))</dl>
            \(traffic)
            </section>
            """
    }

    private func failureText(_ failure: HostFailure?) -> String {
        switch failure {
        case .eventFailed(_, let code)?: code.rawValue
        case .notPickedUp(_, let delivered)?: delivered ? "not acknowledged" : "agent not polling"
        case .noReport?: "no report in time"
        case .trafficFailed?: "traffic failed"
        case .interrupted?: "interrupted"
        case nil: "—"
        }
    }

    func hostDuration(_ host: HostLifecycle, now: Date) -> TimeInterval {
        guard let start = host.events.compactMap(\.startTime).min() else { return 0 }
        let end = host.isFinished ? (host.events.compactMap(\.endTime).max() ?? start) : now
        return max(0, end.timeIntervalSince(start))
    }

    /// The buttons the principal may use on the deployment as it is now.
    private func actions(_ record: DeploymentRecord, _ context: ConsoleContext) -> HTML {
        let info = record.info
        let application = info.applicationName ?? ""
        let group = info.deploymentGroupName ?? ""
        let base = ConsolePath.deployment(record.id)
        func button(_ action: String, _ label: String, _ style: String = "") -> HTML {
            """
            <form method="post" action="\(base)/\(action)" class="inline">\(ConsoleLayout.csrf(context))<button type="submit" class="\(style)">\(label)</button></form>
            """
        }
        var buttons: [HTML] = []
        if !record.isFinished {
            if context.may(.stopDeployment, application: application, group: group) {
                buttons.append(button("stop", "Stop", "danger"))
                buttons.append(button("stop-and-roll-back", "Stop and roll back", "danger"))
            }
            if info.status == .ready && context.may(.continueDeployment, application: application, group: group) {
                buttons.append(button("continue", "Reroute traffic (continue)"))
            }
            if info.instanceTerminationWaitTimeStarted == true
                && context.may(.skipWaitTimeForInstanceTermination, application: application, group: group)
            {
                buttons.append(button("skip-termination-wait", "Terminate the original hosts now"))
            }
        } else if info.revision != nil && context.may(.createDeployment, application: application, group: group) {
            buttons.append(button("redeploy", "Deploy this revision again"))
        }
        return buttons.isEmpty
            ? .empty : "<div class=\"actions\" role=\"group\" aria-label=\"Actions\">\(buttons)</div>"
    }

    /// The configuration and revision the deployment was created with.
    private func configurationSection(_ record: DeploymentRecord) -> HTML {
        let info = record.info
        let style = info.deploymentStyle
        let rollback = info.autoRollbackConfiguration
        let alarms = (info.overrideAlarmConfiguration?.alarms ?? []).compactMap(\.name)
        let previous: HTML =
            info.previousRevision.map {
                "<div><dt>Previous revision</dt><dd class=\"revision\">\(DeploymentListing.summary($0))</dd></div>"
            } ?? .empty
        return """
            <section aria-labelledby="configuration-heading">
            <h2 id="configuration-heading">Configuration</h2>
            <dl class="facts">
            <div><dt>Revision</dt><dd class="revision">\(info.revision.map(DeploymentListing.summary) ?? "—")</dd></div>
            \(previous)
            <div><dt>Configuration</dt><dd>\(info.deploymentConfigName ?? "—")</dd></div>
            <div><dt>Style</dt><dd>\(style?.deploymentType?.rawValue ?? "IN_PLACE"), \(style?.deploymentOption?.rawValue ?? "WITHOUT_TRAFFIC_CONTROL")</dd></div>
            <div><dt>Automatic rollback</dt><dd>\(rollback?.enabled == true ? (rollback?.events ?? []).map(\.rawValue).joined(separator: ", ") : "off")</dd></div>
            <div><dt>Existing files</dt><dd>\(info.fileExistsBehavior?.rawValue ?? "DISALLOW")</dd></div>
            \(alarms.isEmpty ? .empty : "<div><dt>Alarms (override)</dt><dd>\(alarms.joined(separator: ", "))</dd></div>" as HTML)
            </dl>
            </section>
            """
    }

    /// What changed from the previous revision, or why that cannot be shown.
    static func changesSection(_ result: Result<RevisionChanges, RevisionChanges.Unavailable>) -> HTML {
        let body: HTML
        switch result {
        case .failure(let unavailable):
            body = "<p class=\"note\">Not shown: \(unavailable.reason).</p>"
        case .success(let changes):
            func list(_ title: String, _ files: [RevisionChanges.File]) -> HTML {
                guard !files.isEmpty else { return .empty }
                let items: [HTML] = files.prefix(100).map {
                    "<li><span class=\"revision\">\($0.path)</span> (\(Self.bytes($0.size)))</li>"
                }
                let more: HTML = files.count > 100 ? "<li>and \(files.count - 100) more</li>" : .empty
                return "<details><summary>\(title) (\(files.count))</summary><ul>\(items)\(more)</ul></details>"
            }
            body = """
                <p>\(changes.added.count) added, \(changes.removed.count) removed, \(changes.changed.count) changed, \(changes.unchanged) unchanged: \(Self.bytes(changes.changedBytes)) of \(Self.bytes(changes.totalBytes)) are new.</p>
                \(list("Added", changes.added))\(list("Changed", changes.changed))\(list("Removed", changes.removed))
                """
        }
        return """
            <section aria-labelledby="changes-heading">
            <h2 id="changes-heading">Changes from the previous revision</h2>
            \(body)
            </section>
            """
    }

    /// A size in bytes as people read it.
    static func bytes(_ count: UInt64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    // MARK: Timeline

    /// The time span the timeline's bars are drawn on, in seconds from the deployment's start: to its end, or, while
    /// it runs, to a point ahead of now that moves in steps. Bars are drawn in seconds and the span is each bar's SVG
    /// view box, so a longer span is one attribute for the page to change, not every row to redraw.
    struct TimelineAxis: Sendable, Equatable {
        var start: Date
        var span: TimeInterval

        init(_ info: CodeDeploy.DeploymentInfo, now: Date) {
            start = info.startTime ?? info.createTime ?? now
            if let end = info.completeTime {
                span = max(end.timeIntervalSince(start), 1)
            } else {
                let elapsed = max(now.timeIntervalSince(start), 0)
                var span: TimeInterval = 60
                while span < elapsed * 1.1 && span < 1e9 { span *= 2 }
                self.span = span
            }
        }

        /// The view box of every bar's SVG; the page compares it to know whether it must change them.
        var viewBox: String { "0 0 \(Console.decimal(span)) 12" }

        /// Seconds from the start, within the span.
        func position(_ date: Date) -> Double {
            min(max(date.timeIntervalSince(start), 0), span)
        }

        /// The narrowest bar, so that an event of a few milliseconds still shows.
        var minimumWidth: Double { span / 500 }
    }

    /// One host's row: its status in words, its events as bars, and its events as a list behind a disclosure that
    /// the page fills when it is opened (or a link to the host's page without the script).
    func hostRow(_ host: HostLifecycle, index: Int, deployment id: String, axis: TimelineAxis, now: Date) -> HTML {
        var bars: [HTML] = []
        for event in host.events {
            guard let start = event.startTime else { continue }
            let end = event.endTime ?? now
            let x = axis.position(start)
            let width = max(axis.position(end) - x, axis.minimumWidth)
            let title =
                "\(event.event.rawValue): \(event.status.rawValue) (\(ConsoleLayout.duration(from: start, to: end)))"
            bars.append(
                """
                <rect x="\(Self.decimal(x))" y="1" width="\(Self.decimal(width))" height="10" class="ev ev-\(event.status.rawValue.lowercased())"><title>\(title)</title></rect>
                """)
        }
        let current = host.events.first { $0.status == .failed } ?? host.events.last(where: { $0.startTime != nil })
        let label: HTML = host.target.label.map { " <span class=\"label\">\($0.rawValue)</span>" } ?? .empty
        let summary: String = current.map { "\($0.event.rawValue) \($0.status.rawValue)" } ?? "not started"
        let hostPath = ConsolePath.host(deployment: id, instance: host.instanceName)
        let events: HTML =
            current == nil
            ? "<span class=\"note\">not started</span>"
            : """
            <details data-events="\(hostPath)?fragment=1"><summary>\(summary)</summary><p><a href="\(hostPath)">Events of \(host.instanceName)</a></p></details>
            """
        let status = host.status.rawValue
        return """
            <tr id="host-\(index)" class="host host-\(status.lowercased())"><th scope="row">\(host.instanceName)\(label)</th>
            <td>\(ConsoleLayout.status(status))</td>
            <td class="track"><svg viewBox="\(axis.viewBox)" preserveAspectRatio="none" role="img" aria-label="\(summary)">\(bars)</svg></td>
            <td>\(ConsoleLayout.duration(hostDuration(host, now: now)))</td>
            <td>\(events)</td></tr>
            """
    }

    /// A host's lifecycle events with their status, duration, outcome and a link to each one's log.
    func eventList(_ host: HostLifecycle, deployment id: String, now: Date) -> HTML {
        let items: [HTML] = host.events.filter { $0.startTime != nil }.map { event in
            let log = ConsolePath.log(deployment: id, instance: host.instanceName, event: event.event.rawValue)
            let detail = event.status == .failed ? (event.diagnostics?.message.map { " — \($0)" } ?? "") : ""
            return """
                <li><a href="\(log)">\(event.event.rawValue)</a> \(ConsoleLayout.status(event.status.rawValue)) \(ConsoleLayout.duration(from: event.startTime, to: event.endTime ?? (event.status == .inProgress ? now : nil)))\(detail)</li>
                """
        }
        return items.isEmpty
            ? "<p class=\"note\">No event has started on this host.</p>" : "<ol class=\"events\">\(items)</ol>"
    }

    /// One host of a deployment: its events (the page's disclosure asks for `?fragment=1`, the list alone).
    func hostPage(_ id: String, instance: String, _ context: ConsoleContext) async throws -> Response {
        guard DeploymentID.isValid(id) else {
            throw ConsoleError(.notFound, "Not found", "\(id) is not a deployment id (d- and 9 characters).")
        }
        let (record, host) = try await store.read { tx in
            (try tx.existingDeployment(id), try tx.deploymentHost(id, instanceName: instance))
        }
        try context.principal.authorizeCodeDeploy(
            .getDeploymentTarget, deploymentGroup: record.info.deploymentGroupName ?? "",
            application: record.info.applicationName ?? "", arns: arns)
        guard let host else { throw ConsoleError(.notFound, "Not found", "\(instance) is not a host of \(id).") }
        let list = eventList(host, deployment: id, now: context.now)
        if context.request.uri.queryParameters["fragment"] != nil {
            var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
            Self.securityHeaders(&headers)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: list.text)))
        }
        let body: HTML = """
            <nav class="crumbs" aria-label="Breadcrumb"><a href="\(ConsolePath.deployment(id))">\(id)</a> / \(instance)</nav>
            <h1>\(instance) in \(id) \(ConsoleLayout.status(host.status.rawValue))</h1>
            \(list)
            """
        return Self.html(ConsoleLayout.page(title: "\(instance) in \(id)", context: context, body: body))
    }

    static func decimal(_ value: Double) -> String {
        String(Double(Int((value * 10).rounded())) / 10)
    }

    // MARK: Actions

    func deploymentAction(_ action: String, _ id: String, _ context: ConsoleContext) async throws -> Response {
        guard DeploymentID.isValid(id) else {
            throw ConsoleError(.notFound, "Not found", "\(id) is not a deployment id.")
        }
        let deployment: [String: JSONValue] = ["deploymentId": .string(id)]
        switch action {
        case "stop":
            try await context.call(.stopDeployment, deployment.merging(["autoRollbackEnabled": .bool(false)]) { $1 })
        case "stop-and-roll-back":
            try await context.call(.stopDeployment, deployment.merging(["autoRollbackEnabled": .bool(true)]) { $1 })
        case "continue":
            try await context.call(
                .continueDeployment, deployment.merging(["deploymentWaitType": .string("READY_WAIT")]) { $1 })
        case "skip-termination-wait":
            try await context.call(.skipWaitTimeForInstanceTermination, deployment)
        case "redeploy":
            let view = try await deploymentView(id, context, withHosts: false)
            let info = view.record.info
            guard let revision = info.revision else {
                throw ConsoleError(.badRequest, "Refused", "\(id) has no revision to deploy again.")
            }
            let output = try await context.call(
                .createDeployment,
                [
                    "applicationName": .string(info.applicationName ?? ""),
                    "deploymentGroupName": .string(info.deploymentGroupName ?? ""),
                    "revision": try JSONReader.value(from: RecordCoding.encode(revision)),
                    "description": .string("Redeploy of \(id) from the console"),
                ])
            if case .object(let members) = output, case .string(let created)? = members["deploymentId"] {
                return Self.redirect(to: ConsolePath.deployment(created))
            }
        default:
            throw ConsoleError(.notFound, "Not found", "There is no such action.")
        }
        return Self.redirect(to: ConsolePath.deployment(id))
    }

    // MARK: Logs

    func logPage(_ id: String, instance: String, event: String, _ context: ConsoleContext) async throws -> Response {
        guard DeploymentID.isValid(id), let lifecycleEvent = LifecycleEvent(rawValue: event) else {
            throw ConsoleError(.notFound, "Not found", "There is no such lifecycle event.")
        }
        let (record, host, log) = try await store.read { tx in
            let record = try tx.existingDeployment(id)
            return (
                record, try tx.deploymentHost(id, instanceName: instance),
                try tx.get(LifecycleEventLogRecord.self, .lifecycleEventLog, scope: id, name: "\(instance)/\(event)")
            )
        }
        try context.principal.authorizeCodeDeploy(
            .getDeploymentTarget, deploymentGroup: record.info.deploymentGroupName ?? "",
            application: record.info.applicationName ?? "", arns: arns)
        guard let host else {
            throw ConsoleError(.notFound, "Not found", "\(instance) is not a host of \(id).")
        }
        let eventRecord = host.events.first { $0.event == lifecycleEvent }
        let status = eventRecord?.status.rawValue ?? "Pending"
        let running = status == "InProgress" || status == "Pending"
        let text = log?.log ?? ""
        let query = context.request.uri.queryParameters
        if query["download"] != nil {
            var headers: HTTPFields = [
                .contentType: "text/plain; charset=utf-8",
                .contentDisposition: "attachment; filename=\"\(Self.fileName(id, instance, event)).log\"",
            ]
            Self.securityHeaders(&headers)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let lines = Self.logLines(text)
        let shown: HTML = log == nil ? Self.noFullLog : lines
        if query["fragment"] != nil {
            var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
            headers[HTTPField.Name("X-Slipway-Event-Status")!] = status
            Self.securityHeaders(&headers)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: shown.text)))
        }
        let diagnostics = eventRecord?.diagnostics
        let diagnosticsSection: HTML =
            diagnostics.map { diagnostics in
                let tail: HTML =
                    log == nil && diagnostics.logTail?.isEmpty == false
                    ? "<p>The agent sent only the end of the output (the stock agent's 2 KB tail):</p><pre class=\"tail\">\(diagnostics.logTail)</pre>"
                    : .empty
                return """
                    <dl class="facts">
                    <div><dt>Outcome</dt><dd>\(diagnostics.errorCode?.rawValue ?? "—")</dd></div>
                    <div><dt>Script</dt><dd>\(diagnostics.scriptName ?? "—")</dd></div>
                    <div><dt>Message</dt><dd>\(diagnostics.message ?? "—")</dd></div>
                    </dl>
                    \(tail)
                    """
            } ?? .empty
        let live: HTML =
            running
            ? " data-live-log=\"\(ConsolePath.log(deployment: id, instance: instance, event: event))?fragment=1\""
            : .empty
        let body: HTML = """
            <nav class="crumbs" aria-label="Breadcrumb"><a href="\(ConsolePath.deployment(id))">\(id)</a> / \(instance) / \(event)</nav>
            <h1>\(event) on \(instance) <span id="event-status">\(ConsoleLayout.status(status))</span></h1>
            \(diagnosticsSection)
            <div class="log-tools">
            <label for="log-search">Search the log</label>
            <input id="log-search" type="search" autocomplete="off">
            <span id="log-matches" aria-live="polite"></span>
            <a href="\(ConsolePath.log(deployment: id, instance: instance, event: event))?download=1" download>Download</a>
            </div>
            <p class="legend"><span class="stream-stdout">stdout</span> <span class="stream-stderr">stderr</span>\(running ? " · updating while the event runs" : "")</p>
            <div id="log"\(live)>\(shown)</div>
            """
        return Self.html(ConsoleLayout.page(title: "\(event) on \(instance)", context: context, body: body))
    }

    static let noFullLog: HTML = """
        <p class="empty">No full log: the event has not run here yet, had no scripts, or its agent does not upload logs (the stock agent does not).</p>
        """

    /// A log as a list of lines, each marked with the stream it came from (the agent writes `[stdout]` or
    /// `[stderr]` after each line's timestamp).
    static func logLines(_ text: String) -> HTML {
        var items: [HTML] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            var stream = "other"
            var stamp: Substring = ""
            var content = line
            for marker in ["[stdout]", "[stderr]"] {
                if let range = line.range(of: marker), line.distance(from: line.startIndex, to: range.lowerBound) < 48 {
                    stream = String(marker.dropFirst().dropLast())
                    stamp = line[..<range.lowerBound]
                    content = line[range.upperBound...]
                    break
                }
            }
            items.append(
                "<li class=\"stream-\(stream)\"><span class=\"stamp\">\(stamp)</span><span class=\"text\">\(content)</span></li>"
            )
        }
        return "<ol class=\"log\">\(items)</ol>"
    }

    /// A file name made of the parts' letters, digits, dots and dashes.
    static func fileName(_ parts: String...) -> String {
        parts.map { part in
            String(
                part.unicodeScalars.map {
                    CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "." || $0 == "-"
                        ? Character($0) : "_"
                })
        }.joined(separator: "-")
    }
}
