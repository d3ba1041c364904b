// Entry point: parse the command line, load the configuration, run the node or a command.
import Adapters
import Domain
import Glibc

@main
enum Main {
    static func main() {
        let options: CommandLineOptions
        switch CommandLineOptions.parse(Array(CommandLine.arguments.dropFirst())) {
        case .success(let parsed): options = parsed
        case .failure(let error):
            printError("wavelog-worker: \(error.message)\n\(CommandLineOptions.usage)")
            exit(2)
        }

        switch options.mode {
        case .help:
            print(CommandLineOptions.usage)
            return
        case .version:
            print("wavelog-worker \(WorkerVersion.current)")
            return
        case .genSecret:
            guard let bytes = OpenSSLDigest.randomBytes(count: 32) else {
                printError("wavelog-worker: gen-secret: the OS random source failed")
                exit(1)
            }
            print(Hex.encodeLowercase(bytes))
            return
        case .probe(let url):
            // A peer that accepts and never answers must not hang a health check: the default
            // action of SIGALRM ends the process, a failure to whoever asked.
            alarm(5)
            if let failure = HealthProbe.check(url) {
                printError("wavelog-worker: probe: \(failure)")
                exit(1)
            }
            return
        case .echo(let port):
            exit(Wiring.runEcho(port: port))
        case .checkConfig, .run, .token:
            break
        }

        let loaded: LoadedConfig
        do {
            loaded = try YAMLConfigLoader.load(
                path: options.configPath, fileRequired: options.configPathGiven,
                environment: ProcessEnvironment.current(), cores: ProcessorBudget.cores)
        } catch {
            printError(error.description)
            exit(1)
        }

        switch options.mode {
        case .checkConfig:
            for warning in loaded.warnings { printError(warning) }
            print("configuration ok: \(loaded.config.summary)")
        case .token(let topic, let userID, let ttl):
            guard let token = TokenMinting.mint(topic: topic, userID: userID, ttl: ttl, secret: loaded.config.workerSecret) else {
                printError("wavelog-worker: token: \"\(topic)\" is not a valid topic name")
                exit(2)
            }
            print(token)
        default:
            exit(Wiring.run(loaded, version: WorkerVersion.current))
        }
    }

    static func printError(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
