// The `history` key: which topics keep their last messages for resumes, how many and how long.
public import Domain

enum HistoryKey {
    /// A list of `{topics, size, ttl}`; from the environment, comma-separated
    /// `<pattern>:<size>:<ttl>` entries (a pattern with a comma needs the file).
    static func decode(_ value: ConfigValue, _ path: String) throws(ConfigError) -> HistoryRules {
        let variable = value.environmentVariable
        var rules: [HistoryRule] = []
        switch value.node {
        case .scalar(let text, _, let mark):
            let entries = text.split(separator: ",").map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
            for (position, entry) in entries.enumerated() {
                let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count >= 3 else {
                    throw ConfigError(
                        key: "\(path)[\(position)]", message: "expected <topics>:<size>:<ttl>, got \"\(Sanitize.forLog(entry))\"", mark: mark,
                        environmentVariable: variable)
                }
                let pattern = parts.dropLast(2).joined(separator: ":")
                rules.append(
                    try rule(pattern: pattern, size: String(parts[parts.count - 2]), ttl: String(parts[parts.count - 1]), "\(path)[\(position)]", mark, variable))
            }
        case .sequence(let items, _):
            for (position, item) in items.enumerated() {
                rules.append(try rule(item, "\(path)[\(position)]", variable))
            }
        case .mapping(_, let mark):
            throw ConfigError(key: path, message: "expected a list of rules, each {topics, size, ttl}", mark: mark, environmentVariable: variable)
        }
        return HistoryRules(rules)
    }

    private static func rule(_ node: YAMLNode, _ path: String, _ variable: String?) throws(ConfigError) -> HistoryRule {
        guard case .mapping(let pairs, let mark) = node else {
            throw ConfigError(key: path, message: "expected a mapping {topics, size, ttl}", mark: node.mark, environmentVariable: variable)
        }
        var fields: [String: (String, SourceMark)] = [:]
        for pair in pairs {
            guard ["topics", "size", "ttl"].contains(pair.key) else {
                throw ConfigError(key: "\(path).\(pair.key)", message: "unknown setting", mark: pair.value.mark, environmentVariable: variable)
            }
            guard case .scalar(let text, _, let valueMark) = pair.value else {
                throw ConfigError(key: "\(path).\(pair.key)", message: "expected a single value", mark: pair.value.mark, environmentVariable: variable)
            }
            fields[pair.key] = (text, valueMark)
        }
        for key in ["topics", "size", "ttl"] where fields[key] == nil {
            throw ConfigError(key: "\(path).\(key)", message: "required", mark: mark, environmentVariable: variable)
        }
        return try rule(pattern: fields["topics"]!.0, size: fields["size"]!.0, ttl: fields["ttl"]!.0, path, mark, variable)
    }

    private static func rule(
        pattern: String, size: String, ttl: String, _ path: String, _ mark: SourceMark, _ variable: String?
    ) throws(ConfigError) -> HistoryRule {
        guard let topics = TopicPattern(pattern) else {
            throw ConfigError(
                key: "\(path).topics", message: "expected a topic pattern of 1 to \(TopicName.maxByteCount) bytes, like contest_session.*",
                mark: mark, environmentVariable: variable)
        }
        guard let count = Int(size), (1...HistoryRule.sizeLimit).contains(count) else {
            throw ConfigError(
                key: "\(path).size", message: "expected a whole number from 1 to \(HistoryRule.sizeLimit), got \"\(Sanitize.forLog(size))\"",
                mark: mark, environmentVariable: variable)
        }
        guard let age = GoDuration.parse(ttl), age > .zero else {
            throw ConfigError(
                key: "\(path).ttl", message: "expected a positive duration like 5m, got \"\(Sanitize.forLog(ttl))\"", mark: mark,
                environmentVariable: variable)
        }
        return HistoryRule(pattern: topics, size: count, ttl: age)
    }
}
