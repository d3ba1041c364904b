// Adapter: loads WorkerConfig from a YAML file (libyaml), WORKER_* and WAVELOG_* environment overrides.
public import Domain
internal import Glibc
internal import Logging

/// The loaded configuration and the warnings (unknown keys) to log once logging is up.
public struct LoadedConfig: Sendable {
    public let config: WorkerConfig
    public let warnings: [String]
}

/// Loads and validates the configuration. Every error is one line naming the key.
public enum YAMLConfigLoader {
    /// `WAVELOG_WS_PORT=9100` overrides `ws_port`, and so on for every key (containers set these).
    public static let environmentPrefix = "WAVELOG_"

    /// The upstream worker's variables (0.3.0 and its Helm chart), each for one key. They
    /// override the file; an empty one is ignored, as upstream ignores it; a `WAVELOG_*`
    /// variable for the same key wins over them.
    public static let upstreamVariables: [(variable: String, key: String)] = [
        ("WORKER_WS_BIND", "ws_bind"), ("WORKER_WS_PORT", "ws_port"), ("WORKER_INTERNAL_BIND", "internal_bind"),
        ("WORKER_INTERNAL_PORT", "internal_port"), ("WORKER_SECRET", "worker_secret"), ("WORKER_REDIS_URL", "redis_url"),
        ("WORKER_TOPIC_TTL", "topic_ttl"),
    ]

    /// Reads `path` and applies overrides from `environment`.
    /// - Parameter fileRequired: false for the default path, so a container may configure
    ///   itself from the environment alone.
    public static func load(
        path: String, fileRequired: Bool, environment: [String: String], cores: Int
    ) throws(ConfigError) -> LoadedConfig {
        let text: [UInt8]
        switch readFile(path) {
        case .success(let bytes): text = bytes
        case .failure(let failure):
            let errorNumber = failure.number
            if errorNumber == ENOENT && !fileRequired {
                text = []
            } else {
                throw ConfigError(key: nil, message: "open \(path): \(describe(errno: errorNumber))")
            }
        }
        return try load(yaml: text, fileName: path, environment: environment, cores: cores)
    }

    /// Parses YAML text and applies overrides from `environment`.
    public static func load(
        yaml text: [UInt8], fileName: String = "config", environment: [String: String] = [:], cores: Int = 1
    ) throws(ConfigError) -> LoadedConfig {
        let root: YAMLNode?
        do {
            root = try YAMLDocument.parse(text)
        } catch {
            throw ConfigError(
                key: nil, message: "\(fileName):\(error.mark.line):\(error.mark.column): \(error.problem)")
        }

        var values: [String: ConfigValue] = [:]
        var warnings: [String] = []
        if let root, !root.isNull {
            guard case .mapping(let pairs, _) = root else {
                throw ConfigError(key: nil, message: "expected a mapping of keys to values", mark: root.mark)
            }
            for (key, keyMark, value) in pairs {
                guard values[key] == nil else {
                    throw ConfigError(key: key, message: "duplicate key", mark: keyMark)
                }
                guard ConfigKeys.known.contains(key) else {
                    warnings.append("config: unknown key \"\(Sanitize.forLog(key))\" ignored (\(keyMark))")
                    continue
                }
                values[key] = ConfigValue(node: value, environmentVariable: nil)
            }
        }
        for (variable, key) in upstreamVariables {
            guard let text = environment[variable], !text.isEmpty else { continue }
            values[key] = ConfigValue(environment: text, from: variable)
        }
        for key in ConfigKeys.known {
            let variable = environmentPrefix + key.uppercased()
            guard let text = environment[variable] else { continue }
            values[key] = ConfigValue(environment: text, from: variable)
        }
        if let app = try PusherAppsKey.singleApp(from: environment) { values[PusherAppsKey.key] = app }
        warnings += try SecretFile.resolve(&values)
        let config = try ConfigKeys.decode(values, cores: cores)
        if !config.history.isEmpty, config.topicRules.rules.contains(where: { $0.coalesce != nil }) {
            warnings.append("config: topic_rules: coalesce does not apply to topics that also match a history rule (each of their messages is pushed)")
        }
        return LoadedConfig(config: config, warnings: warnings)
    }

    private struct ReadFailure: Error { let number: Int32 }

    private static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(ReadFailure(number: errno)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(number: errno))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
            // Refuse to slurp a huge file; YAMLDocument reports the size.
            if bytes.count > YAMLDocument.maxInputBytes { return .success(bytes) }
        }
    }

    static func describe(errno errorNumber: Int32) -> String {
        guard let message = strerror(errorNumber) else { return "errno \(errorNumber)" }
        let text = String(cString: message)
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}

/// A value for one key, and whether it came from the environment (or a secret file).
struct ConfigValue {
    let node: YAMLNode
    let environmentVariable: String?
    /// For `worker_secret` read through `worker_secret_file`: that file, named in errors.
    var secretFile: String? = nil

    init(node: YAMLNode, environmentVariable: String?, secretFile: String? = nil) {
        self.node = node
        self.environmentVariable = environmentVariable
        self.secretFile = secretFile
    }

    /// A value set by `variable`, read as an unquoted scalar, as if written in the file.
    init(environment text: String, from variable: String) {
        self.init(node: .scalar(text, quoted: false, SourceMark(line: 0, column: 0)), environmentVariable: variable)
    }
}
