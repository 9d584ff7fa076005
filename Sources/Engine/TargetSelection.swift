import SlipwayModel

/// Which on-premises instances a deployment group targets, chosen by their tags as CodeDeploy does
/// (https://docs.aws.amazon.com/codedeploy/latest/userguide/instances-tagging.html).
public enum TargetSelection {
    /// A group's target definition that cannot select anything meaningful.
    public enum Problem: Error, Sendable, Hashable {
        /// Both `onPremisesInstanceTagFilters` and `onPremisesTagSet` are given; CodeDeploy allows one or the other.
        case filtersAndTagSetTogether
    }

    /// The names of the registered instances a deployment group targets, sorted.
    ///
    /// - `tagFilters` (`onPremisesInstanceTagFilters`): an instance matches if it matches any filter.
    /// - `tagSet` (`onPremisesTagSet`): an instance matches if, for every group of the set, it matches any filter of
    ///   that group (empty groups are ignored).
    ///
    /// Deregistered instances (with a `deregisterTime`) and instances without a name never match; neither do
    /// instances when the group has no filters at all.
    public static func matchingInstances(
        _ instances: [CodeDeploy.InstanceInfo],
        tagFilters: [CodeDeploy.TagFilter]?,
        tagSet: CodeDeploy.OnPremisesTagSet?
    ) -> Result<[String], Problem> {
        let filters = tagFilters ?? []
        let groups = (tagSet?.onPremisesTagSetList ?? []).filter { !$0.isEmpty }
        if !filters.isEmpty && !groups.isEmpty { return .failure(.filtersAndTagSetTogether) }
        let names = instances.compactMap { instance -> String? in
            guard let name = instance.instanceName, instance.deregisterTime == nil else { return nil }
            let tags = instance.tags ?? []
            let selected: Bool
            if !filters.isEmpty {
                selected = matchesAny(filters, tags: tags)
            } else if !groups.isEmpty {
                selected = groups.allSatisfy { matchesAny($0, tags: tags) }
            } else {
                selected = false
            }
            return selected ? name : nil
        }
        return .success(names.sorted())
    }

    /// Whether any of `filters` matches `tags`.
    public static func matchesAny(_ filters: [CodeDeploy.TagFilter], tags: [CodeDeploy.Tag]) -> Bool {
        filters.contains { matches($0, tags: tags) }
    }

    /// Whether one filter matches `tags`: `KEY_ONLY` needs the key with any value, `VALUE_ONLY` the value under any
    /// key, `KEY_AND_VALUE` (also when the type is absent) the exact pair. A type CodeDeploy does not define matches
    /// nothing.
    public static func matches(_ filter: CodeDeploy.TagFilter, tags: [CodeDeploy.Tag]) -> Bool {
        let type = filter.type ?? .keyAndValue
        return tags.contains { tag in
            switch type {
            case .keyOnly: tag.key == filter.key
            case .valueOnly: tag.value == filter.value
            case .keyAndValue: tag.key == filter.key && tag.value == filter.value
            default: false
            }
        }
    }
}
