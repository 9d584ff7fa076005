/// The CodeDeploy control-plane API (`CodeDeploy_20141006`): shapes, enums, error codes, operations and the
/// constraint schema, all generated from the service model into `Generated/`. Hand-written helpers live beside.
public enum CodeDeploy {}

/// What the service model says about one operation.
public struct OperationDescriptor: Sendable {
    /// The operation's wire name, as in `X-Amz-Target: <prefix>.<name>`.
    public let name: String
    /// The model's name of the input shape, if the operation takes one.
    public let inputShape: String?
    /// The Swift type of the input.
    public let inputType: (any AWSShape.Type)?
    /// The model's name of the output shape, if the operation returns one.
    public let outputShape: String?
    /// The Swift type of the output.
    public let outputType: (any AWSShape.Type)?
    /// The exceptions the model says the operation may return.
    public let errors: [CodeDeploy.ExceptionType]
    /// Whether the model marks the operation deprecated.
    public let deprecated: Bool
    /// For paginated operations, the member of the output that holds the page's items (`nextToken` in and out).
    public let paginationResultKey: String?

    public init(
        name: String,
        inputShape: String?,
        inputType: (any AWSShape.Type)?,
        outputShape: String?,
        outputType: (any AWSShape.Type)?,
        errors: [CodeDeploy.ExceptionType],
        deprecated: Bool,
        paginationResultKey: String?
    ) {
        self.name = name
        self.inputShape = inputShape
        self.inputType = inputType
        self.outputShape = outputShape
        self.outputType = outputType
        self.errors = errors
        self.deprecated = deprecated
        self.paginationResultKey = paginationResultKey
    }
}

/// A structure of an AWS API model: a Codable value with its wire names.
public protocol AWSShape: Codable, Hashable, Sendable {}

extension CodeDeploy {
    /// The string shapes of requests that are free text (descriptions, inline AppSpec content), where control
    /// characters such as newlines are allowed; every other string names something and may hold none.
    public static let freeTextShapes: Set<String> = ["Description", "RawStringContent"]
}
