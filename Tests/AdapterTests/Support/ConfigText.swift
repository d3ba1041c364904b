// Loading a configuration from YAML text in a test, through real libyaml and the environment.
import Adapters

enum ConfigText {
    static let secretLine = "worker_secret: \"0123456789abcdef0123456789abcdef\"\n"

    static func load(_ yaml: String, environment: [String: String] = [:], cores: Int = 2) throws(ConfigError) -> LoadedConfig {
        try YAMLConfigLoader.load(yaml: Array(yaml.utf8), fileName: "config.yaml", environment: environment, cores: cores)
    }

    /// The error loading `yaml` gives, or nil when it loads.
    static func error(_ yaml: String, environment: [String: String] = [:], cores: Int = 2) -> ConfigError? {
        do {
            _ = try load(yaml, environment: environment, cores: cores)
            return nil
        } catch {
            return error
        }
    }
}
