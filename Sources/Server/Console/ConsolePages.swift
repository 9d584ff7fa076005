import Deployments
import Engine
import Foundation
import Hummingbird
import SlipwayModel
import Store

/// The overview, applications, deployment groups, revisions and instances.
extension Console {
    /// How many deployments a list shows at once.
    static let listPageSize = 50

    // MARK: Overview

    /// What the overview shows: the deployments in progress and the most recent ones the principal may see.
    struct OverviewData: Sendable {
        var inProgress: [DeploymentListing]
        var recent: [DeploymentListing]
        /// Changes whenever anything the overview shows changes.
        var signature: String
    }

    func overviewData(_ context: ConsoleContext) async throws -> OverviewData {
        let (live, recent, tokens) = try await store.read { tx in
            var live: [DeploymentListing] = []
            var tokens: [String] = []
            for stored in try tx.allRecords(.liveDeployment) {
                guard let record = try tx.deployment(stored.name) else { continue }
                live.append(DeploymentListing(record))
                tokens.append(try tx.record(.deploymentState, scope: "", name: stored.name)?.version.description ?? "")
            }
            let recent = try tx.deploymentListings(DeploymentListFilter(), after: nil, size: 25).listings
            return (live, recent, tokens)
        }
        let visible = { (listing: DeploymentListing) in
            context.may(.getDeployment, application: listing.application, group: listing.group)
        }
        let shownLive = live.filter(visible).sorted {
            ($0.createTime ?? .distantPast) > ($1.createTime ?? .distantPast)
        }
        let shownRecent = recent.filter(visible)
        let signature =
            (shownLive.map { "\($0.id):\($0.status?.rawValue ?? "")" } + tokens
            + shownRecent.map { "\($0.id):\($0.status?.rawValue ?? "")" }).joined(separator: ",")
        return OverviewData(inProgress: shownLive, recent: shownRecent, signature: signature)
    }

    func overview(_ context: ConsoleContext) async throws -> Response {
        let data = try await overviewData(context)
        let body: HTML = """
            <h1>Overview</h1>
            <div id="overview-live" aria-live="polite">\(overviewSections(data))</div>
            """
        return Self.html(ConsoleLayout.page(title: "Overview", context: context, body: body, live: "/ui/events"))
    }

    /// The part of the overview its live stream replaces.
    func overviewSections(_ data: OverviewData) -> HTML {
        let running: HTML =
            data.inProgress.isEmpty
            ? "<p class=\"empty\">No deployment is in progress.</p>"
            : deploymentTable(data.inProgress, caption: "Deployments in progress")
        let recent: HTML =
            data.recent.isEmpty
            ? "<p class=\"empty\">No deployment yet. Create one with <code>aws deploy create-deployment</code> or <code>slipway deploy</code>.</p>"
            : deploymentTable(data.recent, caption: "Most recent deployments")
        return """
            <section aria-labelledby="running-heading"><h2 id="running-heading">In progress (\(data.inProgress.count))</h2>\(running)</section>
            <section aria-labelledby="recent-heading"><h2 id="recent-heading">Recent</h2>\(recent)</section>
            """
    }

    /// A table of deployments, newest first.
    func deploymentTable(_ listings: [DeploymentListing], caption: String) -> HTML {
        let rows: [HTML] = listings.map { listing in
            let creator: String =
                switch listing.creator {
                case .codeDeployRollback?: "rollback"
                case .user?, nil: listing.createdBy ?? "user"
                case let creator?: creator.rawValue
                }
            let link: HTML =
                if let of = listing.rollbackOf {
                    " <span class=\"note\">(rollback of <a href=\"\(ConsolePath.deployment(of))\">\(of)</a>)</span>"
                } else if let by = listing.rolledBackBy {
                    " <span class=\"note\">(rolled back by <a href=\"\(ConsolePath.deployment(by))\">\(by)</a>)</span>"
                } else { .empty }
            return """
                <tr><td><a href="\(ConsolePath.deployment(listing.id))">\(listing.id)</a>\(link)</td>
                <td>\(ConsoleLayout.status(listing.status?.rawValue))</td>
                <td><a href="\(ConsolePath.application(listing.application))">\(listing.application)</a> / <a href="\(ConsolePath.group(application: listing.application, group: listing.group))">\(listing.group)</a></td>
                <td>\(ConsoleLayout.time(listing.createTime))</td>
                <td>\(ConsoleLayout.duration(from: listing.startTime ?? listing.createTime, to: listing.completeTime))</td>
                <td>\(creator)</td>
                <td class="revision">\(listing.revision)</td></tr>
                """
        }
        return """
            <div class="table-wrap"><table>
            <caption>\(caption)</caption>
            <thead><tr><th scope="col">Deployment</th><th scope="col">Status</th><th scope="col">Application / group</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Creator</th><th scope="col">Revision</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
    }

    // MARK: Applications and groups

    func applications(_ context: ConsoleContext) async throws -> Response {
        try context.authorize(.listApplications)
        let names = try await store.read { tx in
            try tx.records(.application, scope: "", after: nil, limit: .max).map(\.name)
        }
        let items: [HTML] = names.map { "<li><a href=\"\(ConsolePath.application($0))\">\($0)</a></li>" }
        let body: HTML = """
            <h1>Applications</h1>
            \(items.isEmpty ? "<p class=\"empty\">No application yet: <code>aws deploy create-application --application-name my-app</code>.</p>" : "<ul class=\"plain\">\(items)</ul>")
            """
        return Self.html(ConsoleLayout.page(title: "Applications", context: context, body: body))
    }

    func application(_ name: String, _ context: ConsoleContext) async throws -> Response {
        try context.authorize(.listDeploymentGroups, input: ["applicationName": .string(name)])
        let groups = try await store.read { tx in
            _ = try tx.existingApplication(name)
            return try tx.list(CodeDeploy.DeploymentGroupInfo.self, .deploymentGroup, scope: name).map(\.value)
        }
        let rows: [HTML] = groups.map { group in
            let groupName = group.deploymentGroupName ?? ""
            let style = group.deploymentStyle?.deploymentType?.rawValue ?? "IN_PLACE"
            return """
                <tr><td><a href="\(ConsolePath.group(application: name, group: groupName))">\(groupName)</a></td>
                <td>\(style)</td><td>\(group.deploymentConfigName ?? "CodeDeployDefault.OneAtATime")</td>
                <td>\(ConsoleLayout.status(group.lastAttemptedDeployment?.status?.rawValue ?? "None"))</td></tr>
                """
        }
        let body: HTML = """
            <nav class="crumbs" aria-label="Breadcrumb"><a href="/ui/applications">Applications</a> / \(name)</nav>
            <h1>\(name)</h1>
            <p><a href="\(ConsolePath.revisions(application: name))">Revisions of \(name)</a></p>
            \(groups.isEmpty ? "<p class=\"empty\">No deployment group yet.</p>" : """
            <div class="table-wrap"><table><caption>Deployment groups</caption>
            <thead><tr><th scope="col">Group</th><th scope="col">Style</th><th scope="col">Configuration</th><th scope="col">Last deployment</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """ as HTML)
            """
        return Self.html(ConsoleLayout.page(title: name, context: context, body: body))
    }

    /// A group's deployments, filtered by status and creation time, a page at a time.
    func groupPage(_ application: String, _ group: String, _ context: ConsoleContext) async throws -> Response {
        try context.authorize(
            .listDeployments, input: ["applicationName": .string(application), "deploymentGroupName": .string(group)])
        let query = context.request.uri.queryParameters
        let statuses = (query["status"].map(String.init) ?? "").split(separator: ",").map {
            CodeDeploy.DeploymentStatus(rawValue: String($0))
        }.filter(\.isKnown)
        let from = query["from"].flatMap { Self.parseDay(String($0)) }
        let to = query["to"].flatMap { Self.parseDay(String($0)) }.map { $0.addingTimeInterval(86_400 - 0.001) }
        let after = query["after"].map(String.init).flatMap { $0.isEmpty || $0.utf8.count > 200 ? nil : $0 }
        let page = try await store.read { tx in
            let info = try tx.existingDeploymentGroup(application: application, name: group)
            return try tx.deploymentListings(
                DeploymentListFilter(
                    groupId: info.deploymentGroupId ?? "", statuses: statuses.isEmpty ? nil : Set(statuses),
                    createdAfter: from, createdBefore: to),
                after: after, size: Self.listPageSize)
        }
        let statusOptions: [HTML] = CodeDeploy.DeploymentStatus.knownValues.map { status in
            let selected: HTML = statuses.contains(status) ? " selected" : .empty
            return "<option value=\"\(status.rawValue)\"\(selected)>\(status.rawValue)</option>"
        }
        var nextQuery: [String] = []
        if !statuses.isEmpty { nextQuery.append("status=" + statuses.map(\.rawValue).joined(separator: ",")) }
        if let value = query["from"] { nextQuery.append("from=" + ConsolePath.segment(String(value))) }
        if let value = query["to"] { nextQuery.append("to=" + ConsolePath.segment(String(value))) }
        let base = ConsolePath.group(application: application, group: group)
        let next: HTML =
            page.next.map { next in
                let target = base + "?" + (nextQuery + ["after=" + ConsolePath.segment(next)]).joined(separator: "&")
                return "<p><a rel=\"next\" href=\"\(target)\">Older deployments</a></p>"
            } ?? .empty
        let first: HTML =
            after == nil
            ? .empty
            : "<p><a href=\"\(base + (nextQuery.isEmpty ? "" : "?" + nextQuery.joined(separator: "&")))\">Newest</a></p>"
        let list: HTML =
            page.listings.isEmpty
            ? "<p class=\"empty\">No deployment matches.</p>"
            : deploymentTable(page.listings, caption: "Deployments of \(group), newest first")
        let body: HTML = """
            <nav class="crumbs" aria-label="Breadcrumb"><a href="/ui/applications">Applications</a> / <a href="\(ConsolePath.application(application))">\(application)</a> / \(group)</nav>
            <h1>\(group)</h1>
            <form class="filters" method="get" action="\(base)">
            <label for="status">Status</label>
            <select id="status" name="status"><option value="">Any</option>\(statusOptions)</select>
            <label for="from">Created from</label><input id="from" name="from" type="date" value="\(query["from"].map(String.init))">
            <label for="to">to</label><input id="to" name="to" type="date" value="\(query["to"].map(String.init))">
            <button type="submit">Filter</button>
            </form>
            \(list)
            \(first)\(next)
            """
        return Self.html(ConsoleLayout.page(title: group, context: context, body: body))
    }

    /// `2026-12-07` as the start of that day in UTC.
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-")
        guard text.utf8.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]),
            let day = Int(parts[2]), (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day))
    }

    // MARK: Revisions

    func revisionsPage(_ application: String, _ context: ConsoleContext) async throws -> Response {
        try context.authorize(.listApplicationRevisions, input: ["applicationName": .string(application)])
        let (revisions, groups) = try await store.read { tx in
            _ = try tx.existingApplication(application)
            let revisions = try tx.list(RevisionRecord.self, .revision, scope: application).map(\.value)
            let groups = try tx.records(.deploymentGroup, scope: application, after: nil, limit: .max).map(\.name)
            return (revisions, groups)
        }
        let sorted = revisions.sorted {
            ($0.info.lastUsedTime ?? $0.info.registerTime ?? .distantPast)
                > ($1.info.lastUsedTime ?? $1.info.registerTime ?? .distantPast)
        }
        let deployable = groups.filter { context.may(.createDeployment, application: application, group: $0) }
        let rows: [HTML] = sorted.enumerated().map { position, revision in
            let key = (try? RevisionKey.make(revision.location)) ?? ""
            let form: HTML
            if deployable.isEmpty {
                form = "<span class=\"note\">You may not deploy to this application's groups.</span>"
            } else {
                let options: [HTML] = deployable.map { "<option value=\"\($0)\">\($0)</option>" }
                form = """
                    <form method="post" action="/ui/applications/\(ConsolePath.segment(application))/deploy" class="inline">
                    \(ConsoleLayout.csrf(context))
                    <input type="hidden" name="revision" value="\(key)">
                    <label class="visually-hidden" for="group-\(position)">Deployment group</label>
                    <select name="group" id="group-\(position)">\(options)</select>
                    <button type="submit">Deploy</button>
                    </form>
                    """
            }
            return """
                <tr><td class="revision">\(DeploymentListing.summary(revision.location))</td>
                <td>\((revision.info.deploymentGroups ?? []).joined(separator: ", "))</td>
                <td>\(ConsoleLayout.time(revision.info.registerTime))</td>
                <td>\(ConsoleLayout.time(revision.info.lastUsedTime))</td>
                <td>\(form)</td></tr>
                """
        }
        let body: HTML = """
            <nav class="crumbs" aria-label="Breadcrumb"><a href="/ui/applications">Applications</a> / <a href="\(ConsolePath.application(application))">\(application)</a> / revisions</nav>
            <h1>Revisions of \(application)</h1>
            \(rows.isEmpty ? "<p class=\"empty\">No revision registered yet: <code>aws deploy push</code> registers one.</p>" : """
            <div class="table-wrap"><table><caption>Registered revisions, most recently used first</caption>
            <thead><tr><th scope="col">Revision</th><th scope="col">Deployed to</th><th scope="col">Registered</th><th scope="col">Last used</th><th scope="col">Deploy</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """ as HTML)
            """
        return Self.html(ConsoleLayout.page(title: "Revisions of \(application)", context: context, body: body))
    }

    /// Deploys a registered revision to a group (CreateDeployment as the signed-in principal).
    func deployRevision(_ application: String, _ context: ConsoleContext) async throws -> Response {
        guard let group = context.form["group"], let key = context.form["revision"], !group.isEmpty, !key.isEmpty
        else { throw ConsoleError(.badRequest, "Refused", "Choose a deployment group and a revision.") }
        guard
            let revision = try await store.read({
                try $0.get(RevisionRecord.self, .revision, scope: application, name: key)
            })
        else { throw ConsoleError(.notFound, "Not found", "That revision is not registered with \(application).") }
        let output = try await context.call(
            .createDeployment,
            [
                "applicationName": .string(application), "deploymentGroupName": .string(group),
                "revision": try JSONReader.value(from: RecordCoding.encode(revision.location)),
                "description": .string("Deployed from the console"),
            ])
        guard case .object(let members) = output, case .string(let id)? = members["deploymentId"] else {
            throw ConsoleError(.internalServerError, "Server error", "The deployment was created without an id.")
        }
        return Self.redirect(to: ConsolePath.deployment(id))
    }

    // MARK: Instances

    func instances(_ context: ConsoleContext) async throws -> Response {
        try context.authorize(.listOnPremisesInstances)
        struct Row: Sendable {
            var info: CodeDeploy.InstanceInfo
            var agent: HostAgentRecord?
            var command: HostCommandID?
            var last: InstanceGroupState?
        }
        let rows = try await store.read { tx in
            // The latest deployment that ended on each instance, across its groups.
            var last: [String: InstanceGroupState] = [:]
            for stored in try tx.allRecords(.instanceGroupState) {
                guard let state = try? RecordCoding.decode(InstanceGroupState.self, from: stored),
                    state.lastDeploymentId != nil
                else { continue }
                if (last[stored.name]?.lastDeploymentTime ?? .distantPast) < (state.lastDeploymentTime ?? .distantPast)
                {
                    last[stored.name] = state
                }
            }
            return try tx.list(CodeDeploy.InstanceInfo.self, .instance).map { name, info in
                let host = info.iamUserArn ?? info.iamSessionArn ?? ""
                return Row(
                    info: info, agent: try tx.get(HostAgentRecord.self, .hostAgent, name: host),
                    command: try tx.heldCommand(of: host), last: last[name])
            }
        }
        func row(_ row: Row) -> HTML {
            let tags: [HTML] = (row.info.tags ?? []).map {
                "<span class=\"tag\">\($0.key ?? "")=\($0.value ?? "")</span> "
            }
            let command: HTML =
                row.command.map {
                    "<a href=\"\(ConsolePath.deployment($0.deploymentId))\">\($0.deploymentId)</a> \($0.event.rawValue)"
                } ?? "—"
            let last: HTML =
                row.last.flatMap { state in
                    state.lastDeploymentId.map { id in
                        "<a href=\"\(ConsolePath.deployment(id))\">\(id)</a> \(ConsoleLayout.status(state.lastDeploymentSucceeded ? "Succeeded" : "Failed"))"
                    }
                } ?? "—"
            return """
                <tr><th scope="row">\(row.info.instanceName ?? "")</th><td>\(tags)</td>
                <td>\(row.agent?.agentVersion ?? "—")</td><td>\(ConsoleLayout.time(row.agent?.lastPollTime))</td>
                <td>\(command)</td><td>\(last)</td><td>\(ConsoleLayout.time(row.info.registerTime))</td></tr>
                """
        }
        let registered = rows.filter { $0.info.deregisterTime == nil }.map(row)
        let deregistered: [HTML] = rows.filter { $0.info.deregisterTime != nil }.map { row in
            "<tr><th scope=\"row\">\(row.info.instanceName ?? "")</th><td>\(ConsoleLayout.time(row.info.deregisterTime))</td></tr>"
        }
        let body: HTML = """
            <h1>Instances</h1>
            \(registered.isEmpty ? "<p class=\"empty\">No instance is registered: <code>slipway agent register</code> adds one.</p>" : """
            <div class="table-wrap"><table><caption>Registered instances (\(registered.count))</caption>
            <thead><tr><th scope="col">Instance</th><th scope="col">Tags</th><th scope="col">Agent</th><th scope="col">Last poll</th><th scope="col">Current command</th><th scope="col">Last deployment</th><th scope="col">Registered</th></tr></thead>
            <tbody>\(registered)</tbody></table></div>
            """ as HTML)
            \(deregistered.isEmpty ? .empty : """
            <div class="table-wrap"><table><caption>Deregistered instances (\(deregistered.count))</caption>
            <thead><tr><th scope="col">Instance</th><th scope="col">Deregistered</th></tr></thead>
            <tbody>\(deregistered)</tbody></table></div>
            """ as HTML)
            """
        return Self.html(ConsoleLayout.page(title: "Instances", context: context, body: body))
    }
}
