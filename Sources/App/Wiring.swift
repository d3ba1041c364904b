// The composition root: the only place that names concrete adapters.
import Adapters
import Application
import Domain
import Logging

enum Wiring {
    /// Builds the node from `loaded` and runs it until a signal stops it; returns the exit status.
    static func run(_ loaded: LoadedConfig, version: String) -> Int32 {
        let config = loaded.config
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, level: config.logLevel, format: config.logFormat)
        }
        let logger = Logger(label: "wavelog-worker")
        for warning in loaded.warnings { logger.warning("\(warning)") }
        logger.info("configuration loaded", metadata: ["config": "\(config.summary)", "version": "\(version)"])
        logger.error("serving is not implemented yet; see issue [loop]")
        return 1
    }
}
