// The certificate a TLS listener serves, replaced on reload for the connections that follow.
public import Logging
internal import COpenSSL
internal import Synchronization

/// What a TLS port hands each new connection: an `SSL` on the current credentials. Shared by
/// every loop; the lock is taken once per accepted connection and once per reload, never on
/// the delivery path.
public final class TLSServer: Sendable {
    /// The configuration key the files came from, named in log lines.
    public let key: String
    public let handshakeTimeout: Duration
    private let current: Mutex<Loaded>

    private struct Loaded: @unchecked Sendable {
        var settings: TLSSettings
        var credentials: TLSCredentials
    }

    /// Loads the pair now: a TLS port that cannot serve its certificate does not start.
    public init(_ settings: TLSSettings, key: String) throws(TLSLoadError) {
        self.key = key
        handshakeTimeout = settings.handshakeTimeout
        current = Mutex(Loaded(settings: settings, credentials: try TLSCredentials(settings)))
    }

    /// Loads the files again (they may have been replaced). A pair that does not load leaves
    /// the one in use, and the error says why; open connections keep what they began with.
    public func reload() -> Result<Void, TLSLoadError> {
        let settings = current.withLock { $0.settings }
        do {
            let credentials = try TLSCredentials(settings)
            current.withLock { $0.credentials = credentials }
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Reloads whenever the certificate's or the key's file changes on disk; false when the
    /// files cannot be watched (SIGHUP still reloads).
    public func watchFiles(logging logger: Logger) -> Bool {
        let settings = current.withLock { $0.settings }
        return CertificateWatch.start(files: [settings.certificateFile, settings.keyFile]) { [self] in
            reload(logging: logger)
        }
    }

    /// Reloads and says so in one log line.
    public func reload(logging logger: Logger) {
        switch reload() {
        case .success: logger.notice("tls certificate reloaded", metadata: ["key": "\(key)"])
        case .failure(let error): logger.error("tls certificate reload refused, the old one stays", metadata: ["key": "\(key)", "reason": "\(error)"])
        }
    }

    /// A server-side `SSL` with memory BIOs, or nil when OpenSSL is out of memory.
    func makeSession() -> OpaquePointer? {
        // Inside the lock: a reload must not free the context between reading it and SSL_new
        // taking its reference.
        current.withLock { SSL_new($0.credentials.context) }
    }
}
