import Foundation
import SlipwayModel

/// The checks CodeDeploy makes beyond the model's constraints, shared by the handlers.
enum Check {
    /// Application, deployment-group and deployment-configuration names: 1–100 of `[A-Za-z0-9+=,.@_-]`.
    static func name(_ name: String, _ code: CodeDeploy.ExceptionType, what: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                    || "+=,.@_-".unicodeScalars.contains(scalar))
        }
        guard !name.isEmpty, name.count <= 100, allowed else {
            throw AWSJSONError(
                code, "The \(what) '\(name)' is not valid: use 1 to 100 of the characters A-Z, a-z, 0-9 and +=,.@_-")
        }
    }

    /// Resource tags (applications, deployment groups): at most 50, keys 1–128 characters, values at most 256,
    /// no `aws:` prefix, no key twice.
    static func resourceTags(_ tags: [CodeDeploy.Tag], code: CodeDeploy.ExceptionType) throws {
        guard tags.count <= 50 else { throw AWSJSONError(code, "A resource can have at most 50 tags.") }
        var seen: Set<String> = []
        for tag in tags {
            guard let key = tag.key, (1...128).contains(key.count) else {
                throw AWSJSONError(code, "Every tag needs a Key of 1 to 128 characters.")
            }
            guard (tag.value ?? "").count <= 256 else {
                throw AWSJSONError(code, "The value of tag '\(key)' is longer than 256 characters.")
            }
            guard !key.lowercased().hasPrefix("aws:") else {
                throw AWSJSONError(code, "Tag keys starting with 'aws:' are reserved.")
            }
            guard seen.insert(key).inserted else {
                throw AWSJSONError(code, "The tag key '\(key)' is given more than once.")
            }
            if key == bakeTimeTag, bakeTime(tag.value ?? "") == nil {
                throw AWSJSONError(
                    code,
                    "The tag \(bakeTimeTag) must be a time from 0 to 2880 minutes: seconds (600), or with s, m or h "
                        + "(90s, 10m, 1h).")
            }
        }
    }

    /// The deployment-group tag that sets its bake time: how long an in-place deployment waits after each batch,
    /// and a blue/green one after each traffic step, watching the group's alarms, before it goes on.
    static let bakeTimeTag = "slipway:bake-time"

    /// A bake time as the tag gives it: whole seconds, or a number of seconds, minutes or hours with `s`, `m` or `h`;
    /// at most 2880 minutes (CodeDeploy's longest wait). `nil` for anything else.
    static func bakeTime(_ text: String) -> TimeInterval? {
        var digits = Substring(text)
        var unit = 1
        switch text.last {
        case "s": digits = digits.dropLast()
        case "m": (digits, unit) = (digits.dropLast(), 60)
        case "h": (digits, unit) = (digits.dropLast(), 3600)
        default: break
        }
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(digits), number * unit <= 2880 * 60
        else { return nil }
        return TimeInterval(number * unit)
    }

    /// The group's bake time, from its tags; `nil` when it has none (or zero).
    static func bakeTime(of tags: [CodeDeploy.Tag]) -> TimeInterval? {
        guard let value = tags.first(where: { $0.key == bakeTimeTag })?.value, let time = bakeTime(value), time > 0
        else { return nil }
        return time
    }

    /// An alarm configuration (a group's, or a deployment's override) with its defaults filled in: at most 10
    /// alarms, each named with 1 to 255 characters and no control character; enabled only with alarms.
    static func alarmConfiguration(_ configuration: CodeDeploy.AlarmConfiguration?) throws
        -> CodeDeploy.AlarmConfiguration
    {
        var alarms = configuration ?? .init(alarms: [], enabled: false, ignorePollAlarmFailure: false)
        guard (alarms.alarms?.count ?? 0) <= 10 else {
            throw AWSJSONError(.alarmsLimitExceededException, "A deployment group can have at most 10 alarms.")
        }
        for alarm in alarms.alarms ?? [] {
            guard let name = alarm.name, (1...255).contains(name.unicodeScalars.count),
                !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                throw AWSJSONError(
                    .invalidAlarmConfigException,
                    "Every alarm needs a name of 1 to 255 characters without control characters.")
            }
        }
        if alarms.enabled == true && (alarms.alarms ?? []).isEmpty {
            throw AWSJSONError(.invalidAlarmConfigException, "An enabled alarm configuration needs at least one alarm.")
        }
        alarms.alarms = alarms.alarms ?? []
        alarms.enabled = alarms.enabled ?? false
        alarms.ignorePollAlarmFailure = alarms.ignorePollAlarmFailure ?? false
        return alarms
    }

    /// Batch operations take at most `limit` names or ids.
    static func batch(_ count: Int, limit: Int = 100) throws {
        guard count <= limit else {
            throw AWSJSONError(
                .batchLimitExceededException, "A batch can name at most \(limit) items; this one names \(count).")
        }
    }
}

extension Optional where Wrapped == String {
    /// The string, or the given `...RequiredException` when it is absent or empty.
    func required(_ code: CodeDeploy.ExceptionType, _ what: String) throws -> String {
        guard let value = self, !value.isEmpty else { throw AWSJSONError(code, "The \(what) is required.") }
        return value
    }
}
