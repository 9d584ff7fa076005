import SlipwayModel
import Yams

/// An AppSpec for an Amazon ECS blue/green deployment: the task definition of the new task set, the container the
/// load balancer sends traffic to, and the Lambda functions CodeDeploy invokes at each hookable event.
public struct ECSAppSpec: Hashable, Sendable {
    /// The task definition of the replacement task set (`TaskDefinition`, usually an ARN).
    public var taskDefinition: String
    /// The container that receives the load balancer's traffic (`LoadBalancerInfo.ContainerName`).
    public var containerName: String
    /// Its port (`LoadBalancerInfo.ContainerPort`).
    public var containerPort: Int
    /// The Fargate platform version (`PlatformVersion`), if given.
    public var platformVersion: String?
    /// The task set's network configuration (`NetworkConfiguration.AwsvpcConfiguration`), if given.
    public var networkConfiguration: ECSNetworkConfiguration?
    /// The capacity provider strategy (`CapacityProviderStrategy`), if given.
    public var capacityProviderStrategy: [ECSCapacityProviderStrategyItem]
    /// The Lambda function to invoke for each hooked event.
    public var hooks: [LifecycleEvent: String]

    /// An ECS AppSpec from its parts.
    public init(
        taskDefinition: String,
        containerName: String,
        containerPort: Int,
        platformVersion: String? = nil,
        networkConfiguration: ECSNetworkConfiguration? = nil,
        capacityProviderStrategy: [ECSCapacityProviderStrategyItem] = [],
        hooks: [LifecycleEvent: String] = [:]
    ) {
        self.taskDefinition = taskDefinition
        self.containerName = containerName
        self.containerPort = containerPort
        self.platformVersion = platformVersion
        self.networkConfiguration = networkConfiguration
        self.capacityProviderStrategy = capacityProviderStrategy
        self.hooks = hooks
    }
}

/// `NetworkConfiguration.AwsvpcConfiguration` of an ECS AppSpec.
public struct ECSNetworkConfiguration: Hashable, Sendable {
    /// The subnets of the tasks (at least one).
    public var subnets: [String]
    /// Their security groups.
    public var securityGroups: [String]
    /// `ENABLED` or `DISABLED`, if given.
    public var assignPublicIp: String?

    /// A network configuration from its parts.
    public init(subnets: [String], securityGroups: [String] = [], assignPublicIp: String? = nil) {
        self.subnets = subnets
        self.securityGroups = securityGroups
        self.assignPublicIp = assignPublicIp
    }
}

/// One item of `CapacityProviderStrategy`.
public struct ECSCapacityProviderStrategyItem: Hashable, Sendable {
    /// The capacity provider's name.
    public var capacityProvider: String
    /// How many tasks, at least, run on it.
    public var base: Int?
    /// Its relative share of the tasks.
    public var weight: Int?

    /// An item from its parts.
    public init(capacityProvider: String, base: Int? = nil, weight: Int? = nil) {
        self.capacityProvider = capacityProvider
        self.base = base
        self.weight = weight
    }
}

/// Reads and validates an ECS AppSpec. Keys are matched ignoring case, as for Lambda.
struct ECSAppSpecReader {
    var document: DocumentReader
    private var valid = true

    init(document: DocumentReader) {
        self.document = document
    }

    mutating func read(_ root: Node) -> ECSAppSpec? {
        guard let entries = document.mapping(root, at: "", what: "the AppSpec") else { return nil }
        document.warnUnknownKeysIgnoringCase(entries, known: ["version", "Resources", "Hooks"], in: "the AppSpec")
        document.checkVersion(document.field("version", in: entries)?.value, path: "version", parent: root)
        var hooks: [LifecycleEvent: String] = [:]
        if let entry = document.field("Hooks", in: entries) {
            let read = document.readFunctionHooks(entry, allowed: LifecycleEvent.ecsHooks, platform: "ECS")
            if let read { hooks = read } else { valid = false }
        }
        guard let resources = document.field("Resources", in: entries) else {
            document.error("Resources", root, "Resources is missing: an ECS AppSpec names its TargetService")
            return nil
        }
        guard let resource = document.singleResource(resources, platform: "ECS", what: "the TargetService"),
            let body = document.mapping(resource.value, at: resource.path, what: "TargetService")
        else { return nil }
        if resource.key.lowercased() != "targetservice" {
            document.error(
                resource.path, resource.keyNode,
                "the resource of an ECS AppSpec is named TargetService, not \(resource.key)")
            valid = false
        }
        document.warnUnknownKeysIgnoringCase(body, known: ["Type", "Properties"], in: "TargetService")
        guard
            let (propertiesEntry, properties) = document.resourceProperties(
                resource, body: body, typeKey: "Type", typeWhat: "the TargetService Type",
                expectedType: "AWS::ECS::Service", appSpec: "an ECS AppSpec", propertiesKey: "Properties",
                propertiesWhat: "the TargetService Properties", valid: &valid)
        else { return nil }
        let keys = [
            "TaskDefinition", "LoadBalancerInfo", "PlatformVersion", "NetworkConfiguration", "CapacityProviderStrategy",
        ]
        document.warnUnknownKeysIgnoringCase(properties, known: keys, in: "Properties")
        let taskDefinition = document.requiredString(
            "TaskDefinition", in: properties, parentPath: propertiesEntry.path, parent: propertiesEntry.value,
            what: "TaskDefinition")
        let loadBalancer = readLoadBalancerInfo(properties, parent: propertiesEntry)
        let platformVersion = document.field("PlatformVersion", in: properties).flatMap {
            document.string($0.value, at: $0.path, what: "PlatformVersion")
        }
        let network = document.field("NetworkConfiguration", in: properties).flatMap { readNetworkConfiguration($0) }
        let strategy =
            document.field("CapacityProviderStrategy", in: properties).map { readCapacityProviderStrategy($0) } ?? []
        guard valid, let taskDefinition, let loadBalancer else { return nil }
        return ECSAppSpec(
            taskDefinition: taskDefinition,
            containerName: loadBalancer.name,
            containerPort: loadBalancer.port,
            platformVersion: platformVersion,
            networkConfiguration: network,
            capacityProviderStrategy: strategy,
            hooks: hooks
        )
    }

    private mutating func readLoadBalancerInfo(_ properties: [MappingEntry], parent: MappingEntry) -> (
        name: String, port: Int
    )? {
        guard let entry = document.field("LoadBalancerInfo", in: properties) else {
            document.error(
                DocumentReader.join(parent.path, "LoadBalancerInfo"),
                parent.value,
                "LoadBalancerInfo is missing: name the ContainerName and ContainerPort that receive traffic"
            )
            return nil
        }
        guard let fields = document.mapping(entry.value, at: entry.path, what: "LoadBalancerInfo") else { return nil }
        document.warnUnknownKeysIgnoringCase(fields, known: ["ContainerName", "ContainerPort"], in: "LoadBalancerInfo")
        let name = document.requiredString(
            "ContainerName", in: fields, parentPath: entry.path, parent: entry.value, what: "ContainerName")
        var port: Int?
        if let portEntry = document.field("ContainerPort", in: fields) {
            if let value = document.integer(portEntry.value, at: portEntry.path, what: "ContainerPort") {
                if (1...65535).contains(value) {
                    port = value
                } else {
                    document.error(
                        portEntry.path, portEntry.value, "ContainerPort \(value) is not a port number (1-65535)")
                }
            } else if document.isNull(portEntry.value) {
                document.error(portEntry.path, portEntry.value, "ContainerPort is empty")
            }
        } else {
            document.error(
                DocumentReader.join(entry.path, "ContainerPort"), entry.value,
                "ContainerPort is missing: add `ContainerPort:`")
        }
        guard let name, let port else { return nil }
        return (name, port)
    }

    private mutating func readNetworkConfiguration(_ entry: MappingEntry) -> ECSNetworkConfiguration? {
        guard let fields = document.mapping(entry.value, at: entry.path, what: "NetworkConfiguration") else {
            valid = false
            return nil
        }
        document.warnUnknownKeysIgnoringCase(fields, known: ["AwsvpcConfiguration"], in: "NetworkConfiguration")
        guard let awsvpc = document.field("AwsvpcConfiguration", in: fields) else {
            if !fields.isEmpty || !document.isNull(entry.value) {
                document.error(
                    DocumentReader.join(entry.path, "AwsvpcConfiguration"),
                    entry.value,
                    "NetworkConfiguration holds an AwsvpcConfiguration"
                )
                valid = false
            }
            return nil
        }
        guard let settings = document.mapping(awsvpc.value, at: awsvpc.path, what: "AwsvpcConfiguration") else {
            valid = false
            return nil
        }
        document.warnUnknownKeysIgnoringCase(
            settings, known: ["Subnets", "SecurityGroups", "AssignPublicIp"], in: "AwsvpcConfiguration")
        let subnets = strings(document.field("Subnets", in: settings), what: "Subnets")
        if subnets.isEmpty {
            document.error(
                DocumentReader.join(awsvpc.path, "Subnets"), awsvpc.value,
                "AwsvpcConfiguration needs at least one subnet in Subnets")
            valid = false
        }
        let securityGroups = strings(document.field("SecurityGroups", in: settings), what: "SecurityGroups")
        var assignPublicIp: String?
        if let ipEntry = document.field("AssignPublicIp", in: settings),
            let text = document.string(ipEntry.value, at: ipEntry.path, what: "AssignPublicIp")
        {
            if text == "ENABLED" || text == "DISABLED" {
                assignPublicIp = text
            } else {
                document.error(ipEntry.path, ipEntry.value, "AssignPublicIp is ENABLED or DISABLED, not \(text)")
                valid = false
            }
        }
        return ECSNetworkConfiguration(subnets: subnets, securityGroups: securityGroups, assignPublicIp: assignPublicIp)
    }

    private mutating func readCapacityProviderStrategy(_ entry: MappingEntry) -> [ECSCapacityProviderStrategyItem] {
        guard let items = document.list(entry.value, at: entry.path, what: "CapacityProviderStrategy") else {
            valid = false
            return []
        }
        var strategy: [ECSCapacityProviderStrategyItem] = []
        for (index, item) in items.enumerated() {
            let path = DocumentReader.join(entry.path, index: index)
            guard let fields = document.mapping(item, at: path, what: "a CapacityProviderStrategy item") else {
                valid = false
                continue
            }
            document.warnUnknownKeysIgnoringCase(
                fields, known: ["CapacityProvider", "Base", "Weight"], in: "a capacity provider")
            let provider = document.requiredString(
                "CapacityProvider", in: fields, parentPath: path, parent: item, what: "CapacityProvider")
            let base = number(document.field("Base", in: fields), range: 0...100_000)
            let weight = number(document.field("Weight", in: fields), range: 0...1000)
            if let provider {
                strategy.append(ECSCapacityProviderStrategyItem(capacityProvider: provider, base: base, weight: weight))
            } else {
                valid = false
            }
        }
        return strategy
    }

    private mutating func number(_ entry: MappingEntry?, range: ClosedRange<Int>) -> Int? {
        guard let entry, let value = document.integer(entry.value, at: entry.path, what: entry.key) else {
            if let entry, !document.isNull(entry.value) { valid = false }
            return nil
        }
        guard range.contains(value) else {
            document.error(
                entry.path, entry.value, "\(entry.key) \(value) is outside \(range.lowerBound)-\(range.upperBound)")
            valid = false
            return nil
        }
        return value
    }

    private mutating func strings(_ entry: MappingEntry?, what: String) -> [String] {
        guard let entry, let items = document.list(entry.value, at: entry.path, what: what) else {
            if entry != nil { valid = false }
            return []
        }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            if let text = document.string(
                item, at: DocumentReader.join(entry.path, index: index), what: "an item of \(what)")
            {
                result.append(text)
            } else {
                valid = false
            }
        }
        return result
    }
}
