// The `topic_rules` key: which topics are coalesced or keep only their newest unsent push.
public import Domain

enum TopicRulesKey {
    static let fields = ["topics", "latest_only", "coalesce"]

    static let shape = "{topics, latest_only, coalesce}"

    /// A list of `{topics, latest_only, coalesce}`; from the environment, comma-separated
    /// `<pattern>:<option>[:<option>]` entries with the options `latest_only` and
    /// `coalesce=<duration>` (`radio.*:latest_only,contest_session.*:coalesce=250ms`).
    static func decode(_ value: ConfigValue, _ path: String) throws(ConfigError) -> TopicRules {
        TopicRules(try RuleListKey.decode(value, path, shape: shape, entry: entry, item: item))
    }

    private static func entry(_ text: String, _ path: String, _ mark: SourceMark, _ variable: String?) throws(ConfigError) -> TopicRule {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var options: [String: String] = [:]
        while parts.count > 1, let last = parts.last, last == "latest_only" || last.hasPrefix("coalesce=") {
            if last == "latest_only" { options["latest_only"] = "true" } else { options["coalesce"] = String(last.dropFirst("coalesce=".count)) }
            parts.removeLast()
        }
        guard !options.isEmpty else {
            throw ConfigError(
                key: path, message: "expected <topics>:latest_only or <topics>:coalesce=<duration>, got \"\(Sanitize.forLog(text))\"",
                mark: mark, environmentVariable: variable)
        }
        options["topics"] = parts.joined(separator: ":")
        return try rule(options, path, mark, variable)
    }

    private static func item(_ node: YAMLNode, _ path: String, _ variable: String?) throws(ConfigError) -> TopicRule {
        let (fields, mark) = try RuleListKey.fields(of: node, path, shape: shape, known: Self.fields, variable)
        return try rule(fields, path, mark, variable)
    }

    private static func rule(_ fields: [String: String], _ path: String, _ mark: SourceMark, _ variable: String?) throws(ConfigError) -> TopicRule {
        guard let text = fields["topics"] else {
            throw ConfigError(key: "\(path).topics", message: "required", mark: mark, environmentVariable: variable)
        }
        guard let pattern = TopicPattern(text) else {
            throw ConfigError(
                key: "\(path).topics", message: "expected a topic pattern of 1 to \(TopicName.maxByteCount) bytes, like radio.*",
                mark: mark, environmentVariable: variable)
        }
        var latestOnly = false
        if let flag = fields["latest_only"] {
            switch flag.lowercased() {
            case "true": latestOnly = true
            case "false": latestOnly = false
            default:
                throw ConfigError(key: "\(path).latest_only", message: "expected true or false, got \"\(Sanitize.forLog(flag))\"", mark: mark, environmentVariable: variable)
            }
        }
        var window: Duration?
        if let text = fields["coalesce"] {
            guard let parsed = GoDuration.parse(text), parsed >= .milliseconds(1), parsed <= TopicRule.longestWindow else {
                throw ConfigError(
                    key: "\(path).coalesce", message: "expected a duration from 1ms to 1m like 250ms, got \"\(Sanitize.forLog(text))\"",
                    mark: mark, environmentVariable: variable)
            }
            window = parsed
        }
        return TopicRule(pattern: pattern, latestOnly: latestOnly, coalesce: window)
    }
}
