import SlipwayModel

/// An AppSpec for EC2 instances and on-premises hosts: what to install where, the permissions to give what is
/// installed, and the scripts to run at each lifecycle event.
public struct ServerAppSpec: Hashable, Sendable {
    /// The operating system the revision targets (`os:`).
    public var os: OperatingSystem
    /// Files and directories to copy from the revision onto the host (`files:`), in file order.
    public var files: [FileMapping]
    /// What to do with files that already exist at a destination (`file_exists_behavior:`); `nil` defers to the
    /// deployment's setting, then to `DISALLOW`.
    public var fileExistsBehavior: FileExistsBehavior?
    /// Permissions for what the deployment installs (`permissions:`), in file order. Linux only.
    public var permissions: [Permission]
    /// The scripts of each lifecycle event (`hooks:`), in the order they run. Events without scripts are absent.
    public var hooks: [LifecycleEvent: [HookScript]]

    /// An AppSpec from its parts.
    public init(
        os: OperatingSystem,
        files: [FileMapping] = [],
        fileExistsBehavior: FileExistsBehavior? = nil,
        permissions: [Permission] = [],
        hooks: [LifecycleEvent: [HookScript]] = [:]
    ) {
        self.os = os
        self.files = files
        self.fileExistsBehavior = fileExistsBehavior
        self.permissions = permissions
        self.hooks = hooks
    }

    /// The scripts to run for `event`, in order; empty when the event has none (the agent reports it as a no-op).
    public func scripts(for event: LifecycleEvent) -> [HookScript] {
        hooks[event] ?? []
    }

    /// The longest `event` may take on one host: the sum of its scripts' timeouts, in seconds (0 without scripts).
    /// The agent times each script on its own; this is the bound a server can put on the whole host command.
    public func maximumDuration(of event: LifecycleEvent) -> Int {
        scripts(for: event).reduce(0) { $0 + $1.timeout }
    }

    /// The events that have scripts, in in-place deployment order.
    public var hookedEvents: [LifecycleEvent] {
        LifecycleEvent.inPlaceOrder(withLoadBalancer: true).filter { hooks[$0] != nil }
    }
}

/// One `files:` entry: a path in the revision and the directory on the host it is copied into.
public struct FileMapping: Hashable, Sendable {
    /// The file or directory in the revision, relative to its root; `/` is the whole revision.
    public var source: String
    /// The directory on the host the source is copied into (a file keeps its name; a directory's contents are copied).
    public var destination: String

    /// A mapping from `source` to `destination`.
    public init(source: String, destination: String) {
        self.source = source
        self.destination = destination
    }
}

/// One script of a lifecycle event (`hooks.<event>[n]`).
public struct HookScript: Hashable, Sendable {
    /// The timeout of a script that gives none, in seconds.
    public static let defaultTimeout = 3600

    /// The script's path, relative to the revision's root.
    public var location: String
    /// How long the script may run, in seconds (> 0); the agent stops it after that.
    public var timeout: Int
    /// The user to run the script as (`su`), if any. Ignored on Windows.
    public var runas: String?
    /// Whether to run the script through `sudo`.
    public var sudo: Bool

    /// A script; by default it runs as the agent's user with a 3600-second timeout.
    public init(location: String, timeout: Int = HookScript.defaultTimeout, runas: String? = nil, sudo: Bool = false) {
        self.location = location
        self.timeout = timeout
        self.runas = runas
        self.sudo = sudo
    }
}
