import Foundation
import SlipwayModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the agent keeps deployments on disk: the stock agent's layout under its root directory
/// (`/opt/codedeploy-agent/deployment-root` by default), so a host can switch between the stock agent and Slipway's
/// without losing its cleanup lists or its last successful revision.
///
/// ```
/// <root>/<group-id>/<deployment-id>/bundle.tar
/// <root>/<group-id>/<deployment-id>/deployment-archive/…
/// <root>/<group-id>/<deployment-id>/logs/scripts.log
/// <root>/deployment-instructions/<group-id>-cleanup | -install.json | _last_successful_install | _most_recent_install
/// <root>/ongoing-deployment/<deployment-id>
/// ```
public struct DeploymentLayout: Sendable, Hashable {
    public let root: URL
    public let trackingDirectoryName: String

    public init(root: URL, trackingDirectoryName: String = "ongoing-deployment") {
        self.root = root
        self.trackingDirectoryName = trackingDirectoryName
    }

    public func groupDirectory(_ groupID: String) -> URL { root.appendingPathComponent(groupID, isDirectory: true) }

    public func deploymentDirectory(_ spec: DeploymentSpec) -> URL {
        groupDirectory(spec.deploymentGroupID).appendingPathComponent(spec.deploymentID, isDirectory: true)
    }

    public func bundleFile(_ spec: DeploymentSpec) -> URL {
        deploymentDirectory(spec).appendingPathComponent("bundle.tar")
    }

    public static func archiveDirectory(in deploymentDirectory: URL) -> URL {
        deploymentDirectory.appendingPathComponent("deployment-archive", isDirectory: true)
    }

    public func scriptsLog(_ spec: DeploymentSpec) -> URL {
        deploymentDirectory(spec).appendingPathComponent("logs/scripts.log")
    }

    public var instructionsDirectory: URL {
        root.appendingPathComponent("deployment-instructions", isDirectory: true)
    }

    public var trackingDirectory: URL { root.appendingPathComponent(trackingDirectoryName, isDirectory: true) }

    /// The mode of the deployment root and every directory the agent creates: revisions hold the scripts that run as
    /// the agent's user (often root) and bundles may hold secrets, so no other local user may read, list or replace
    /// anything below it.
    static let privateMode: mode_t = 0o700

    /// Creates the deployment root (mode 0700) when it is missing, and tightens an existing root this user owns that
    /// others can enter. Returns a sentence saying what was tightened, for the log, or nil when nothing was.
    ///
    /// A looser root owned by someone else is left alone (changing another user's directory is not ours to do).
    @discardableResult
    public func preparePrivateRoot() throws -> String? {
        try Self.makePrivateDirectory(root)
        var info = stat()
        guard stat(root.path, &info) == 0 else {
            throw AgentError("cannot read the deployment root \(root.path): \(String(cString: strerror(errno)))")
        }
        // Others may pass through a root a `runas` hook needed (0711, see ``letOthersPass(to:)``), never list or
        // change it.
        guard info.st_uid == geteuid(), info.st_mode & 0o066 != 0 else { return nil }
        let before = String(info.st_mode & 0o7777, radix: 8)
        guard chmod(root.path, Self.privateMode) == 0 else {
            throw AgentError(
                "cannot restrict the deployment root \(root.path) to mode 0700: \(String(cString: strerror(errno)))")
        }
        return
            "the deployment root \(root.path) was mode 0\(before); it is now 0700 (only the agent's user may enter it)"
    }

    /// Lets other users pass through (`x`, never `r` or `w`) the directories this agent made from the root down to
    /// `directory`, so that a hook run as another user (`runas`) reaches its script by its path, as it does under the
    /// stock agent. They still cannot list them: what they reach is what the bundle's own modes allow, and the agent
    /// does this only for revisions whose hooks name such a user.
    func letOthersPass(to directory: URL) throws {
        let rootPath = root.standardizedFileURL.path
        let target = directory.standardizedFileURL.path
        guard target == rootPath || target.hasPrefix(rootPath + "/") else { return }
        var paths = [rootPath]
        var current = rootPath
        for component in target.dropFirst(rootPath.count).split(separator: "/") {
            current += "/" + component
            paths.append(current)
        }
        for path in paths {
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else { continue }
            guard info.st_mode & 0o011 != 0o011 else { continue }
            guard chmod(path, (info.st_mode & 0o7777) | 0o011) == 0 else {
                throw AgentError(
                    "cannot let the runas user pass through \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// `mkdir -p` where every directory created gets mode 0700 (existing ones are left as they are).
    static func makePrivateDirectory(_ directory: URL) throws {
        let path = directory.standardizedFileURL.path
        var current = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, privateMode) == 0 || errno == EEXIST { continue }
            throw AgentError("cannot create the directory \(current): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw AgentError("\(path) exists and is not a directory")
        }
    }

    func lastSuccessfulInstallFile(_ groupID: String) -> URL {
        instructionsDirectory.appendingPathComponent("\(groupID)_last_successful_install")
    }

    func mostRecentInstallFile(_ groupID: String) -> URL {
        instructionsDirectory.appendingPathComponent("\(groupID)_most_recent_install")
    }

    /// The deployment directory a marker file names, when it still exists and lies under this root.
    func deploymentDirectory(namedIn marker: URL) -> URL? {
        guard let text = try? String(contentsOf: marker, encoding: .utf8) else { return nil }
        let path = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !path.isEmpty else { return nil }
        let url = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        // The marker is ours, but a host that switched roots may hold stale paths: never act outside the root.
        guard url.path.hasPrefix(root.standardizedFileURL.path + "/") else { return nil }
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    func lastSuccessfulDeployment(_ groupID: String) -> URL? {
        deploymentDirectory(namedIn: lastSuccessfulInstallFile(groupID))
    }

    func mostRecentDeployment(_ groupID: String) -> URL? {
        deploymentDirectory(namedIn: mostRecentInstallFile(groupID))
    }

    /// The deployment directory whose AppSpec and scripts `event` runs, chosen as the stock agent chooses it: the
    /// current deployment once its bundle is on the host; before that, the last successfully installed revision for
    /// the events that stop or drain the old one (the most recent download for a blue/green rollback's
    /// traffic-blocking hooks); nil when there is none, which makes the event a no-op.
    public func revisionDirectory(for event: String, spec: DeploymentSpec) -> URL? {
        let current = deploymentDirectory(spec)
        if FileManager.default.fileExists(atPath: Self.archiveDirectory(in: current).path) { return current }
        switch event {
        case LifecycleEvent.beforeBlockTraffic.rawValue, LifecycleEvent.afterBlockTraffic.rawValue:
            return spec.isBlueGreenRollback
                ? mostRecentDeployment(spec.deploymentGroupID) : lastSuccessfulDeployment(spec.deploymentGroupID)
        case LifecycleEvent.applicationStop.rawValue:
            return lastSuccessfulDeployment(spec.deploymentGroupID)
        case LifecycleEvent.beforeAllowTraffic.rawValue, LifecycleEvent.afterAllowTraffic.rawValue:
            return spec.isBlueGreenRollback ? lastSuccessfulDeployment(spec.deploymentGroupID) : current
        default:
            return current
        }
    }
}

/// The crash-tracking files in `ongoing-deployment/`: one per running command, holding its host command identifier,
/// so that an agent that died mid-command reports it failed at its next start instead of leaving the server to
/// time it out.
struct CommandTracker: Sendable {
    let directory: URL

    func begin(deploymentID: String, commandID: String) throws {
        try DeploymentLayout.makePrivateDirectory(directory)
        let file = directory.appendingPathComponent(deploymentID)
        try Data(commandID.utf8).write(to: file, options: .atomic)
    }

    func end(deploymentID: String) {
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(deploymentID))
    }

    /// The commands that were running when the agent last stopped, younger than `maximumAge` (older ones are stale:
    /// the server has long timed them out). Reading clears the directory.
    func takeInterrupted(now: Date, maximumAge: TimeInterval = 24 * 3600) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        var commands: [String] = []
        for file in files {
            let modified =
                (try? FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date) ?? nil
            if let modified, now.timeIntervalSince(modified) < maximumAge,
                let text = try? String(contentsOf: file, encoding: .utf8)
            {
                let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !id.isEmpty { commands.append(id) }
            }
            try? FileManager.default.removeItem(at: file)
        }
        return commands
    }
}
