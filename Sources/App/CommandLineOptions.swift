// The command line, in Go's flag syntax, so existing unit files and scripts keep working.

/// What the command line asks for. Accepts `-config FILE`, `--config FILE`, `-config=FILE`
/// (Go's flag package accepts all three; docs/adr/0004).
struct CommandLineOptions: Equatable {
    static let defaultConfigPath = "config.yaml"

    enum Mode: Equatable {
        case run, checkConfig, version, help
    }

    var mode: Mode = .run
    var configPath = Self.defaultConfigPath
    var configPathGiven = false

    static let usage = """
        usage: wavelog-worker [-config FILE] [-check-config] [-version]
          -config FILE     configuration file (default config.yaml; WAVELOG_* variables override it)
          -check-config    validate the configuration and exit
          -version         print the version and exit
        """

    /// Parses `arguments` (without the program name); the error is a one-line message.
    static func parse(_ arguments: [String]) -> Result<CommandLineOptions, UsageError> {
        var options = CommandLineOptions()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-"), argument != "-" else {
                return .failure(UsageError("unexpected argument \"\(argument)\""))
            }
            if argument == "--" { break }
            var name = Substring(argument.drop { $0 == "-" })
            var inlineValue: Substring?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = name[name.index(after: equals)...]
                name = name[..<equals]
            }
            switch name {
            case "config", "c":
                if let inlineValue {
                    options.configPath = String(inlineValue)
                } else {
                    guard index < arguments.count else { return .failure(UsageError("flag needs an argument: -config")) }
                    options.configPath = arguments[index]
                    index += 1
                }
                options.configPathGiven = true
            case "check-config", "check", "t":
                options.mode = .checkConfig
            case "version", "v":
                options.mode = .version
            case "help", "h":
                options.mode = .help
            default:
                return .failure(UsageError("flag provided but not defined: -\(name)"))
            }
        }
        return .success(options)
    }
}

struct UsageError: Error, Equatable {
    let message: String

    init(_ message: String) {
        self.message = message
    }
}
