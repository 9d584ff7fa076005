import Foundation
import SlipwayModel
import Store

extension RecordKind {
    /// A short summary of every deployment, newest first: scope "" holds all of them, scope `<deployment group id>`
    /// those of one group; the name is ``DeploymentListing/name(createTime:id:)``. Lists of deployments read these in
    /// name order instead of decoding every deployment record.
    package static let deploymentListing = RecordKind(rawValue: "deploymentListing")
    /// Settings of the deployments' own (scope ""): the version of the listings a store holds.
    package static let deploymentsSetting = RecordKind(rawValue: "deploymentsSetting")
}

/// What a list of deployments shows of one: kept beside the deployment record, rewritten only when one of these
/// members changes (not on every host's progress).
package struct DeploymentListing: Codable, Sendable, Hashable {
    package var id: String
    package var application: String
    package var group: String
    package var groupId: String
    package var status: CodeDeploy.DeploymentStatus?
    package var createTime: Date?
    package var startTime: Date?
    package var completeTime: Date?
    package var creator: CodeDeploy.DeploymentCreator?
    /// Who asked for it (``DeploymentRecord/createdBy``).
    package var createdBy: String?
    /// The first 200 characters of the description.
    package var description: String?
    /// The revision in a few words: `s3://bucket/key`, `repository@commit`, or the AppSpec's SHA-256.
    package var revision: String?
    package var errorCode: String?
    /// The deployment this one rolls back, and the one that rolled this one back.
    package var rollbackOf: String?
    package var rolledBackBy: String?

    /// A listing of the members a list filters on, the rest empty.
    package init(
        id: String, application: String, group: String, groupId: String, status: CodeDeploy.DeploymentStatus?,
        createTime: Date?
    ) {
        self.id = id
        self.application = application
        self.group = group
        self.groupId = groupId
        self.status = status
        self.createTime = createTime
    }

    package init(_ record: DeploymentRecord) {
        let info = record.info
        id = record.id
        application = info.applicationName ?? ""
        group = info.deploymentGroupName ?? ""
        groupId = record.deploymentGroupId
        status = info.status
        createTime = info.createTime
        startTime = info.startTime
        completeTime = info.completeTime
        creator = info.creator
        createdBy = record.createdBy
        description = info.description.map { String($0.prefix(200)) }
        revision = info.revision.map(Self.summary)
        errorCode = info.errorInformation?.code?.rawValue
        rollbackOf = info.rollbackInfo?.rollbackTriggeringDeploymentId
        rolledBackBy = info.rollbackInfo?.rollbackDeploymentId
    }

    /// A revision location in a few words.
    package static func summary(_ location: CodeDeploy.RevisionLocation) -> String {
        if let s3 = location.s3Location {
            return "s3://\(s3.bucket ?? "")/\(s3.key ?? "")" + (s3.version.map { "?versionId=\($0)" } ?? "")
        }
        if let github = location.gitHubLocation {
            return "\(github.repository ?? "")@\(github.commitId ?? "")"
        }
        if location.string != nil { return "AppSpec text" }
        if location.appSpecContent != nil { return "AppSpec content" }
        return location.revisionType?.rawValue ?? "unknown"
    }

    /// The name of a listing: newest first in byte order (the create time counted down from a fixed point in
    /// milliseconds, 15 digits), the id after it. Times outside year 1970–9999 sort as those bounds.
    package static func name(createTime: Date?, id: String) -> String {
        let milliseconds = ((createTime?.timeIntervalSince1970 ?? 0) * 1000).rounded(.down)
        let clamped = Int64(min(max(milliseconds, 0), Double(latestMilliseconds)))
        return timeKey(latestMilliseconds - clamped) + "-" + id
    }

    /// The first listing name of deployments created at `time` or before: where a list "until `time`" starts.
    package static func firstName(atOrBefore time: Date) -> String {
        let milliseconds = (time.timeIntervalSince1970 * 1000).rounded(.down)
        let clamped = Int64(min(max(milliseconds, 0), Double(latestMilliseconds)))
        return timeKey(latestMilliseconds - clamped)
    }

    /// Year 9999, in milliseconds since 1970.
    private static let latestMilliseconds: Int64 = 253_402_300_799_999

    private static func timeKey(_ value: Int64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 15 - digits.count)) + digits
    }

    package var name: String { Self.name(createTime: createTime, id: id) }
}

extension StoreWriter {
    /// Writes the listings of `record` (under every deployment and under its group) when they differ from `before`.
    package func updateListing(of record: DeploymentRecord, before: DeploymentListing?) throws {
        let listing = DeploymentListing(record)
        guard listing != before else { return }
        try set(listing, .deploymentListing, name: listing.name)
        try set(listing, .deploymentListing, scope: listing.groupId, name: listing.name)
    }

    /// Makes the listings of every stored deployment, once per store: deployments created before listings existed
    /// get theirs. Returns how many were written.
    @discardableResult
    package func buildDeploymentListings() throws -> Int {
        let marker = "listingsVersion"
        guard try record(.deploymentsSetting, scope: "", name: marker) == nil else { return 0 }
        var count = 0
        var after: String? = nil
        while true {
            let page = try records(.deployment, scope: "", after: after, limit: 500)
            for stored in page {
                try updateListing(of: try RecordCoding.decode(DeploymentRecord.self, from: stored), before: nil)
                count += 1
            }
            guard page.count == 500, let last = page.last else { break }
            after = last.name
        }
        try put(.deploymentsSetting, scope: "", name: marker, document: Data("1".utf8))
        return count
    }
}

/// Which deployments a list shows.
package struct DeploymentListFilter: Sendable, Hashable {
    /// One group's deployments (its id), or every group's (nil).
    package var groupId: String?
    /// Only these statuses; all when nil.
    package var statuses: Set<CodeDeploy.DeploymentStatus>?
    /// Created in this range (either end optional, both inclusive).
    package var createdAfter: Date?
    package var createdBefore: Date?

    package init(
        groupId: String? = nil, statuses: Set<CodeDeploy.DeploymentStatus>? = nil, createdAfter: Date? = nil,
        createdBefore: Date? = nil
    ) {
        self.groupId = groupId
        self.statuses = statuses
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
    }
}

/// One page of a list of deployments, newest first.
package struct DeploymentListPage: Sendable {
    package var listings: [DeploymentListing]
    /// The name to pass as `after` for the next page; nil on the last.
    package var next: String?
}

extension StoreReader {
    /// Up to `size` deployments matching `filter`, newest first, after the listing `after` (a page's `next`). Reads
    /// the index in name order, and stops after `scanLimit` listings without filling the page (a rare status in a
    /// long history), returning what it found and where to go on from.
    package func deploymentListings(
        _ filter: DeploymentListFilter, after: String?, size: Int, scanLimit: Int = 20_000
    ) throws -> DeploymentListPage {
        let scope = filter.groupId ?? ""
        // A time key is a prefix of the names of its millisecond, so it sorts just before them.
        var cursor = [after, filter.createdBefore.map(DeploymentListing.firstName(atOrBefore:))].compactMap { $0 }.max()
        var found: [DeploymentListing] = []
        var scanned = 0
        while found.count < size && scanned < scanLimit {
            let batch = min(max(size * 4, 100), 1000, scanLimit - scanned)
            let page = try list(DeploymentListing.self, .deploymentListing, scope: scope, after: cursor, limit: batch)
            for (name, listing) in page {
                scanned += 1
                cursor = name
                if let earliest = filter.createdAfter, (listing.createTime ?? .distantPast) < earliest {
                    return DeploymentListPage(listings: found, next: nil)
                }
                if let statuses = filter.statuses, !statuses.contains(listing.status ?? .created) { continue }
                if let latest = filter.createdBefore, (listing.createTime ?? .distantPast) > latest { continue }
                found.append(listing)
                if found.count == size { break }
            }
            if page.count < batch && found.count < size { return DeploymentListPage(listings: found, next: nil) }
        }
        return DeploymentListPage(listings: found, next: cursor)
    }
}
