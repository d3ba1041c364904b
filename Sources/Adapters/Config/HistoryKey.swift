// The `history` key: which topics keep their last messages for resumes, how many and how long.
public import Domain

enum HistoryKey {
    static let shape = "{topics, size, ttl}"

    /// A list of `{topics, size, ttl}`; from the environment, comma-separated
    /// `<pattern>:<size>:<ttl>` entries (a pattern with a comma needs the file).
    static func decode(_ value: ConfigValue, _ path: String) throws(ConfigError) -> HistoryRules {
        HistoryRules(try RuleListKey.decode(value, path, shape: shape, entry: entry, item: item))
    }

    private static func entry(_ text: String, _ path: String, _ mark: SourceMark, _ variable: String?) throws(ConfigError) -> HistoryRule {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3 else {
            throw ConfigError(
                key: path, message: "expected <topics>:<size>:<ttl>, got \"\(Sanitize.forLog(text))\"", mark: mark, environmentVariable: variable)
        }
        let pattern = parts.dropLast(2).joined(separator: ":")
        return try rule(pattern: pattern, size: String(parts[parts.count - 2]), ttl: String(parts[parts.count - 1]), path, mark, variable)
    }

    private static func item(_ node: YAMLNode, _ path: String, _ variable: String?) throws(ConfigError) -> HistoryRule {
        let (fields, mark) = try RuleListKey.fields(of: node, path, shape: shape, known: ["topics", "size", "ttl"], variable)
        for key in ["topics", "size", "ttl"] where fields[key] == nil {
            throw ConfigError(key: "\(path).\(key)", message: "required", mark: mark, environmentVariable: variable)
        }
        return try rule(pattern: fields["topics"]!, size: fields["size"]!, ttl: fields["ttl"]!, path, mark, variable)
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
