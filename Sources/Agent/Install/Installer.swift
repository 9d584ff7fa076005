import AppSpec
import Foundation

/// Why the Install step failed. The description is what the host reports to the service, in the stock agent's words
/// where clients know them (e.g. "The deployment failed because a specified file already exists at this location:
/// <path>"), and it names the path concerned.
public struct InstallError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String

    /// An error with `description` as its message.
    public init(_ description: String) {
        self.description = description
    }
}

/// What an install did.
public struct InstallSummary: Sendable, Hashable {
    /// Files and symbolic links copied from the revision.
    public var copied: Int
    /// Directories created on the host.
    public var directoriesCreated: Int
    /// Existing entries kept in place of the revision's (RETAIN).
    public var retained: Int
    /// Entries of the previous revision removed by its cleanup file.
    public var removedByCleanup: Int

    /// A summary from its counts.
    public init(copied: Int = 0, directoriesCreated: Int = 0, retained: Int = 0, removedByCleanup: Int = 0) {
        self.copied = copied
        self.directoriesCreated = directoriesCreated
        self.retained = retained
        self.removedByCleanup = removedByCleanup
    }
}

/// The Install lifecycle event of one deployment group: removes the previous revision's files, copies the new
/// revision's files onto the host and applies their permissions, keeping the stock agent's instruction files in
/// `deployment-instructions` so the next install (by this agent or the stock one) can undo it.
///
/// Regular files keep their mode and times, and their owner when the agent runs as root (as the stock agent's
/// `preserve: true` copy does); symbolic links are recreated with the same target text, never followed. Created
/// directories get the default mode (0777 less the umask), as the stock agent gives them.
public struct Installer: Sendable {
    /// `<root>/deployment-instructions`.
    public var instructionsDirectory: URL
    /// The deployment group the files in ``instructionsDirectory`` are named after.
    public var deploymentGroupID: String

    /// An installer for a deployment group; `instructionsDirectory` is `<root>/deployment-instructions`, and
    /// `deploymentGroupID` names the files in it.
    public init(instructionsDirectory: URL, deploymentGroupID: String) {
        self.instructionsDirectory = instructionsDirectory
        self.deploymentGroupID = deploymentGroupID
    }

    /// `<dg-id>-cleanup`: what the last install created, one path a line.
    public var cleanupFile: URL { instructionsDirectory.appendingPathComponent("\(deploymentGroupID)-cleanup") }
    /// `<dg-id>-install.json`: the instructions of the last install.
    public var instructionsFile: URL {
        instructionsDirectory.appendingPathComponent("\(deploymentGroupID)-install.json")
    }
    /// `<dg-id>_last_successful_install`: the deployment root of the last install that finished.
    public var lastSuccessfulInstallFile: URL {
        instructionsDirectory.appendingPathComponent("\(deploymentGroupID)_last_successful_install")
    }

    /// Installs a revision:
    /// 1. runs the previous revision's cleanup file (newest entry first; a torn last line is ignored), then deletes
    ///    it;
    /// 2. builds the instructions from `appSpec.files` and `appSpec.permissions` against `archiveDirectory` (the
    ///    unpacked revision) and writes them to `<dg-id>-install.json` in the stock format;
    /// 3. carries them out, writing the new `<dg-id>-cleanup` as it goes (a copy's destination before copying, a
    ///    directory after creating it, an SELinux context as `semanage\0<realpath>`);
    /// 4. writes `<dg-id>_last_successful_install` containing `deploymentRoot`'s path.
    ///
    /// The file-exists behaviour is `appSpec.fileExistsBehavior ?? deploymentFileExistsBehavior ?? .disallow`.
    /// Throws ``InstallError``.
    public func install(
        appSpec: ServerAppSpec,
        archiveDirectory: URL,
        deploymentRoot: URL,
        deploymentFileExistsBehavior: FileExistsBehavior?
    ) throws -> InstallSummary {
        try checkGroupID()
        let instructions = Self.path(of: instructionsDirectory)
        do {
            try FileManager.default.createDirectory(atPath: instructions, withIntermediateDirectories: true)
        } catch {
            throw InstallError("The deployment failed because the agent could not create \(instructions): \(error)")
        }

        var summary = InstallSummary()
        summary.removedByCleanup = try InstallCleanup.run(at: Self.path(of: cleanupFile))

        let archivePath = Self.path(of: archiveDirectory)
        guard let archive = InstallFileSystem.realPath(archivePath),
            InstallFileSystem.isDirectoryFollowingLinks(archive)
        else {
            throw InstallError(
                "The deployment failed because the unpacked revision directory \(archivePath) does not exist."
            )
        }
        let behavior = appSpec.fileExistsBehavior ?? deploymentFileExistsBehavior ?? .disallow
        var planner = InstallPlanner(archive: archive, behavior: behavior)
        try planner.plan(appSpec)
        try Self.write(InstallInstruction.document(planner.instructions), to: instructionsFile)

        let recorder = try CleanupRecorder(path: Self.path(of: cleanupFile))
        var executor = InstallExecutor(behavior: behavior, recorder: recorder)
        do {
            try executor.run(planner.instructions)
        } catch {
            // Keep what was recorded so far for the next install's cleanup.
            try? recorder.sync()
            throw error
        }
        summary.copied = executor.copied
        summary.directoriesCreated = executor.directoriesCreated
        summary.retained = planner.retained + executor.retained

        try Self.write(Self.path(of: deploymentRoot), to: lastSuccessfulInstallFile)
        return summary
    }

    /// The group ID becomes part of file names: refuse anything that would leave the instructions directory.
    private func checkGroupID() throws(InstallError) {
        guard !deploymentGroupID.isEmpty, !deploymentGroupID.contains("/"), deploymentGroupID != ".",
            deploymentGroupID != "..", !deploymentGroupID.contains("\0")
        else {
            throw InstallError("The deployment group ID \(deploymentGroupID.debugDescription) cannot name a file.")
        }
    }

    private static func write(_ text: String, to url: URL) throws(InstallError) {
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw InstallError("The deployment failed because the agent could not write \(path(of: url)): \(error)")
        }
    }

    /// A file URL's path without a trailing slash.
    static func path(of url: URL) -> String {
        var path = url.standardizedFileURL.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
