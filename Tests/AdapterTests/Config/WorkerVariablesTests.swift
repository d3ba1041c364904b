// The upstream worker's WORKER_* variables: over the file, under WAVELOG_*, empty ones ignored.
import Adapters
import Domain
import Glibc
import Testing

struct WorkerVariablesTests {
    let secretLine = "worker_secret: \"0123456789abcdef0123456789abcdef\"\n"

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        try YAMLConfigLoader.load(yaml: Array(yaml.utf8), fileName: "config.yaml", environment: environment, cores: 2)
    }

    func error(_ yaml: String, environment: [String: String]) -> ConfigError? {
        do {
            _ = try load(yaml, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("WORKER_WS_BIND", "127.0.0.2", "ws_bind: \"127.0.0.3\"\n"), ("WORKER_WS_PORT", "9100", "ws_port: 9200\n"),
        ("WORKER_INTERNAL_BIND", "0.0.0.0", "internal_bind: \"127.0.0.3\"\n"), ("WORKER_INTERNAL_PORT", "9101", "internal_port: 9201\n"),
        ("WORKER_SECRET", "from-worker-secret-0123456789abcdef", ""), ("WORKER_REDIS_URL", "redis://10.1.2.3:6380/2", "redis_url: \"redis://127.0.0.1:6379\"\n"),
        ("WORKER_TOPIC_TTL", "2h", "topic_ttl: 3h\n"),
    ] as [(String, String, String)])
    func aWorkerVariableOverridesTheFileAndAWavelogVariableOverridesIt(_ variable: String, _ value: String, _ fileLine: String) throws {
        func read(_ config: WorkerConfig) -> String {
            switch variable {
            case "WORKER_WS_BIND": config.wsBind
            case "WORKER_WS_PORT": "\(config.wsPort)"
            case "WORKER_INTERNAL_BIND": config.internalBind
            case "WORKER_INTERNAL_PORT": "\(config.internalPort)"
            case "WORKER_SECRET": config.workerSecret.matches(Array(value.utf8)) ? value : "other"
            case "WORKER_REDIS_URL": config.redis.map { "redis://\($0.host):\($0.port)/\($0.database)" } ?? "none"
            default: GoDuration.format(config.topicTTL)
            }
        }
        let file = secretLine + fileLine
        let fromFile = try load(file).config
        let overridden = try load(file, environment: [variable: value]).config
        #expect(read(overridden) == (variable == "WORKER_TOPIC_TTL" ? "2h0m0s" : value))
        #expect(read(overridden) != read(fromFile))
        // Empty values are ignored, as upstream ignores them.
        #expect(read(try load(file, environment: [variable: ""]).config) == read(fromFile))
        // The native name for the same key wins.
        let key = YAMLConfigLoader.upstreamVariables.first { $0.variable == variable }!.key
        let native = "WAVELOG_" + key.uppercased()
        let nativeValue = variable == "WORKER_SECRET" ? "native-secret-0123456789abcdef0123" : (variable == "WORKER_TOPIC_TTL" ? "4h" : fromFileValue(variable))
        let both = try load(file, environment: [variable: value, native: nativeValue]).config
        #expect(read(both) != read(overridden))
    }

    private func fromFileValue(_ variable: String) -> String {
        switch variable {
        case "WORKER_WS_BIND", "WORKER_INTERNAL_BIND": "127.0.0.9"
        case "WORKER_WS_PORT": "9300"
        case "WORKER_INTERNAL_PORT": "9301"
        default: "redis://127.0.0.9:6390"
        }
    }

    @Test func theUpstreamHelmEnvironmentAloneConfiguresANode() throws {
        let config = try load("", environment: [
            "WORKER_INTERNAL_BIND": "0.0.0.0", "WORKER_REDIS_URL": "redis://wavelog-valkey:6379/2",
            "WORKER_SECRET": "helm-secret-0123456789abcdef0123456789",
        ]).config
        #expect(config.internalBind == "0.0.0.0")
        #expect(config.redis?.host == "wavelog-valkey")
        #expect(config.redis?.database == 2)
        #expect((config.wsPort, config.internalPort) == (9000, 9001))
    }

    @Test(arguments: [
        ("WORKER_WS_PORT", "nine", "config: ws_port: expected an integer 0-65535, got \"nine\" (from WORKER_WS_PORT)"),
        ("WORKER_INTERNAL_PORT", "70000", "config: internal_port: expected an integer 0-65535, got \"70000\" (from WORKER_INTERNAL_PORT)"),
        ("WORKER_TOPIC_TTL", "soon", "config: topic_ttl: expected a positive duration like 90m or 1h30m, got \"soon\" (from WORKER_TOPIC_TTL)"),
        ("WORKER_TOPIC_TTL", "-5m", "config: topic_ttl: expected a positive duration like 90m or 1h30m, got \"-5m\" (from WORKER_TOPIC_TTL)"),
        ("WORKER_SECRET", "short", "config: worker_secret: must be at least 32 characters, got 5 (from WORKER_SECRET)"),
    ] as [(String, String, String)])
    func aBadWorkerVariableIsOneLineNamingIt(_ variable: String, _ value: String, _ line: String) {
        #expect(error(secretLine, environment: [variable: value])?.description == line)
    }
}

extension WorkerVariablesTests {
    @Test func aSecretFileNamedByWavelogWinsOverWorkerSecret() throws {
        let path = "/tmp/wavelog-worker-test-secret-\(UInt64.random(in: 0...UInt64.max))"
        let secret = "secret-from-the-file-0123456789abcdef"
        let descriptor = fopen(path, "w")
        fputs(secret + "\n", descriptor)
        fclose(descriptor)
        chmod(path, 0o600)
        defer { unlink(path) }
        let config = try load("", environment: ["WORKER_SECRET": "from-worker-secret-0123456789abcdef", "WAVELOG_WORKER_SECRET_FILE": path]).config
        #expect(config.workerSecret.matches(Array(secret.utf8)))
        #expect(error("", environment: ["WAVELOG_WORKER_SECRET": "from-wavelog-secret-0123456789abcdef", "WAVELOG_WORKER_SECRET_FILE": path]) != nil)
    }
}
