import SlipwayModel

/// CodeDeploy's documented limits on what one request may carry, in one place.
enum Limits {
    /// The most names, ids or revisions each Batch* operation takes, as the API reference documents each member
    /// (BatchLimitExceededException's "100" holds only where no smaller limit is documented).
    static let batch: [CodeDeploy.Operation: Int] = [
        .batchGetApplications: 100,
        .batchGetDeploymentGroups: 100,
        .batchGetApplicationRevisions: 25,
        .batchGetDeployments: 25,
        .batchGetDeploymentInstances: 25,
        .batchGetDeploymentTargets: 25,
        .batchGetOnPremisesInstances: 25,
    ]

    /// The longest description of a deployment or a revision, in UTF-16 code units as AWS counts a string's length
    /// (counting grapheme clusters would let one "character" of thousands of combining marks through).
    static let description = 256

    /// `BatchLimitExceededException` when `count` is more than `operation` takes.
    static func checkBatch(_ count: Int, of operation: CodeDeploy.Operation) throws {
        guard let limit = batch[operation] else {
            preconditionFailure("\(operation) has no batch limit in Limits.batch")
        }
        try Check.batch(count, limit: limit)
    }

    /// `DescriptionTooLongException` for a description longer than ``description``.
    static func checkDescription(_ text: String?) throws {
        guard let text, text.utf16.count > description else { return }
        throw AWSJSONError(
            .descriptionTooLongException,
            "The description has \(text.utf16.count) characters; it can have at most \(description).")
    }
}
