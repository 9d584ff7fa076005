import Engine
import Foundation
import SlipwayModel
import Testing

@Suite("Target selection by tags")
struct TargetSelectionTests {
    private func instance(_ name: String, _ tags: [String: String], deregistered: Bool = false)
        -> CodeDeploy.InstanceInfo
    {
        CodeDeploy.InstanceInfo(
            deregisterTime: deregistered ? Date(timeIntervalSince1970: 1) : nil, iamUserArn: arn(name),
            instanceName: name,
            tags: tags.sorted { $0.key < $1.key }.map { CodeDeploy.Tag(key: $0.key, value: $0.value) })
    }

    private var fleet: [CodeDeploy.InstanceInfo] {
        [
            instance("web-1", ["role": "web", "env": "prod"]),
            instance("web-2", ["role": "web", "env": "staging"]),
            instance("db-1", ["role": "db", "env": "prod"]),
            instance("cache-1", ["tier": "web"]),
            instance("old-web", ["role": "web", "env": "prod"], deregistered: true),
        ]
    }

    private func select(
        filters: [CodeDeploy.TagFilter]? = nil, set: [[CodeDeploy.TagFilter]]? = nil
    ) -> Result<[String], TargetSelection.Problem> {
        TargetSelection.matchingInstances(
            fleet, tagFilters: filters, tagSet: set.map { CodeDeploy.OnPremisesTagSet(onPremisesTagSetList: $0) })
    }

    @Test("KEY_AND_VALUE matches the exact pair; deregistered instances never match")
    func keyAndValue() {
        #expect(
            select(filters: [.init(key: "role", type: .keyAndValue, value: "web")]) == .success(["web-1", "web-2"]))
        #expect(select(filters: [.init(key: "role", value: "web")]) == .success(["web-1", "web-2"]))
    }

    @Test("KEY_ONLY matches any value of the key; VALUE_ONLY the value under any key")
    func keyOnlyValueOnly() {
        #expect(select(filters: [.init(key: "env", type: .keyOnly)]) == .success(["db-1", "web-1", "web-2"]))
        #expect(select(filters: [.init(type: .valueOnly, value: "web")]) == .success(["cache-1", "web-1", "web-2"]))
    }

    @Test("tag filters are OR'd")
    func filtersAreOred() {
        let filters: [CodeDeploy.TagFilter] = [
            .init(key: "role", type: .keyAndValue, value: "db"), .init(key: "tier", type: .keyOnly),
        ]
        #expect(select(filters: filters) == .success(["cache-1", "db-1"]))
    }

    @Test("tag sets: OR within a group, AND across groups")
    func tagSets() {
        let set: [[CodeDeploy.TagFilter]] = [
            [
                .init(key: "role", type: .keyAndValue, value: "web"),
                .init(key: "role", type: .keyAndValue, value: "db"),
            ],
            [.init(key: "env", type: .keyAndValue, value: "prod")],
        ]
        #expect(select(set: set) == .success(["db-1", "web-1"]))
        #expect(select(set: set + [[]]) == .success(["db-1", "web-1"]))
    }

    @Test("no filters select nothing; filters and a tag set together are refused; unknown types match nothing")
    func edgeCases() {
        #expect(select() == .success([]))
        #expect(select(filters: [], set: []) == .success([]))
        #expect(
            select(filters: [.init(key: "role", type: .keyOnly)], set: [[.init(key: "env", type: .keyOnly)]])
                == .failure(.filtersAndTagSetTogether))
        #expect(select(filters: [.init(key: "role", type: .init(rawValue: "PREFIX"), value: "web")]) == .success([]))
    }
}

@Suite("Identifiers")
struct IdentifierTests {
    /// A deterministic generator for tests (SplitMix64).
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("deployment ids are d- and nine upper-case letters or digits, reproducible from the random source")
    func deploymentIds() {
        var generator = SeededGenerator(state: 42)
        let ids = (0..<200).map { _ in DeploymentID.make(using: &generator) }
        for id in ids {
            #expect(id.count == 11)
            #expect(id.hasPrefix("d-"))
            #expect(id.dropFirst(2).allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            #expect(DeploymentID.isValid(id))
        }
        #expect(Set(ids).count == ids.count)
        var again = SeededGenerator(state: 42)
        #expect(DeploymentID.make(using: &again) == ids[0])
        #expect(DeploymentID.isValid(DeploymentID.make()))
        #expect(!DeploymentID.isValid("d-abc123XYZ"))
        #expect(!DeploymentID.isValid("d-AB1CDEF2"))
        #expect(DeploymentID.isValid("d-AB1CDEF23"))
    }

    @Test("host command ids are deterministic, unique per deployment, host, event and attempt, and parse back")
    func hostCommandIds() throws {
        let id = HostCommandID(deploymentId: "d-AB1CDEF23", instanceName: "web.1@x", event: .afterInstall)
        #expect(id.rawValue == "d-AB1CDEF23:web.1@x:AfterInstall:1")
        #expect(HostCommandID(rawValue: id.rawValue) == id)
        let variants: Set<HostCommandID> = [
            id, HostCommandID(deploymentId: "d-AB1CDEF24", instanceName: "web.1@x", event: .afterInstall),
            HostCommandID(deploymentId: "d-AB1CDEF23", instanceName: "web-2", event: .afterInstall),
            HostCommandID(deploymentId: "d-AB1CDEF23", instanceName: "web.1@x", event: .install),
            HostCommandID(deploymentId: "d-AB1CDEF23", instanceName: "web.1@x", event: .afterInstall, attempt: 2),
        ]
        #expect(Set(variants.map(\.rawValue)).count == 5)
        for text in ["", "garbage", "d-X:web:NotAnEvent:1", "d-X:web:Install:zero", "d-X::Install:1", ":web:Install:1"]
        {
            #expect(HostCommandID(rawValue: text) == nil)
        }
        let json = try JSONEncoder().encode([id])
        #expect(String(decoding: json, as: UTF8.self) == #"["d-AB1CDEF23:web.1@x:AfterInstall:1"]"#)
        #expect(try JSONDecoder().decode([HostCommandID].self, from: json) == [id])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([HostCommandID].self, from: Data(#"["x"]"#.utf8))
        }
    }
}
