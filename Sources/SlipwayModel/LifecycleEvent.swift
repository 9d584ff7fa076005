/// The lifecycle events of a deployment, by their CodeDeploy names.
///
/// Some events run AppSpec hook scripts; the others are performed by the agent (`DownloadBundle`, `Install`)
/// or by the server itself (`BlockTraffic`, `AllowTraffic`, `Start`, `End`, `TestTraffic`).
public enum LifecycleEvent: String, CaseIterable, Codable, Sendable {
    case start = "Start"
    case beforeBlockTraffic = "BeforeBlockTraffic"
    case blockTraffic = "BlockTraffic"
    case afterBlockTraffic = "AfterBlockTraffic"
    case applicationStop = "ApplicationStop"
    case downloadBundle = "DownloadBundle"
    case beforeInstall = "BeforeInstall"
    case install = "Install"
    case afterInstall = "AfterInstall"
    case afterAllowTestTraffic = "AfterAllowTestTraffic"
    case applicationStart = "ApplicationStart"
    case validateService = "ValidateService"
    case beforeAllowTraffic = "BeforeAllowTraffic"
    case testTraffic = "TestTraffic"
    case allowTraffic = "AllowTraffic"
    case afterAllowTraffic = "AfterAllowTraffic"
    case end = "End"

    /// Events an EC2/on-premises AppSpec may attach scripts to.
    public static let serverHooks: [LifecycleEvent] = [
        .beforeBlockTraffic, .afterBlockTraffic, .applicationStop, .beforeInstall, .afterInstall,
        .applicationStart, .validateService, .beforeAllowTraffic, .afterAllowTraffic,
    ]

    /// Events a Lambda AppSpec may attach a hook function to.
    public static let lambdaHooks: [LifecycleEvent] = [.beforeAllowTraffic, .afterAllowTraffic]

    /// Events an ECS AppSpec may attach a hook function to.
    public static let ecsHooks: [LifecycleEvent] = [
        .beforeInstall, .afterInstall, .afterAllowTestTraffic, .beforeAllowTraffic, .afterAllowTraffic,
    ]

    /// The order of an in-place deployment on one host. Without a load balancer the six traffic events are left out.
    public static func inPlaceOrder(withLoadBalancer: Bool) -> [LifecycleEvent] {
        let install: [LifecycleEvent] = [
            .applicationStop, .downloadBundle, .beforeInstall, .install, .afterInstall, .applicationStart,
            .validateService,
        ]
        guard withLoadBalancer else { return install }
        return [.beforeBlockTraffic, .blockTraffic, .afterBlockTraffic] + install
            + [.beforeAllowTraffic, .allowTraffic, .afterAllowTraffic]
    }

    /// Whether an AppSpec can attach scripts to this event on EC2/on-premises hosts.
    public var isServerHook: Bool { Self.serverHooks.contains(self) }
}
