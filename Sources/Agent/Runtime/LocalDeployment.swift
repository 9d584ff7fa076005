import Foundation
import Logging
import SlipwayModel

/// A deployment of a bundle on this host without a server, as `codedeploy-local` runs one: the lifecycle events in
/// order, each reported as it ends.
public struct LocalDeployment: Sendable {
    /// The in-place order of the events that run on a host without a load balancer.
    public static let defaultEvents = [
        "ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
        "ValidateService",
    ]
    public static let defaultGroupID = "default-local-deployment-group"

    public let spec: DeploymentSpec
    public let events: [String]
    let executor: CommandExecutor

    /// `events` are the ones the user asked for (nil: all); DownloadBundle and Install are always part of a run,
    /// since every other event needs the revision on the host.
    public init(
        bundle: URL, type: String, groupID: String?, groupName: String?, applicationName: String?,
        appSpecFilename: String?, fileExistsBehavior: String?, events requested: [String]?,
        layout: DeploymentLayout, logger: Logger
    ) throws {
        let known = Set(Self.defaultEvents + LifecycleEvent.allCases.map(\.rawValue))
        if let unknown = requested?.first(where: { !known.contains($0) }) {
            throw AgentError(
                "\(unknown) is not a lifecycle event a host runs; use some of: \(Self.defaultEvents.joined(separator: ", "))"
            )
        }
        var events = requested ?? Self.defaultEvents
        if requested != nil {
            for required in ["DownloadBundle", "Install"] where !events.contains(required) {
                events.append(required)
            }
            let order = Self.defaultEvents + LifecycleEvent.allCases.map(\.rawValue)
            events.sort { (order.firstIndex(of: $0) ?? 0) < (order.firstIndex(of: $1) ?? 0) }
        }
        var json: [String: Any] = [
            "DeploymentId": "d-" + Self.randomID(),
            "DeploymentGroupId": groupID ?? Self.defaultGroupID,
            "DeploymentGroupName": groupName ?? "LocalFleet",
            "ApplicationName": applicationName ?? bundle.path,
            "DeploymentCreator": "user",
            "DeploymentType": "IN_PLACE",
            "AppSpecFilename": appSpecFilename ?? "appspec.yml",
            "Revision": [
                "RevisionType": type == "directory" ? "Local Directory" : "Local File",
                "LocalRevision": ["Location": bundle.path, "BundleType": type],
            ],
        ]
        if let fileExistsBehavior {
            json["AgentActionOverrides"] = ["AgentOverrides": ["FileExistsBehavior": fileExistsBehavior]]
        }
        let data = try JSONSerialization.data(withJSONObject: json)
        spec = try DeploymentSpec.parse(json: data)
        self.events = events
        executor = CommandExecutor(
            layout: layout, maxRevisions: 5, downloader: BundleDownloader(http: .shared, s3: nil), logger: logger)
    }

    /// Runs the events in order, calling `report` after each; stops at the first failure.
    public func run(report: (String, CommandOutcome) -> Void) async -> Bool {
        for event in events {
            let outcome = await executor.execute(event, spec: spec)
            report(event, outcome)
            if !outcome.succeeded { return false }
        }
        return true
    }

    /// The scripts `event` runs in the revision it applies to, for reporting.
    public func scripts(for event: String) -> [String] {
        guard let directory = executor.layout.revisionDirectory(for: event, spec: spec),
            let appSpec = try? executor.loadAppSpec(in: directory, spec: spec),
            let lifecycleEvent = LifecycleEvent(rawValue: event)
        else { return [] }
        return appSpec.scripts(for: lifecycleEvent).map(\.location)
    }

    static func randomID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<9).map { _ in alphabet.randomElement()! })
    }
}
