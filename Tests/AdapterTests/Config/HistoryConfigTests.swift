// The history keys through real libyaml and the environment: both forms, defaults, and one
// line naming the key for every bad value.
import Adapters
import Domain
import Testing

struct HistoryConfigTests {
    let secretLine = ConfigText.secretLine

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        try ConfigText.load(yaml, environment: environment)
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        ConfigText.error(yaml, environment: environment)?.description
    }

    func rule(_ pattern: String, _ size: Int, _ ttl: Duration) -> HistoryRule {
        HistoryRule(pattern: TopicPattern(pattern)!, size: size, ttl: ttl)
    }

    @Test func defaults() throws {
        let config = try load(secretLine).config
        #expect(config.history.isEmpty)
        #expect(config.historyLimits == HistoryLimits(topicBytes: 4 << 20, totalBytes: 64 << 20))
    }

    @Test func theFileAndTheEnvironment() throws {
        let config = try load(secretLine + """
            history:
              - {topics: "contest_session.*", size: 100, ttl: 5m}
              - topics: "radio.*"
                size: 1
                ttl: 30s
            history_topic_max_bytes: 65536
            history_max_bytes: 1048576
            """).config
        #expect(config.history == HistoryRules([rule("contest_session.*", 100, .seconds(300)), rule("radio.*", 1, .seconds(30))]))
        #expect(config.historyLimits == HistoryLimits(topicBytes: 65536, totalBytes: 1 << 20))
        let environment = try load(secretLine, environment: ["WAVELOG_HISTORY": "contest_session.*:100:5m, odd:name.*:2:1h"]).config
        #expect(environment.history == HistoryRules([rule("contest_session.*", 100, .seconds(300)), rule("odd:name.*", 2, .seconds(3600))]))
    }

    @Test func everyBadValueIsOneLineNamingTheKey() {
        let cases: [(String, String)] = [
            ("history: [{topics: \"a.*\", size: 0, ttl: 5m}]", #"config: history[0].size: expected a whole number from 1 to 10000, got "0" (line 2, column 11)"#),
            ("history: [{topics: \"a.*\", size: many, ttl: 5m}]", #"config: history[0].size: expected a whole number from 1 to 10000, got "many" (line 2, column 11)"#),
            ("history: [{topics: \"a.*\", size: 5, ttl: later}]", #"config: history[0].ttl: expected a positive duration like 5m, got "later" (line 2, column 11)"#),
            ("history: [{topics: \"\", size: 5, ttl: 5m}]", "config: history[0].topics: expected a topic pattern of 1 to 256 bytes, like contest_session.* (line 2, column 11)"),
            ("history: [{size: 5, ttl: 5m}]", "config: history[0].topics: required (line 2, column 11)"),
            ("history: [{topics: a, size: 5, ttl: 5m, bytes: 9}]", "config: history[0].bytes: unknown setting (line 2, column 48)"),
            ("history: [{topics: [a, b], size: 5, ttl: 5m}]", "config: history[0].topics: expected a single value (line 2, column 20)"),
            ("history: [a.*]", "config: history[0]: expected a mapping {topics, size, ttl} (line 2, column 11)"),
            ("history: {topics: a}", "config: history: expected a list of rules, each {topics, size, ttl} (line 2, column 10)"),
            ("history_max_bytes: 10", #"config: history_max_bytes: expected an integer 1024-1099511627776, got "10" (line 2, column 20)"#),
        ]
        for (line, message) in cases {
            #expect(error(secretLine + line + "\n") == message, "\(line)")
        }
        #expect(error(secretLine, environment: ["WAVELOG_HISTORY": "a.*:5"]) == #"config: history[0]: expected <topics>:<size>:<ttl>, got "a.*:5" (from WAVELOG_HISTORY)"#)
    }
}
