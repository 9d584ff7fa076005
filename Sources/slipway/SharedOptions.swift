import Agent
import AgentCommandLine
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
