import Foundation
import SlipwayModel

/// An input shape of one of the two JSON APIs, with the validator of its schema and its typed reader.
///
/// Unchecked: a metatype is immutable, but `any JSONReadable.Type` is not declared `Sendable`.
private struct InputShape: @unchecked Sendable {
    let name: String
    let validator: ShapeValidator
    let type: (any JSONReadable.Type)?
}

/// Every input shape of `CodeDeploy.schema` and `CodeDeployCommand.schema`, in a fixed order (the second input
/// byte picks one).
private let inputShapes: [InputShape] = {
    let codeDeploy = ShapeValidator(schema: CodeDeploy.schema, freeTextShapes: CodeDeploy.freeTextShapes)
    let command = ShapeValidator(
        schema: CodeDeployCommand.schema, freeTextShapes: CodeDeployCommand.freeTextShapes)
    var shapes: [InputShape] = CodeDeploy.Operation.allCases.compactMap { operation in
        let descriptor = operation.descriptor
        guard let name = descriptor.inputShape else { return nil }
        return InputShape(name: name, validator: codeDeploy, type: descriptor.inputType as? any JSONReadable.Type)
    }
    let commandTypes: [CodeDeployCommand.Operation: any JSONReadable.Type] = [
        .pollHostCommand: CodeDeployCommand.PollHostCommandInput.self,
        .getDeploymentSpecification: CodeDeployCommand.GetDeploymentSpecificationInput.self,
        .putHostCommandAcknowledgement: CodeDeployCommand.PutHostCommandAcknowledgementInput.self,
        .putHostCommandComplete: CodeDeployCommand.PutHostCommandCompleteInput.self,
        .postHostCommandUpdate: CodeDeployCommand.PostHostCommandUpdateInput.self,
        .putHostCommandLog: CodeDeployCommand.PutHostCommandLogInput.self,
    ]
    for operation in CodeDeployCommand.Operation.allCases {
        shapes.append(InputShape(name: operation.inputShape, validator: command, type: commandTypes[operation]))
    }
    return shapes
}()

/// Reads the input (after its shape byte) with `JSONReader`; a value must write back, with the model's JSON writer
/// (`JSONOutput`), as text that reads back equal and writes back the same. Then the value is validated against the
/// chosen input shape; a value without violations must decode into the shape's typed input, as the API handlers
/// decode it after validating.
func fuzzJSON(_ bytes: [UInt8]) {
    guard let shapeByte = bytes.first else { return }
    let shape = inputShapes[Int(shapeByte) % inputShapes.count]
    let text = Data(bytes.dropFirst())
    let value: JSONValue
    do {
        value = try JSONReader.value(from: text)
    } catch {
        check(error.offset >= 0 && error.offset <= text.count, "Malformed offset \(error.offset) of \(text.count)")
        return
    }

    var output = JSONOutput()
    write(value, to: &output)
    let written = output.data
    do {
        let reread = try JSONReader.value(from: written)
        check(reread == value, "\(value) was written as \(String(decoding: written, as: UTF8.self)), read as \(reread)")
        var again = JSONOutput()
        write(reread, to: &again)
        check(again.bytes == output.bytes, "writing \(reread) again gives other text")
    } catch {
        check(
            false, "the writer's text is refused at byte \(error.offset): \(String(decoding: written, as: UTF8.self))")
    }

    let violations = shape.validator.violations(of: value, against: shape.name)
    for violation in violations { check(!violation.description.isEmpty, "a violation without a description") }
    if violations.isEmpty, let type = shape.type {
        do {
            _ = try type.init(json: value)
        } catch {
            check(false, "\(shape.name) validates \(value) but its typed reader refuses it: \(error)")
        }
    }
}

/// Writes a `JSONValue` with the writer the API responses use: strings, numbers and literals through
/// `JSONOutput`, object members in key order.
private func write(_ value: JSONValue, to output: inout JSONOutput) {
    switch value {
    case .null: output.writeRaw("null")
    case .bool(let flag): output.writeRaw(flag ? "true" : "false")
    case .number(let number): output.writeDouble(number)
    case .string(let string): output.writeString(string)
    case .array(let elements):
        output.writeRaw("[")
        for (index, element) in elements.enumerated() {
            if index > 0 { output.writeRaw(",") }
            write(element, to: &output)
        }
        output.writeRaw("]")
    case .object(let members):
        output.writeRaw("{")
        for (index, (name, member)) in members.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { output.writeRaw(",") }
            output.writeString(name)
            output.writeRaw(":")
            write(member, to: &output)
        }
        output.writeRaw("}")
    }
}
