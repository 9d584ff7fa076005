import Deployments
import Foundation
import SlipwayModel
import Store

/// The predefined `CodeDeployDefault.*` configurations, and CreateDeploymentConfig, GetDeploymentConfig,
/// DeleteDeploymentConfig, ListDeploymentConfigs.
enum DeploymentConfigHandlers {
    static let pageSize = 100
    /// AWS's quota of custom deployment configurations per account.
    static let limit = 200
    static let reservedPrefix = PredefinedDeploymentConfigs.prefix

    /// The predefined configurations (the `Deployments` module owns them: deployments resolve their names).
    static let predefined = PredefinedDeploymentConfigs.all

    static func register(in api: inout CodeDeployAPI) {
        api.on(.createDeploymentConfig, create)
        api.on(.getDeploymentConfig) { (input: CodeDeploy.GetDeploymentConfigInput, context) in
            let name = try input.deploymentConfigName.required(
                .deploymentConfigNameRequiredException, "deployment configuration name")
            let config = try await context.store.read { try $0.existingDeploymentConfig(name) }
            return CodeDeploy.GetDeploymentConfigOutput(deploymentConfigInfo: config)
        }
        api.on(.deleteDeploymentConfig, delete)
        api.on(.listDeploymentConfigs) { (input: CodeDeploy.ListDeploymentConfigsInput, context) in
            let custom = try await context.store.read {
                try $0.records(.deploymentConfig, scope: "", after: nil, limit: .max).map(\.name)
            }
            let names = (custom + predefined.keys).sorted()
            let (page, next) = try PageToken.page(names, name: { $0 }, token: input.nextToken, size: pageSize)
            return CodeDeploy.ListDeploymentConfigsOutput(deploymentConfigsList: page, nextToken: next)
        }
    }

    static func create(_ input: CodeDeploy.CreateDeploymentConfigInput, _ context: HandlerContext) async throws
        -> CodeDeploy.CreateDeploymentConfigOutput
    {
        let name = try input.deploymentConfigName.required(
            .deploymentConfigNameRequiredException, "deployment configuration name")
        try Check.name(name, .invalidDeploymentConfigNameException, what: "deployment configuration name")
        guard !name.hasPrefix(reservedPrefix) else {
            throw AWSJSONError(
                .invalidDeploymentConfigNameException,
                "Deployment configuration names may not start with '\(reservedPrefix)'.")
        }
        let platform = input.computePlatform ?? .server
        guard platform.isKnown else {
            throw AWSJSONError(.invalidComputePlatformException, "The compute platform must be Server, Lambda or ECS.")
        }
        try validate(input, platform: platform)
        let config = CodeDeploy.DeploymentConfigInfo(
            computePlatform: platform, createTime: context.now, deploymentConfigId: UUID().uuidString.lowercased(),
            deploymentConfigName: name, minimumHealthyHosts: input.minimumHealthyHosts,
            trafficRoutingConfig: input.trafficRoutingConfig ?? (platform == .server ? nil : .init(type: .allAtOnce)),
            zonalConfig: input.zonalConfig)
        try await context.store.write { tx in
            guard try tx.count(.deploymentConfig, scope: "") < limit else {
                throw AWSJSONError(
                    .deploymentConfigLimitExceededException,
                    "This account has \(limit) custom deployment configurations, the most it can have.")
            }
            guard try tx.create(config, .deploymentConfig, name: name) else {
                throw AWSJSONError(
                    .deploymentConfigAlreadyExistsException, "A deployment configuration named \(name) already exists.")
            }
        }
        return CodeDeploy.CreateDeploymentConfigOutput(deploymentConfigId: config.deploymentConfigId)
    }

    /// The rules of CreateDeploymentConfig: minimum healthy hosts for the Server platform only (HOST_COUNT ≥ 0,
    /// FLEET_PERCENT 0–99), traffic routing for Lambda and ECS (1–99 % per step, at most 2880 minutes from the first
    /// shift to the last), zonal configuration for the Server platform only.
    static func validate(_ input: CodeDeploy.CreateDeploymentConfigInput, platform: CodeDeploy.ComputePlatform) throws {
        if platform == .server {
            guard let hosts = input.minimumHealthyHosts else {
                throw AWSJSONError(
                    .invalidMinimumHealthyHostValueException,
                    "A Server deployment configuration needs minimumHealthyHosts.")
            }
            try validate(hosts, code: .invalidMinimumHealthyHostValueException)
            // Beyond CodeDeploy: canary and linear shifting for Server blue/green groups with a traffic split.
            if let routing = input.trafficRoutingConfig { try validate(routing) }
        } else {
            if input.minimumHealthyHosts != nil {
                throw AWSJSONError(
                    .invalidMinimumHealthyHostValueException,
                    "minimumHealthyHosts is for Server deployment configurations; \(platform) ones use trafficRoutingConfig."
                )
            }
            if input.zonalConfig != nil {
                throw AWSJSONError(
                    .invalidZonalDeploymentConfigurationException,
                    "zonalConfig is for Server deployment configurations only.")
            }
            if let routing = input.trafficRoutingConfig { try validate(routing) }
        }
        if let zonal = input.zonalConfig {
            for (label, seconds) in [
                ("firstZoneMonitorDurationInSeconds", zonal.firstZoneMonitorDurationInSeconds),
                ("monitorDurationInSeconds", zonal.monitorDurationInSeconds),
            ] {
                if let seconds, seconds < 0 {
                    throw AWSJSONError(.invalidZonalDeploymentConfigurationException, "\(label) cannot be negative.")
                }
            }
            if let perZone = zonal.minimumHealthyHostsPerZone {
                try validate(
                    CodeDeploy.MinimumHealthyHosts(
                        type: perZone.type.map { CodeDeploy.MinimumHealthyHostsType(rawValue: $0.rawValue) },
                        value: perZone.value),
                    code: .invalidZonalDeploymentConfigurationException)
            }
        }
    }

    private static func validate(_ hosts: CodeDeploy.MinimumHealthyHosts, code: CodeDeploy.ExceptionType) throws {
        guard let value = hosts.value else {
            throw AWSJSONError(code, "minimumHealthyHosts needs a value.")
        }
        switch hosts.type {
        case .hostCount?:
            guard value >= 0 else { throw AWSJSONError(code, "A HOST_COUNT minimum must be 0 or more, not \(value).") }
        case .fleetPercent?:
            guard (0...99).contains(value) else {
                throw AWSJSONError(code, "A FLEET_PERCENT minimum must be from 0 to 99, not \(value).")
            }
        default:
            throw AWSJSONError(code, "The minimum healthy hosts type must be HOST_COUNT or FLEET_PERCENT.")
        }
    }

    private static func validate(_ routing: CodeDeploy.TrafficRoutingConfig) throws {
        let code = CodeDeploy.ExceptionType.invalidTrafficRoutingConfigurationException
        func step(_ percent: Int?, _ interval: Int?, _ label: String) throws -> (percent: Int, interval: Int) {
            guard let percent, (1...99).contains(percent) else {
                throw AWSJSONError(code, "The \(label) percentage must be from 1 to 99.")
            }
            // Bounded before any arithmetic: the linear check below multiplies the interval.
            guard let interval, (1...2880).contains(interval) else {
                throw AWSJSONError(code, "The \(label) interval must be from 1 to 2880 minutes.")
            }
            return (percent, interval)
        }
        switch routing.type {
        case .allAtOnce?:
            guard routing.timeBasedCanary == nil, routing.timeBasedLinear == nil else {
                throw AWSJSONError(code, "AllAtOnce traffic routing takes no canary or linear settings.")
            }
        case .timeBasedCanary?:
            _ = try step(routing.timeBasedCanary?.canaryPercentage, routing.timeBasedCanary?.canaryInterval, "canary")
        case .timeBasedLinear?:
            let linear = try step(
                routing.timeBasedLinear?.linearPercentage, routing.timeBasedLinear?.linearInterval, "linear")
            let shifts = (100 + linear.percent - 1) / linear.percent
            guard (shifts - 1) * linear.interval <= 2880 else {
                throw AWSJSONError(
                    code, "Linear traffic shifting may take at most 2880 minutes from the first shift to the last.")
            }
        default:
            throw AWSJSONError(code, "The traffic routing type must be TimeBasedCanary, TimeBasedLinear or AllAtOnce.")
        }
    }

    static func delete(_ input: CodeDeploy.DeleteDeploymentConfigInput, _ context: HandlerContext) async throws {
        let name = try input.deploymentConfigName.required(
            .deploymentConfigNameRequiredException, "deployment configuration name")
        guard predefined[name] == nil else {
            throw AWSJSONError(
                .invalidOperationException, "The predefined deployment configuration \(name) cannot be deleted.")
        }
        try await context.store.write { tx in
            for group in try tx.allRecords(.deploymentGroup) {
                let info = try tx.get(
                    CodeDeploy.DeploymentGroupInfo.self, .deploymentGroup, scope: group.scope, name: group.name)
                if info?.deploymentConfigName == name {
                    throw AWSJSONError(
                        .deploymentConfigInUseException,
                        "The deployment configuration \(name) is used by deployment group \(group.scope)/\(group.name)."
                    )
                }
            }
            try tx.delete(.deploymentConfig, scope: "", name: name)
        }
    }
}

extension StoreReader {
    func existingDeploymentConfig(_ name: String) throws -> CodeDeploy.DeploymentConfigInfo {
        guard let config = try deploymentConfig(name) else {
            throw AWSJSONError(
                .deploymentConfigDoesNotExistException, "No deployment configuration found for name: \(name)")
        }
        return config
    }
}
