// The webhook keys through real libyaml and the environment: both forms, defaults, and one
// line naming the key for every bad value.
import Adapters
import Domain
import Testing

struct WebhookConfigTests {
    let secretLine = ConfigText.secretLine

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        try ConfigText.load(yaml, environment: environment)
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        ConfigText.error(yaml, environment: environment)?.description
    }

    @Test func defaults() throws {
        let config = try load(secretLine).config
        #expect(config.topicWebhooks.isEmpty)
        #expect(config.webhookDelay == .seconds(3))
        #expect(config.webhookBatchWindow == .milliseconds(50))
        #expect(config.webhookBatchSize == 50)
        #expect(config.webhookQueueBatches == 1000)
        #expect(config.webhookCAFile == nil)
    }

    @Test func bothFormsAndTheEnvironment() throws {
        let config = try load(secretLine + """
            pusher_apps:
              - id: "1"
                key: k
                secret: secret-one
                webhooks:
                  - url: https://backend.example.org/hooks
                  - url: http://10.0.0.5:8080/audit?x=1
                    event_types: [client_event, member_added]
            topic_webhooks: [http://127.0.0.1/index.php/worker/webhook]
            webhook_delay: 5s
            webhook_batch_size: 20
            """).config
        #expect(config.pusherApps[0].webhooks == [
            WebhookTarget(url: "https://backend.example.org/hooks"),
            WebhookTarget(url: "http://10.0.0.5:8080/audit?x=1", eventTypes: ["client_event", "member_added"]),
        ])
        #expect(config.topicWebhooks == [WebhookTarget(url: "http://127.0.0.1/index.php/worker/webhook")])
        #expect(config.webhookDelay == .seconds(5) && config.webhookBatchSize == 20)
        let environment = try load(secretLine, environment: [
            "WAVELOG_TOPIC_WEBHOOKS": "http://a/1, https://b/2",
            "WAVELOG_PUSHER_APP_ID": "7", "WAVELOG_PUSHER_APP_KEY": "k", "WAVELOG_PUSHER_APP_SECRET": "secret-one",
            "WAVELOG_PUSHER_APP_WEBHOOKS": "https://backend/hooks",
        ]).config
        #expect(environment.topicWebhooks.map(\.url) == ["http://a/1", "https://b/2"])
        #expect(environment.pusherApps[0].webhooks == [WebhookTarget(url: "https://backend/hooks")])
    }

    @Test func everyBadValueIsOneLineNamingTheKey() {
        let cases: [(String, String)] = [
            ("topic_webhooks: [ftp://x/y]", #"config: topic_webhooks[0].url: expected an http:// or https:// URL, got "ftp://x/y" (line 2, column 18)"#),
            ("topic_webhooks: [\"http:///nohost\"]", #"config: topic_webhooks[0].url: expected an http:// or https:// URL with a host, got "http:///nohost" (line 2, column 18)"#),
            ("topic_webhooks: [{url: http://x, event_types: [member_added]}]", "config: topic_webhooks[0].event_types: expected some of topic_occupied, topic_vacated, got \"member_added\" (line 2, column 47)"),
            ("topic_webhooks: [{event_types: [topic_vacated]}]", "config: topic_webhooks[0].url: required (line 2, column 18)"),
            ("topic_webhooks: [{url: http://x, event_types: []}]", "config: topic_webhooks[0].event_types: expected at least one event type (leave the key out for every one) (line 2, column 47)"),
            ("topic_webhooks: [{url: http://x, retries: 3}]", "config: topic_webhooks[0].retries: unknown setting (line 2, column 43)"),
            ("topic_webhooks: {url: http://x}", "config: topic_webhooks: expected a list of endpoints, each {url, event_types} (line 2, column 17)"),
            ("webhook_delay: soon", #"config: webhook_delay: expected a positive duration like 90m or 1h30m, got "soon" (line 2, column 16)"#),
            ("webhook_batch_size: 0", #"config: webhook_batch_size: expected an integer 1-1000, got "0" (line 2, column 21)"#),
            ("webhook_ca_file: /nonexistent/ca.pem", "config: webhook_ca_file: /nonexistent/ca.pem is not a readable file (line 2, column 18)"),
            ("pusher_apps: [{id: 1, key: k, secret: secret-one, webhooks: [{url: http://x, event_types: [topic_vacated]}]}]",
             "config: pusher_apps[0].webhooks[0].event_types: expected some of cache_miss, channel_occupied, channel_vacated, client_event, member_added, member_removed, subscription_count, got \"topic_vacated\" (line 2, column 91)"),
        ]
        for (line, message) in cases {
            #expect(error(secretLine + line + "\n") == message, "\(line)")
        }
        #expect(error(secretLine, environment: ["WAVELOG_PUSHER_APP_WEBHOOKS": "http://x"])
            == "config: pusher_apps: WAVELOG_PUSHER_APP_WEBHOOKS needs the app of WAVELOG_PUSHER_APP_ID, _KEY and _SECRET (from WAVELOG_PUSHER_APP_WEBHOOKS)")
        #expect(error(secretLine, environment: ["WAVELOG_TOPIC_WEBHOOKS": "mailto:x"])
            == #"config: topic_webhooks[0].url: expected an http:// or https:// URL, got "mailto:x" (from WAVELOG_TOPIC_WEBHOOKS)"#)
    }
}
