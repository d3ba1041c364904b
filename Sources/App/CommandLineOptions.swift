// The command line, in Go's flag syntax, so existing unit files and scripts keep working.

/// What the command line asks for. Accepts `-config FILE`, `--config FILE`, `-config=FILE`
/// (Go's flag package accepts all three; docs/adr/0004).
struct CommandLineOptions: Equatable {
    static let defaultConfigPath = "config.yaml"

    enum Mode: Equatable {
        case run, checkConfig, version, help
        /// A WebSocket echo server on 127.0.0.1:port, for the Autobahn conformance run only.
        case echo(port: Int)
    }

    var mode: Mode = .run
    var configPath = Self.defaultConfigPath
    var configPathGiven = false

    static let usage = """
        usage: wavelog-worker [-config FILE] [-check-config] [-version]
          -config FILE     configuration file (default config.yaml; WAVELOG_* variables override it)
          -check-config    validate the configuration and exit
          -version         print the version and exit
          -echo-port PORT  run a WebSocket echo server on 127.0.0.1:PORT (conformance tests only)
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
            case "echo-port":
                let text: String
                if let inlineValue {
                    text = String(inlineValue)
                } else {
                    guard index < arguments.count else { return .failure(UsageError("flag needs an argument: -echo-port")) }
                    text = arguments[index]
                    index += 1
                }
                guard let port = Int(text), (0...65535).contains(port) else { return .failure(UsageError("invalid port for -echo-port: \(text)")) }
                options.mode = .echo(port: port)
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
