// Reads a YAML file into a small tree with source positions, through libyaml's event parser.
internal import CYAML

/// A position in the configuration file, 1-based, for error messages.
public struct SourceMark: Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    public var description: String { "line \(line), column \(column)" }
}

/// The subset of YAML a configuration needs: scalars, sequences, mappings.
public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(String, quoted: Bool, SourceMark)
    case sequence([YAMLNode], SourceMark)
    case mapping([(key: String, keyMark: SourceMark, value: YAMLNode)], SourceMark)

    public var mark: SourceMark {
        switch self {
        case .scalar(_, _, let mark), .sequence(_, let mark), .mapping(_, let mark): return mark
        }
    }

    /// A plain `~`, `null` or empty scalar.
    public var isNull: Bool {
        guard case .scalar(let text, let quoted, _) = self, !quoted else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    public static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case let (.scalar(a, qa, ma), .scalar(b, qb, mb)): return a == b && qa == qb && ma == mb
        case let (.sequence(a, ma), .sequence(b, mb)): return a == b && ma == mb
        case let (.mapping(a, ma), .mapping(b, mb)):
            return ma == mb && a.count == b.count
                && zip(a, b).allSatisfy { $0.key == $1.key && $0.keyMark == $1.keyMark && $0.value == $1.value }
        default: return false
        }
    }
}

/// A YAML syntax error as libyaml reports it.
public struct YAMLSyntaxError: Error, Sendable, Equatable {
    public let problem: String
    public let mark: SourceMark
}

/// Parses YAML text with libyaml.
public enum YAMLDocument {
    /// Configuration files are small; anything larger is a mistake, not a config.
    public static let maxInputBytes = 1 << 20
    /// Nesting deep enough for any config, bounded so hostile input cannot recurse forever.
    static let maxDepth = 32

    /// The first document's root node, or nil for an empty stream.
    public static func parse(_ text: [UInt8]) throws(YAMLSyntaxError) -> YAMLNode? {
        guard text.count <= maxInputBytes else {
            throw YAMLSyntaxError(problem: "file larger than \(maxInputBytes) bytes", mark: SourceMark(line: 1, column: 1))
        }
        // libyaml keeps pointers into the parser struct itself, so it must not move: heap-allocate it.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer {
            yaml_parser_delete(parser)
            parser.deallocate()
            event.deallocate()
        }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLSyntaxError(problem: "out of memory", mark: SourceMark(line: 1, column: 1))
        }
        return try text.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) -> YAMLNode? in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder()
            while true {
                guard yaml_parser_parse(parser, event) == 1 else {
                    let problem = parser.pointee.problem.map { String(cString: $0) } ?? "syntax error"
                    let mark = parser.pointee.problem_mark
                    throw YAMLSyntaxError(
                        problem: problem, mark: SourceMark(line: Int(mark.line) + 1, column: Int(mark.column) + 1))
                }
                defer { yaml_event_delete(event) }
                let done = try builder.consume(event.pointee)
                if done { return builder.root }
            }
        }
    }
}

// Turns the event stream into nodes; stops after the first document.
private struct TreeBuilder {
    enum Open {
        case sequence([YAMLNode], SourceMark)
        case mapping([(key: String, keyMark: SourceMark, value: YAMLNode)], SourceMark, pendingKey: (String, SourceMark)?)
    }

    var stack: [Open] = []
    var root: YAMLNode?

    mutating func consume(_ event: yaml_event_t) throws(YAMLSyntaxError) -> Bool {
        let mark = SourceMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
            try add(.scalar(text, quoted: scalar.style != YAML_PLAIN_SCALAR_STYLE, mark))
        case YAML_SEQUENCE_START_EVENT:
            try push(.sequence([], mark), mark)
        case YAML_MAPPING_START_EVENT:
            try push(.mapping([], mark, pendingKey: nil), mark)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            switch stack.removeLast() {
            case .sequence(let items, let start): try add(.sequence(items, start))
            case .mapping(let pairs, let start, _): try add(.mapping(pairs, start))
            }
        case YAML_ALIAS_EVENT:
            throw YAMLSyntaxError(problem: "aliases are not supported in the configuration", mark: mark)
        case YAML_DOCUMENT_END_EVENT, YAML_STREAM_END_EVENT:
            return true
        default:
            break
        }
        return false
    }

    private mutating func push(_ open: Open, _ mark: SourceMark) throws(YAMLSyntaxError) {
        guard stack.count < YAMLDocument.maxDepth else {
            throw YAMLSyntaxError(problem: "nesting deeper than \(YAMLDocument.maxDepth) levels", mark: mark)
        }
        if case .mapping(_, _, nil)? = stack.last {
            throw YAMLSyntaxError(problem: "only plain scalars may be mapping keys", mark: mark)
        }
        stack.append(open)
    }

    private mutating func add(_ node: YAMLNode) throws(YAMLSyntaxError) {
        guard let top = stack.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(var items, let start):
            items.append(node)
            stack.append(.sequence(items, start))
        case .mapping(var pairs, let start, let pendingKey):
            if let (key, keyMark) = pendingKey {
                pairs.append((key, keyMark, node))
                stack.append(.mapping(pairs, start, pendingKey: nil))
            } else {
                guard case .scalar(let key, _, let keyMark) = node else {
                    throw YAMLSyntaxError(problem: "only plain scalars may be mapping keys", mark: node.mark)
                }
                stack.append(.mapping(pairs, start, pendingKey: (key, keyMark)))
            }
        }
    }
}
