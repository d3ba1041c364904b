// The configuration keys: their types, ranges and defaults (documented in config.sample.yaml).
public import Domain
internal import Glibc
public import Logging

/// Decodes each known key into a WorkerConfig.
enum ConfigKeys {
    static let known: [String] = [
        "ws_port", "ws_bind", "internal_port", "internal_bind", "worker_secret", "worker_secret_file", "redis_url", "topic_ttl",
        "redis_prefix", "threads", "allowed_origins", "log_level", "log_format", "max_connections",
        "send_queue_frames", "send_queue_bytes", "auth_timeout", "ping_interval", "idle_timeout", "drain_timeout",
        "transports", "sse_heartbeat", "sse_retry",
        "websocket_compression", "websocket_compression_threshold", "websocket_compression_level",
        "max_connections_per_ip", "handshake_rate_per_ip", "handshake_burst_per_ip", "trusted_proxies",
        "pusher_apps", "pusher_activity_timeout", "pusher_cache_ttl", "redis_timeout", "redis_queue_bytes", "redis_queue_commands",
        "io_backend", "topic_webhooks", "webhook_delay", "webhook_batch_window", "webhook_batch_size", "webhook_queue_batches",
        "webhook_ca_file", "history", "history_topic_max_bytes", "history_max_bytes", "topic_rules", "drain_period",
    ] + TLSKeys.known

    static func decode(_ values: [String: ConfigValue], cores: Int) throws(ConfigError) -> WorkerConfig {
        guard let secretValue = values["worker_secret"], !secretValue.node.isNull else {
            throw ConfigError(
                key: "worker_secret", message: "required (at least \(SharedSecret.minimumLength) characters), or worker_secret_file")
        }
        let secretText = try string(secretValue, "worker_secret")
        guard let secret = SharedSecret(secretText) else {
            let message = "must be at least \(SharedSecret.minimumLength) characters, got \(secretText.count)"
            if let path = secretValue.secretFile { throw error(secretValue, "worker_secret_file", "\(path): the secret \(message)") }
            throw error(secretValue, "worker_secret", message)
        }
        var config = WorkerConfig(workerSecret: secret, threads: max(1, cores))

        for (key, value) in values where key != "worker_secret" && !value.node.isNull {
            switch key {
            case "ws_port": config.wsPort = try integer(value, key, in: 0...65535)
            case "internal_port": config.internalPort = try integer(value, key, in: 0...65535)
            case "ws_bind": config.wsBind = try address(value, key, allowEmpty: true)
            case "internal_bind": config.internalBind = try address(value, key, allowEmpty: false)
            case "redis_url":
                let text = try string(value, key)
                if !text.isEmpty {
                    do { config.redis = try RedisEndpoint(url: text) } catch { throw ConfigKeys.error(value, key, error.reason) }
                }
            case "topic_ttl": config.topicTTL = try duration(value, key)
            case "redis_prefix":
                let prefix = try string(value, key)
                guard !prefix.isEmpty, prefix.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
                    throw error(value, key, "expected a non-empty prefix without spaces or control characters")
                }
                config.redisPrefix = prefix
            case "threads":
                let threads = try integer(value, key, in: 0...256)
                config.threads = threads == 0 ? max(1, cores) : threads
            case "io_backend":
                let text = try string(value, key).lowercased()
                guard let backend = IOBackend(rawValue: text) else {
                    let names = IOBackend.allCases.map(\.rawValue).joined(separator: ", ")
                    throw error(value, key, "expected one of \(names), got \"\(Sanitize.forLog(text))\"")
                }
                config.ioBackend = backend
            case "allowed_origins": config.allowedOrigins = try stringList(value, key)
            case "log_level":
                let text = try string(value, key).lowercased()
                guard let level = Logger.Level(rawValue: text == "warn" ? "warning" : text) else {
                    throw error(value, key, "expected one of trace, debug, info, notice, warning, error, critical, got \"\(Sanitize.forLog(text))\"")
                }
                config.logLevel = level
            case "log_format":
                let text = try string(value, key).lowercased()
                guard let format = WorkerConfig.LogFormat(rawValue: text) else {
                    throw error(value, key, "expected logfmt or json, got \"\(Sanitize.forLog(text))\"")
                }
                config.logFormat = format
            case "max_connections": config.maxConnections = try integer(value, key, in: 1...1_000_000)
            case "send_queue_frames": config.sendQueueFrames = try integer(value, key, in: 1...1_000_000)
            case "send_queue_bytes": config.sendQueueBytes = try integer(value, key, in: 1024...(1 << 30))
            case "auth_timeout": config.authTimeout = try duration(value, key)
            case "ping_interval": config.pingInterval = try duration(value, key)
            case "idle_timeout": config.idleTimeout = try duration(value, key)
            case "drain_timeout": config.drainTimeout = try duration(value, key)
            case "transports":
                let names = try stringList(value, key).map { $0.lowercased() }
                guard !names.isEmpty else { throw error(value, key, "expected at least one of \(WorkerConfig.transportNames.joined(separator: ", "))") }
                for name in names where !WorkerConfig.transportNames.contains(name) {
                    throw error(value, key, "expected \(WorkerConfig.transportNames.joined(separator: ", ")), got \"\(Sanitize.forLog(name))\"")
                }
                config.transports = names
            case "sse_heartbeat": config.sseHeartbeat = try duration(value, key)
            case "sse_retry": config.sseRetry = try duration(value, key)
            case "websocket_compression": config.webSocketCompression = try bool(value, key)
            case "websocket_compression_threshold": config.webSocketCompressionThreshold = try integer(value, key, in: 0...(1 << 20))
            case "websocket_compression_level": config.webSocketCompressionLevel = try integer(value, key, in: 1...9)
            case "max_connections_per_ip": config.maxConnectionsPerIP = try integer(value, key, in: 0...1_000_000)
            case "handshake_rate_per_ip": config.handshakeRatePerIP = try number(value, key, in: 0...1_000_000)
            case "handshake_burst_per_ip": config.handshakeBurstPerIP = try integer(value, key, in: 0...1_000_000)
            case "redis_timeout": config.redisTimeout = try duration(value, key)
            case "redis_queue_bytes": config.redisQueueBytes = try integer(value, key, in: 1024...(1 << 30))
            case "redis_queue_commands": config.redisQueueCommands = try integer(value, key, in: 1...10_000_000)
            case "pusher_apps": config.pusherApps = try PusherAppsKey.decode(value)
            case "pusher_activity_timeout": config.pusherActivityTimeout = try duration(value, key)
            case "pusher_cache_ttl": config.pusherCacheTTL = try duration(value, key)
            case "topic_webhooks":
                config.topicWebhooks = try WebhooksKey.decode(value.node, environmentVariable: value.environmentVariable, key, names: WebhookEvent.topicNames)
            case "history": config.history = try HistoryKey.decode(value, key)
            case "topic_rules": config.topicRules = try TopicRulesKey.decode(value, key)
            case "drain_period":
                // Zero is meaningful here: every socket closed at once, as before pacing.
                guard case .scalar(let text, _, _) = value.node, let period = GoDuration.parse(text), period >= .zero, period <= .seconds(600) else {
                    throw error(value, key, "expected a duration from 0 to 10m like 10s, or 0 to close every socket at once")
                }
                config.drainPeriod = period
            case "history_topic_max_bytes": config.historyLimits.topicBytes = try integer(value, key, in: 1024...(1 << 30))
            case "history_max_bytes": config.historyLimits.totalBytes = try integer(value, key, in: 1024...(1 << 40))
            case "webhook_delay": config.webhookDelay = try duration(value, key)
            case "webhook_batch_window": config.webhookBatchWindow = try duration(value, key)
            case "webhook_batch_size": config.webhookBatchSize = try integer(value, key, in: 1...1000)
            case "webhook_queue_batches": config.webhookQueueBatches = try integer(value, key, in: 1...1_000_000)
            case "webhook_ca_file":
                let path = try string(value, key)
                guard !path.isEmpty else { break }
                guard access(path, R_OK) == 0 else { throw error(value, key, "\(Sanitize.forLog(path)) is not a readable file") }
                config.webhookCAFile = path
            case "trusted_proxies":
                var ranges: [AddressRange] = []
                for text in try stringList(value, key) {
                    guard let range = AddressRange(text) else {
                        throw error(value, key, "expected IP addresses or CIDR ranges like 10.0.0.0/8, got \"\(Sanitize.forLog(text))\"")
                    }
                    ranges.append(range)
                }
                config.trustedProxies = ranges
            default: break
            }
        }
        try TLSKeys.decode(values, into: &config)
        if config.internalPort != 0, config.internalPort == config.wsPort, overlap(config.internalBind, config.wsBind) {
            // Both listeners would share the port through SO_REUSEPORT and split its connections.
            let message = "\(config.internalPort) is ws_port too; the internal API needs a port of its own"
            throw values["internal_port"].map { error($0, "internal_port", message) } ?? ConfigError(key: "internal_port", message: message)
        }
        return config
    }

    /// Whether two bind addresses can accept the same connection ("" and the unspecified
    /// addresses take every address).
    private static func overlap(_ first: String, _ second: String) -> Bool {
        let everything: Set = ["", "0.0.0.0", "::"]
        return first == second || everything.contains(first) || everything.contains(second)
    }

    // MARK: - Typed readers

    static func error(_ value: ConfigValue, _ key: String, _ message: String) -> ConfigError {
        ConfigError(key: key, message: message, mark: value.node.mark, environmentVariable: value.environmentVariable)
    }

    static func string(_ value: ConfigValue, _ key: String) throws(ConfigError) -> String {
        guard case .scalar(let text, _, _) = value.node else { throw error(value, key, "expected a string, got \(kind(value.node))") }
        return text
    }

    static func integer(_ value: ConfigValue, _ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let expectation = "expected an integer \(range.lowerBound)-\(range.upperBound)"
        guard case .scalar(let text, _, _) = value.node else { throw error(value, key, "\(expectation), got \(kind(value.node))") }
        guard let number = Int(text), range.contains(number) else {
            throw error(value, key, "\(expectation), got \"\(Sanitize.forLog(text))\"")
        }
        return number
    }

    /// A decimal number such as `0.5` or `20`.
    static func number(_ value: ConfigValue, _ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let expectation = "expected a number \(PrometheusText.format(range.lowerBound))-\(PrometheusText.format(range.upperBound))"
        guard case .scalar(let text, _, _) = value.node else { throw error(value, key, "\(expectation), got \(kind(value.node))") }
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let number = Double(text), range.contains(number) else {
            throw error(value, key, "\(expectation), got \"\(Sanitize.forLog(text))\"")
        }
        return number
    }

    /// YAML 1.1's spellings, as Go's YAML reader accepts them.
    static func bool(_ value: ConfigValue, _ key: String) throws(ConfigError) -> Bool {
        guard case .scalar(let text, _, _) = value.node else { throw error(value, key, "expected true or false, got \(kind(value.node))") }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw error(value, key, "expected true or false, got \"\(Sanitize.forLog(text))\"")
        }
    }

    static func duration(_ value: ConfigValue, _ key: String) throws(ConfigError) -> Duration {
        let expectation = "expected a positive duration like 90m or 1h30m"
        guard case .scalar(let text, _, _) = value.node else { throw error(value, key, "\(expectation), got \(kind(value.node))") }
        guard let parsed = GoDuration.parse(text), parsed > .zero else {
            throw error(value, key, "\(expectation), got \"\(Sanitize.forLog(text))\"")
        }
        return parsed
    }

    static func stringList(_ value: ConfigValue, _ key: String) throws(ConfigError) -> [String] {
        switch value.node {
        case .scalar(let text, _, _):
            // The environment (and a one-line config) gives a comma-separated list.
            return text.split(separator: ",").map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
        case .sequence(let items, _):
            var strings: [String] = []
            for item in items {
                guard case .scalar(let text, _, _) = item else {
                    throw ConfigError(key: key, message: "expected a list of strings", mark: item.mark)
                }
                strings.append(text)
            }
            return strings
        case .mapping:
            throw error(value, key, "expected a list of strings, got a mapping")
        }
    }

    static func address(_ value: ConfigValue, _ key: String, allowEmpty: Bool) throws(ConfigError) -> String {
        let text = try string(value, key)
        if text.isEmpty && allowEmpty { return text }
        if text == "localhost" { return "127.0.0.1" }
        var v4 = in_addr()
        var v6 = in6_addr()
        let unbracketed = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        guard inet_pton(AF_INET, unbracketed, &v4) == 1 || inet_pton(AF_INET6, unbracketed, &v6) == 1 else {
            throw error(value, key, "expected an IPv4 or IPv6 address, got \"\(Sanitize.forLog(text))\"")
        }
        return unbracketed
    }

    private static func kind(_ node: YAMLNode) -> String {
        switch node {
        case .scalar: return "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}
