import AppSpec
import ArgumentParser
import Foundation
import S3Transfer

/// `slipway deploy`: bundle a directory, upload it, create a deployment and follow it (`start`, the default);
/// `status` and `watch` for an existing deployment.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Push a directory, create a deployment and follow it live.",
        discussion: """
            Zips DIR (default: the current directory), uploads it to the server's built-in S3, registers it as a \
            revision of the application, creates a deployment to the deployment group and follows it until it \
            ends. DIR must have appspec.yml (or appspec.yaml) at its root; it is validated first and an invalid \
            one is refused with its findings before anything is uploaded.

            The zip holds files, directories and symbolic links (as links, not followed; a link must point \
            inside DIR, as agents refuse others), depth first with the names of each directory in byte order, \
            with their modes (the executable bit of hook scripts survives). Left out at any depth: .git, .hg, .svn, .slipwayignore itself, and what .slipwayignore at the root of DIR excludes. That file takes \
            a subset of .gitignore: blank lines and # comments; `name` (a file or directory of that name at any \
            depth); `dir/` (directories only); `*`, `?` (not across /); `*.ext`; `path/**` (everything under \
            path); `**/name`, `a/**/b`; a pattern with a / other than a trailing one is relative to DIR (a leading \
            / only anchors); `!pattern` re-includes (the last matching line wins, and nothing inside an excluded \
            directory can be re-included); \\ escapes a leading # or !. Character classes ([abc]) are not \
            supported. `--list-files` prints what would be bundled and stops.

            While the deployment runs, a terminal shows a table redrawn about once a second: the deployment's \
            status and counts, and per host its status, current lifecycle event, elapsed time and a bar of events \
            done. Without a terminal (or with --no-tty) it prints one line per change, e.g. \
            `12:00:01 web-1 BeforeInstall Succeeded (0.4 s)`. At the end: a summary line; for a failure, each \
            failed host's lifecycle event, error code, message and script log tail, the deployment's error and \
            any rollback deployment. --json prints only one JSON document at the end: \
            {"deploymentInfo": …, "deploymentTargets": […]}, as GetDeployment and BatchGetDeploymentTargets \
            answer them.

            Credentials, region, endpoint and CA bundle are found as the AWS CLI finds them: the flags, then \
            AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_CA_BUNDLE, then \
            the profile's entries in ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE, \
            AWS_SHARED_CREDENTIALS_FILE).

            Exit status: 0 the deployment succeeded (or was created, with --no-follow); 1 it failed; 2 it was \
            stopped; 3 the command could not do its work (a usage error, an invalid bundle, an error from the \
            server or no connection to it); 4 `slipway deploy status` of a deployment that has not finished. \
            Argument syntax errors found by the parser exit 64, as for every slipway command.

            `slipway deploy [DIR] [options]` is short for `slipway deploy start [DIR] [options]`; see \
            `slipway deploy start --help` for the options. A directory called start, status or watch must be \
            given as ./start, ./status or ./watch.
            """,
        subcommands: [Start.self, Status.self, Watch.self, Logs.self],
        defaultSubcommand: Start.self
    )
}

extension DeployCommand {
    /// `slipway deploy start [DIR]`: the default subcommand.
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bundle a directory, upload it, create a deployment and follow it.",
            discussion: """
                Exits 0 succeeded (or created, with --no-follow), 1 failed, 2 stopped, 3 when the deployment \
                could not be created (usage, invalid bundle, server error, no connection). See \
                `slipway deploy --help` for the bundle, .slipwayignore and the output.
                """)

        @Argument(help: "The directory to deploy.")
        var directory: String = "."

        @Option(help: "The application to deploy.")
        var application: String?

        @Option(help: "The deployment group to deploy to.")
        var deploymentGroup: String?

        @Option(help: "The bucket of the server's built-in S3 to upload to; created when missing.")
        var bucket: String = "slipway-revisions"

        @Option(
            help: "The object key. (default: <application>/<UTC timestamp>-<first 12 hex digits of its SHA-256>.zip)")
        var key: String?

        @Flag(
            help: ArgumentHelp(
                "Create the application and the deployment group when they do not exist.",
                discussion: """
                    A new group targets the on-premises instances with the --tag-filter tags, rolls back \
                    automatically on DEPLOYMENT_FAILURE, and names the service role \
                    arn:aws:iam::<account>:role/slipway (Slipway does not use it).
                    """))
        var createMissing = false

        @Option(
            help: ArgumentHelp(
                "An on-premises instance tag KEY=VALUE a new deployment group targets (repeatable). (default: env=dev)",
                valueName: "KEY=VALUE"))
        var tagFilter: [String] = []

        @Option(help: "The deployment configuration. (default: the deployment group's)")
        var deploymentConfig: String?

        @Option(help: "What the agent does with files already at a destination: DISALLOW, OVERWRITE or RETAIN.")
        var fileExistsBehavior: String?

        @Option(help: "A description of the deployment and of the revision (at most 256 characters).")
        var description: String?

        @Flag(help: "Print the new deployment's id and exit instead of following the deployment.")
        var noFollow = false

        @Flag(help: "Print the entries the bundle would hold, one a line, and exit without contacting the server.")
        var listFiles = false

        @OptionGroup var output: DeployOutputOptions
        @OptionGroup var connection: DeployConnectionOptions

        func run() async throws {
            do {
                try await deploy()
            } catch let exit as ExitCode {
                throw exit
            } catch {
                printToStandardError("slipway deploy: \(error)")
                throw ExitCode(DeployExit.usage)
            }
        }

        private func deploy() async throws {
            let bundle = try RevisionBundle(directory: URL(fileURLWithPath: directory))
            if listFiles {
                for entry in bundle.entries {
                    switch entry.kind {
                    case .file: printToStandardOutput(entry.path)
                    case .directory: printToStandardOutput(entry.path + "/")
                    case .symlink(let destination): printToStandardOutput("\(entry.path) -> \(destination)")
                    }
                }
                return
            }
            guard let application, !application.isEmpty else { throw ClientError("give --application NAME") }
            guard let deploymentGroup, !deploymentGroup.isEmpty else {
                throw ClientError("give --deployment-group NAME")
            }
            if let fileExistsBehavior, FileExistsBehavior(rawValue: fileExistsBehavior.uppercased()) == nil {
                throw ClientError(
                    "--file-exists-behavior takes DISALLOW, OVERWRITE or RETAIN, not \(fileExistsBehavior)")
            }
            let tags = try parsedTagFilters()
            for warning in try bundle.validateAppSpec() { printToStandardError(warning) }
            for path in bundle.skippedSpecialFiles {
                printToStandardError("skipped \(path): not a file, directory or link")
            }

            let code = try await connection.withClient { client in
                try await deploy(
                    bundle: bundle, client: client, application: application, group: deploymentGroup, tags: tags)
            }
            throw ExitCode(code)
        }

        private func deploy(
            bundle: RevisionBundle, client: APIClient, application: String, group deploymentGroup: String,
            tags: [(key: String, value: String)]
        ) async throws -> Int32 {
            let zip = FileManager.default.temporaryDirectory.appendingPathComponent(
                "slipway-deploy-\(UUID().uuidString).zip")
            defer { try? FileManager.default.removeItem(at: zip) }

            try await ensureApplicationAndGroup(
                client: client, application: application, group: deploymentGroup, tags: tags)

            let sha256 = try bundle.writeZip(to: zip)
            let size = (try? FileManager.default.attributesOfItem(atPath: zip.path)[.size] as? Int) ?? 0
            let key = key ?? "\(application)/\(Self.timestamp(Date()))-\(sha256.prefix(12)).zip"
            if try await !client.bucketExists(bucket) {
                try await client.createBucket(bucket)
            }
            let eTag = try await client.putObject(bucket: bucket, key: key, file: zip, sha256: sha256)
            printToStandardError(
                "Uploaded \(bundle.entries.count) entries (\(size) bytes) to s3://\(bucket)/\(key) (ETag \(eTag)).")

            let revision: [String: Any] = [
                "revisionType": "S3",
                "s3Location": ["bucket": bucket, "key": key, "bundleType": "zip", "eTag": eTag],
            ]
            var register: [String: Any] = ["applicationName": application, "revision": revision]
            if let description { register["description"] = description }
            _ = try await client.codeDeploy("RegisterApplicationRevision", register)

            var create: [String: Any] = [
                "applicationName": application, "deploymentGroupName": deploymentGroup, "revision": revision,
            ]
            if let deploymentConfig { create["deploymentConfigName"] = deploymentConfig }
            if let description { create["description"] = description }
            if let fileExistsBehavior { create["fileExistsBehavior"] = fileExistsBehavior.uppercased() }
            let created = try await client.codeDeploy("CreateDeployment", create)
            guard let id = created["deploymentId"] as? String else {
                throw ClientError("CreateDeployment answered without a deployment id")
            }
            printToStandardError("Created deployment \(id) of \(application) to \(deploymentGroup).")
            if noFollow {
                if output.json {
                    try printJSON(["deploymentId": id, "revision": revision])
                } else {
                    printToStandardOutput(id)
                }
                return DeployExit.succeeded
            }
            let final = try await DeploymentFollower(client: client).follow(id, display: output.display)
            try output.finish(final)
            return final.exitCode
        }

        /// Checks that the application and the group exist before anything is uploaded; with --create-missing,
        /// creates what is missing.
        private func ensureApplicationAndGroup(
            client: APIClient, application: String, group: String, tags: [(key: String, value: String)]
        ) async throws {
            do {
                _ = try await client.codeDeploy("GetApplication", ["applicationName": application])
            } catch let error as APIError where error.code == "ApplicationDoesNotExistException" {
                guard createMissing else {
                    throw ClientError("the application \(application) does not exist (--create-missing creates it)")
                }
                _ = try await client.codeDeploy(
                    "CreateApplication", ["applicationName": application, "computePlatform": "Server"])
                printToStandardError("Created the application \(application).")
            }
            do {
                _ = try await client.codeDeploy(
                    "GetDeploymentGroup", ["applicationName": application, "deploymentGroupName": group])
            } catch let error as APIError where error.code == "DeploymentGroupDoesNotExistException" {
                guard createMissing else {
                    throw ClientError(
                        "the deployment group \(group) of \(application) does not exist (--create-missing creates it)")
                }
                var input: [String: Any] = [
                    "applicationName": application, "deploymentGroupName": group,
                    "serviceRoleArn": "arn:aws:iam::\(try await accountID(client)):role/slipway",
                    "onPremisesInstanceTagFilters": tags.map {
                        ["Key": $0.key, "Value": $0.value, "Type": "KEY_AND_VALUE"]
                    },
                    "autoRollbackConfiguration": ["enabled": true, "events": ["DEPLOYMENT_FAILURE"]],
                ]
                if let deploymentConfig { input["deploymentConfigName"] = deploymentConfig }
                _ = try await client.codeDeploy("CreateDeploymentGroup", input)
                let shown = tags.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                printToStandardError("Created the deployment group \(group) for on-premises instances tagged \(shown).")
            }
        }

        /// The account of the caller's key, for the service role's ARN (IAM GetUser without a name answers with the
        /// caller); the default account when the key may not ask.
        private func accountID(_ client: APIClient) async throws -> String {
            guard let user = try? await client.iam("GetUser", [:]), let arn = AWSXML.element("Arn", in: user)
            else { return "000000000000" }
            let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
            return parts.count > 4 && !parts[4].isEmpty ? String(parts[4]) : "000000000000"
        }

        private func parsedTagFilters() throws -> [(key: String, value: String)] {
            try (tagFilter.isEmpty ? ["env=dev"] : tagFilter).map { text in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ClientError("--tag-filter takes KEY=VALUE, not '\(text)'")
                }
                return (parts[0], parts[1])
            }
        }

        static func timestamp(_ date: Date) -> String {
            var time = time_t(date.timeIntervalSince1970)
            var parts = tm()
            gmtime_r(&time, &parts)
            return String(
                format: "%04d%02d%02dT%02d%02d%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec)
        }
    }

}

extension DeployCommand {
    /// `slipway deploy status d-…`: the deployment's state, once.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a deployment's state once.",
            discussion: """
                Prints the deployment, a row per host and, once it has ended, the summary (with --json the \
                document `slipway deploy --json` prints). Exits 0 succeeded, 1 failed, 2 stopped, 4 not finished \
                yet, 3 when it cannot be read.
                """)

        @Argument(help: "The deployment id (d-XXXXXXXXX).")
        var deploymentId: String

        @OptionGroup var output: DeployOutputOptions
        @OptionGroup var connection: DeployConnectionOptions

        func run() async throws {
            let snapshot: DeploymentSnapshot
            do {
                snapshot = try await connection.withClient { client in
                    try await DeploymentFollower(client: client).snapshot(deploymentId)
                }
            } catch {
                printToStandardError("slipway deploy status: \(error)")
                throw ExitCode(DeployExit.usage)
            }
            if output.json {
                try printJSON(snapshot.jsonDocument)
            } else {
                let color = output.isTerminal
                for line in DeploymentView.table(snapshot, now: Date(), width: 200, color: color) {
                    printToStandardOutput(line)
                }
                if snapshot.isFinished { DeploymentView.summary(snapshot).forEach(printToStandardOutput) }
            }
            throw ExitCode(snapshot.exitCode)
        }
    }

    /// `slipway deploy watch d-…`: follows a deployment until it ends.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow an existing deployment until it ends.",
            discussion: """
                Shows the deployment as `slipway deploy` does (a live table on a terminal, one line per change \
                otherwise, one JSON document with --json). Exits 0 succeeded, 1 failed, 2 stopped, 3 when it \
                cannot be read.
                """)

        @Argument(help: "The deployment id (d-XXXXXXXXX).")
        var deploymentId: String

        @OptionGroup var output: DeployOutputOptions
        @OptionGroup var connection: DeployConnectionOptions

        func run() async throws {
            let final: DeploymentSnapshot
            do {
                final = try await connection.withClient { client in
                    try await DeploymentFollower(client: client).follow(deploymentId, display: output.display)
                }
            } catch {
                printToStandardError("slipway deploy watch: \(error)")
                throw ExitCode(DeployExit.usage)
            }
            try output.finish(final)
            throw ExitCode(final.exitCode)
        }
    }
}

/// How `slipway deploy` and its subcommands reach the server.
struct DeployConnectionOptions: ParsableArguments {
    @OptionGroup var server: ServerOptions

    @Option(help: "The AWS profile to use. (default: AWS_PROFILE or default)")
    var profile: String?

    @Option(help: "A PEM file of certificates to trust. (default: AWS_CA_BUNDLE or the profile's ca_bundle)")
    var caBundle: String?

    /// Runs `body` with a client for the resolved profile, and shuts the client down after it either way.
    func withClient<T>(_ body: (APIClient) async throws -> T) async throws -> T {
        let client = try APIClient(profile: server.resolve(profile: profile, caBundle: caBundle))
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

/// What `slipway deploy` prints.
struct DeployOutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON document at the end and nothing else on standard output.")
    var json = false

    @Flag(help: "Print one line per change even on a terminal.")
    var noTty = false

    var isTerminal: Bool {
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    var display: DeploymentFollower.Display {
        if json { return .quiet }
        if noTty || !isTerminal { return .lines }
        return .table(color: ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
    }

    /// The closing output: the JSON document, or the summary.
    func finish(_ snapshot: DeploymentSnapshot) throws {
        if json {
            try printJSON(snapshot.jsonDocument)
        } else {
            DeploymentView.summary(snapshot).forEach(printToStandardOutput)
        }
    }
}

func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(
        withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    printToStandardOutput(String(decoding: data, as: UTF8.self))
}
