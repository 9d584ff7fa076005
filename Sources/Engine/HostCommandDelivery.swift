import Foundation
import SlipwayModel

/// How one host's commands reach it, across all the deployments that give it work: offered → handed out to a poll →
/// acknowledged → completed.
///
/// A host runs one command at a time: a poll hands out the oldest offered command only when the host holds none,
/// and the host holds it until the command ends (completed, timed out or withdrawn). A command handed out but not
/// acknowledged within ``redeliveryGrace`` was lost on its way (a dropped connection, a client timeout), so the next
/// poll hands it out again.
///
/// Whether the held command was acknowledged is the deployment's to know (``HostLifecycle/commandStatus(_:)``); a
/// poll is told it, so that the fact lives in one place. The deployment's actions drive the rest:
/// ``DeploymentAction/offerCommand(_:)`` is ``offer(_:)``, ``DeploymentAction/withdrawCommand(_:)`` and
/// ``DeploymentAction/releaseHost(_:)`` are ``end(_:)``.
public struct HostCommandDelivery: Codable, Sendable, Hashable {
    /// How long a command handed out waits for its acknowledgement before a new poll of its host gets it again.
    public static let redeliveryGrace: TimeInterval = 30

    /// A command waiting for a poll.
    public struct Offer: Codable, Sendable, Hashable {
        public var id: HostCommandID
        public var offeredAt: Date
    }

    /// The command the host holds: handed out and not ended.
    public struct Held: Codable, Sendable, Hashable {
        public var id: HostCommandID
        /// When a poll last handed it out.
        public var handedOutAt: Date
    }

    /// Commands offered and not handed out yet, oldest first.
    public private(set) var offers: [Offer]
    public private(set) var held: Held?

    /// A host with nothing offered and nothing held.
    public init() {
        offers = []
        held = nil
    }

    /// Whether the host has nothing offered and holds nothing (a driver may forget it).
    public var isIdle: Bool { offers.isEmpty && held == nil }

    /// When a poll may hand the held command out again, unless it was acknowledged by then.
    public var redeliveryDeadline: Date? { held.map { $0.handedOutAt + Self.redeliveryGrace } }

    /// Whether a poll at `now` might be handed a command: one is offered and none held, or the held one's redelivery
    /// deadline has passed (it may have been acknowledged since; ``poll(now:heldStatus:)`` decides). A look that
    /// spares most polls a write.
    public func mayHandOut(at now: Date) -> Bool {
        if let deadline = redeliveryDeadline { return deadline <= now }
        return !offers.isEmpty
    }

    /// What a poll gets.
    public enum Handout: Sendable, Hashable {
        /// Nothing: none offered, or the host still runs the command it holds.
        case nothing
        /// `id`, handed out for the first time (`again` false) or once more after the grace.
        case command(HostCommandID, again: Bool)
    }

    /// A command is offered to the host. Offering one already offered or held changes nothing.
    public mutating func offer(_ command: HostCommand) {
        guard held?.id != command.id, !offers.contains(where: { $0.id == command.id }) else { return }
        offers.append(Offer(id: command.id, offeredAt: command.offeredAt))
    }

    /// The host polls at `now`. `heldStatus` is what the held command's deployment says of it: `.pending` while it
    /// was handed out and not acknowledged, `.inProgress` while it runs, anything else (or `nil`) once it ended.
    ///
    /// A held command that ended without this machine being told is let go, so a lost action cannot keep a host
    /// from its next command. A command handed out for the first time must be confirmed by its deployment: if the
    /// deployment no longer offers it, the driver calls ``end(_:)`` and polls again.
    public mutating func poll(now: Date, heldStatus: CodeDeployCommand.CommandStatus?) -> Handout {
        if let held {
            switch heldStatus {
            case .pending?:
                guard let deadline = redeliveryDeadline, deadline <= now else { return .nothing }
                self.held?.handedOutAt = now
                return .command(held.id, again: true)
            case .inProgress?:
                return .nothing
            default:
                self.held = nil
            }
        }
        guard !offers.isEmpty else { return .nothing }
        let offer = offers.removeFirst()
        held = Held(id: offer.id, handedOutAt: now)
        return .command(offer.id, again: false)
    }

    /// Command `id` is over for this host: completed, timed out, or withdrawn before it ran. Returns whether the host
    /// was holding it and is now free for its next command.
    @discardableResult
    public mutating func end(_ id: HostCommandID) -> Bool {
        offers.removeAll { $0.id == id }
        guard held?.id == id else { return false }
        held = nil
        return true
    }
}

// Stored on every command a host runs: written and read in the form the synthesized `Codable` conformances use.

extension HostCommandDelivery: JSONReadable, JSONWritable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        offers = try members.value("offers") ?? []
        held = try members.value("held")
    }

    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("offers", offers, in: &object)
        output.member("held", held, in: &object)
        output.endObject(object)
    }
}

extension HostCommandDelivery.Offer: JSONReadable, JSONWritable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        id = try members.required("id")
        offeredAt = try members.required("offeredAt")
    }

    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("id", id, in: &object)
        output.member("offeredAt", offeredAt, in: &object)
        output.endObject(object)
    }
}

extension HostCommandDelivery.Held: JSONReadable, JSONWritable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        let members = try JSONMembers(json, of: Self.self)
        id = try members.required("id")
        handedOutAt = try members.required("handedOutAt")
    }

    public func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        output.member("id", id, in: &object)
        output.member("handedOutAt", handedOutAt, in: &object)
        output.endObject(object)
    }
}

extension HostCommandID: JSONReadable {
    public init(json: JSONValue) throws(JSONTypeMismatch) {
        guard case .string(let text) = json, let id = HostCommandID(rawValue: text) else {
            throw JSONTypeMismatch(expected: "a host command identifier", found: json)
        }
        self = id
    }
}
