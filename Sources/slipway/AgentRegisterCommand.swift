import Agent
import ArgumentParser
import Foundation

extension AgentCommand {
    /// Onboards this host through the server's APIs, as `aws deploy register` does, and writes the agent's two
    /// configuration files, ready to start.
    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register this host as an on-premises instance and write the agent's configuration.",
            discussion: """
                Creates the IAM user NAME with an access key and a policy that lets it read revisions, registers the \
                on-premises instance NAME with that user's ARN and tags, then writes codedeploy.onpremises.yml \
                (mode 0600) and codedeployagent.yml into --config-dir. Authenticates with an admin key found as the \
                AWS CLI finds one (AWS_* variables, AWS_PROFILE and its files). Undo with \
                `aws deploy deregister --instance-name NAME`.
                """
        )

        @OptionGroup var locations: AgentCommand.Locations

        @Option(help: "The Slipway server's address. (default: AWS_ENDPOINT_URL or the profile's endpoint_url)")
        var server: String?

        @Option(help: "The on-premises instance name (letters, digits and +=,.@_-; at most 100 characters).")
        var instanceName: String

        @Option(help: "Tags for the instance: key=value pairs, comma-separated.")
        var tags: String?

        @Option(help: "The AWS profile with the admin key. (default: AWS_PROFILE or default)")
        var profile: String?

        @Option(help: "The region. (default: AWS_REGION or the profile's)")
        var region: String?

        @Option(
            help: "Where deployments will be kept (:root_dir:). (default: the stock agent's, or under --config-dir)")
        var rootDir: String?

        func validate() throws {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "+=,.@_-"))
            guard !instanceName.isEmpty, instanceName.count <= 100,
                instanceName.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) }),
                !instanceName.hasPrefix("i-")
            else {
                throw ValidationError(
                    "--instance-name must be 1-100 characters of letters, digits and +=,.@_- and not start with i-")
            }
            _ = try parsedTags()
        }

        func parsedTags() throws -> [(key: String, value: String)] {
            guard let tags, !tags.isEmpty else { return [] }
            let pairs = try tags.split(separator: ",").map { pair -> (key: String, value: String) in
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--tags takes key=value pairs separated by commas, not '\(pair)'")
                }
                return (parts[0], parts[1])
            }
            guard pairs.count <= 10 else { throw ValidationError("an instance takes at most 10 tags") }
            return pairs
        }

        func run() async throws {
            let profile: ClientProfile
            do {
                profile = try ClientProfile.resolve(
                    endpoint: server, region: region, profile: self.profile, caBundle: locations.caFile)
            } catch {
                throw ValidationError("\(error)")
            }
            let client = try SignedClient(profile: profile)
            do {
                try await register(client: client, profile: profile)
            } catch {
                await client.shutdown()
                if let error = error as? ValidationError { throw error }
                printToStandardError("slipway agent register: \(error)")
                throw ExitCode(1)
            }
            await client.shutdown()
        }

        private func register(client: SignedClient, profile: ClientProfile) async throws {
            let tags = try parsedTags()
            let directory = locations.configDirectory
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let user = try await client.iam("CreateUser", ["UserName": instanceName, "Path": "/slipway/agent/"])
            guard let arn = SignedClient.element("Arn", in: user) else {
                throw ClientError("CreateUser answered without the user's ARN")
            }
            var undo: [() async -> Void] = [{ _ = try? await client.iam("DeleteUser", ["UserName": instanceName]) }]
            do {
                let policy =
                    #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#
                _ = try await client.iam(
                    "PutUserPolicy",
                    ["UserName": instanceName, "PolicyName": "codedeploy-agent", "PolicyDocument": policy])
                undo.append {
                    _ = try? await client.iam(
                        "DeleteUserPolicy", ["UserName": instanceName, "PolicyName": "codedeploy-agent"])
                }
                let key = try await client.iam("CreateAccessKey", ["UserName": instanceName])
                guard let id = SignedClient.element("AccessKeyId", in: key),
                    let secret = SignedClient.element("SecretAccessKey", in: key)
                else { throw ClientError("CreateAccessKey answered without the key") }
                undo.append {
                    _ = try? await client.iam("DeleteAccessKey", ["UserName": instanceName, "AccessKeyId": id])
                }
                _ = try await client.codeDeploy(
                    "RegisterOnPremisesInstance", ["instanceName": instanceName, "iamUserArn": arn])
                undo.append {
                    _ = try? await client.codeDeploy("DeregisterOnPremisesInstance", ["instanceName": instanceName])
                }
                if !tags.isEmpty {
                    _ = try await client.codeDeploy(
                        "AddTagsToOnPremisesInstances",
                        [
                            "instanceNames": [instanceName],
                            "tags": tags.map { ["Key": $0.key, "Value": $0.value] },
                        ])
                }
                try writeConfiguration(
                    in: directory, profile: profile, arn: arn, accessKeyID: id, secretAccessKey: secret)
            } catch {
                // Leave nothing half-registered: undo in reverse order.
                for step in undo.reversed() { await step() }
                throw error
            }
            print("Registered \(instanceName) (\(arn)).")
            print(
                "Wrote \(directory.appendingPathComponent("codedeploy.onpremises.yml").path) and codedeployagent.yml.")
            print("Start the agent with:  slipway agent --config-dir \(directory.path)")
        }

        private func writeConfiguration(
            in directory: URL, profile: ClientProfile, arn: String, accessKeyID: String, secretAccessKey: String
        ) throws {
            let onPremises = """
                ---
                region: \(profile.region)
                iam_user_arn: \(arn)
                aws_access_key_id: \(accessKeyID)
                aws_secret_access_key: \(secretAccessKey)

                """
            try write(onPremises, to: directory.appendingPathComponent("codedeploy.onpremises.yml"), mode: 0o600)

            // The CA is copied next to the configuration, so the directory works on its own on another host.
            var settings: [(key: String, value: String)] = [
                (":deploy_control_endpoint:", "'\(profile.endpoint.absoluteString)'")
            ]
            if let bundle = profile.caBundle {
                let copy = directory.appendingPathComponent("slipway-ca.pem")
                if URL(fileURLWithPath: bundle).standardizedFileURL != copy.standardizedFileURL {
                    try write(try String(contentsOfFile: bundle, encoding: .utf8), to: copy, mode: 0o644)
                }
                settings.append((":slipway_ca_file:", "'\(copy.path)'"))
            }
            if let rootDir {
                settings.append((":root_dir:", "'\(URL(fileURLWithPath: rootDir).standardizedFileURL.path)'"))
            }
            let file = directory.appendingPathComponent("codedeployagent.yml")
            // An existing file (the stock agent's) keeps its other settings.
            let existing =
                (try? String(contentsOf: file, encoding: .utf8)) ?? "---\n:wait_between_runs: 1\n:max_revisions: 5\n"
            var lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.removeAll { line in settings.contains { line.hasPrefix($0.key) } }
            while lines.last == "" { lines.removeLast() }
            lines += settings.map { "\($0.key) \($0.value)" }
            try write(lines.joined(separator: "\n") + "\n", to: file, mode: 0o644)
        }

        private func write(_ text: String, to url: URL, mode: Int) throws {
            let temporary = url.appendingPathExtension("tmp")
            try? FileManager.default.removeItem(at: temporary)
            guard
                FileManager.default.createFile(
                    atPath: temporary.path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
            else { throw ClientError("cannot write \(temporary.path)") }
            _ = try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: temporary, to: url)
        }
    }
}
