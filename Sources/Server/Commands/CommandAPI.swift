import Deployments
import Engine
import Foundation
import Logging
import Metrics
import SlipwayModel
import Store
import Synchronization

/// The agent command API (`CodeDeployCommandService_v20141006.*` and `CodeDeployCommandService.*`): agents poll for
/// host commands, fetch the signed deployment specification, acknowledge and complete commands.
///
/// A key bound to an instance may act only for that instance's host identifier (its IAM ARN); an admin key may act
/// for any host (useful for tests and tools).
struct CommandAPI: Sendable {
    /// How long an idle poll is held before it is answered `{}`: below a minute, as CodeDeploy answers, and well
    /// inside the stock agent's 80-second read timeout.
    let pollHold: Duration
    let store: any Store
    let deployments: DeploymentDriver
    let signer: SpecificationSigner
    private let validator = ShapeValidator(
        schema: CodeDeployCommand.schema, freeTextShapes: CodeDeployCommand.freeTextShapes)
    /// The last poll record this server wrote or read for each host.
    private let recentPolls = RecentPolls()
    /// The last signed specification of each deployment.
    private let recentSignatures = RecentSignatures()

    init(
        store: any Store, deployments: DeploymentDriver, signer: SpecificationSigner,
        pollHold: Duration = .seconds(50)
    ) {
        self.pollHold = pollHold
        self.store = store
        self.deployments = deployments
        self.signer = signer
    }

    /// Handles one authenticated request: checks its body against the operation's input shape, then serves it.
    func handle(
        _ operation: CodeDeployCommand.Operation, input request: JSONInput, principal: Principal, agentVersion: String?,
        now: @Sendable () -> Date
    ) async throws -> Data {
        try request.validate(against: operation.inputShape, with: validator) { Self.clientError($0.description) }
        // The driver's refusals are CodeDeploy's errors on this protocol too.
        do {
            switch operation {
            case .pollHostCommand:
                let input = try request.decode(CodeDeployCommand.PollHostCommandInput.self)
                let host = input.HostIdentifier ?? ""
                try Self.authorize(principal, host: host)
                try await recordPoll(host: host, agentVersion: agentVersion, now: now())
                return JSONOutput.encode(try await poll(host: host, now: now))
            case .getDeploymentSpecification:
                let input = try request.decode(CodeDeployCommand.GetDeploymentSpecificationInput.self)
                let host = input.HostIdentifier ?? ""
                try Self.authorize(principal, host: host)
                return JSONOutput.encode(
                    try await specification(executionId: input.DeploymentExecutionId ?? "", host: host, now: now()))
            case .putHostCommandAcknowledgement:
                let input = try request.decode(CodeDeployCommand.PutHostCommandAcknowledgementInput.self)
                let id = try await command(input.HostCommandIdentifier, principal: principal)
                let status = try await deployments.apply(
                    .acknowledged(id, CommandAcknowledgement(diagnostics: input.Diagnostics)), to: id.deploymentId,
                    now: now()
                ) { $0.commandStatus(id) }
                return JSONOutput.encode(
                    CodeDeployCommand.PutHostCommandAcknowledgementOutput(commandStatus: status ?? .failed))
            case .putHostCommandComplete:
                let input = try request.decode(CodeDeployCommand.PutHostCommandCompleteInput.self)
                let id = try await command(input.HostCommandIdentifier, principal: principal)
                guard let report = CommandReport(status: input.CommandStatus, diagnostics: input.Diagnostics) else {
                    throw Self.clientError("CommandStatus must be Succeeded or Failed to complete a command.")
                }
                try await deployments.apply(.completed(id, report), to: id.deploymentId, now: now()) { _ in () }
                return Data("{}".utf8)
            case .putHostCommandLog:
                let input = try request.decode(CodeDeployCommand.PutHostCommandLogInput.self)
                let id = try await command(input.HostCommandIdentifier, principal: principal)
                let record = LifecycleEventLogRecord(log: input.Log ?? "", uploadTime: now())
                try await store.write { tx in
                    try tx.set(
                        record, .lifecycleEventLog, scope: id.deploymentId,
                        name: "\(id.instanceName)/\(id.event.rawValue)")
                }
                return Data("{}".utf8)
            case .postHostCommandUpdate:
                let input = try request.decode(CodeDeployCommand.PostHostCommandUpdateInput.self)
                let id = try await command(input.HostCommandIdentifier, principal: principal)
                let status = try await deployments.apply(
                    .heartbeat(id, estimatedCompletion: input.EstimatedCompletionTime), to: id.deploymentId, now: now()
                ) { $0.commandStatus(id) }
                return JSONOutput.encode(
                    CodeDeployCommand.PostHostCommandUpdateOutput(commandStatus: status ?? .failed))
            }
        } catch let error as DeploymentError {
            throw error.awsError
        }
    }

    // MARK: PollHostCommand

    /// Hands out the host's next command, holding the request up to ``pollHold`` while there is none.
    private func poll(host: String, now: @Sendable () -> Date) async throws -> CodeDeployCommand.PollHostCommandOutput {
        let deadline = ContinuousClock.now.advanced(by: pollHold)
        let held = Meter(label: ServerMetrics.heldPolls)
        held.increment()
        defer { held.decrement() }
        while true {
            let sequence = await deployments.wakeups.sequence(of: host)
            if let command = try await deployments.takeCommand(for: host, now: now()) {
                return CodeDeployCommand.PollHostCommandOutput(hostCommand: command)
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero,
                await deployments.wakeups.wait(for: host, since: sequence, timeout: remaining)
            else {
                return CodeDeployCommand.PollHostCommandOutput(hostCommand: nil)
            }
        }
    }

    /// Keeps the agent's version and the time of its last poll, so that a pickup timeout can say whether it polls.
    private func recordPoll(host: String, agentVersion: String?, now: Date) async throws {
        func isRecent(_ known: HostAgentRecord?) -> Bool {
            guard let known else { return false }
            return known.agentVersion == agentVersion && now.timeIntervalSince(known.lastPollTime) < 30
        }
        // What this server wrote last spares a read on most polls; the store decides when memory says nothing.
        if isRecent(recentPolls.records.withLock({ $0[host] })) { return }
        let known = try await store.read { try $0.get(HostAgentRecord.self, .hostAgent, name: host) }
        if isRecent(known) {
            remember(known!)
            return
        }
        let record = HostAgentRecord(agentVersion: agentVersion, lastPollTime: now)
        try await store.write { tx in
            try tx.set(record, .hostAgent, name: host)
        }
        remember(record)

        func remember(_ record: HostAgentRecord) {
            recentPolls.records.withLock { polls in
                if polls.count >= 100_000 { polls.removeAll() }
                polls[host] = record
            }
        }
    }

    // MARK: GetDeploymentSpecification

    private func specification(executionId: String, host: String, now: Date) async throws
        -> CodeDeployCommand.GetDeploymentSpecificationOutput
    {
        guard let deploymentId = DeploymentExecutionID(rawValue: executionId)?.deploymentId,
            DeploymentID.isValid(deploymentId)
        else {
            throw Self.clientError("\(executionId) is not a deployment execution id this server gave out.")
        }
        let json: Data?
        if let facts = deployments.cache.facts(deploymentId) {
            json = facts.instances[host] == nil ? nil : facts.specificationJSON
        } else {
            json = try await store.read { tx -> Data? in
                guard try tx.deploymentInstance(deploymentId, hostIdentifier: host) != nil,
                    let record = try tx.deployment(deploymentId)
                else { return nil }
                return try record.specificationText()
            }
        }
        guard let json else {
            throw Self.clientError("Deployment \(deploymentId) has no command for host \(host).")
        }
        let envelope = CodeDeployCommand.Envelope(
            format: "PKCS7/JSON", payload: try signed(json, deploymentId, now: now))
        return CodeDeployCommand.GetDeploymentSpecificationOutput(
            deploymentSpecification: CodeDeployCommand.DeploymentSpecification(genericEnvelope: envelope))
    }

    /// The signed `json` of deployment `deploymentId`: a signature made in the last minute for the same document is
    /// handed out again, since every host of a deployment fetches the same specification for every event and
    /// signing (with its PEM encoding) is most of the work of the request. Agents check the signer, not the age.
    private func signed(_ json: Data, _ deploymentId: String, now: Date) throws -> String {
        if let recent = recentSignatures.entries.withLock({ $0[deploymentId] }), recent.document == json,
            (0..<60).contains(now.timeIntervalSince(recent.signedAt))
        {
            return recent.payload
        }
        let payload = try signer.sign(json, now: now)
        recentSignatures.entries.withLock { entries in
            if entries.count >= 256 { entries.removeAll() }
            entries[deploymentId] = (json, now, payload)
        }
        return payload
    }

    // MARK: Helpers

    /// The command a request names, after checking the caller may act for its host.
    private func command(_ text: String?, principal: Principal) async throws -> HostCommandID {
        guard let text, let id = HostCommandID(rawValue: text) else {
            throw Self.clientError("\(text ?? "") is not a host command identifier this server gave out.")
        }
        var host = deployments.cache.facts(id.deploymentId)?.hostIdentifiers[id.instanceName]
        if host == nil {
            host = try await store.read { tx in
                try tx.deploymentHost(id.deploymentId, instanceName: id.instanceName)?.target.hostIdentifier
            }
        }
        guard let host else { throw Self.clientError("The host command \(text) does not exist.") }
        try Self.authorize(principal, host: host)
        return id
    }

    /// An agent key acts only for its own host.
    private static func authorize(_ principal: Principal, host: String) throws {
        guard principal.mayActFor(host: host) else {
            throw AWSJSONError(
                type: "AccessDeniedException",
                message: "User: \(principal.arn) is not allowed to act for host \(host): an instance's key acts only "
                    + "for that instance.",
                status: 403)
        }
    }

    private static func clientError(_ message: String) -> AWSJSONError {
        AWSJSONError(type: CodeDeployCommand.ErrorCode.clientException.rawValue, message: message)
    }
}

/// The poll records a command API wrote or read, by host identifier.
private final class RecentPolls: Sendable {
    let records = Mutex<[String: HostAgentRecord]>([:])
}

/// Signed specifications by deployment id: the document, when it was signed and the signed payload.
private final class RecentSignatures: Sendable {
    let entries = Mutex<[String: (document: Data, signedAt: Date, payload: String)]>([:])
}
