import AppSpec
import Foundation
import Testing

@testable import Agent

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Real scripts in a temporary revision directory, run by a real executor.
@Suite("HookExecutor")
struct HookExecutorTests {
    static let environment = HookEnvironment(
        lifecycleEvent: "AfterInstall",
        deploymentID: "d-ABCDEF123",
        applicationName: "shop",
        deploymentGroupName: "shop-prod",
        deploymentGroupID: "1b2c3d4e-0000-4000-8000-123456789abc",
        bundle: ["BUNDLE_BUCKET": "releases", "BUNDLE_KEY": "shop/1.zip", "BUNDLE_ETAG": "abc123"])

    static let quick = HookExecutor(terminationGrace: .milliseconds(500), outputGrace: .milliseconds(500))

    @Test("a script sees the CodeDeploy and bundle variables and the event succeeds")
    func succeedsWithVariables() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script(
            "scripts/env.sh",
            """
            for name in LIFECYCLE_EVENT DEPLOYMENT_ID APPLICATION_NAME DEPLOYMENT_GROUP_NAME DEPLOYMENT_GROUP_ID \\
                BUNDLE_BUCKET BUNDLE_KEY BUNDLE_ETAG LANG; do
              eval "echo $name=\\$$name"
            done
            """)
        let executor = HookExecutor(inheritedEnvironment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"])
        let result = await sandbox.run([HookScript(location: "scripts/env.sh", timeout: 10)], with: executor)

        #expect(result.succeeded)
        #expect(result.message == "Succeeded: ")
        #expect(result.scriptName == "scripts/env.sh")
        for line in [
            "LIFECYCLE_EVENT=AfterInstall", "DEPLOYMENT_ID=d-ABCDEF123", "APPLICATION_NAME=shop",
            "DEPLOYMENT_GROUP_NAME=shop-prod", "DEPLOYMENT_GROUP_ID=1b2c3d4e-0000-4000-8000-123456789abc",
            "BUNDLE_BUCKET=releases", "BUNDLE_KEY=shop/1.zip", "BUNDLE_ETAG=abc123", "LANG=C.UTF-8",
        ] {
            #expect(result.logTail.contains("[stdout]\(line)\n"), "\(line) missing from \(result.logTail)")
        }
        let payload = try Self.decode(result.diagnosticsPayload)
        #expect(payload["error_code"] as? Int == 0)
        #expect(payload["script_name"] as? String == "")
        #expect(payload["message"] as? String == "Succeeded: ")
        #expect(payload["log"] as? String == "")
    }

    @Test("an event without scripts succeeds without touching scripts.log, as in the stock agent")
    func noScripts() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let result = await sandbox.run([])
        #expect(result.succeeded)
        #expect(result.scriptName == "")
        #expect(!FileManager.default.fileExists(atPath: sandbox.logFile.path))
    }

    @Test("scripts.log gets timestamped header and output lines, appended event after event")
    func scriptsLogFormat() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("a.sh", "echo hello\necho oops >&2\nprintf 'no newline'")
        _ = await sandbox.run([HookScript(location: "a.sh", timeout: 10)])
        _ = await sandbox.run([HookScript(location: "a.sh", timeout: 10)])

        let lines = try String(contentsOf: sandbox.logFile, encoding: .utf8).split(separator: "\n").map(String.init)
        let stamp = #/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /#
        #expect(lines.allSatisfy { $0.prefixMatch(of: stamp) != nil }, "\(lines)")
        let bodies = lines.map { String($0.dropFirst(20)) }
        let event = [
            "LifecycleEvent - AfterInstall", "Script - a.sh", "[stdout]hello", "[stderr]oops", "[stdout]no newline",
        ]
        #expect(bodies.count == 10)
        #expect(bodies[0...1] == event[0...1])
        #expect(Set(bodies[2...4]) == Set(event[2...4]))
        #expect(bodies[5...9] == bodies[0...4])
        let stdout = try #require(bodies.firstIndex(of: "[stdout]hello"))
        #expect(stdout < bodies.firstIndex(of: "[stdout]no newline")!)
    }

    @Test("the running event's log can be read while its script runs, and is let go when the event ends")
    func liveLog() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("slow.sh", "echo first\necho warning >&2\nsleep 2\necho last")
        let live = LiveEventLog()
        #expect(live.snapshot == nil)
        let run = Task {
            await Self.quick.run(
                scripts: [HookScript(location: "slow.sh", timeout: 10)], revisionDirectory: sandbox.revision,
                environment: Self.environment, logFile: sandbox.logFile, live: live)
        }
        var seen: (text: String, appended: Int)? = nil
        for _ in 0..<150 {
            if let snapshot = live.snapshot, snapshot.text.contains("[stderr]warning") {
                seen = snapshot
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let during = try #require(seen, "the first lines never showed while the script ran")
        #expect(during.text.contains("[stdout]first"))
        #expect(!during.text.contains("[stdout]last"))
        let result = await run.value
        #expect(result.succeeded)
        #expect(result.eventLog.contains("[stdout]last"))
        #expect(live.snapshot == nil)
    }

    @Test("a missing script fails with code 1 and names its absolute path")
    func missingScript() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let result = await sandbox.run([HookScript(location: "scripts/nope.sh", timeout: 10)])
        #expect(result.errorCode == .scriptMissing)
        #expect(result.scriptName == "scripts/nope.sh")
        let absolute = sandbox.revision.appendingPathComponent("scripts/nope.sh").standardizedFileURL.path
        #expect(result.message == "Script does not exist at specified location: \(absolute)")
        let payload = try Self.decode(result.diagnosticsPayload)
        #expect(payload["error_code"] as? Int == 1)
        #expect(payload["script_name"] as? String == "scripts/nope.sh")
        #expect(payload["log"] as? String == "LifecycleEvent - AfterInstall\n")
    }

    @Test("a script path that leads out of the revision is refused, through .. or a symlink")
    func escapingPaths() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let marker = sandbox.root.appendingPathComponent("ran")
        let outside = sandbox.root.appendingPathComponent("outside.sh")
        try "#!/bin/sh\ntouch '\(marker.path)'\n".write(to: outside, atomically: true, encoding: .utf8)
        chmod(outside.path, 0o755)
        try FileManager.default.createSymbolicLink(
            at: sandbox.revision.appendingPathComponent("link.sh"), withDestinationURL: outside)

        for location in ["../outside.sh", "scripts/../../outside.sh", "link.sh"] {
            let result = await sandbox.run([HookScript(location: location, timeout: 10)])
            #expect(result.errorCode == .scriptMissing, "\(location)")
            #expect(result.message.contains("outside the revision directory"), "\(result.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker.path))
    }

    @Test("a leading slash still means the revision's root, as in the stock agent")
    func leadingSlash() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("scripts/start.sh", "echo started")
        let result = await sandbox.run([HookScript(location: "/scripts/start.sh", timeout: 10)])
        #expect(result.succeeded)
        #expect(result.logTail.hasSuffix("[stdout]started\n"))
    }

    @Test("a script without execute permission is made executable and runs")
    func madeExecutable() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let path = try sandbox.script("plain.sh", "echo ran", executable: false)
        let result = await sandbox.run([HookScript(location: "plain.sh", timeout: 10)])
        #expect(result.succeeded)
        #expect(result.logTail.hasSuffix("[stdout]ran\n"))
        #expect(access(path.path, X_OK) == 0)
        #expect(result.warnings.contains { $0.contains("made it executable") })
    }

    @Test("a directory in place of a script cannot be made executable: code 2")
    func directoryIsNotExecutable() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try FileManager.default.createDirectory(
            at: sandbox.revision.appendingPathComponent("scripts/start"), withIntermediateDirectories: true)
        let result = await sandbox.run([HookScript(location: "scripts/start", timeout: 10)])
        #expect(result.errorCode == .scriptNotExecutable)
        #expect(result.message == "Script at specified location: scripts/start is not a regular file")
    }

    @Test("a file without a #! line runs with /bin/sh")
    func noShebang() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let path = sandbox.revision.appendingPathComponent("bare.sh")
        try "echo bare $((1 + 2))\n".write(to: path, atomically: true, encoding: .utf8)
        chmod(path.path, 0o755)
        let result = await sandbox.run([HookScript(location: "bare.sh", timeout: 10)])
        #expect(result.succeeded, "\(result.message)")
        #expect(result.logTail.hasSuffix("[stdout]bare 3\n"))
    }

    @Test("a non-zero exit fails with code 4 and the stock message; the log tail goes with it")
    func exitCode() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("fail.sh", "echo about to fail\nexit 3")
        let result = await sandbox.run([HookScript(location: "fail.sh", timeout: 10)])
        #expect(result.errorCode == .scriptFailed)
        #expect(result.message == "Script at specified location: fail.sh failed with exit code 3")
        let payload = try Self.decode(result.diagnosticsPayload)
        #expect(payload["error_code"] as? Int == 4)
        #expect(payload["script_name"] as? String == "fail.sh")
        #expect(payload["message"] as? String == result.message)
        #expect(payload["log"] as? String == "LifecycleEvent - AfterInstall\nScript - fail.sh\n[stdout]about to fail\n")
    }

    @Test("the first failing script ends the event; later scripts do not run")
    func firstFailureStops() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let marker = sandbox.root.appendingPathComponent("second-ran")
        try sandbox.script("first.sh", "exit 1")
        try sandbox.script("second.sh", "touch '\(marker.path)'")
        let result = await sandbox.run([
            HookScript(location: "first.sh", timeout: 10), HookScript(location: "second.sh", timeout: 10),
        ])
        #expect(result.errorCode == .scriptFailed)
        #expect(result.scriptName == "first.sh")
        #expect(!FileManager.default.fileExists(atPath: marker.path))
        #expect(!result.eventLog.contains("Script - second.sh"))
    }

    @Test("a script past its timeout is stopped with its whole process group: code 3")
    func timeoutStopsGroup() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script(
            "slow.sh",
            """
            sleep 300 &
            echo $! > '\(sandbox.root.path)/child.pid'
            echo $$ > '\(sandbox.root.path)/script.pid'
            sleep 300
            """)
        let clock = ContinuousClock()
        let start = clock.now
        let result = await sandbox.run([HookScript(location: "slow.sh", timeout: 1)])
        #expect(clock.now - start < .seconds(4))
        #expect(result.errorCode == .scriptTimedOut)
        #expect(result.message == "Script at specified location: slow.sh failed to complete in 1 seconds")
        let script = try sandbox.pid("script.pid")
        let child = try sandbox.pid("child.pid")
        #expect(await Self.gone(script))
        #expect(await Self.gone(child))
    }

    @Test("a script that ignores SIGTERM is killed once the termination grace has passed")
    func termIgnored() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script(
            "stubborn.sh",
            """
            trap '' TERM
            echo $$ > '\(sandbox.root.path)/script.pid'
            sleep 300
            """)
        let clock = ContinuousClock()
        let start = clock.now
        let result = await sandbox.run([HookScript(location: "stubborn.sh", timeout: 1)])
        let elapsed = clock.now - start
        #expect(result.errorCode == .scriptTimedOut)
        #expect(elapsed >= .milliseconds(1500))
        #expect(elapsed < .seconds(5))
        #expect(await Self.gone(try sandbox.pid("script.pid")))
    }

    @Test("a background process holding the script's output does not hold up the event and keeps running")
    func backgroundProcessKeepsPipes() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script(
            "start.sh",
            """
            sleep 30 &
            echo $! > '\(sandbox.root.path)/sleeper.pid'
            (sleep 1; while :; do echo tick; sleep 0.1; done) &
            echo $! > '\(sandbox.root.path)/ticker.pid'
            echo started
            """)
        let executor = HookExecutor(terminationGrace: .milliseconds(500), outputGrace: .milliseconds(500))
        let clock = ContinuousClock()
        let start = clock.now
        let result = await sandbox.run([HookScript(location: "start.sh", timeout: 20)], with: executor)
        let sleeper = try sandbox.pid("sleeper.pid")
        let ticker = try sandbox.pid("ticker.pid")
        defer {
            kill(sleeper, SIGKILL)
            kill(ticker, SIGKILL)
        }
        #expect(clock.now - start < .seconds(3))
        #expect(result.succeeded, "\(result.message)")
        #expect(result.logTail.contains("[stdout]started\n"))
        #expect(result.warnings.contains { $0.contains("background process") })
        let log = try String(contentsOf: sandbox.logFile, encoding: .utf8)
        #expect(log.contains("Warning - a background process kept the output of start.sh open"))
        // The ticker starts writing after reading has stopped: it must not die of SIGPIPE.
        try await Task.sleep(for: .seconds(1.5))
        #expect(Self.alive(sleeper))
        #expect(Self.alive(ticker))
    }

    @Test("cancelling the task stops the running script and fails the event")
    func cancellation() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let pidFile = sandbox.root.appendingPathComponent("script.pid")
        try sandbox.script("long.sh", "echo $$ > '\(pidFile.path)'\nsleep 300")
        let task = Task { await sandbox.run([HookScript(location: "long.sh", timeout: 60)]) }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: pidFile.path) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let pid = try sandbox.pid("script.pid")
        let clock = ContinuousClock()
        let start = clock.now
        task.cancel()
        let result = await task.value
        #expect(clock.now - start < .seconds(3))
        #expect(!result.succeeded)
        #expect(result.errorCode == .unknownError)
        #expect(result.message.contains("long.sh"))
        #expect(await Self.gone(pid))
    }

    @Test("the log tail is at most 4096 bytes and ends with the last output")
    func logTailBounded() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("many.sh", "i=0\nwhile [ $i -lt 3000 ]; do i=$((i+1)); echo \"line $i ünïcödé\"; done")
        let result = await sandbox.run([HookScript(location: "many.sh", timeout: 20)])
        #expect(result.succeeded)
        #expect(result.logTail.utf8.count <= 4096)
        #expect(result.logTail.utf8.count > 3500)
        #expect(result.logTail.hasPrefix("[stdout]line "))
        #expect(result.logTail.hasSuffix("[stdout]line 3000 ünïcödé\n"))
        #expect(result.eventLog.contains("[stdout]line 1 ünïcödé\n"))
    }

    @Test("megabytes of output, invalid UTF-8 and a very long line neither crash nor hang the event")
    func hostileOutput() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script(
            "noisy.sh",
            """
            printf 'bad \\377\\376 bytes\\n'
            head -c 200000 /dev/zero | tr '\\0' a
            echo
            yes 'a line of a service that logs a lot' | head -c 3000000
            echo
            echo the end
            """)
        let result = await sandbox.run([HookScript(location: "noisy.sh", timeout: 20)])
        #expect(result.succeeded, "\(result.message)")
        #expect(result.logTail.hasSuffix("[stdout]the end\n"))
        #expect(result.logTail.utf8.count <= 4096)
        #expect(result.eventLog.utf8.count <= (1 << 20) + 200)
        #expect(result.eventLog.hasPrefix("[the first "))
        let log = try Data(contentsOf: sandbox.logFile)
        #expect(log.count > 2_000_000)
        let lines = log.split(separator: UInt8(ascii: "\n"))
        #expect(lines.allSatisfy { $0.count <= 64 * 1024 + 100 })
        let text = String(decoding: log, as: UTF8.self)
        #expect(text.contains("[stdout]bad \u{FFFD}\u{FFFD} bytes\n"))
        #expect(text.contains("[line cut at 65536 bytes]"))
    }

    @Test(
        "runas goes through su; a failure names the user",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/su"),
            "su root without a password prompt needs root (and other users would have to be created system-wide)")
    )
    func runAs() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("who.sh", "echo \"user=$(id -un) event=$LIFECYCLE_EVENT\"")
        try sandbox.script("bad.sh", "exit 2")
        let ok = await sandbox.run([HookScript(location: "who.sh", timeout: 10, runas: "root")])
        #expect(ok.succeeded, "\(ok.message)")
        #expect(ok.logTail.contains("[stdout]user=root event=AfterInstall\n"))
        let failed = await sandbox.run([HookScript(location: "bad.sh", timeout: 10, runas: "root")])
        #expect(failed.message == "Script at specified location: bad.sh run as user root failed with exit code 2")
    }

    @Test(
        "a script run through su or sudo is stopped at its timeout, with its children",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/su")
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/sudo"),
            "su and sudo without a password prompt need root")
    )
    func timeoutThroughSuAndSudo() async throws {
        for (runas, sudo) in [("root", false), ("root", true)] as [(String?, Bool)] {
            let sandbox = try HookSandbox()
            defer { sandbox.remove() }
            try sandbox.script(
                "slow.sh",
                """
                sleep 300 &
                echo $! > '\(sandbox.root.path)/child.pid'
                echo $$ > '\(sandbox.root.path)/script.pid'
                sleep 300
                """)
            let result = await sandbox.run([HookScript(location: "slow.sh", timeout: 1, runas: runas, sudo: sudo)])
            #expect(result.errorCode == .scriptTimedOut)
            #expect(await Self.gone(try sandbox.pid("script.pid")), "sudo: \(sudo)")
            #expect(await Self.gone(try sandbox.pid("child.pid")), "sudo: \(sudo)")
        }
    }

    @Test(
        "sudo, with and without runas, runs the script",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/sudo"),
            "sudo without a password prompt needs root")
    )
    func sudo() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("who.sh", "echo \"user=$(id -un)\"")
        let plain = await sandbox.run([HookScript(location: "who.sh", timeout: 10, sudo: true)])
        #expect(plain.succeeded, "\(plain.message)")
        #expect(plain.logTail.contains("[stdout]user=root"))
        let both = await sandbox.run([HookScript(location: "who.sh", timeout: 10, runas: "root", sudo: true)])
        #expect(both.succeeded, "\(both.message)")
        #expect(both.logTail.contains("[stdout]user=root"))
    }

    @Test("a runas value that su would read as an option is refused")
    func hostileUserName() async throws {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        try sandbox.script("who.sh", "echo hi")
        let result = await sandbox.run([HookScript(location: "who.sh", timeout: 10, runas: "--session-command=/bin/sh")]
        )
        #expect(result.errorCode == .scriptFailed)
        #expect(result.message.contains("not a valid user name"))
    }

    // MARK: - Helpers

    static func decode(_ json: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    /// Alive and not a zombie waiting for whoever reaps orphans.
    static func alive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        #if os(Linux)
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            {
                return !stat[stat.index(after: close)...].hasPrefix(" Z")
            }
        #endif
        return true
    }

    /// Waits a moment for a killed process to be gone (an orphan is reaped by someone else).
    static func gone(_ pid: pid_t) async -> Bool {
        for _ in 0..<50 {
            if !alive(pid) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

/// A temporary directory with a revision in it and a log file that does not exist yet.
struct HookSandbox: Sendable {
    let root: URL
    let revision: URL
    let logFile: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("hooks-\(UUID().uuidString)")
        revision = root.appendingPathComponent("deployment-archive")
        logFile = root.appendingPathComponent("logs/scripts.log")
        try FileManager.default.createDirectory(at: revision, withIntermediateDirectories: true)
    }

    @discardableResult
    func script(_ location: String, _ body: String, executable: Bool = true) throws -> URL {
        let url = revision.appendingPathComponent(location)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ("#!/bin/sh\n" + body + "\n").write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, executable ? 0o755 : 0o644)
        return url
    }

    func run(_ scripts: [HookScript], with executor: HookExecutor = HookExecutorTests.quick) async -> HookResult {
        await executor.run(
            scripts: scripts, revisionDirectory: revision, environment: HookExecutorTests.environment, logFile: logFile)
    }

    func pid(_ name: String) throws -> pid_t {
        let text = try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
        return try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}
