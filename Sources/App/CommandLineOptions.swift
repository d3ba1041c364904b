// The command line, in Go's flag syntax, so existing unit files and scripts keep working.
import Domain

/// What the command line asks for. Flags accept `-name VALUE`, `--name VALUE` and `-name=VALUE`
/// (Go's flag package accepts all three; docs/adr/0004). An optional first word picks a command.
struct CommandLineOptions: Equatable {
    static let defaultConfigPath = "config.yaml"
    static let defaultProbeURL = "http://127.0.0.1:9000/readyz"

    enum Mode: Equatable {
        case run, checkConfig, version, help, genSecret
        /// Mint a token exactly as the backend's Worker.php does.
        case token(topic: String, userID: Int64, ttl: Duration)
        /// GET a probe URL on this host; exit 0 on 200 (the container HEALTHCHECK).
        case probe(url: String)
        /// A WebSocket echo server on 127.0.0.1:port, for the Autobahn conformance run only.
        case echo(port: Int)
    }

    var mode: Mode = .run
    var configPath = Self.defaultConfigPath
    var configPathGiven = false

    static let usage = """
        usage: wavelog-worker [command] [-config FILE]

        commands:
          run                  serve (the default)
          check-config         validate the configuration and exit
          gen-secret           print a new worker_secret: 64 hex characters from the OS random source
          token -topic T [-user N] [-ttl 1h]
                               print a token for topic T, minted exactly as Worker.php mints it
                               (the secret comes from the configuration)
          probe [-url URL]     GET a health URL on this host (default \(defaultProbeURL));
                               exit 0 on 200, 1 otherwise: for HEALTHCHECK and scripts
          version              print the version and exit
          help                 print this help

        flags (also as --name and -name=value):
          -config FILE         configuration file (default config.yaml; WAVELOG_* variables override it)
          -check-config        the same as the check-config command
          -version             the same as the version command
          -echo-port PORT      run a WebSocket echo server on 127.0.0.1:PORT (conformance tests only)
        """

    /// Parses `arguments` (without the program name); the error is a one-line message.
    static func parse(_ arguments: [String]) -> Result<CommandLineOptions, UsageError> {
        var options = CommandLineOptions()
        var rest = arguments[...]
        var command = "run"
        if let first = rest.first, !first.hasPrefix("-") {
            command = first
            rest = rest.dropFirst()
            guard ["run", "check-config", "gen-secret", "token", "probe", "version", "help"].contains(command) else {
                return .failure(UsageError("unknown command \"\(command)\""))
            }
        }
        var topic: String?
        var userID: Int64 = 0
        var ttl: Duration = .seconds(3600)
        var url = Self.defaultProbeURL
        var flagMode: Mode?
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("-"), argument != "-" else {
                return .failure(UsageError("unexpected argument \"\(argument)\""))
            }
            if argument == "--" { break }
            // Go: one or two dashes, then a name that does not start with another dash or "=".
            let dashes = argument.hasPrefix("--") ? 2 : 1
            var name = Substring(argument.dropFirst(dashes))
            guard let start = name.first, start != "-", start != "=" else {
                return .failure(UsageError("bad flag syntax: \(argument)"))
            }
            var inlineValue: Substring?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = name[name.index(after: equals)...]
                name = name[..<equals]
            }
            func value() -> Result<String, UsageError> {
                if let inlineValue { return .success(String(inlineValue)) }
                guard let next = rest.popFirst() else { return .failure(UsageError("flag needs an argument: -\(name)")) }
                return .success(next)
            }
            /// A boolean flag is true unless `=false` (or Go's other false spellings) follows it.
            func switchedOn() -> Result<Bool, UsageError> {
                guard let inlineValue else { return .success(true) }
                switch inlineValue {
                case "1", "t", "T", "true", "TRUE", "True": return .success(true)
                case "0", "f", "F", "false", "FALSE", "False": return .success(false)
                default: return .failure(UsageError("invalid boolean value \"\(inlineValue)\" for -\(name)"))
                }
            }
            switch name {
            case "config", "c":
                switch value() {
                case .success(let path): options.configPath = path
                case .failure(let error): return .failure(error)
                }
                options.configPathGiven = true
            case "check-config", "check", "t":
                guard command == "run" else { return .failure(UsageError("flag provided but not defined: -\(name)")) }
                switch switchedOn() {
                case .success(true): flagMode = .checkConfig
                case .success(false): break
                case .failure(let error): return .failure(error)
                }
            case "echo-port":
                guard command == "run" else { return .failure(UsageError("flag provided but not defined: -\(name)")) }
                let text: String
                switch value() {
                case .success(let read): text = read
                case .failure(let error): return .failure(error)
                }
                guard let port = Int(text), (0...65535).contains(port) else { return .failure(UsageError("invalid port for -echo-port: \(text)")) }
                flagMode = .echo(port: port)
            case "version", "v":
                guard command == "run" else { return .failure(UsageError("flag provided but not defined: -\(name)")) }
                switch switchedOn() {
                case .success(true): flagMode = .version
                case .success(false): break
                case .failure(let error): return .failure(error)
                }
            case "help", "h":
                switch switchedOn() {
                case .success(true): flagMode = .help
                case .success(false): break
                case .failure(let error): return .failure(error)
                }
            case "topic" where command == "token":
                switch value() {
                case .success(let read): topic = read
                case .failure(let error): return .failure(error)
                }
            case "user" where command == "token":
                switch value() {
                case .success(let read):
                    guard let number = Int64(read), number >= 0 else { return .failure(UsageError("invalid user id for -user: \(read)")) }
                    userID = number
                case .failure(let error): return .failure(error)
                }
            case "ttl" where command == "token":
                switch value() {
                case .success(let read):
                    guard let parsed = GoDuration.parse(read) else { return .failure(UsageError("invalid duration for -ttl: \(read) (like 90m or 1h30m)")) }
                    ttl = parsed
                case .failure(let error): return .failure(error)
                }
            case "url" where command == "probe":
                switch value() {
                case .success(let read): url = read
                case .failure(let error): return .failure(error)
                }
            default:
                return .failure(UsageError("flag provided but not defined: -\(name)"))
            }
        }
        if flagMode == .help { command = "help" }
        switch command {
        case "check-config": options.mode = .checkConfig
        case "gen-secret": options.mode = .genSecret
        case "version": options.mode = .version
        case "help": options.mode = .help
        case "probe": options.mode = .probe(url: url)
        case "token":
            guard let topic, !topic.isEmpty else { return .failure(UsageError("token needs -topic")) }
            options.mode = .token(topic: topic, userID: userID, ttl: ttl)
        default: options.mode = flagMode ?? .run
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
