import Alarms
import Foundation
import SlipwayModel
import Store

/// Slipway's minimal CloudWatch API: alarm definitions (`PutMetricAlarm`), their states (`SetAlarmState`),
/// `DescribeAlarms` and `DeleteAlarms`, in the AWS JSON 1.0 protocol the AWS CLI speaks to CloudWatch
/// (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, signed for `monitoring`).
///
/// Slipway stores no metrics and evaluates no definition: whatever watches the service (a person, a script, a
/// monitoring system) sets the state, and deployment groups that name the alarm react to it. Each request is
/// authorised as `cloudwatch:<Operation>` on the ARNs of the alarms it names, which are the alarms it acts on.
struct CloudWatchAPI: Sendable {
    enum Operation: String, CaseIterable, Sendable {
        case putMetricAlarm = "PutMetricAlarm"
        case setAlarmState = "SetAlarmState"
        case describeAlarms = "DescribeAlarms"
        case deleteAlarms = "DeleteAlarms"
    }

    static let targetPrefix = "GraniteServiceVersion20100801"
    static let signingName = "monitoring"
    /// How many alarms Slipway keeps.
    static let maximumAlarms = 10_000

    let store: any Store
    let arns: ARNs

    func alarmARN(_ name: String) -> String { "arn:aws:cloudwatch:\(arns.region):\(arns.accountID):alarm:\(name)" }

    func handle(_ operation: Operation, input: JSONInput, principal: Principal, now: Date) async throws -> Data {
        let request = try CloudWatchInput(input.document)
        let output: JSONValue
        switch operation {
        case .putMetricAlarm:
            let alarm = try request.alarmDefinition(now: now)
            try authorize(principal, operation, [alarm.name])
            try await store.write { tx in
                if var existing = try tx.get(LocalAlarm.self, .cloudWatchAlarm, name: alarm.name) {
                    // A new definition keeps the state until something sets it.
                    let (state, reason, data, updated) = (
                        existing.state, existing.stateReason, existing.stateReasonData, existing.stateUpdated
                    )
                    existing = alarm
                    (existing.state, existing.stateReason, existing.stateReasonData, existing.stateUpdated) = (
                        state, reason, data, updated
                    )
                    try tx.set(existing, .cloudWatchAlarm, name: alarm.name)
                } else {
                    guard try tx.count(.cloudWatchAlarm, scope: "") < Self.maximumAlarms else {
                        throw CloudWatchError.limitExceeded("Slipway keeps at most \(Self.maximumAlarms) alarms.")
                    }
                    try tx.set(alarm, .cloudWatchAlarm, name: alarm.name)
                }
            }
            output = .object([:])
        case .setAlarmState:
            let name = try request.alarmName("AlarmName")
            let state = try request.state("StateValue", required: true)!
            let reason = try request.string("StateReason", required: true, maximum: 1023)!
            let data = try request.string("StateReasonData", maximum: 4000)
            if let data, (try? JSONReader.value(from: Data(data.utf8))) == nil {
                throw CloudWatchError.invalidFormat("StateReasonData must be JSON.")
            }
            try authorize(principal, operation, [name])
            try await store.write { tx in
                guard var alarm = try tx.get(LocalAlarm.self, .cloudWatchAlarm, name: name) else {
                    throw CloudWatchError.resourceNotFound("No alarm named \(name) exists.")
                }
                (alarm.state, alarm.stateReason, alarm.stateReasonData, alarm.stateUpdated) = (state, reason, data, now)
                try tx.set(alarm, .cloudWatchAlarm, name: name)
            }
            output = .object([:])
        case .describeAlarms:
            output = try await describe(request, principal: principal)
        case .deleteAlarms:
            let names = try request.alarmNames(required: true)
            try authorize(principal, operation, names)
            try await store.write { tx in
                for name in names where try tx.get(LocalAlarm.self, .cloudWatchAlarm, name: name) == nil {
                    throw CloudWatchError.resourceNotFound("No alarm named \(name) exists.")
                }
                for name in names { _ = try tx.delete(.cloudWatchAlarm, scope: "", name: name) }
            }
            output = .object([:])
        }
        return try AWSJSON.encoder.encode(output)
    }

    private func authorize(_ principal: Principal, _ operation: Operation, _ names: [String]?) throws {
        do {
            try principal.authorize("cloudwatch:\(operation.rawValue)", resources: names.map { $0.map(alarmARN) })
        } catch {
            throw error.json
        }
    }

    private func describe(_ request: CloudWatchInput, principal: Principal) async throws -> JSONValue {
        let names = try request.alarmNames(required: false)
        let prefix = try request.string("AlarmNamePrefix", maximum: 255)
        if !names.isEmpty && prefix != nil {
            throw CloudWatchError.invalidCombination("Give AlarmNames or AlarmNamePrefix, not both.")
        }
        let state = try request.state("StateValue", required: false)
        let limit = try request.integer("MaxRecords", in: 1...100) ?? 50
        let token = try request.string("NextToken", maximum: 1024)
        if let types = try request.strings("AlarmTypes"), !types.allSatisfy(["MetricAlarm", "CompositeAlarm"].contains)
        {
            throw CloudWatchError.invalidParameter("AlarmTypes holds MetricAlarm and CompositeAlarm only.")
        }
        try authorize(principal, .describeAlarms, names.isEmpty ? nil : names)
        let (alarms, next) = try await store.read { tx -> ([LocalAlarm], String?) in
            var found: [LocalAlarm] = []
            if !names.isEmpty {
                found = try names.compactMap { try tx.get(LocalAlarm.self, .cloudWatchAlarm, name: $0) }
                return (found.filter { state == nil || $0.state == state }, nil)
            }
            var after = token
            while found.count < limit {
                let page = try tx.list(LocalAlarm.self, .cloudWatchAlarm, after: after, limit: 500)
                for (name, alarm) in page where prefix.map(name.hasPrefix) ?? true {
                    if state == nil || alarm.state == state { found.append(alarm) }
                    if found.count == limit { return (found, name) }
                }
                guard let last = page.last?.name, page.count == 500 else { return (found, nil) }
                after = last
            }
            return (found, nil)
        }
        var members: [String: JSONValue] = [
            "MetricAlarms": .array(alarms.map(describe)), "CompositeAlarms": .array([]),
        ]
        if let next { members["NextToken"] = .string(next) }
        return .object(members)
    }

    private func describe(_ alarm: LocalAlarm) -> JSONValue {
        var members: [String: JSONValue] = [
            "AlarmName": .string(alarm.name), "AlarmArn": .string(alarmARN(alarm.name)),
            "ActionsEnabled": .bool(alarm.actionsEnabled), "StateValue": .string(alarm.state.rawValue),
            "StateReason": .string(alarm.stateReason),
            "StateUpdatedTimestamp": .number(alarm.stateUpdated.timeIntervalSince1970),
            "StateTransitionedTimestamp": .number(alarm.stateUpdated.timeIntervalSince1970),
            "AlarmConfigurationUpdatedTimestamp": .number(alarm.configurationUpdated.timeIntervalSince1970),
            "OKActions": .array([]), "AlarmActions": .array([]), "InsufficientDataActions": .array([]),
            "Dimensions": .array([]),
        ]
        let optional: [(String, JSONValue?)] = [
            ("AlarmDescription", alarm.description.map(JSONValue.string)),
            ("StateReasonData", alarm.stateReasonData.map(JSONValue.string)),
            ("MetricName", alarm.metricName.map(JSONValue.string)),
            ("Namespace", alarm.namespace.map(JSONValue.string)),
            ("Statistic", alarm.statistic.map(JSONValue.string)),
            ("Period", alarm.period.map { .number(Double($0)) }),
            ("EvaluationPeriods", alarm.evaluationPeriods.map { .number(Double($0)) }),
            ("Threshold", alarm.threshold.map(JSONValue.number)),
            ("ComparisonOperator", alarm.comparisonOperator.map(JSONValue.string)),
        ]
        for case (let name, let value?) in optional { members[name] = value }
        return .object(members)
    }
}

/// CloudWatch's errors, in the form its JSON protocol answers them.
enum CloudWatchError {
    static func invalidParameter(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "InvalidParameterValue", message: message)
    }
    static func missingParameter(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "MissingParameter", message: message)
    }
    static func invalidCombination(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "InvalidParameterCombination", message: message)
    }
    static func invalidFormat(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "InvalidFormat", message: message)
    }
    static func resourceNotFound(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "ResourceNotFound", message: message, status: 404)
    }
    static func limitExceeded(_ message: String) -> AWSJSONError {
        AWSJSONError(type: "LimitExceeded", message: message)
    }
}

/// A CloudWatch request's members, read with CloudWatch's rules: every value of the type and within the bounds its
/// API gives, or an error that names the member.
struct CloudWatchInput {
    let members: [String: JSONValue]

    init(_ document: JSONValue) throws {
        guard case .object(let members) = document else {
            throw AWSJSONError.serialization("The request body must be a JSON object.")
        }
        self.members = members
    }

    private func value(_ name: String) -> JSONValue? {
        guard let value = members[name], value != .null else { return nil }
        return value
    }

    func string(_ name: String, required: Bool = false, maximum: Int) throws -> String? {
        guard let value = value(name) else {
            if required { throw CloudWatchError.missingParameter("The parameter \(name) is required.") }
            return nil
        }
        guard case .string(let text) = value else {
            throw CloudWatchError.invalidParameter("\(name) must be a string.")
        }
        guard text.unicodeScalars.count <= maximum else {
            throw CloudWatchError.invalidParameter("\(name) must be at most \(maximum) characters long.")
        }
        return text
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = value(name) else { return nil }
        guard case .number(let number) = value, number.rounded() == number, number >= Double(range.lowerBound),
            number <= Double(range.upperBound)
        else {
            throw CloudWatchError.invalidParameter(
                "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return Int(number)
    }

    func strings(_ name: String) throws -> [String]? {
        guard let value = value(name) else { return nil }
        guard case .array(let items) = value, items.count <= 100 else {
            throw CloudWatchError.invalidParameter("\(name) must be a list of at most 100 strings.")
        }
        return try items.map { item in
            guard case .string(let text) = item else {
                throw CloudWatchError.invalidParameter("\(name) must be a list of strings.")
            }
            return text
        }
    }

    /// An alarm name: 1 to 255 characters, none of them a control character.
    func alarmName(_ name: String) throws -> String {
        let text = try string(name, required: true, maximum: 255)!
        try Self.check(alarmName: text, member: name)
        return text
    }

    static func check(alarmName text: String, member: String) throws {
        guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw CloudWatchError.invalidParameter(
                "\(member) must be 1 to 255 characters long, without control characters.")
        }
    }

    func alarmNames(required: Bool) throws -> [String] {
        guard let names = try strings("AlarmNames") else {
            if required { throw CloudWatchError.missingParameter("The parameter AlarmNames is required.") }
            return []
        }
        if required && names.isEmpty {
            throw CloudWatchError.missingParameter("AlarmNames must name at least one alarm.")
        }
        for name in names {
            guard name.unicodeScalars.count <= 255 else {
                throw CloudWatchError.invalidParameter("AlarmNames must hold names of at most 255 characters.")
            }
            try Self.check(alarmName: name, member: "AlarmNames")
        }
        return names
    }

    func state(_ name: String, required: Bool) throws -> LocalAlarm.State? {
        guard let text = try string(name, required: required, maximum: 32) else { return nil }
        guard let state = LocalAlarm.State(rawValue: text) else {
            throw CloudWatchError.invalidParameter("\(name) must be OK, ALARM or INSUFFICIENT_DATA.")
        }
        return state
    }

    static let statistics: Set = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
    static let comparisons: Set = [
        "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
        "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold",
    ]

    /// `PutMetricAlarm`'s definition.
    func alarmDefinition(now: Date) throws -> LocalAlarm {
        let name = try alarmName("AlarmName")
        let evaluationPeriods = try integer("EvaluationPeriods", in: 1...100_000)
        guard evaluationPeriods != nil else {
            throw CloudWatchError.missingParameter("The parameter EvaluationPeriods is required.")
        }
        guard let comparison = try string("ComparisonOperator", required: true, maximum: 64),
            Self.comparisons.contains(comparison)
        else {
            throw CloudWatchError.invalidParameter(
                "ComparisonOperator must be one of \(Self.comparisons.sorted().joined(separator: ", ")).")
        }
        let statistic = try string("Statistic", maximum: 32)
        if let statistic, !Self.statistics.contains(statistic) {
            throw CloudWatchError.invalidParameter(
                "Statistic must be one of \(Self.statistics.sorted().joined(separator: ", ")).")
        }
        var threshold: Double?
        if let value = value("Threshold") {
            guard case .number(let number) = value, number.isFinite else {
                throw CloudWatchError.invalidParameter("Threshold must be a number.")
            }
            threshold = number
        }
        var actionsEnabled = true
        if let value = value("ActionsEnabled") {
            guard case .bool(let flag) = value else {
                throw CloudWatchError.invalidParameter("ActionsEnabled must be true or false.")
            }
            actionsEnabled = flag
        }
        return LocalAlarm(
            name: name, description: try string("AlarmDescription", maximum: 1024), actionsEnabled: actionsEnabled,
            metricName: try string("MetricName", maximum: 255), namespace: try string("Namespace", maximum: 255),
            statistic: statistic, period: try integer("Period", in: 1...86_400 * 7),
            evaluationPeriods: evaluationPeriods, threshold: threshold, comparisonOperator: comparison, now: now)
    }
}
