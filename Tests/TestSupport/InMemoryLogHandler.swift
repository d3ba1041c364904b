// Captures log lines so tests can assert on them (and that secrets never appear).
public import Logging
import Synchronization

/// A log handler that keeps every rendered line in memory.
public struct InMemoryLogHandler: LogHandler {
    /// The captured lines, shared by every copy of the handler.
    public final class Store: Sendable {
        private let storage = Mutex<[String]>([])

        public init() {}

        public var lines: [String] { storage.withLock { $0 } }

        func append(_ line: String) { storage.withLock { $0.append(line) } }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace
    private let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// A logger writing into `store`.
    public static func logger(_ store: Store, label: String = "test") -> Logger {
        Logger(label: label) { _ in InMemoryLogHandler(store: store) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let rendered = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
        store.append("\(event.level) \(event.message) \(rendered)")
    }
}
