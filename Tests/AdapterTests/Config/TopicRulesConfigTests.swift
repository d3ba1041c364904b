// The topic_rules and drain_period keys through real libyaml and the environment: both forms,
// defaults, and one line naming the key for every bad value.
import Adapters
import Domain
import Testing

struct TopicRulesConfigTests {
    let secretLine = ConfigText.secretLine

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        try ConfigText.load(yaml, environment: environment)
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        ConfigText.error(yaml, environment: environment)?.description
    }

    func rule(_ pattern: String, latestOnly: Bool = false, coalesce: Duration? = nil) -> TopicRule {
        TopicRule(pattern: TopicPattern(pattern)!, latestOnly: latestOnly, coalesce: coalesce)
    }

    @Test func defaults() throws {
        let config = try load(secretLine).config
        #expect(config.topicRules.isEmpty)
        #expect(config.drainPeriod == .seconds(10))
    }

    @Test func theFileAndTheEnvironment() throws {
        let config = try load(secretLine + """
            topic_rules: [{topics: "radio.*", latest_only: true}, {topics: "contest_session.*", coalesce: 250ms}]
            drain_period: 0
            """).config
        #expect(config.topicRules == TopicRules([rule("radio.*", latestOnly: true), rule("contest_session.*", coalesce: .milliseconds(250))]))
        #expect(config.drainPeriod == .zero)
        let environment = try load(secretLine, environment: [
            "WAVELOG_TOPIC_RULES": "radio.*:latest_only, contest_session.*:coalesce=250ms, odd:name.*:latest_only:coalesce=1s",
            "WAVELOG_DRAIN_PERIOD": "30s",
        ]).config
        #expect(environment.topicRules == TopicRules([
            rule("radio.*", latestOnly: true), rule("contest_session.*", coalesce: .milliseconds(250)),
            rule("odd:name.*", latestOnly: true, coalesce: .seconds(1)),
        ]))
        #expect(environment.drainPeriod == .seconds(30))
    }

    @Test func theFirstMatchingRuleApplies() {
        let rules = TopicRules([rule("radio.special"), rule("radio.*", latestOnly: true)])
        #expect(rules.rule(for: TopicName("radio.special")!) == rule("radio.special"))
        #expect(rules.rule(for: TopicName("radio.1")!)?.latestOnly == true)
        #expect(rules.rule(for: TopicName("contest_session.1")!) == nil)
    }

    @Test func everyBadValueIsOneLineNamingTheKey() {
        let cases: [(String, String)] = [
            ("topic_rules: [{topics: \"a.*\", coalesce: 0s}]", #"config: topic_rules[0].coalesce: expected a duration from 1ms to 1m like 250ms, got "0s" (line 2, column 15)"#),
            ("topic_rules: [{topics: \"a.*\", coalesce: 2m}]", #"config: topic_rules[0].coalesce: expected a duration from 1ms to 1m like 250ms, got "2m" (line 2, column 15)"#),
            ("topic_rules: [{topics: \"a.*\", latest_only: yes}]", #"config: topic_rules[0].latest_only: expected true or false, got "yes" (line 2, column 15)"#),
            ("topic_rules: [{latest_only: true}]", "config: topic_rules[0].topics: required (line 2, column 15)"),
            ("topic_rules: [{topics: a, latest: true}]", "config: topic_rules[0].latest: unknown setting (line 2, column 35)"),
            ("topic_rules: [a.*]", "config: topic_rules[0]: expected a mapping {topics, latest_only, coalesce} (line 2, column 15)"),
            ("topic_rules: {topics: a}", "config: topic_rules: expected a list of rules, each {topics, latest_only, coalesce} (line 2, column 14)"),
            ("drain_period: -1s", "config: drain_period: expected a duration from 0 to 10m like 10s, or 0 to close every socket at once (line 2, column 15)"),
            ("drain_period: 11m", "config: drain_period: expected a duration from 0 to 10m like 10s, or 0 to close every socket at once (line 2, column 15)"),
        ]
        for (line, message) in cases {
            #expect(error(secretLine + line + "\n") == message, "\(line)")
        }
        #expect(
            error(secretLine, environment: ["WAVELOG_TOPIC_RULES": "radio.*:fast"])
                == #"config: topic_rules[0]: expected <topics>:latest_only or <topics>:coalesce=<duration>, got "radio.*:fast" (from WAVELOG_TOPIC_RULES)"#)
    }
}
