import CYaml

/// A reason the preflight refused a document, before any tree is built.
struct PreflightFailure: Error {
    var location: SourcePosition?
    var message: String
}

/// What the preflight learnt about a document it accepts.
struct PreflightReport {
    /// How many YAML documents the stream holds (0 for empty input or comments only).
    var documents: Int
}

/// One pass over libyaml's event stream that builds nothing, so that hostile input is refused before Yams composes
/// a tree from it. Yams composes recursively and hashes mapping keys to find duplicates: a deeply nested document
/// would overflow the stack, and a key that is an alias of a "billion laughs" structure would hash for ever. The pass
/// measures nesting depth and the number of nodes the document has once every alias is expanded, and stops as soon as
/// either passes its limit.
enum YAMLPreflight {
    static func check(_ bytes: [UInt8], limits: AppSpecLimits) -> Result<PreflightReport, PreflightFailure> {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                return .failure(PreflightFailure(location: nil, message: "out of memory while reading the file"))
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return scan(&parser, bytes: bytes, limits: limits)
        }
    }

    private static func scan(
        _ parser: inout yaml_parser_t,
        bytes: [UInt8],
        limits: AppSpecLimits
    ) -> Result<PreflightReport, PreflightFailure> {
        var documents = 0
        var expandedNodes = 0
        // For each open sequence or mapping: the node count when it started and its anchor, if any.
        var open: [(start: Int, anchor: String?)] = []
        // The expanded size of each anchored node, by anchor name (a later anchor of the same name shadows).
        var anchoredSizes: [String: Int] = [:]
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                return .failure(syntaxFailure(parser, bytes: bytes))
            }
            defer { yaml_event_delete(&event) }
            let location = SourcePosition(
                line: Int(event.start_mark.line) + 1,
                column: Int(event.start_mark.column) + 1
            )
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return .success(PreflightReport(documents: documents))
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    return .failure(
                        PreflightFailure(
                            location: location,
                            message: "the file holds more than one YAML document (a second `---`); "
                                + "an AppSpec file is one document"
                        )
                    )
                }
            case YAML_ALIAS_EVENT:
                let name = String(cString: event.data.alias.anchor)
                guard let size = anchoredSizes[name] else {
                    return .failure(
                        PreflightFailure(
                            location: location,
                            message: "the alias *\(name) refers to no anchor &\(name) defined before it"
                        )
                    )
                }
                expandedNodes += size
            case YAML_SCALAR_EVENT:
                expandedNodes += 1
                if let anchor = event.data.scalar.anchor { anchoredSizes[String(cString: anchor)] = 1 }
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                expandedNodes += 1
                if open.count >= limits.maximumDepth {
                    return .failure(
                        PreflightFailure(
                            location: location,
                            message: "the document nests lists and mappings more than \(limits.maximumDepth) "
                                + "levels deep; an AppSpec file needs a handful of levels"
                        )
                    )
                }
                let anchor =
                    event.type == YAML_SEQUENCE_START_EVENT
                    ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                open.append((expandedNodes - 1, anchor.map { String(cString: $0) }))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                if let top = open.popLast(), let anchor = top.anchor {
                    anchoredSizes[anchor] = expandedNodes - top.start
                }
            default:
                break
            }
            if expandedNodes > limits.maximumNodes {
                return .failure(
                    PreflightFailure(
                        location: location,
                        message: "the document grows past \(limits.maximumNodes) nodes once its aliases are "
                            + "expanded; it is refused to protect the process (an alias bomb?)"
                    )
                )
            }
        }
    }

    private static func syntaxFailure(_ parser: yaml_parser_t, bytes: [UInt8]) -> PreflightFailure {
        let problem = parser.problem.map { String(cString: $0) } ?? "unreadable input"
        switch parser.error {
        case YAML_READER_ERROR:
            let location = locationOfByte(parser.problem_offset, in: bytes)
            return PreflightFailure(
                location: location,
                message: "the file is not UTF-8 text: \(problem) at byte \(parser.problem_offset)"
            )
        case YAML_MEMORY_ERROR:
            return PreflightFailure(location: nil, message: "out of memory while reading the file")
        default:
            let mark = parser.problem_mark
            if problem.hasPrefix("Maximum nesting level") {
                // libyaml's scanner counts flow nesting ahead of the events and stops first on `[[[[…`.
                return PreflightFailure(
                    location: SourcePosition(line: Int(mark.line) + 1, column: Int(mark.column) + 1),
                    message: "the document nests lists and mappings too deeply; an AppSpec file needs a handful "
                        + "of levels"
                )
            }
            var message = "the file is not valid YAML: \(problem)"
            if let context = parser.context.map({ String(cString: $0) }) {
                let at = parser.context_mark
                message += " (\(context) at \(at.line + 1):\(at.column + 1))"
            }
            return PreflightFailure(
                location: SourcePosition(line: Int(mark.line) + 1, column: Int(mark.column) + 1),
                message: message
            )
        }
    }

    /// The line and column of a byte offset, counting columns in characters as libyaml does.
    static func locationOfByte(_ offset: Int, in bytes: [UInt8]) -> SourcePosition {
        var line = 1
        var column = 1
        for byte in bytes.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourcePosition(line: line, column: column)
    }
}
