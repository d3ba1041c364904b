// Entry point: parse the command line, load the configuration, run the node.
import Adapters
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
        case .echo(let port):
            exit(Wiring.runEcho(port: port))
        case .checkConfig, .run:
            break
        }

        let loaded: LoadedConfig
        do {
            loaded = try YAMLConfigLoader.load(
                path: options.configPath, fileRequired: options.configPathGiven,
                environment: ProcessEnvironment.current(), cores: ProcessEnvironment.processorCount)
        } catch {
            printError(error.description)
            exit(1)
        }

        if options.mode == .checkConfig {
            for warning in loaded.warnings { printError(warning) }
            print("configuration ok: \(loaded.config.summary)")
            return
        }
        exit(Wiring.run(loaded, version: WorkerVersion.current))
    }

    static func printError(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
