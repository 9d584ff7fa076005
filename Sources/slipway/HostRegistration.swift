import Foundation
import S3Transfer

/// Onboards a host through a Slipway server's APIs, as `aws deploy register` does, and writes the agent's two files:
/// what `slipway agent register` and the `--dev` server's own agent do.
struct HostRegistration {
    var instanceName: String
    var tags: [(key: String, value: String)]
    var configDirectory: URL
    var rootDirectory: URL?

    /// Creates the user, its policy and key, registers and tags the instance, and writes the files; undoes what it
    /// did when a step fails. Returns the instance's IAM ARN.
    func register(client: APIClient, profile: ClientProfile) async throws -> String {
        let directory = configDirectory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let user = try await client.iam("CreateUser", ["UserName": instanceName, "Path": "/slipway/agent/"])
        guard let arn = AWSXML.element("Arn", in: user) else {
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
            guard let id = AWSXML.element("AccessKeyId", in: key),
                let secret = AWSXML.element("SecretAccessKey", in: key)
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
        return arn
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
        if let rootDirectory {
            settings.append((":root_dir:", "'\(rootDirectory.path)'"))
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
