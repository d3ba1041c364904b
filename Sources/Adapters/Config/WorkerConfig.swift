// The worker's settings, with the defaults of docs/protocol.md "Configuration" and config.sample.yaml.
public import Domain
public import Logging

/// Every setting the worker reads. Defaults are those of docs/protocol.md "Configuration";
/// extensions are documented in config.sample.yaml.
public struct WorkerConfig: Sendable {
    /// How log lines are written.
    public enum LogFormat: String, Sendable, CaseIterable {
        case logfmt, json
    }

    public var wsPort = 9000
    /// Empty means every interface, IPv4 and IPv6.
    public var wsBind = ""
    public var internalPort = 9001
    public var internalBind = "127.0.0.1"
    public var workerSecret: SharedSecret
    /// nil: a single node, in memory.
    public var redis: RedisEndpoint?
    public var topicTTL: Duration = .seconds(24 * 3600)
    /// A Redis connection whose oldest command is unanswered this long is dropped and reconnected.
    public var redisTimeout: Duration = .seconds(3)
    /// Unanswered publishes to Redis beyond which more are counted as not fanned out, not queued.
    public var redisQueueBytes = 8 << 20
    public var redisQueueCommands = 10_000

    // MARK: - Extensions
    public var redisPrefix = "wavelog:"
    /// Event loops; 0 in the file means one per core.
    public var threads: Int
    /// The loops' poller; `auto` takes io_uring where the kernel allows it (docs/adr/0014).
    public var ioBackend: IOBackend = .auto
    /// Empty: every origin is accepted (upstream behaviour).
    public var allowedOrigins: [String] = []
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .logfmt
    /// Open connections on the public port; a handshake beyond it is answered 503.
    public var maxConnections = 16_000
    /// Admitted browser connections per client address; 0: no limit.
    public var maxConnectionsPerIP = 0
    /// Browser handshakes per second per client address (a token bucket); 0: no limit.
    public var handshakeRatePerIP = 0.0
    /// The bucket's size; 0: twice the rate.
    public var handshakeBurstPerIP = 0
    /// The Pusher apps of `/app/{key}` and `/apps/{id}`; none: the Pusher transport is off.
    public var pusherApps: [PusherAppSettings] = []
    /// The `activity_timeout` Pusher clients are told: they ping after this much silence.
    public var pusherActivityTimeout: Duration = .seconds(30)
    /// How long a Pusher cache channel's last event is kept.
    public var pusherCacheTTL: Duration = .seconds(1800)
    /// Topics that keep their last messages for subscribers that resume (`history`).
    public var history = HistoryRules()
    /// How topics' pushes are shaped: coalesced bursts, latest-value topics (`topic_rules`).
    public var topicRules = TopicRules()
    /// Bytes of retained messages per topic (`history_topic_max_bytes`) and per node (`history_max_bytes`).
    public var historyLimits = HistoryLimits()
    /// Where the Wavelog topics' occupied and vacated events go, signed with the worker secret.
    public var topicWebhooks: [WebhookTarget] = []
    /// How long a vacated channel or a departed member waits before the backend is told.
    public var webhookDelay: Duration = .seconds(3)
    public var webhookBatchWindow: Duration = .milliseconds(50)
    public var webhookBatchSize = 50
    /// Batches waiting per endpoint; beyond, the oldest is dropped.
    public var webhookQueueBatches = 1000
    /// CA certificates (PEM) trusted for https endpoints besides the system's.
    public var webhookCAFile: String?
    /// Peers whose forwarded headers name the client (for logs and the per-address limits).
    public var trustedProxies: [AddressRange] = AddressRange.localAndPrivate
    /// How `rediss://` links verify Redis (`redis_tls_ca_file`, `redis_tls_insecure_skip_verify`).
    public var redisTLS = TLSClientSettings()
    /// TLS on the public port (`tls_cert_file`, `tls_key_file`); nil: plain HTTP and WebSocket.
    public var publicTLS: TLSSettings?
    /// TLS on the internal port (`internal_tls_cert_file`, `internal_tls_key_file`).
    public var internalTLS: TLSSettings?
    /// Unsent frames a socket may queue before it is closed with 1013.
    public var sendQueueFrames = 4096
    /// Unsent bytes a socket may queue before it is closed with 1013.
    public var sendQueueBytes = 4 << 20
    public var authTimeout: Duration = .seconds(10)
    public var pingInterval: Duration = .seconds(30)
    public var idleTimeout: Duration = .seconds(60)
    public var drainTimeout: Duration = .seconds(10)
    /// On SIGTERM, the span over which open sockets are closed in random order (`drain_period`);
    /// zero closes them all at once.
    public var drainPeriod: Duration = .seconds(10)
    /// The browser transports on the public port, by name.
    public var transports: [String] = WorkerConfig.transportNames
    /// Every transport this build has, in their default order.
    public static let transportNames = ["websocket", "sse", "pusher"]
    public var sseHeartbeat: Duration = .seconds(25)
    public var sseRetry: Duration = .seconds(3)
    /// permessage-deflate for WebSocket clients that offer it.
    public var webSocketCompression = true
    /// Push messages shorter than this many bytes are sent uncompressed.
    public var webSocketCompressionThreshold = 256
    /// zlib's level for compressed pushes, 1-9.
    public var webSocketCompressionLevel = 6

    public init(workerSecret: SharedSecret, threads: Int) {
        self.workerSecret = workerSecret
        self.threads = threads
    }

    /// One line for the start-up log; never the secret.
    public var summary: String {
        summaryFields.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// The effective configuration as key-value pairs for the start-up log line, one field per
    /// setting (a single value would be cut at the log's value limit); never a secret.
    public var summaryFields: [(key: String, value: String)] {
        var fields: [(key: String, value: String)] = [
            ("ws_bind", wsBind.isEmpty ? "*" : wsBind), ("ws_port", "\(wsPort)"),
            ("internal_bind", internalBind), ("internal_port", "\(internalPort)"),
            ("tls", publicTLS == nil ? "off" : "on"), ("internal_tls", internalTLS == nil ? "off" : "on"),
            ("redis", redis.map { "\($0)" } ?? "none"),
        ]
        if redis?.usesTLS == true {
            fields.append(("redis_tls", redisTLS.insecureSkipVerify ? "INSECURE (no certificate check)" : redisTLS.caFile.map { "verified against the system store and \($0)" } ?? "verified against the system store"))
        }
        if redis != nil {
            fields += [
                ("redis_prefix", redisPrefix), ("redis_timeout", GoDuration.formatExact(redisTimeout)),
                ("redis_queue_bytes", "\(redisQueueBytes)"), ("redis_queue_commands", "\(redisQueueCommands)"),
            ]
        }
        fields += [
            ("topic_ttl", GoDuration.format(topicTTL)), ("threads", "\(threads)"),
            ("allowed_origins", allowedOrigins.isEmpty ? "*" : allowedOrigins.joined(separator: ",")),
            ("transports", transports.joined(separator: ",")),
            ("max_connections", "\(maxConnections)"), ("max_connections_per_ip", "\(maxConnectionsPerIP)"),
            ("handshake_rate_per_ip", PrometheusText.format(handshakeRatePerIP)), ("handshake_burst_per_ip", "\(handshakeBurstPerIP)"),
            ("trusted_proxies", trustedProxies.map(\.description).joined(separator: ",")),
            ("pusher_apps", pusherApps.isEmpty ? "none" : pusherApps.map { "\($0.id)/\($0.key)" }.joined(separator: ",")),
            ("websocket_compression", webSocketCompression ? "level \(webSocketCompressionLevel) from \(webSocketCompressionThreshold) bytes" : "off"),
        ]
        return fields
    }
}
