import SlipwayModel

extension AppSpecParseResult {
    /// The findings as lines `file:line:column: severity: path: message`, errors and warnings in document order.
    public func renderedDiagnostics(file: String?) -> [String] {
        diagnostics.map { $0.rendered(file: file) }
    }
}

extension AppSpec {
    /// A human-readable summary of what the AppSpec does: the platform, then files and permissions, then each
    /// hooked event with its scripts or function.
    public var summary: String {
        var lines: [String] = []
        switch self {
        case .server(let spec):
            lines.append("EC2/on-premises AppSpec, os \(spec.os.rawValue)")
            let behavior =
                spec.fileExistsBehavior.map(\.rawValue) ?? "not set (the deployment's setting, else DISALLOW)"
            lines.append("file_exists_behavior: \(behavior)")
            lines.append(spec.files.isEmpty ? "files: none" : "files:")
            for file in spec.files { lines.append("  \(file.source) -> \(file.destination)") }
            if !spec.permissions.isEmpty {
                lines.append("permissions:")
                for permission in spec.permissions { lines.append("  " + permission.summary) }
            }
            let events = spec.hookedEvents
            lines.append(events.isEmpty ? "hooks: none" : "hooks:")
            for event in events {
                let scripts = spec.scripts(for: event)
                lines.append(
                    "  \(event.rawValue) (\(scripts.count) script\(scripts.count == 1 ? "" : "s"), at most \(spec.maximumDuration(of: event)) s)"
                )
                for script in scripts {
                    var line = "    \(script.location)  timeout \(script.timeout) s"
                    if let runas = script.runas { line += ", runas \(runas)" }
                    if script.sudo { line += ", sudo" }
                    lines.append(line)
                }
            }
        case .lambda(let spec):
            lines.append("Lambda AppSpec")
            lines.append(
                "function \(spec.functionName), alias \(spec.alias): version \(spec.currentVersion) -> \(spec.targetVersion)"
            )
            Self.appendFunctionHooks(spec.hooks, order: LifecycleEvent.lambdaHooks, to: &lines)
        case .ecs(let spec):
            lines.append("ECS AppSpec")
            lines.append("task definition \(spec.taskDefinition)")
            lines.append("container \(spec.containerName), port \(spec.containerPort)")
            if let version = spec.platformVersion { lines.append("platform version \(version)") }
            if let network = spec.networkConfiguration {
                var line = "subnets \(network.subnets.joined(separator: ", "))"
                if !network.securityGroups.isEmpty {
                    line += "; security groups \(network.securityGroups.joined(separator: ", "))"
                }
                if let assign = network.assignPublicIp { line += "; public IP \(assign)" }
                lines.append(line)
            }
            for item in spec.capacityProviderStrategy {
                lines.append(
                    "capacity provider \(item.capacityProvider)" + (item.base.map { ", base \($0)" } ?? "")
                        + (item.weight.map { ", weight \($0)" } ?? "")
                )
            }
            Self.appendFunctionHooks(spec.hooks, order: LifecycleEvent.ecsHooks, to: &lines)
        }
        return lines.joined(separator: "\n")
    }

    private static func appendFunctionHooks(
        _ hooks: [LifecycleEvent: String], order: [LifecycleEvent], to lines: inout [String]
    ) {
        lines.append(hooks.isEmpty ? "hooks: none" : "hooks:")
        for event in order {
            if let function = hooks[event] { lines.append("  \(event.rawValue) -> Lambda function \(function)") }
        }
    }
}

extension Permission {
    /// One line: the object, what it matches and what it sets.
    var summary: String {
        var parts = ["\(object) (\(pattern)"]
        if !except.isEmpty { parts[0] += " except \(except.joined(separator: ", "))" }
        parts[0] += ")"
        if types != [.file, .directory] {
            parts.append(types.map(\.rawValue).sorted().joined(separator: "+") + " only")
        }
        if owner != nil || group != nil { parts.append("owner \(owner ?? "-"):\(group ?? "-")") }
        if let mode { parts.append("mode \(mode)") }
        if !acls.isEmpty { parts.append("acls \(acls.map(\.description).joined(separator: ","))") }
        if let context {
            var text = "context \(context.user.map { "\($0):" } ?? "")\(context.type)"
            if let range = context.range { text += ":\(range)" }
            parts.append(text)
        }
        return parts.joined(separator: ", ")
    }
}
