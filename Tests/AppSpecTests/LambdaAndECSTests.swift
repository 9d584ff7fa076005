import AppSpec
import SlipwayModel
import Testing

@Suite("Lambda and ECS AppSpecs")
struct LambdaAndECSTests {
    @Test("a Lambda AppSpec gives the function, alias, both versions and its hook functions")
    func lambda() throws {
        let spec = try #require(
            try AppSpec.parse(
                """
                version: 0.0
                resources:
                  - web:
                      type: AWS::Lambda::Function
                      properties:
                        name: web
                        alias: live
                        currentversion: 1
                        targetversion: 2
                hooks:
                  - BeforeAllowTraffic: preflight
                  - AfterAllowTraffic: smoke
                """
            ).get().lambda
        )
        #expect(
            spec
                == LambdaAppSpec(
                    resourceName: "web",
                    functionName: "web",
                    alias: "live",
                    currentVersion: "1",
                    targetVersion: "2",
                    hooks: [.beforeAllowTraffic: "preflight", .afterAllowTraffic: "smoke"]
                )
        )
    }

    private func lambda(current: String, target: String) -> AppSpecParseResult {
        AppSpec.parse(
            """
            version: 0.0
            resources:
              - web:
                  type: AWS::Lambda::Function
                  properties:
                    name: web
                    alias: live
                    currentversion: \(current)
                    targetversion: \(target)
            """)
    }

    @Test("a Lambda version must be a published version number; $LATEST is refused with how to publish one")
    func lambdaVersions() throws {
        #expect(lambda(current: "1", target: "42").errors.isEmpty)
        #expect(lambda(current: "'7'", target: "\"8\"").errors.isEmpty)
        let latest = lambda(current: "1", target: "$LATEST")
        #expect(latest.appSpec == nil)
        let error = try #require(latest.errors.first)
        #expect(error.path == "resources[0].web.properties.targetversion")
        #expect(error.location?.line == 9)
        #expect(error.message.contains("publish") && error.message.contains("$LATEST"))
        #expect(
            lambda(current: "$LATEST", target: "2").errors.map(\.path) == ["resources[0].web.properties.currentversion"]
        )
    }

    @Test(
        "a Lambda version that is not a whole number from 1 is refused, whatever it holds",
        arguments: [
            "abc", "0", "-1", "1.5", "01", "1e3", "+1", "0x10", "99999999999999999999999", "'1\\0'", "\"2\\u001b\"",
            "\" 3\"", "'\u{0663}'", "[1]", "{v: 1}", "'" + String(repeating: "9", count: 1_000) + "'",
        ])
    func lambdaVersionRefused(_ version: String) {
        let result = lambda(current: "1", target: version)
        #expect(result.appSpec == nil)
        #expect(result.errors.contains { $0.path.hasSuffix("targetversion") })
    }

    @Test("an ECS AppSpec gives the task definition, container, network and capacity providers")
    func ecs() throws {
        let spec = try #require(
            try AppSpec.parse(
                """
                version: 0.0
                Resources:
                  - TargetService:
                      Type: AWS::ECS::Service
                      Properties:
                        TaskDefinition: web:7
                        LoadBalancerInfo:
                          ContainerName: web
                          ContainerPort: 8080
                        NetworkConfiguration:
                          AwsvpcConfiguration:
                            Subnets: [a, b]
                            AssignPublicIp: ENABLED
                        CapacityProviderStrategy:
                          - CapacityProvider: FARGATE
                            Base: 1
                Hooks:
                  - AfterAllowTestTraffic: test
                """
            ).get().ecs
        )
        #expect(spec.taskDefinition == "web:7")
        #expect(spec.containerName == "web")
        #expect(spec.containerPort == 8080)
        #expect(spec.networkConfiguration == ECSNetworkConfiguration(subnets: ["a", "b"], assignPublicIp: "ENABLED"))
        #expect(
            spec.capacityProviderStrategy == [ECSCapacityProviderStrategyItem(capacityProvider: "FARGATE", base: 1)])
        #expect(spec.hooks == [.afterAllowTestTraffic: "test"])
    }

    @Test("a Lambda hook on an event Lambda has no hook for is refused")
    func lambdaHookEvents() {
        let result = AppSpec.parse(
            "version: 0.0\nresources:\n  - f:\n      type: AWS::Lambda::Function\n      properties: "
                + "{name: f, alias: a, currentversion: 1, targetversion: 2}\nhooks:\n  - AfterInstall: x\n"
        )
        #expect(result.errors.map(\.path) == ["hooks[0].AfterInstall"])
    }

    @Test("the same hook given twice is refused")
    func duplicateHook() {
        let result = AppSpec.parse(
            "version: 0.0\nresources:\n  - f:\n      type: AWS::Lambda::Function\n      properties: "
                + "{name: f, alias: a, currentversion: 1, targetversion: 2}\nhooks:\n  - AfterAllowTraffic: x\n"
                + "  - AfterAllowTraffic: y\n"
        )
        #expect(
            result.errors.map(\.message) == [
                "the hook AfterAllowTraffic is given more than once; give each event one function"
            ])
    }

    @Test("an ECS TargetService of another type is refused, naming the type it must be")
    func ecsWrongType() {
        let result = AppSpec.parse(
            "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::Lambda::Function\n      Properties:\n"
                + "        TaskDefinition: arn:aws:ecs:us-east-1:000000000000:task-definition/web:3\n",
            options: .init(computePlatform: .ecs))
        #expect(
            result.errors.map(\.message).contains(
                "the TargetService Type of an ECS AppSpec is AWS::ECS::Service, not AWS::Lambda::Function"),
            "\(result.errors.map(\.message))")
    }

    @Test("a Lambda function without properties is refused")
    func lambdaWithoutProperties() {
        let result = AppSpec.parse("version: 0.0\nresources:\n  - f:\n      type: AWS::Lambda::Function\n")
        #expect(result.errors.map(\.message) == ["the function's properties are missing"])
    }
}
