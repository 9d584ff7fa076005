import Engine
import Foundation
import Logging
import Store

/// What one poll of the alarm sources found for a deployment.
package enum AlarmReport: Sendable, Hashable {
    /// These of its alarms are in ALARM.
    case raised([String])
    /// None of its alarms is in ALARM as far as the sources could tell, but a source could not be read (why).
    case unreadable(String)
}

/// A place alarm states are read from: Slipway's own CloudWatch alarms, a Prometheus or Alertmanager, a
/// CloudWatch `DescribeAlarms` endpoint.
package protocol AlarmSource: Sendable {
    /// The source as messages name it, e.g. `Prometheus at http://127.0.0.1:9090`.
    var description: String { get }
    /// Which of `names` are in ALARM now. Names the source does not know are not in ALARM. Throws when the source
    /// cannot be read; the error's description says why.
    func alarming(among names: Set<String>) async throws -> Set<String>
}

/// Polls the alarm sources for the alarms the deployments in progress watch, and reports what it finds to each
/// deployment: one read of every source per poll, whatever the number of deployments.
package struct AlarmWatcher: Sendable {
    package let driver: DeploymentDriver
    package let sources: [any AlarmSource]
    /// How long one source may take to answer before the poll counts it unreadable.
    package let timeout: Duration

    package init(driver: DeploymentDriver, sources: [any AlarmSource], timeout: Duration = .seconds(10)) {
        self.driver = driver
        self.sources = sources
        self.timeout = timeout
    }

    /// One poll: reads the watched alarms from every source and applies a report to each deployment whose alarms
    /// are in ALARM, or could not all be read. Returns the reports it applied, by deployment.
    @discardableResult
    package func poll(now: @Sendable () -> Date) async -> [String: AlarmReport] {
        let watching: [(id: String, alarms: [String])]
        do {
            watching = try await driver.store.read { tx in
                try tx.list(LiveDeploymentRecord.self, .liveDeployment).compactMap { live in
                    live.value.watchedAlarms.map { (live.name, $0) }
                }
            }
        } catch {
            driver.logger.error("cannot read the deployments in progress", metadata: ["error": "\(error)"])
            return [:]
        }
        guard !watching.isEmpty else { return [:] }
        let names = Set(watching.flatMap(\.alarms))
        let (alarming, failures) = await read(names)
        var reports: [String: AlarmReport] = [:]
        for (id, alarms) in watching {
            let raised = alarms.filter { alarming.contains($0) }
            if !raised.isEmpty {
                reports[id] = .raised(raised)
            } else if !failures.isEmpty {
                reports[id] = .unreadable(failures.joined(separator: "; "))
            }
        }
        for (id, report) in reports.sorted(by: { $0.key < $1.key }) {
            do {
                try await driver.apply(.alarms(report), to: id, now: now())
                if case .raised(let names) = report {
                    driver.logger.notice(
                        "alarm in ALARM: deployment stopped",
                        metadata: ["deployment": "\(id)", "alarms": "\(names.joined(separator: ","))"])
                }
            } catch {
                driver.logger.error(
                    "cannot report alarms to a deployment", metadata: ["deployment": "\(id)", "error": "\(error)"])
            }
        }
        return reports
    }

    /// Asks every source at once; a source that fails or does not answer within ``timeout`` adds a failure.
    private func read(_ names: Set<String>) async -> (alarming: Set<String>, failures: [String]) {
        await withTaskGroup(of: Result<Set<String>, SourceFailure>.self) { group in
            for source in sources {
                group.addTask { [timeout] in
                    await Self.read(names, from: source, timeout: timeout)
                }
            }
            var alarming: Set<String> = []
            var failures: [String] = []
            for await result in group {
                switch result {
                case .success(let names):
                    alarming.formUnion(names)
                    DeploymentMetrics.alarmPoll(outcome: names.isEmpty ? "ok" : "alarm")
                case .failure(let failure):
                    failures.append(failure.message)
                    DeploymentMetrics.alarmPoll(outcome: "error")
                }
            }
            return (alarming, failures.sorted())
        }
    }

    private struct SourceFailure: Error {
        var message: String
    }

    private static func read(_ names: Set<String>, from source: any AlarmSource, timeout: Duration) async
        -> Result<Set<String>, SourceFailure>
    {
        await withTaskGroup(of: Result<Set<String>, SourceFailure>?.self) { group in
            group.addTask {
                do {
                    return .success(try await source.alarming(among: names))
                } catch {
                    return .failure(SourceFailure(message: "\(source.description): \(error)"))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled
                    ? nil : .failure(SourceFailure(message: "\(source.description) did not answer in \(timeout)"))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(SourceFailure(message: "\(source.description) did not answer"))
        }
    }

    /// Polls every `interval` until the task is cancelled.
    package func run(every interval: Duration, clock: @escaping @Sendable () -> Date) async {
        while !Task.isCancelled {
            await poll(now: clock)
            try? await Task.sleep(for: interval)
        }
    }
}
