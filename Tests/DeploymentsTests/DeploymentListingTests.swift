import Foundation
import SlipwayModel
import Store
import Testing

@testable import Deployments

@Suite("Listings of deployments: newest first, filtered, a page at a time")
struct DeploymentListingTests {
    private let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// `count` listings, one a second from `start`, alternating two groups and three statuses.
    private func store(with count: Int) async throws -> (SQLiteStore, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-listing-\(UUID())")
        let store = try SQLiteStore(path: directory.appendingPathComponent("store.sqlite").path)
        let start = start
        try await store.write { tx in
            for index in 0..<count {
                let status: CodeDeploy.DeploymentStatus = [.succeeded, .failed, .stopped][index % 3]
                let listing = DeploymentListing(
                    id: String(format: "d-%09d", index), application: "shop", group: index % 2 == 0 ? "web" : "api",
                    groupId: index % 2 == 0 ? "g-web" : "g-api", status: status,
                    createTime: start.addingTimeInterval(Double(index)))
                try tx.set(listing, .deploymentListing, name: listing.name)
                try tx.set(listing, .deploymentListing, scope: listing.groupId, name: listing.name)
            }
        }
        return (store, directory)
    }

    /// Every page of a filter, followed to the end.
    private func all(_ store: SQLiteStore, _ filter: DeploymentListFilter, size: Int) async throws -> [[String]] {
        var pages: [[String]] = []
        var after: String? = nil
        repeat {
            let cursor = after
            let page = try await store.read { try $0.deploymentListings(filter, after: cursor, size: size) }
            pages.append(page.listings.map(\.id))
            after = page.next
        } while after != nil && pages.count < 1000
        return pages
    }

    @Test("pages follow one another newest first, and every deployment appears exactly once")
    func paging() async throws {
        let (store, directory) = try await store(with: 230)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pages = try await all(store, DeploymentListFilter(), size: 50)
        let ids = pages.flatMap { $0 }
        #expect(ids.count == 230)
        #expect(Set(ids).count == 230)
        #expect(ids.first == "d-000000229" && ids.last == "d-000000000")
        #expect(pages.dropLast().allSatisfy { $0.count == 50 })
    }

    @Test("a group's list holds its deployments only; a status filter skips the others across pages")
    func filters() async throws {
        let (store, directory) = try await store(with: 120)
        defer { try? FileManager.default.removeItem(at: directory) }
        let web = try await all(store, DeploymentListFilter(groupId: "g-web"), size: 25).flatMap { $0 }
        #expect(web.count == 60)
        #expect(web.allSatisfy { Int($0.dropFirst(2))! % 2 == 0 })
        let failed = try await all(store, DeploymentListFilter(groupId: "g-web", statuses: [.failed]), size: 7)
            .flatMap { $0 }
        // Even indexes with index % 3 == 1: 4, 10, 16, … 118.
        #expect(failed == stride(from: 118, through: 4, by: -6).map { String(format: "d-%09d", $0) })
    }

    @Test("a time range starts at its end and stops at its beginning, both inclusive")
    func timeRange() async throws {
        let (store, directory) = try await store(with: 100)
        defer { try? FileManager.default.removeItem(at: directory) }
        let filter = DeploymentListFilter(
            createdAfter: start.addingTimeInterval(10), createdBefore: start.addingTimeInterval(19))
        let ids = try await all(store, filter, size: 4).flatMap { $0 }
        #expect(ids == (10...19).reversed().map { String(format: "d-%09d", $0) })
        let none = try await all(
            store, DeploymentListFilter(createdAfter: start.addingTimeInterval(500)), size: 10)
        #expect(none.flatMap { $0 }.isEmpty)
    }

    @Test("a long history with no match stops at the scan limit and says where to go on")
    func scanLimit() async throws {
        let (store, directory) = try await store(with: 90)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = try await store.read {
            try $0.deploymentListings(
                DeploymentListFilter(statuses: [.inProgress]), after: nil, size: 10, scanLimit: 40)
        }
        #expect(page.listings.isEmpty)
        #expect(page.next != nil)
    }

    @Test("names sort newest first whatever the time, and hostile times or `after` values cannot trap")
    func names() async throws {
        let early = DeploymentListing.name(createTime: Date(timeIntervalSince1970: 1), id: "d-A")
        let late = DeploymentListing.name(createTime: Date(timeIntervalSince1970: 2), id: "d-A")
        #expect(late < early)
        for time in [-1e300, -1, 0, 1e300, Double.infinity, -Double.infinity] {
            let name = DeploymentListing.name(createTime: Date(timeIntervalSince1970: time), id: "d-X")
            #expect(name.count == 15 + 1 + 3)
        }
        #expect(DeploymentListing.name(createTime: nil, id: "d-X").hasPrefix("253402300799999"))
        let (store, directory) = try await store(with: 5)
        defer { try? FileManager.default.removeItem(at: directory) }
        for after in ["", "\u{0}", String(repeating: "9", count: 5000), "zzz", "-"] {
            let page = try await store.read { try $0.deploymentListings(DeploymentListFilter(), after: after, size: 3) }
            #expect(page.listings.count <= 3)
        }
    }

    @Test("a store from before listings gets them on start: every deployment is listed once, and only once")
    func backfill() async throws {
        let harness = try await DriverHarness(hosts: ["a"])
        let first = try await harness.createDeployment()
        // As a store written before listings existed: the deployment without its listings or the marker.
        try await harness.store.write { tx in
            _ = try tx.deleteAll(.deploymentListing, scope: "")
            _ = try tx.deleteAll(.deploymentListing, scope: "g-1")
        }
        #expect(try await harness.store.read { try $0.count(.deploymentListing, scope: "") } == 0)
        try await harness.store.write { _ = try $0.delete(.deploymentsSetting, scope: "", name: "listingsVersion") }
        try await harness.driver.resume(now: harness.now)
        let listed = try await harness.store.read {
            try $0.deploymentListings(DeploymentListFilter(groupId: "g-1"), after: nil, size: 10)
        }
        #expect(listed.listings.map(\.id) == [first])
        #expect(listed.listings.first?.status == .inProgress)
        #expect(try await harness.store.write { try $0.buildDeploymentListings() } == 0)
    }

    @Test("a deployment's listing follows its status to the end, without a write for every host's progress")
    func followsStatus() async throws {
        let harness = try await DriverHarness(hosts: ["a", "b"])
        let id = try await harness.createDeployment()
        let version = { () async throws -> Int64? in
            try await harness.store.read { tx in
                try tx.records(.deploymentListing, scope: "", after: nil, limit: 1).first?.version
            }
        }
        let before = try await version()
        _ = try await harness.runCommands(of: "a")
        #expect(try await version() == before, "a host's progress rewrote the listing")
        _ = try await harness.runCommands(of: "b")
        let listing = try await harness.store.read {
            try $0.deploymentListings(DeploymentListFilter(), after: nil, size: 1).listings.first
        }
        #expect(listing?.id == id)
        #expect(listing?.status == .succeeded)
        #expect(listing?.completeTime != nil)
    }
}
