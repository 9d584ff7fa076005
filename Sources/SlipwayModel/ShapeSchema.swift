/// One shape of a service model with its constraints, as data a generic validator can check.
///
/// `min`/`max` bound the length of strings, lists and maps, and the value of numbers, as in the service model.
public struct ShapeSchema: Sendable {
    /// A member of a structure shape.
    public struct Member: Sendable {
        /// The member's wire name.
        public let name: String
        /// The name of the member's shape.
        public let shape: String
        /// Whether the model requires the member.
        public let required: Bool

        public init(name: String, shape: String, required: Bool) {
            self.name = name
            self.shape = shape
            self.required = required
        }
    }

    /// What kind of value a shape describes.
    public enum Kind: Sendable {
        case structure(members: [Member])
        case list(member: String)
        case map(key: String, value: String)
        case string(enumValues: [String]?)
        case integer
        case long
        case double
        case boolean
        case timestamp
        case blob

        /// Whether the shape is a model `integer` (32 bits), not a `long`.
        public var isInteger: Bool {
            if case .integer = self { return true }
            return false
        }
    }

    /// A model's shapes by name.
    public struct Table: Sendable {
        public let shapes: [String: ShapeSchema]

        public init(shapes: [String: ShapeSchema]) {
            self.shapes = shapes
        }

        public subscript(name: String) -> ShapeSchema? { shapes[name] }
    }

    public let kind: Kind
    public let min: Int64?
    public let max: Int64?
    public let pattern: String?

    public init(kind: Kind, min: Int64? = nil, max: Int64? = nil, pattern: String? = nil) {
        self.kind = kind
        self.min = min
        self.max = max
        self.pattern = pattern
    }
}
