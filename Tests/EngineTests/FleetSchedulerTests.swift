import Engine
import SlipwayModel
import Testing

@Suite("Fleet scheduling by minimum healthy hosts")
struct FleetSchedulerTests {
    private func pending(_ count: Int) -> [FleetScheduler.ObservedHost] {
        hostNames(count).map { FleetScheduler.ObservedHost($0, .pending) }
    }

    @Test("m is HOST_COUNT, FLEET_PERCENT rounded up, or N − concurrency for MOST_CONCURRENCY")
    func minimumHealthyCounts() {
        #expect(MinimumHealthy.hostCount(6).count(fleetSize: 9) == 6)
        #expect(MinimumHealthy.fleetPercent(40).count(fleetSize: 9) == 4)
        #expect(MinimumHealthy.halfAtATime.count(fleetSize: 9) == 5)
        #expect(MinimumHealthy.fleetPercent(95).count(fleetSize: 10) == 10)
        #expect(MinimumHealthy.oneAtATime.count(fleetSize: 10) == 9)
        #expect(MinimumHealthy.oneAtATime.count(fleetSize: 1) == 0)
        #expect(MinimumHealthy.allAtOnce.count(fleetSize: 10) == 0)
    }

    @Test("the configuration shapes map to rules, MOST_CONCURRENCY included; nonsense is refused")
    func rulesFromShapes() {
        let most = CodeDeploy.MinimumHealthyHosts(type: .init(rawValue: "MOST_CONCURRENCY"), value: 1)
        #expect(MinimumHealthy(most) == .oneAtATime)
        #expect(MinimumHealthy(CodeDeploy.MinimumHealthyHosts(type: .fleetPercent, value: 50)) == .halfAtATime)
        #expect(MinimumHealthy(CodeDeploy.MinimumHealthyHosts(type: .hostCount, value: 0)) == .allAtOnce)
        #expect(MinimumHealthy(CodeDeploy.MinimumHealthyHosts(type: .hostCount, value: -1)) == nil)
        #expect(MinimumHealthy(CodeDeploy.MinimumHealthyHosts(type: .init(rawValue: "BOGUS"), value: 1)) == nil)
        #expect(MinimumHealthy.oneAtATime.shape == most)
    }

    @Test("plans start at most N − m hosts: 10/m=9 → 1, 10/m=8 → 2, 10/m=0 → 10, 9/6 → 3, 9/40 % → 5, 9/half → 4")
    func concurrencyOfTheWorkedExamples() {
        #expect(FleetScheduler.plan(hosts: pending(10), minimumHealthy: 9).start.count == 1)
        #expect(FleetScheduler.plan(hosts: pending(10), minimumHealthy: 8).start.count == 2)
        #expect(FleetScheduler.plan(hosts: pending(10), minimumHealthy: 0).start.count == 10)
        #expect(FleetScheduler.plan(hosts: pending(9), minimumHealthy: 6).start.count == 3)
        #expect(FleetScheduler.plan(hosts: pending(9), minimumHealthy: 4).start.count == 5)
        #expect(FleetScheduler.plan(hosts: pending(9), minimumHealthy: 5).start.count == 4)
        #expect(FleetScheduler.plan(hosts: pending(3), minimumHealthy: 1).start == ["host-1", "host-2"])
    }

    @Test("no targets is NO_INSTANCES; m ≥ N is HEALTH_CONSTRAINTS_INVALID")
    func verdictsAtStart() {
        #expect(FleetScheduler.plan(hosts: [], minimumHealthy: 0).verdict == .failed(.noInstances))
        #expect(
            FleetScheduler.plan(hosts: pending(10), minimumHealthy: 10).verdict == .failed(.healthConstraintsInvalid))
    }

    @Test("a broken budget with hosts left is HEALTH_CONSTRAINTS; in-flight hosts are waited for")
    func brokenBudget() {
        var hosts = pending(10)
        hosts[0].phase = .failed
        #expect(FleetScheduler.plan(hosts: hosts, minimumHealthy: 9).verdict == .failed(.healthConstraints))
        hosts[1].phase = .inFlight
        #expect(FleetScheduler.plan(hosts: hosts, minimumHealthy: 9) == FleetScheduler.Plan())
    }

    @Test("the end: succeeded iff at least max(m, 1) hosts succeeded")
    func endVerdicts() {
        let done = { (succeeded: Int, failed: Int) in
            (0..<succeeded).map { FleetScheduler.ObservedHost("s\($0)", .succeeded) }
                + (0..<failed).map { FleetScheduler.ObservedHost("f\($0)", .failed) }
        }
        #expect(FleetScheduler.plan(hosts: done(9, 1), minimumHealthy: 9).verdict == .succeeded)
        #expect(FleetScheduler.plan(hosts: done(0, 10), minimumHealthy: 0).verdict == .failed(.healthConstraints))
        #expect(FleetScheduler.plan(hosts: done(1, 9), minimumHealthy: 0).verdict == .succeeded)
    }

    // MARK: Worked examples, driven through whole deployments

    @Test("10 hosts, m = 9: one at a time; a failure other than the last fails the deployment")
    func tenHostsNineHealthy() {
        var run = FleetRun(snapshot(hostNames(10), minimumHealthy: .hostCount(9)))
        #expect(run.run(failing: ["host-4"])?.errorCode == .healthConstraints)
        #expect(run.maxInFlight == 1)
        #expect(run.deployment.overview.succeeded == 3)
        #expect(run.deployment.overview.failed == 1)
        #expect(run.deployment.overview.skipped == 6)
    }

    @Test("10 hosts, m = 9: the last host failing still succeeds")
    func tenHostsNineHealthyLastFails() {
        var run = FleetRun(snapshot(hostNames(10), minimumHealthy: .hostCount(9)))
        #expect(run.run(failing: ["host-10"]) == .succeeded)
        #expect(run.succeeded == 9)
    }

    @Test("OneAtATime: one host at a time, the last host's failure is forgiven, any earlier one is not")
    func oneAtATimeLastHostRule() {
        var lastFails = FleetRun(snapshot(hostNames(4), minimumHealthy: .oneAtATime))
        #expect(lastFails.run(failing: ["host-4"]) == .succeeded)
        #expect(lastFails.maxInFlight == 1)
        #expect(lastFails.started == hostNames(4))

        var firstFails = FleetRun(snapshot(hostNames(4), minimumHealthy: .oneAtATime))
        #expect(firstFails.run(failing: ["host-1"])?.errorCode == .healthConstraints)
        #expect(
            firstFails.deployment.overview
                == .init(failed: 1, inProgress: 0, pending: 0, ready: 0, skipped: 3, succeeded: 0))
    }

    @Test("a single host: the deployment succeeds only if that host does")
    func singleHost() {
        var good = FleetRun(snapshot(["only"]))
        #expect(good.run() == .succeeded)
        var bad = FleetRun(snapshot(["only"]))
        #expect(bad.run(failing: ["only"])?.errorCode == .healthConstraints)
        var badAllAtOnce = FleetRun(snapshot(["only"], minimumHealthy: .allAtOnce))
        #expect(badAllAtOnce.run(failing: ["only"])?.errorCode == .healthConstraints)
    }

    @Test("10 hosts, m = 8: two at a time; a second failure fails it unless it is the last host")
    func tenHostsEightHealthy() {
        var second = FleetRun(snapshot(hostNames(10), minimumHealthy: .hostCount(8)))
        #expect(second.run(failing: ["host-2", "host-5"])?.errorCode == .healthConstraints)
        #expect(second.maxInFlight == 2)

        var last = FleetRun(snapshot(hostNames(10), minimumHealthy: .hostCount(8)))
        #expect(last.run(failing: ["host-2", "host-10"]) == .succeeded)
        #expect(last.succeeded == 8)
    }

    @Test("10 hosts, m = 0: all at once; succeeds with one success, fails with none")
    func tenHostsAllAtOnce() {
        var one = FleetRun(snapshot(hostNames(10), minimumHealthy: .allAtOnce))
        #expect(one.run(failing: Set(hostNames(10).dropFirst())) == .succeeded)
        #expect(one.maxInFlight == 10)

        var none = FleetRun(snapshot(hostNames(10), minimumHealthy: .allAtOnce))
        #expect(none.run(failing: Set(hostNames(10)))?.errorCode == .healthConstraints)
        #expect(none.deployment.overview.failed == 10)
    }

    @Test("9 hosts, HOST_COUNT 6: up to three at a time, needs six successes")
    func nineHostsSixHealthy() {
        var three = FleetRun(snapshot(hostNames(9), minimumHealthy: .hostCount(6)))
        #expect(three.run(failing: ["host-7", "host-8", "host-9"]) == .succeeded)
        #expect(three.maxInFlight == 3)
        #expect(three.succeeded == 6)

        var four = FleetRun(snapshot(hostNames(9), minimumHealthy: .hostCount(6)))
        #expect(four.run(failing: ["host-1", "host-2", "host-3", "host-4"])?.errorCode == .healthConstraints)
    }

    @Test("9 hosts, FLEET_PERCENT 40: up to five at a time, needs four successes")
    func nineHostsFortyPercent() {
        var run = FleetRun(snapshot(hostNames(9), minimumHealthy: .fleetPercent(40)))
        #expect(run.run(failing: ["host-5", "host-6", "host-7", "host-8", "host-9"]) == .succeeded)
        #expect(run.maxInFlight == 5)
        #expect(run.succeeded == 4)
    }

    @Test("9 hosts, HalfAtATime: up to four at a time, needs five successes")
    func nineHostsHalfAtATime() {
        var run = FleetRun(snapshot(hostNames(9), minimumHealthy: .halfAtATime))
        #expect(run.run(failing: ["host-6", "host-7", "host-8", "host-9"]) == .succeeded)
        #expect(run.maxInFlight == 4)
        #expect(run.succeeded == 5)

        var tooMany = FleetRun(snapshot(hostNames(9), minimumHealthy: .halfAtATime))
        #expect(
            tooMany.run(failing: ["host-1", "host-2", "host-3", "host-4", "host-5"])?.errorCode == .healthConstraints)
    }

    @Test("95 % of 10 hosts: the deployment fails at start with HEALTH_CONSTRAINTS_INVALID")
    func ninetyFivePercentOfTen() {
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: snapshot(hostNames(10), minimumHealthy: .fleetPercent(95)), now: clock.now)
        let actions = deployment.start(now: clock.now)
        #expect(actions.count == 1)
        #expect(deployment.errorInformation?.code == .healthConstraintsInvalid)
        #expect(deployment.status == .failed)
        #expect(deployment.overview.skipped == 10)
        #expect(deployment.minimumHealthyHostCount == 10)
    }

    @Test("no targets: the deployment fails at start with NO_INSTANCES")
    func noInstances() {
        let clock = ManualClock()
        var deployment = Deployment(snapshot: snapshot([]), now: clock.now)
        let actions = deployment.start(now: clock.now)
        #expect(actions == [.finish(.failed(try! #require(deployment.errorInformation)))])
        #expect(deployment.errorInformation?.code == .noInstances)
        #expect(deployment.completeTime == clock.now)
    }

    @Test("a target named twice is deployed to once")
    func duplicateTargets() {
        let clock = ManualClock()
        let deployment = Deployment(snapshot: snapshot(["web-1", "web-2", "web-1"]), now: clock.now)
        #expect(deployment.hosts.map(\.instanceName) == ["web-1", "web-2"])
    }

    @Test("the most hosts in flight at once is N − m")
    func maximumConcurrency() {
        #expect(FleetScheduler.maximumConcurrency(fleetSize: 9, minimumHealthy: 6) == 3)
        #expect(FleetScheduler.maximumConcurrency(fleetSize: 10, minimumHealthy: 10) == 0)
    }

    @Test("hosts are scheduled unhealthy first, then unknown, old and current revisions")
    func schedulingOrder() {
        let targets = [
            target("current", revision: .current), target("old", revision: .old), target("unknown"),
            target("sick", health: .unhealthy, revision: .current), target("old-2", revision: .old),
        ]
        #expect(
            DeploymentTarget.schedulingOrder(targets).map(\.instanceName) == [
                "sick", "unknown", "old", "old-2", "current",
            ])
        let clock = ManualClock()
        var deployment = Deployment(
            snapshot: DeploymentSnapshot(deploymentId: deploymentId, targets: targets), now: clock.now)
        #expect(deployment.start(now: clock.now) == [offer("sick", .applicationStop, at: clock.now)])
    }
}
