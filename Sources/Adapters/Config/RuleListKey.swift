// The shape the rule keys share (`history`, `topic_rules`): a list of mappings in the file, or
// comma-separated entries from the environment.
public import Domain

enum RuleListKey {
    /// Decodes each rule of `value`: a YAML sequence gives `item` each element; an environment
    /// value (a scalar) gives `entry` each non-empty comma-separated part, with its position's
    /// path. `shape` names the fields for the error on a mapping (`{topics, size, ttl}`).
    static func decode<Rule>(
        _ value: ConfigValue, _ path: String, shape: String,
        entry: (_ text: String, _ path: String, _ mark: SourceMark, _ variable: String?) throws(ConfigError) -> Rule,
        item: (_ node: YAMLNode, _ path: String, _ variable: String?) throws(ConfigError) -> Rule
    ) throws(ConfigError) -> [Rule] {
        let variable = value.environmentVariable
        var rules: [Rule] = []
        switch value.node {
        case .scalar(let text, _, let mark):
            let entries = text.split(separator: ",").map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
            for (position, text) in entries.enumerated() {
                rules.append(try entry(text, "\(path)[\(position)]", mark, variable))
            }
        case .sequence(let items, _):
            for (position, node) in items.enumerated() {
                rules.append(try item(node, "\(path)[\(position)]", variable))
            }
        case .mapping(_, let mark):
            throw ConfigError(key: path, message: "expected a list of rules, each \(shape)", mark: mark, environmentVariable: variable)
        }
        return rules
    }

    /// The scalar fields of one rule's mapping, refusing a field not in `known` and a value
    /// that is not a single scalar.
    static func fields(
        of node: YAMLNode, _ path: String, shape: String, known: [String], _ variable: String?
    ) throws(ConfigError) -> (fields: [String: String], mark: SourceMark) {
        guard case .mapping(let pairs, let mark) = node else {
            throw ConfigError(key: path, message: "expected a mapping \(shape)", mark: node.mark, environmentVariable: variable)
        }
        var fields: [String: String] = [:]
        for pair in pairs {
            guard known.contains(pair.key) else {
                throw ConfigError(key: "\(path).\(pair.key)", message: "unknown setting", mark: pair.value.mark, environmentVariable: variable)
            }
            guard case .scalar(let text, _, _) = pair.value else {
                throw ConfigError(key: "\(path).\(pair.key)", message: "expected a single value", mark: pair.value.mark, environmentVariable: variable)
            }
            fields[pair.key] = text
        }
        return (fields, mark)
    }
}
