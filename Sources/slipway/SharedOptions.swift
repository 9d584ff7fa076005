import Agent
import ArgumentParser
import Foundation

/// The server a client command (`agent register`, `deploy`) talks to and the region it signs for, when not the
/// profile's.
struct ServerOptions: ParsableArguments {
    @Option(help: "The Slipway server's address. (default: AWS_ENDPOINT_URL or the profile's endpoint_url)")
    var server: String?

    @Option(help: "The region. (default: AWS_REGION or the profile's)")
    var region: String?

    /// The address, region, keys and CA bundle, found as the AWS CLI finds them with these flags first.
    func resolve(profile: String?, caBundle: String?) throws -> ClientProfile {
        try ClientProfile.resolve(endpoint: server, region: region, profile: profile, caBundle: caBundle)
    }
}

/// Where deployments run on this host are kept, for the commands that run them (`agent`, `local`).
struct RootDirectoryOption: ParsableArguments {
    @Option(help: "Where deployments are kept, overriding :root_dir:.")
    var rootDir: String?

    func apply(to configuration: inout AgentConfiguration) {
        if let rootDir { configuration.rootDirectory = URL(fileURLWithPath: rootDir, isDirectory: true) }
    }
}

/// Flags of a running agent that override `codedeployagent.yml`.
struct AgentOverrideOptions: ParsableArguments {
    @Option(help: "The server's address, overriding :deploy_control_endpoint:.")
    var server: String?

    @OptionGroup var root: RootDirectoryOption

    @Flag(help: "Log debug messages.")
    var verbose = false

    func apply(to configuration: inout AgentConfiguration) {
        if let server { configuration.deployControlEndpoint = server }
        root.apply(to: &configuration)
        if verbose { configuration.verbose = true }
    }
}
