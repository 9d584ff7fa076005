import Foundation
import Logging
import SlipwayModel
import Synchronization

/// The agent's main loop: long-polls for host commands and runs them one at a time, reporting each as the stock
/// agent does (fetch the deployment specification, acknowledge, run, complete). Generic over the command service
/// so tests can script the server.
package struct AgentRunner<Service: CommandService>: Sendable {
    let service: Service
    let hostIdentifier: String
    let executor: CommandExecutor
    let verifier: SpecificationVerifier
    let waitBetweenRuns: Duration
    /// How often a running command reports that it is alive.
    let heartbeatInterval: Duration
    /// How often a running event's log is uploaded while it grows.
    var logUploadInterval: Duration = .seconds(2)
    /// How long a stop waits for the running command before it is ended.
    let stopGrace: Duration
    /// How long a command's result is offered to a server that cannot take it.
    var completionRetryLimit: Duration = .seconds(300)
    let logger: Logger

    package init(
        service: Service, hostIdentifier: String, executor: CommandExecutor, verifier: SpecificationVerifier,
        waitBetweenRuns: Duration, heartbeatInterval: Duration = .seconds(30), stopGrace: Duration,
        logger: Logger
    ) {
        self.service = service
        self.hostIdentifier = hostIdentifier
        self.executor = executor
        self.verifier = verifier
        self.waitBetweenRuns = waitBetweenRuns
        self.heartbeatInterval = heartbeatInterval
        self.stopGrace = stopGrace
        self.logger = logger
    }

    var tracker: CommandTracker { CommandTracker(directory: executor.layout.trackingDirectory) }

    /// Runs until `stop` is signalled: then no new command is taken, and the running one gets ``stopGrace`` to finish.
    package func run(until stop: StopSignal) async {
        await reportInterruptedCommands()
        var consecutiveErrors = 0
        while !stop.isStopping {
            do {
                let command = try await stop.interruptible {
                    try await service.pollHostCommand(hostIdentifier: hostIdentifier)
                }
                consecutiveErrors = 0
                AgentMetrics.poll(command == nil ? "empty" : "command")
                guard let command else {
                    try? await stop.sleep(for: waitBetweenRuns)
                    continue
                }
                await process(command, stop: stop)
            } catch is CancellationError {
                break
            } catch {
                consecutiveErrors += 1
                AgentMetrics.poll("error")
                let wait = Self.backoff(afterErrors: consecutiveErrors)
                logger.warning(
                    "the command API failed; retrying",
                    metadata: ["error": "\(error)", "retry in": "\(wait)"])
                try? await stop.sleep(for: wait)
            }
        }
        logger.info("the agent stopped")
    }

    /// The stock agent's backoff after `errors` consecutive failures: about 10 s after one, growing to 90 s.
    static func backoff(afterErrors errors: Int) -> Duration {
        let n = Double(min(errors, 10))
        let seconds = pow(1.2675, n) * 90 / pow(1.2675, 10)
        return .milliseconds(Int64(seconds * 1000))
    }

    /// At start: the commands a previous run of the agent left unfinished are reported failed at once, so their
    /// deployments do not wait for a server-side timeout.
    func reportInterruptedCommands() async {
        for commandID in tracker.takeInterrupted(now: Date()) {
            let message = "Failed: Failing in-progress lifecycle event after an agent restart."
            logger.warning("reporting a command interrupted by an agent restart", metadata: ["command": "\(commandID)"])
            do {
                try await service.complete(
                    commandID, status: .failed,
                    diagnostics: CommandOutcome.diagnostics(code: .failedAfterRestart, message: message))
            } catch {
                logger.warning("could not report the interrupted command", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One command, from specification to completion.
    func process(_ command: CodeDeployCommand.HostCommandInstance, stop: StopSignal) async {
        guard let commandID = command.HostCommandIdentifier, let name = command.CommandName, !name.isEmpty,
            let executionID = command.DeploymentExecutionId
        else {
            logger.error("the server sent a command without identifier, name or execution id; ignoring it")
            return
        }
        // The stock agent's rule: the command's host must be part of this agent's identifier.
        guard let host = command.HostIdentifier, hostIdentifier.contains(host) else {
            logger.error(
                "the server sent a command for another host; ignoring it",
                metadata: ["host": "\(command.HostIdentifier ?? "")"])
            return
        }
        var metadata: Logger.Metadata = ["command": "\(name)"]
        do {
            let output = try await retryingUnreachable {
                try await service.getDeploymentSpecification(executionID: executionID, hostIdentifier: host)
            }
            guard output.DeploymentSystem == "CodeDeploy",
                let envelope = output.DeploymentSpecification?.GenericEnvelope
            else {
                throw AgentError("the deployment specification is not for CodeDeploy or is missing")
            }
            let spec = try await verifier.open(
                format: envelope.Format, payload: envelope.Payload, executionID: executionID)
            metadata["deployment"] = "\(spec.deploymentID)"
            let noop = executor.isNoop(name, spec: spec)
            // The stock agent states no maximum, so a dead stock agent holds its host for 70 minutes. This one
            // heartbeats, so it states a window of three heartbeats: its host fails within minutes if it dies.
            let window = Int(heartbeatInterval.components.seconds) * 3
            let status = try await retryingUnreachable {
                try await service.acknowledge(commandID, isNoop: noop, maxDuration: max(window, 1))
            }
            switch status {
            case .succeeded?:
                logger.info("the server says the command is done already", metadata: metadata)
                return
            case .failed?:
                if noop {
                    try await service.complete(
                        commandID, status: .succeeded,
                        diagnostics: CommandOutcome.diagnostics(
                            code: .succeeded, message: "Succeeded: CompletedNoopCommand"))
                }
                logger.info("the server no longer wants the command", metadata: metadata)
                return
            default:
                break
            }
            logger.info("running", metadata: metadata)
            try tracker.begin(deploymentID: spec.deploymentID, commandID: commandID)
            let started = ContinuousClock.now
            let outcome = await runWithHeartbeats(name, spec: spec, commandID: commandID, stop: stop)
            AgentMetrics.command(name, succeeded: outcome.succeeded, duration: ContinuousClock.now - started)
            if !outcome.eventLog.isEmpty {
                do {
                    try await service.uploadLog(commandID, log: outcome.eventLog)
                } catch {
                    // A server without the operation (or a transient error) must not fail the command.
                    logger.debug("could not upload the event log", metadata: ["error": "\(error)"])
                }
            }
            metadata["result"] = "\(outcome.succeeded ? "Succeeded" : "Failed: \(outcome.message)")"
            if await completeReliably(
                commandID, status: outcome.succeeded ? .succeeded : .failed, diagnostics: outcome.diagnostics)
            {
                tracker.end(deploymentID: spec.deploymentID)
                logger.info("completed", metadata: metadata)
            } else {
                // The tracking file stays: the next start reports the command failed.
                logger.error("could not report the command's result to the server", metadata: metadata)
            }
        } catch let error as CommandServiceError where error.isUnreachable {
            // The server is gone for longer than the retries (a restart, a network cut). Reporting a failure now
            // would fail the host for the server's own outage: the server hands the command out again instead.
            logger.warning(
                "the server could not be reached before the command ran; it will be handed out again",
                metadata: metadata.merging(["error": "\(error)"]) { $1 })
        } catch {
            logger.error("the command failed before it ran", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            try? await service.complete(
                commandID, status: .failed,
                diagnostics: CommandOutcome.diagnostics(code: .unknownError, message: "\(error)"))
        }
    }

    /// Runs a call to the server again while the server cannot be reached or answers with a server error or
    /// throttling, for up to `limit` (a restarting server is back within seconds); other errors end it at once.
    func retryingUnreachable<T: Sendable>(for limit: Duration = .seconds(60), _ body: () async throws -> T)
        async throws -> T
    {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var delay = Duration.milliseconds(500)
        while true {
            do {
                return try await body()
            } catch let error as CommandServiceError where error.isUnreachable {
                guard ContinuousClock.now.advanced(by: delay) < deadline else { throw error }
                logger.warning("the server did not answer; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(15))
            }
        }
    }

    /// Reports a command's end, for up to ``completionRetryLimit`` while the server cannot take it (it may be
    /// restarting): a result the server never hears would make it run the event again or time the host out. Gives up
    /// at once when the server refuses the report itself.
    func completeReliably(_ commandID: String, status: CodeDeployCommand.CommandStatus, diagnostics: String) async
        -> Bool
    {
        do {
            try await retryingUnreachable(for: completionRetryLimit) {
                try await service.complete(commandID, status: status, diagnostics: diagnostics)
            }
            return true
        } catch {
            logger.error("the server did not take the command's result", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Runs the command while a heartbeat tells the server it is alive; ends it early when the server no longer wants
    /// it (the deployment was stopped or timed out) or when a stop's grace runs out.
    func runWithHeartbeats(_ name: String, spec: DeploymentSpec, commandID: String, stop: StopSignal) async
        -> CommandOutcome
    {
        await withTaskGroup(of: CommandOutcome?.self) { group in
            group.addTask { await executor.execute(name, spec: spec) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeatInterval)
                    if Task.isCancelled { return nil }
                    if let status = try? await service.update(commandID), status == .failed || status == .succeeded {
                        return .failure("the server ended the command (the deployment was stopped or timed out)")
                    }
                }
                return nil
            }
            group.addTask {
                // The event's output so far, each time it grew: the console shows it while the event runs.
                var uploaded = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: logUploadInterval)
                    if Task.isCancelled { return nil }
                    guard let (text, appended) = executor.liveLog.snapshot, appended != uploaded else { continue }
                    if (try? await service.uploadLog(commandID, log: text)) != nil { uploaded = appended }
                }
                return nil
            }
            group.addTask {
                await stop.waitUntilStopping()
                if Task.isCancelled { return nil }
                try? await Task.sleep(for: stopGrace)
                if Task.isCancelled { return nil }
                return .failure("the agent was stopped and the command did not finish within \(stopGrace)")
            }
            var result: CommandOutcome?
            while let next = await group.next() {
                if let next {
                    result = next
                    break
                }
            }
            group.cancelAll()
            return result ?? .failure("the command ended without a result")
        }
    }
}

/// Tells the loop to stop (SIGTERM, SIGINT, or a test), and lets waits end early when it does.
package final class StopSignal: Sendable {
    private struct State {
        var stopping = false
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    package init() {}

    package var isStopping: Bool { state.withLock { $0.stopping } }

    package func stop() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopping = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when a stop comes, or when the calling task is cancelled.
    package func waitUntilStopping() async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.stopping || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Sleeps, ending early (with CancellationError) when a stop comes.
    package func sleep(for duration: Duration) async throws {
        _ = try await interruptible { try await Task.sleep(for: duration) }
    }

    /// Runs `body`, cancelling it when a stop comes; a cancelled body throws CancellationError.
    package func interruptible<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                await self.waitUntilStopping()
                throw CancellationError()
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw CancellationError() }
            return value
        }
    }
}
