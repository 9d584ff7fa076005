import AppSpec
import Foundation
import Testing

@testable import Agent

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Scripts get CodeDeploy's documented variables and an allow-listed part of the agent's environment; the agent's
/// secrets (proxy credentials, AWS keys, `slipway server --dev` settings) never reach them.
@Suite struct HookEnvironmentTests {
    /// The agent's environment: what a script needs, and secrets it must not see.
    static let agentEnvironment: [String: String] = [
        "PATH": "/usr/bin:/bin", "HOME": "/root", "USER": "root", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC",
        "http_proxy": "http://u:secret-proxy@proxy.example:3128", "HTTPS_PROXY": "http://u:secret-proxy2@proxy:3128",
        "AWS_ACCESS_KEY_ID": "AKIDSECRETEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-aws-key",
        "AWS_SESSION_TOKEN": "secret-session", "SLIPWAY_S3_SECRET": "secret-slipway-s3",
        "SLIPWAY_S3_ACCESS_KEY": "secret-slipway-id", "LD_PRELOAD": "/tmp/secret-preload.so",
        "BASH_ENV": "/tmp/secret-bash-env", "LC_": "secret-empty-suffix", "path": "secret-lowercase",
    ]

    /// The documented variables and their values for `HookExecutorTests.environment`.
    static let documented: [String: String] = [
        "LIFECYCLE_EVENT": "AfterInstall", "DEPLOYMENT_ID": "d-ABCDEF123", "APPLICATION_NAME": "shop",
        "DEPLOYMENT_GROUP_NAME": "shop-prod", "DEPLOYMENT_GROUP_ID": "1b2c3d4e-0000-4000-8000-123456789abc",
        "BUNDLE_BUCKET": "releases", "BUNDLE_KEY": "shop/1.zip", "BUNDLE_ETAG": "abc123",
    ]

    /// Variables a shell sets on its own.
    static let shellVariables: Set<String> = ["PWD", "OLDPWD", "SHLVL", "_"]

    /// Runs a script that writes its environment to a file, and returns the variables.
    static func environment(
        seenBy runas: String?, agent: [String: String] = agentEnvironment, event: HookEnvironment? = nil
    ) async throws -> (variables: [String: String], text: String) {
        let sandbox = try HookSandbox()
        defer { sandbox.remove() }
        let output = sandbox.root.appendingPathComponent("env.txt")
        try sandbox.script("env.sh", "env > '\(output.path)'")
        let executor = HookExecutor(
            terminationGrace: .milliseconds(500), outputGrace: .milliseconds(500), inheritedEnvironment: agent)
        let result = await executor.run(
            scripts: [HookScript(location: "env.sh", timeout: 10, runas: runas)], revisionDirectory: sandbox.revision,
            environment: event ?? HookExecutorTests.environment, logFile: sandbox.logFile)
        #expect(result.succeeded, "\(result.message) \(result.logTail)")
        let text = try String(contentsOf: output, encoding: .utf8)
        var variables: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            variables[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return (variables, text)
    }

    @Test("a script sees the documented variables and the allow-listed ones, and none of the agent's secrets")
    func allowListed() async throws {
        let (variables, text) = try await Self.environment(seenBy: nil)
        #expect(!text.contains("secret"), "\(text)")
        for (name, value) in Self.documented { #expect(variables[name] == value, "\(name) in \(text)") }
        for name in ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ"] {
            #expect(variables[name] == Self.agentEnvironment[name], "\(name) in \(text)")
        }
        let allowed = Set(Self.documented.keys).union(HookExecutor.passedVariables).union(Self.shellVariables)
            .union(["LC_ALL"])
        #expect(Set(variables.keys).subtracting(allowed).isEmpty, "unexpected: \(text)")
    }

    @Test(
        "a script run as another user through su sees none of the agent's secrets either",
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/su"),
            "su root without a password prompt needs root (and other users would have to be created system-wide)")
    )
    func allowListedUnderRunAs() async throws {
        let (variables, text) = try await Self.environment(seenBy: "root")
        #expect(!text.contains("secret"), "\(text)")
        for (name, value) in Self.documented { #expect(variables[name] == value, "\(name) in \(text)") }
        #expect(variables["LANG"] == "C.UTF-8")
    }

    @Test("without a PATH in the agent's environment scripts get the usual one; a NUL in a value leaves it out")
    func defaultsAndHostileValues() async throws {
        var event = HookExecutorTests.environment
        event.bundle["BUNDLE_KEY"] = "shop/1.zip\0LD_PRELOAD=/tmp/x.so"
        event.applicationName = "shop\nINJECTED=1"
        let (variables, text) = try await Self.environment(seenBy: nil, agent: ["HOME": "/root"], event: event)
        #expect(variables["PATH"] == HookExecutor.defaultPath)
        #expect(variables["BUNDLE_KEY"] == nil, "\(text)")
        #expect(variables["LD_PRELOAD"] == nil)
        #expect(variables["LIFECYCLE_EVENT"] == "AfterInstall")
        // A newline is a legal character in a value: the script gets it whole, as one variable.
        let environment = HookExecutor.scriptEnvironment(inherited: [:], event: event)
        #expect(environment["APPLICATION_NAME"] == "shop\nINJECTED=1")
        #expect(environment["INJECTED"] == nil)
    }

    @Test("a variable the operator names in slipway_hook_environment reaches scripts; a bad name is refused")
    func operatorNamedVariables() async throws {
        var configuration = AgentConfiguration(configDirectory: URL(fileURLWithPath: "/nonexistent"))
        try configuration.apply(
            yaml: ":slipway_hook_environment: APP_PORT, APP_RUN_DIR\n", source: "test.yml",
            relativeTo: URL(fileURLWithPath: "/"))
        #expect(configuration.hookEnvironment == ["APP_PORT", "APP_RUN_DIR"])
        let environment = HookExecutor.scriptEnvironment(
            inherited: Self.agentEnvironment.merging(["APP_PORT": "8080", "OTHER": "no"]) { $1 },
            additional: Set(configuration.hookEnvironment), event: HookExecutorTests.environment)
        #expect(environment["APP_PORT"] == "8080")
        #expect(environment["OTHER"] == nil)
        #expect(environment["AWS_SECRET_ACCESS_KEY"] == nil)
        for bad in ["1ABC", "A-B", "A=B", "PATH\\0X", "É", "\"$(id)\""] {
            var copy = configuration
            #expect(throws: AgentConfigurationError.self, "\(bad)") {
                try copy.apply(
                    yaml: ":slipway_hook_environment: \(bad)\n", source: "test.yml",
                    relativeTo: URL(fileURLWithPath: "/"))
            }
        }
    }

    @Test("which of the agent's variables are passed on")
    func passedNames() {
        for name in [
            "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
        ] {
            #expect(HookExecutor.isPassedToScripts(name), "\(name)")
        }
        for name in [
            "LC_", "path", "http_proxy", "HTTPS_PROXY", "no_proxy", "AWS_SECRET_ACCESS_KEY", "AWS_CA_BUNDLE",
            "SLIPWAY_S3_SECRET", "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "IFS", "PS4", "",
        ] {
            #expect(!HookExecutor.isPassedToScripts(name), "\(name)")
        }
        // The CodeDeploy variables win over an inherited one of the same name.
        let environment = HookExecutor.scriptEnvironment(
            inherited: ["DEPLOYMENT_ID": "forged", "PATH": "/bin"], event: HookExecutorTests.environment)
        #expect(environment["DEPLOYMENT_ID"] == "d-ABCDEF123")
        #expect(environment["PATH"] == "/bin")
    }
}
