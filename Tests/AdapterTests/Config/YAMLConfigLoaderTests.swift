// Real libyaml: every default, every key, every error in one line naming the key.
import Adapters
import Logging
import Domain
import Testing

struct YAMLConfigLoaderTests {
    let secretLine = ConfigText.secretLine

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        try ConfigText.load(yaml, environment: environment)
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> ConfigError? {
        ConfigText.error(yaml, environment: environment)
    }

    @Test func defaultsFollowTheProtocol() throws {
        let config = try load(secretLine).config
        #expect(config.wsPort == 9000)
        #expect(config.wsBind == "")
        #expect(config.internalPort == 9001)
        #expect(config.internalBind == "127.0.0.1")
        #expect(config.redis == nil)
        #expect(config.topicTTL == .seconds(86_400))
        #expect(config.redisPrefix == "wavelog:")
        #expect(config.threads == 2)
        #expect(config.allowedOrigins.isEmpty)
        #expect(config.logLevel == .info)
        #expect(config.authTimeout == .seconds(10))
        #expect(config.pingInterval == .seconds(30))
        #expect(config.idleTimeout == .seconds(60))
        #expect(config.drainTimeout == .seconds(10))
    }

    @Test func readsEveryKey() throws {
        let yaml = secretLine + """
            ws_port: 9100
            ws_bind: "::"
            internal_port: 9101
            internal_bind: localhost
            redis_url: redis://user:p%40ss@10.0.0.5:6380/2
            topic_ttl: 1h30m
            redis_prefix: "club:"
            threads: 3
            allowed_origins:
              - https://log.example.org
              - https://contest.example.org
            log_level: debug
            log_format: json
            max_connections: 500
            send_queue_frames: 64
            send_queue_bytes: 65536
            auth_timeout: 5s
            ping_interval: 10s
            idle_timeout: 20s
            drain_timeout: 3s
            """
        let config = try load(yaml).config
        #expect(config.wsPort == 9100)
        #expect(config.wsBind == "::")
        #expect(config.internalPort == 9101)
        #expect(config.internalBind == "127.0.0.1")
        #expect(config.redis == RedisEndpoint(host: "10.0.0.5", port: 6380, username: "user", password: "p@ss", database: 2))
        #expect(config.topicTTL == .seconds(5400))
        #expect(config.redisPrefix == "club:")
        #expect(config.threads == 3)
        #expect(config.allowedOrigins == ["https://log.example.org", "https://contest.example.org"])
        #expect(config.logLevel == .debug)
        #expect(config.logFormat == .json)
        #expect(config.maxConnections == 500)
        #expect(config.sendQueueFrames == 64)
        #expect(config.sendQueueBytes == 65536)
        #expect(config.authTimeout == .seconds(5))
        #expect(config.pingInterval == .seconds(10))
        #expect(config.idleTimeout == .seconds(20))
        #expect(config.drainTimeout == .seconds(3))
    }

    @Test func ioBackendDefaultsToAutoAndTakesEachName() throws {
        #expect(try load(secretLine).config.ioBackend == .auto)
        for backend in IOBackend.allCases {
            #expect(try load(secretLine + "io_backend: \(backend.rawValue.uppercased())").config.ioBackend == backend)
        }
        #expect(try load(secretLine, environment: ["WAVELOG_IO_BACKEND": "epoll"]).config.ioBackend == .epoll)
    }

    @Test func threadsZeroMeansOnePerCore() throws {
        #expect(try load(secretLine + "threads: 0").config.threads == 2)
    }

    @Test func emptyValuesKeepDefaults() throws {
        let config = try load(secretLine + "redis_url:\nws_port: ~\n")
        #expect(config.config.redis == nil)
        #expect(config.config.wsPort == 9000)
    }

    @Test func unknownKeysAreWarningsNamingTheKey() throws {
        let loaded = try load(secretLine + "colour: blue\n")
        #expect(loaded.warnings == ["config: unknown key \"colour\" ignored (line 2, column 1)"])
    }

    @Test(arguments: [
        ("", "config: worker_secret: required (at least 32 characters), or worker_secret_file"),
        ("worker_secret: short\n", "config: worker_secret: must be at least 32 characters, got 5 (line 1, column 16)"),
        ("worker_secret: [a, b]\n", "config: worker_secret: expected a string, got a list (line 1, column 16)"),
    ])
    func secretErrors(_ yaml: String, _ message: String) {
        #expect(error(yaml)?.description == message)
    }

    @Test(arguments: [
        ("ws_port: abc", "config: ws_port: expected an integer 0-65535, got \"abc\" (line 2, column 10)"),
        ("ws_port: 65536", "config: ws_port: expected an integer 0-65535, got \"65536\" (line 2, column 10)"),
        ("internal_port: -1", "config: internal_port: expected an integer 0-65535, got \"-1\" (line 2, column 16)"),
        ("internal_port: {a: 1}", "config: internal_port: expected an integer 0-65535, got a mapping (line 2, column 16)"),
        ("ws_bind: example.org", "config: ws_bind: expected an IPv4 or IPv6 address, got \"example.org\" (line 2, column 10)"),
        ("internal_bind: \"\"", "config: internal_bind: expected an IPv4 or IPv6 address, got \"\" (line 2, column 16)"),
        ("topic_ttl: 24", "config: topic_ttl: expected a positive duration like 90m or 1h30m, got \"24\" (line 2, column 12)"),
        ("topic_ttl: -5m", "config: topic_ttl: expected a positive duration like 90m or 1h30m, got \"-5m\" (line 2, column 12)"),
        ("topic_ttl: 0s", "config: topic_ttl: expected a positive duration like 90m or 1h30m, got \"0s\" (line 2, column 12)"),
        ("redis_url: http://x", "config: redis_url: expected redis://[user:pass@]host:port/db or rediss://... (line 2, column 12)"),
        ("redis_url: redis://host:99999", "config: redis_url: port must be 1-65535, got \"99999\" (line 2, column 12)"),
        ("redis_url: redis://host/x", "config: redis_url: database must be a number, got \"x\" (line 2, column 12)"),
        ("redis_tls_ca_file: /dev/null", "config: redis_tls_ca_file: applies to a rediss:// redis_url only (line 2, column 20)"),
        ("redis_url: rediss://h\nredis_tls_ca_file: /nonexistent", "config: redis_tls_ca_file: /nonexistent is not a readable file (line 3, column 20)"),
        ("redis_url: rediss://h\nredis_tls_insecure_skip_verify: maybe", "config: redis_tls_insecure_skip_verify: expected true or false, got \"maybe\" (line 3, column 33)"),
        ("threads: many", "config: threads: expected an integer 0-256, got \"many\" (line 2, column 10)"),
        ("log_level: loud", "config: log_level: expected one of trace, debug, info, notice, warning, error, critical, got \"loud\" (line 2, column 12)"),
        ("log_format: xml", "config: log_format: expected logfmt or json, got \"xml\" (line 2, column 13)"),
        ("io_backend: kqueue", "config: io_backend: expected one of auto, uring, epoll, poll, got \"kqueue\" (line 2, column 13)"),
        ("redis_prefix: \"a b\"", "config: redis_prefix: expected a non-empty prefix without spaces or control characters (line 2, column 15)"),
        ("allowed_origins: {a: b}", "config: allowed_origins: expected a list of strings, got a mapping (line 2, column 18)"),
        ("ws_port: 1\nws_port: 2", "config: ws_port: duplicate key (line 3, column 1)"),
        ("transports: [carrier-pigeon]", "config: transports: expected websocket, sse, pusher, got \"carrier-pigeon\" (line 2, column 13)"),
        ("transports: []", "config: transports: expected at least one of websocket, sse, pusher (line 2, column 13)"),
        ("sse_heartbeat: 0s", "config: sse_heartbeat: expected a positive duration like 90m or 1h30m, got \"0s\" (line 2, column 16)"),
        ("websocket_compression: maybe", "config: websocket_compression: expected true or false, got \"maybe\" (line 2, column 24)"),
        ("websocket_compression_level: 10", "config: websocket_compression_level: expected an integer 1-9, got \"10\" (line 2, column 30)"),
        ("websocket_compression_threshold: -1", "config: websocket_compression_threshold: expected an integer 0-1048576, got \"-1\" (line 2, column 34)"),
        ("sse_retry: soon", "config: sse_retry: expected a positive duration like 90m or 1h30m, got \"soon\" (line 2, column 12)"),
        ("internal_port: 9000", "config: internal_port: 9000 is ws_port too; the internal API needs a port of its own (line 2, column 16)"),
        ("ws_port: 9001", "config: internal_port: 9001 is ws_port too; the internal API needs a port of its own"),
    ])
    func valueErrorsNameTheKeyAndPosition(_ line: String, _ message: String) {
        #expect(error(secretLine + line + "\n")?.description == message)
    }

    @Test func theTwoListenersMayShareAPortNumberOnAddressesThatDoNotOverlap() throws {
        let config = try load(secretLine + "ws_bind: 10.0.0.5\nws_port: 9000\ninternal_port: 9000\n").config
        #expect(config.internalPort == config.wsPort)
        #expect(error(secretLine + "ws_bind: 0.0.0.0\ninternal_port: 9000\n")?.description
            == "config: internal_port: 9000 is ws_port too; the internal API needs a port of its own (line 3, column 16)")
    }

    @Test(arguments: [
        ("ws_port: [1, 2\n", "config: config.yaml:2:1: did not find expected ',' or ']'"),
        ("a: b: c\n", "config: config.yaml:1:5: mapping values are not allowed in this context"),
        ("\tws_port: 1\n", "config: config.yaml:1:1: found character that cannot start any token"),
        ("x: &a 1\ny: *a\n", "config: config.yaml:2:4: aliases are not supported in the configuration"),
    ])
    func syntaxErrorsGiveLineAndColumn(_ yaml: String, _ message: String) {
        #expect(error(yaml)?.description == message)
    }

    @Test func topLevelMustBeAMapping() {
        #expect(error("- a\n- b\n")?.description == "config: expected a mapping of keys to values (line 1, column 1)")
    }

    @Test func environmentOverridesTheFile() throws {
        let config = try load(
            secretLine + "ws_port: 9100\n",
            environment: ["WAVELOG_WS_PORT": "9200", "WAVELOG_ALLOWED_ORIGINS": "https://a, https://b", "UNRELATED": "x"]
        ).config
        #expect(config.wsPort == 9200)
        #expect(config.allowedOrigins == ["https://a", "https://b"])
    }

    @Test func theLimitsAndTrustedProxiesAreRead() throws {
        let config = try load(
            secretLine + "max_connections_per_ip: 50\nhandshake_rate_per_ip: 0.5\ntrusted_proxies: [10.1.0.0/16, \"::1\"]\n",
            environment: ["WAVELOG_HANDSHAKE_BURST_PER_IP": "20"]
        ).config
        #expect(config.maxConnectionsPerIP == 50)
        #expect(config.handshakeRatePerIP == 0.5)
        #expect(config.handshakeBurstPerIP == 20)
        #expect(config.trustedProxies.map(\.description) == ["10.1.0.0/16", "::1"])
        let defaults = try load(secretLine).config
        #expect(defaults.maxConnectionsPerIP == 0 && defaults.handshakeRatePerIP == 0)
        #expect(defaults.trustedProxies.contains { $0.contains("127.0.0.1") })
        #expect(error(secretLine + "trusted_proxies: [10.0.0.0/40]\n")?.description
            == "config: trusted_proxies: expected IP addresses or CIDR ranges like 10.0.0.0/8, got \"10.0.0.0/40\" (line 2, column 18)")
    }

    @Test func pusherAppsAreReadFromTheFileOrTheEnvironment() throws {
        let file = try load(secretLine + """
            pusher_apps:
              - id: "1001"
                key: k1
                secret: secret-one
                enable_client_events: yes
                max_presence_members: 5
              - {id: 1002, key: k2, secret: secret-two}
            """).config.pusherApps
        #expect(file.map(\.id) == ["1001", "1002"])
        #expect(file[0].enableClientEvents && file[0].maxPresenceMembers == 5 && !file[1].enableClientEvents)
        #expect(file[1].maxMessageBytes == 10240)
        let single = try load(secretLine, environment: [
            "WAVELOG_PUSHER_APP_ID": "7", "WAVELOG_PUSHER_APP_KEY": "env-key", "WAVELOG_PUSHER_APP_SECRET": "env:secret:with:colons",
        ]).config.pusherApps
        #expect(single == [PusherAppSettings(id: "7", key: "env-key", secret: "env:secret:with:colons")])
        let listed = try load(secretLine, environment: ["WAVELOG_PUSHER_APPS": "1:a:secret-aaa, 2:b:secret-bbb"]).config.pusherApps
        #expect(listed.map(\.key) == ["a", "b"])
        #expect(try load(secretLine).config.pusherApps.isEmpty)
    }

    @Test(arguments: [
        ("pusher_apps: [{id: app1, key: k, secret: secret-one}]", "config: pusher_apps[0].id: expected digits (the Pusher SDKs refuse other app ids), got \"app1\" (line 2, column 14)"),
        ("pusher_apps: [{id: 1, key: k}]", "config: pusher_apps[0].secret: required (line 2, column 15)"),
        ("pusher_apps: [{id: 1, key: k, secret: short}]", "config: pusher_apps[0].secret: must be at least 8 characters (line 2, column 14)"),
        ("pusher_apps: [{id: 1, key: \"a/b\", secret: secret-one}]", "config: pusher_apps[0].key: expected up to 64 printable characters without / ? & : % (line 2, column 14)"),
        ("pusher_apps: [{id: 1, key: k, secret: secret-one, colour: red}]", "config: pusher_apps[0].colour: unknown setting (line 2, column 59)"),
        ("pusher_apps: [{id: 1, key: k, secret: secret-one}, {id: 1, key: j, secret: secret-two}]", "config: pusher_apps[1].id: duplicate app id \"1\" (line 2, column 14)"),
        ("pusher_apps: {id: 1}", "config: pusher_apps: expected a list of apps, each {id, key, secret} (line 2, column 14)"),
    ] as [(String, String)])
    func pusherAppErrorsNameTheKey(_ line: String, _ message: String) {
        #expect(error(secretLine + line + "\n")?.description == message)
    }

    @Test func aPartialPusherAppInTheEnvironmentNamesTheMissingVariable() {
        #expect(error(secretLine, environment: ["WAVELOG_PUSHER_APP_ID": "7"])?.description
            == "config: pusher_apps: WAVELOG_PUSHER_APP_KEY is required with the other WAVELOG_PUSHER_APP_* variables (from WAVELOG_PUSHER_APP_KEY)")
    }

    @Test func environmentErrorsNameTheVariable() {
        #expect(error(secretLine, environment: ["WAVELOG_WS_PORT": "x"])?.description
            == "config: ws_port: expected an integer 0-65535, got \"x\" (from WAVELOG_WS_PORT)")
    }

    @Test func secretFromTheEnvironmentAlone() throws {
        let config = try load("", environment: ["WAVELOG_WORKER_SECRET": String(repeating: "k", count: 40)]).config
        #expect(config.workerSecret.bytes.count == 40)
    }

    @Test func missingFileIsAnErrorOnlyWhenNamed() throws {
        let path = "/nonexistent/wavelog/config.yaml"
        #expect(throws: ConfigError(key: nil, message: "open \(path): no such file or directory")) {
            try YAMLConfigLoader.load(path: path, fileRequired: true, environment: [:], cores: 1)
        }
        let loaded = try YAMLConfigLoader.load(
            path: path, fileRequired: false, environment: ["WAVELOG_WORKER_SECRET": String(repeating: "k", count: 32)], cores: 1)
        #expect(loaded.config.wsPort == 9000)
    }

    @Test func summaryNeverShowsTheSecretOrRedisPassword() throws {
        let config = try load(secretLine + "redis_url: redis://:hunter2hunter2@127.0.0.1:6379/0\n").config
        #expect(!config.summary.contains("0123456789abcdef"))
        #expect(!config.summary.contains("hunter2"))
        #expect(config.summary.contains("redis://:***@127.0.0.1:6379/0"))
    }
}

extension YAMLConfigLoaderTests {
    @Test func transportsDefaultToBothAndCanBeNarrowed() throws {
        #expect(try load(secretLine).config.transports == ["websocket", "sse", "pusher"])
        #expect(try load(secretLine + "transports: [SSE]\n").config.transports == ["sse"])
        #expect(try load(secretLine, environment: ["WAVELOG_TRANSPORTS": "websocket"]).config.transports == ["websocket"])
        let config = try load(secretLine + "sse_heartbeat: 5s\nsse_retry: 1500ms\n").config
        #expect(config.sseHeartbeat == .seconds(5))
        #expect(config.sseRetry == .milliseconds(1500))
        #expect(try load(secretLine).config.sseHeartbeat == .seconds(25))
    }

    @Test func compressionIsOnByDefaultAndEveryKnobIsRead() throws {
        let defaults = try load(secretLine).config
        #expect((defaults.webSocketCompression, defaults.webSocketCompressionThreshold, defaults.webSocketCompressionLevel) == (true, 256, 6))
        let config = try load(secretLine + "websocket_compression: off\nwebsocket_compression_threshold: 0\nwebsocket_compression_level: 1\n").config
        #expect((config.webSocketCompression, config.webSocketCompressionThreshold, config.webSocketCompressionLevel) == (false, 0, 1))
        #expect(try load(secretLine, environment: ["WAVELOG_WEBSOCKET_COMPRESSION": "false"]).config.webSocketCompression == false)
    }
}

struct RedisEndpointTests {
    @Test(arguments: [
        ("redis://localhost", RedisEndpoint(host: "localhost")),
        ("redis://127.0.0.1:6380/3", RedisEndpoint(host: "127.0.0.1", port: 6380, database: 3)),
        ("redis://:secret@host", RedisEndpoint(host: "host", password: "secret")),
        ("redis://user:secret@host:1/0", RedisEndpoint(host: "host", port: 1, username: "user", password: "secret")),
        ("redis://[::1]:7000", RedisEndpoint(host: "::1", port: 7000)),
        ("redis://h:6379/", RedisEndpoint(host: "h")),
    ])
    func parses(_ url: String, _ expected: RedisEndpoint) throws {
        #expect(try RedisEndpoint(url: url) == expected)
    }

    @Test func rediss() throws {
        let endpoint = try RedisEndpoint(url: "rediss://user:secret@redis.example.org:6380/2")
        var expected = RedisEndpoint(host: "redis.example.org", port: 6380, username: "user", password: "secret", database: 2)
        expected.usesTLS = true
        #expect(endpoint == expected)
        #expect(endpoint.description == "rediss://user:***@redis.example.org:6380/2")
        #expect(try RedisEndpoint(url: "redis://h").usesTLS == false)
    }

    @Test func redisTLSSettings() throws {
        let config = try ConfigText.load(ConfigText.secretLine + "redis_url: rediss://h\nredis_tls_ca_file: /dev/null\n").config
        #expect(config.redisTLS == TLSClientSettings(caFile: "/dev/null"))
        #expect(config.summaryFields.contains { $0 == ("redis_tls", "verified against the system store and /dev/null") })
        let insecure = try ConfigText.load(ConfigText.secretLine + "redis_url: rediss://h\nredis_tls_insecure_skip_verify: true\n").config
        #expect(insecure.redisTLS.insecureSkipVerify)
    }

    @Test(arguments: ["redis://", "redis://:pw@", "redis://h:0", "redis://h:x", "redis://[::1", "redis://h/-1", "redis://u:%zz@h", "localhost:6379"])
    func refuses(_ url: String) {
        #expect(throws: RedisURLError.self) { try RedisEndpoint(url: url) }
    }
}
