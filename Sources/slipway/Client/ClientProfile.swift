import Agent
import Foundation
import SigV4

/// What an AWS client needs to reach Slipway, found the way the AWS CLI finds it: flags first, then the `AWS_*`
/// environment variables, then the profile in the shared config and credentials files.
struct ClientProfile {
    var endpoint: URL
    var region: String
    var credentials: Credentials
    /// A PEM file of certificates to trust for TLS (`AWS_CA_BUNDLE`, the profile's `ca_bundle`).
    var caBundle: String?

    static func resolve(
        endpoint endpointFlag: String?, region regionFlag: String?, profile profileFlag: String?,
        caBundle caFlag: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ClientProfile {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let profileName = profileFlag ?? environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        let config = (try? String(contentsOfFile: configPath, encoding: .utf8)).map(INIFile.init)
        let credentialsFile = (try? String(contentsOfFile: credentialsPath, encoding: .utf8)).map(INIFile.init)
        let profile = config?.sections[profileName == "default" ? "default" : "profile \(profileName)"] ?? [:]
        let stored = credentialsFile?.sections[profileName] ?? [:]

        let credentials: Credentials
        if let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"],
            profileFlag == nil
        {
            credentials = Credentials(
                accessKeyId: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        } else if let id = stored["aws_access_key_id"] ?? profile["aws_access_key_id"],
            let secret = stored["aws_secret_access_key"] ?? profile["aws_secret_access_key"]
        {
            credentials = Credentials(
                accessKeyId: id, secretAccessKey: secret,
                sessionToken: stored["aws_session_token"] ?? profile["aws_session_token"])
        } else {
            throw ClientError(
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in "
                    + "\(credentialsPath) (slipway server --dev prints the export lines of one)")
        }
        let endpointText = endpointFlag ?? environment["AWS_ENDPOINT_URL"] ?? profile["endpoint_url"]
        guard let endpointText, let endpoint = URL(string: endpointText), endpoint.host != nil,
            endpoint.scheme == "https" || endpoint.scheme == "http"
        else {
            throw ClientError(
                "no Slipway server address: give --server https://HOST:PORT, or set AWS_ENDPOINT_URL")
        }
        let region =
            regionFlag ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? profile["region"]
            ?? "us-east-1"
        let caBundle = caFlag ?? environment["AWS_CA_BUNDLE"] ?? profile["ca_bundle"]
        return ClientProfile(endpoint: endpoint, region: region, credentials: credentials, caBundle: caBundle)
    }
}

/// A client-side failure with a message that says what to do.
struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
