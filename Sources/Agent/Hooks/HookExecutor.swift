import AppSpec
import Foundation
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs the scripts of one lifecycle event the way the stock agent does (`hook_executor.rb`): one after another,
/// each in its own process group with its own timeout, output appended line by line to the deployment's scripts.log;
/// the first failure ends the event.
///
/// Where it parts from the stock agent:
/// - A background process that keeps the script's stdout/stderr open does not hold up the event: once the script has
///   exited, output is read for `outputGrace` more, then the event goes on with a warning (the stock agent waits for
///   the deadline and fails with code 6). The process is left running.
/// - A script whose path leads out of the revision directory (`..`, a symlink) is refused.
/// - Cancelling the task stops the running script's whole process group.
public struct HookExecutor: Sendable {
    /// How long a stopped script's process group gets between SIGTERM and SIGKILL.
    public var terminationGrace: Duration
    /// How long output is still read after a script has exited while something else holds its pipes open.
    public var outputGrace: Duration
    /// The agent's environment, of which scripts get only the allow-listed variables (`isPassedToScripts`), those
    /// the operator names in `additionalVariables`, and the CodeDeploy ones.
    public var inheritedEnvironment: [String: String]
    /// Names of the agent's variables scripts also get (`:slipway_hook_environment:`).
    public var additionalVariables: Set<String>

    /// The longest line kept in scripts.log; longer lines are cut.
    static let lineLimit = 64 * 1024

    /// An executor; tests shorten the grace periods.
    public init(
        terminationGrace: Duration = .seconds(5),
        outputGrace: Duration = .seconds(2),
        inheritedEnvironment: [String: String] = ProcessInfo.processInfo.environment,
        additionalVariables: [String] = []
    ) {
        self.terminationGrace = terminationGrace
        self.outputGrace = outputGrace
        self.inheritedEnvironment = inheritedEnvironment
        self.additionalVariables = Set(additionalVariables)
    }

    /// Runs `scripts` (AppSpec HookScript values: location relative to `revisionDirectory`, timeout seconds, runas,
    /// sudo) one after another; the first failure ends the event.
    ///
    /// Appends to `logFile` (…/<deployment-id>/logs/scripts.log, created with its directory if missing) in the stock
    /// agent's format. Cancelling the task terminates the running script's whole process group (TERM, then KILL
    /// after `terminationGrace`) and returns a failed result.
    public func run(
        scripts: [HookScript],
        revisionDirectory: URL,
        environment: HookEnvironment,
        logFile: URL,
        live: LiveEventLog? = nil
    ) async -> HookResult {
        // The stock agent opens no log for an event without scripts.
        guard !scripts.isEmpty else {
            return HookResult(errorCode: .succeeded, scriptName: "", message: HookResult.succeededMessage)
        }
        let log: HookScriptLog
        do {
            log = try HookScriptLog(file: logFile)
        } catch {
            return HookResult(
                errorCode: .unknownError, scriptName: "",
                message: "Unable to open the script log at \(logFile.path): "
                    + ((error as? AgentError)?.description ?? error.localizedDescription))
        }
        live?.attach(log)
        defer {
            live?.attach(nil)
            log.close()
        }
        var warnings: [String] = []
        func warn(_ text: String) {
            warnings.append(text)
            log.append(["Warning - " + text])
        }
        func result(_ code: ScriptErrorCode, _ scriptName: String, _ message: String) -> HookResult {
            if let writeError = log.writeError {
                warnings.append("scripts.log at \(log.path) could not be written: \(writeError)")
            }
            return HookResult(
                errorCode: code, scriptName: scriptName, message: message,
                logTail: log.logTail, eventLog: log.eventLog, warnings: warnings)
        }

        log.append(["LifecycleEvent - " + environment.lifecycleEvent])
        let variables = Self.scriptEnvironment(
            inherited: inheritedEnvironment, additional: additionalVariables, event: environment)
        var lastScript = ""
        for script in scripts {
            lastScript = script.location
            if Task.isCancelled {
                return result(
                    .unknownError, script.location,
                    "Script at specified location: \(script.location) did not run: the lifecycle event was cancelled")
            }
            let prepared: PreparedScript
            switch prepare(script, in: revisionDirectory) {
            case .failure(let failure):
                return result(failure.code, script.location, failure.message)
            case .success(let value):
                prepared = value
            }
            log.append(["Script - " + script.location])
            if let note = prepared.note { warn(note) }
            let path = prepared.path
            let outcome = await execute(script, at: path, environment: variables, log: log)
            for text in outcome.warnings { warn(text) }
            if let failure = outcome.failure {
                return result(failure.code, script.location, failure.message)
            }
        }
        return result(.succeeded, lastScript, HookResult.succeededMessage)
    }

    // MARK: - The scripts' environment

    /// Variables of the agent's own environment that scripts get: what a shell script needs to find programs, know
    /// its user and home, and format text and times. Everything else stays with the agent: proxy settings (which may
    /// carry credentials), `AWS_*` keys, the `SLIPWAY_*` settings of `slipway server --dev`, loader variables
    /// (`LD_PRELOAD`, `BASH_ENV`). `LC_*` variables are passed too.
    static let passedVariables: Set<String> = [
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    ]

    /// The search path scripts get when the agent has none.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Whether the agent's variable `name` is passed on to scripts.
    static func isPassedToScripts(_ name: String) -> Bool {
        passedVariables.contains(name) || (name.hasPrefix("LC_") && name.count > 3)
    }

    /// What a script's process gets: the allow-listed part of the agent's environment and the variables the operator
    /// added, then CodeDeploy's variables (which win). A name or value that cannot be a variable (empty, with `=` in the name, with a NUL byte) is left
    /// out rather than cut.
    static func scriptEnvironment(
        inherited: [String: String], additional: Set<String> = [], event: HookEnvironment
    ) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in inherited where isPassedToScripts(name) || additional.contains(name) {
            result[name] = value
        }
        if result["PATH"]?.isEmpty ?? true { result["PATH"] = defaultPath }
        for (name, value) in event.variables { result[name] = value }
        return result.filter { name, value in
            !name.isEmpty && !name.contains("=") && !name.utf8.contains(0) && !value.utf8.contains(0)
        }
    }

    // MARK: - Before a script runs

    struct Failure: Error {
        var code: ScriptErrorCode
        var message: String
    }

    struct PreparedScript {
        var path: String
        var note: String?
    }

    /// Finds the script, checks that it stays inside the revision, and makes it executable if it is not.
    func prepare(_ script: HookScript, in revisionDirectory: URL) -> Result<PreparedScript, Failure> {
        let root = revisionDirectory.standardizedFileURL.path
        // As in the stock agent (Ruby's File.join), a leading slash still means the revision's root.
        let relative = script.location.drop { $0 == "/" }
        let path = URL(fileURLWithPath: root).appendingPathComponent(String(relative)).standardizedFileURL.path
        let outside = Failure(
            code: .scriptMissing,
            message: "Script at specified location: \(script.location) is outside the revision directory \(root)")
        guard path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else { return .failure(outside) }

        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failure(
                Failure(code: .scriptMissing, message: "Script does not exist at specified location: \(path)"))
        }
        // A symlink inside the revision may point anywhere; what it resolves to must be inside too.
        guard let resolvedRoot = Self.realPath(root), let resolved = Self.realPath(path),
            resolved.hasPrefix(resolvedRoot.hasSuffix("/") ? resolvedRoot : resolvedRoot + "/")
        else { return .failure(outside) }

        guard info.st_mode & S_IFMT == S_IFREG else {
            return .failure(
                Failure(
                    code: .scriptNotExecutable,
                    message: "Script at specified location: \(script.location) is not a regular file"))
        }
        guard access(path, X_OK) != 0 else { return .success(PreparedScript(path: path)) }
        let cannotFix = Failure(
            code: .scriptNotExecutable,
            message: "Unable to set script at specified location: \(script.location) as executable")
        guard chmod(path, (info.st_mode & 0o7777) | 0o111) == 0, access(path, X_OK) == 0 else {
            return .failure(cannotFix)
        }
        return .success(
            PreparedScript(
                path: path,
                note: "Script at specified location: \(script.location) was not executable; made it executable"))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    // MARK: - Running a script

    struct Outcome {
        var failure: Failure?
        var warnings: [String] = []
    }

    /// The command the stock agent builds (`linux_util.rb`): the script itself, `sudo <path>`, `su <user> -c
    /// <path>` or `sudo su <user> -c <path>`.
    static func command(for script: HookScript, at path: String) -> (executable: Executable, arguments: [String]) {
        guard let user = script.runas else {
            return script.sudo ? (.name("sudo"), [path]) : (.path(FilePath(path)), [])
        }
        // su hands the argument of -c to the user's shell, so the path is quoted for it.
        let shellPath = "'" + path.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
        let arguments = [user, "-c", shellPath]
        return script.sudo ? (.name("sudo"), ["su"] + arguments) : (.name("su"), arguments)
    }

    /// A user name `su` cannot take as an option or split.
    static func isPlausibleUserName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "-" else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.properties.isAlphabetic || $0.properties.numericType != nil || "._-$@".unicodeScalars.contains($0)
        }
    }

    func execute(_ script: HookScript, at path: String, environment: [String: String], log: HookScriptLog) async
        -> Outcome
    {
        let prefix =
            script.runas.map { "Script at specified location: \(script.location) run as user \($0)" }
            ?? "Script at specified location: \(script.location)"
        if let user = script.runas, !Self.isPlausibleUserName(user) {
            return Outcome(
                failure: Failure(code: .scriptFailed, message: "\(prefix) failed: \(user) is not a valid user name"))
        }
        var command = Self.command(for: script, at: path)
        var launched = await launch(command, environment: environment, timeout: script.timeout, log: log)
        if case .launchFailed(let error) = launched.status, error.underlyingError?.rawValue == ENOEXEC {
            // Like Ruby's exec (and sudo, and the shell under su), run a file without a #! line with /bin/sh.
            command = (.path("/bin/sh"), [path])
            launched = await launch(command, environment: environment, timeout: script.timeout, log: log)
        }

        var outcome = Outcome()
        if !launched.outputClosed {
            outcome.warnings.append(
                "a background process kept the output of \(script.location) open after it ended; stopped reading "
                    + "after \(Self.describe(outputGrace))")
        }
        switch launched.status {
        case .exited(.exited(0)):
            break
        case .exited(.exited(let code)):
            outcome.failure = Failure(code: .scriptFailed, message: "\(prefix) failed with exit code \(code)")
        case .exited(.signaled(let signal)):
            outcome.failure = Failure(code: .scriptFailed, message: "\(prefix) failed: killed by signal \(signal)")
        case .timedOut:
            outcome.failure = Failure(
                code: .scriptTimedOut,
                message:
                    "Script at specified location: \(script.location) failed to complete in \(script.timeout) seconds")
        case .cancelled:
            outcome.failure = Failure(
                code: .unknownError,
                message:
                    "Script at specified location: \(script.location) was stopped: the lifecycle event was cancelled")
        case .launchFailed(let error):
            outcome.failure = Failure(code: .scriptFailed, message: "\(prefix) failed with error \(error)")
        case .internalError(let text):
            outcome.failure = Failure(code: .unknownError, message: "\(prefix) could not be started: \(text)")
        }
        return outcome
    }

    enum Status {
        case exited(TerminationStatus)
        case timedOut
        case cancelled
        case launchFailed(SubprocessError)
        case internalError(String)
    }

    struct Launched {
        var status: Status
        var outputClosed: Bool
    }

    /// Starts the command in a new session (so that it leads its own process group), reads its output into the log,
    /// and stops the group when the timeout passes or the task is cancelled.
    func launch(
        _ command: (executable: Executable, arguments: [String]),
        environment: [String: String],
        timeout: Int,
        log: HookScriptLog
    ) async -> Launched {
        guard let standardOutput = Pipe() else {
            return Launched(status: .internalError(String(cString: strerror(errno))), outputClosed: true)
        }
        guard let standardError = Pipe() else {
            let reason = String(cString: strerror(errno))
            standardOutput.close()
            return Launched(status: .internalError(reason), outputClosed: true)
        }
        let pump = HookOutputPump(
            standardOutput: standardOutput.read, standardError: standardError.read, lineLimit: Self.lineLimit
        ) { entries in log.append(entries) }
        pump.start()

        var options = PlatformOptions()
        options.createSession = true
        let configuration = Configuration(
            executable: command.executable,
            arguments: Arguments(command.arguments),
            environment: .custom(
                Dictionary(
                    environment.compactMap { key, value in Environment.Key(rawValue: key).map { ($0, value) } },
                    uniquingKeysWith: { _, last in last })),
            platformOptions: options)
        let group = ProcessGroup()
        // Not a child task, so that cancelling the caller does not reach swift-subprocess's own teardown (which stops
        // once the script itself is gone): `group.stop(grace:)` below stops the whole group instead.
        let running = Task {
            try await Subprocess.run(
                configuration,
                input: .none,
                output: .fileDescriptor(
                    FileDescriptor(rawValue: standardOutput.write), closeAfterSpawningProcess: true),
                error: .fileDescriptor(FileDescriptor(rawValue: standardError.write), closeAfterSpawningProcess: true)
            ) { execution in
                group.started(execution.processIdentifier.value)
            }.terminationStatus
        }

        enum First { case exited, timedOut, cancelled }
        let first = await withTaskGroup(of: First.self) { tasks in
            tasks.addTask {
                _ = await running.result
                return .exited
            }
            tasks.addTask {
                do {
                    try await Task.sleep(for: .seconds(max(timeout, 0)))
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await tasks.next() ?? .exited
            if first != .exited {
                let grace = terminationGrace
                await Task { await group.stop(grace: grace) }.value
            }
            tasks.cancelAll()
            return first
        }

        let status: Status
        switch (first, await running.result) {
        case (_, .failure(let error as SubprocessError)) where group.pid == nil:
            status = .launchFailed(error)
        case (_, .failure(let error)):
            status = .internalError("\(error)")
        case (.exited, .success(let termination)):
            status = .exited(termination)
        case (.timedOut, _):
            status = .timedOut
        case (.cancelled, _):
            status = .cancelled
        }
        let grace = outputGrace
        let closed = await Task { await pump.finish(grace: grace) }.value
        return Launched(status: status, outputClosed: closed)
    }

    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds) s" }
        return "\(Double(seconds) + Double(attoseconds) / 1e18) s"
    }
}

/// A pipe whose ends are closed on exec, so that only the script (which gets the write end as its stdout or stderr)
/// holds it — not processes started at the same time by other code.
///
/// `pipe2` is not in Swift's Glibc module, hence `pipe` and then `FD_CLOEXEC`; children started through
/// swift-subprocess close every descriptor above 2 anyway, so the moment between the two calls is harmless for them.
private struct Pipe {
    var read: Int32
    var write: Int32

    init?() {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return nil }
        read = descriptors[0]
        write = descriptors[1]
        _ = fcntl(read, F_SETFD, FD_CLOEXEC)
        _ = fcntl(write, F_SETFD, FD_CLOEXEC)
    }

    func close() {
        closeDescriptor(read)
        closeDescriptor(write)
    }
}

/// The process group a script leads, once it has started.
private final class ProcessGroup: Sendable {
    private let leader = Mutex<pid_t?>(nil)

    func started(_ pid: pid_t) {
        leader.withLock { $0 = pid }
    }

    var pid: pid_t? { leader.withLock { $0 } }

    /// Sends SIGTERM to the whole group, waits up to `grace` for all its members to be gone, then sends SIGKILL.
    ///
    /// The group's ID is the leader's pid; it stays reserved while any member is alive, so a late signal cannot reach
    /// an unrelated group unless every member is gone and the pid has been reused in the few seconds since.
    func stop(grace: Duration) async {
        var waited = Duration.zero
        // The script may not have started yet when the task is cancelled at once.
        while pid == nil, waited < .seconds(1) {
            try? await Task.sleep(for: .milliseconds(10))
            waited += .milliseconds(10)
        }
        guard let pid else { return }
        guard kill(-pid, SIGTERM) == 0 else { return }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if kill(-pid, 0) != 0 { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        _ = kill(-pid, SIGKILL)
    }
}
