// TLS for hiredis 0.14, which has none: hiredis connects to a Unix socket of the relay's own,
// and the relay carries its bytes over TLS to Redis, on the connection's loop (docs/adr/0022).
internal import CLinux
internal import Glibc
internal import Logging
internal import Synchronization

/// One Redis connection's relay: a listening Unix socket in a directory only this user can
/// enter, and at most one link at a time (hiredis has one socket per connection). Before each
/// attempt, `expect` names the resolved address the next link goes to.
final class RedisTLSRelay: LoopHandler {
    let path: String
    private let directory: String
    private let listener: Int32
    unowned let loop: EventLoop
    let client: TLSClient
    let endpoint: RedisEndpoint
    let hostIsAddress: Bool
    let logger: Logger
    let name: String
    private var target: String?
    private(set) var link: RedisTLSLink?
    private var lastFailure: String?
    /// The link's TCP socket is connected: the connection sets its keep-alive probes.
    var onRemoteConnected: ((Int32) -> Void)?

    /// Makes the directory and binds the socket; `start` registers it with the loop.
    init(name: String, endpoint: RedisEndpoint, client: TLSClient, loop: EventLoop, logger: Logger) throws(SystemError) {
        self.name = name
        self.endpoint = endpoint
        self.client = client
        self.loop = loop
        self.logger = logger
        hostIsAddress = HostResolver.isAddressLiteral(endpoint.host)
        var template = Array("/tmp/wavelog-worker-relay-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw SystemError(call: "mkdtemp", errno: errno)
        }
        let directory = String(cString: template)
        let path = directory + "/redis.sock"
        self.directory = directory
        self.path = path
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            let error = SystemError(call: "socket(AF_UNIX)", errno: errno)
            rmdir(directory)
            throw error
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let bound = withUnsafePointer(to: &address) {
            bind(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_un>.size))
        }
        guard bound == 0, Glibc.listen(descriptor, 4) == 0 else {
            let error = SystemError(call: "bind(\(path))", errno: errno)
            Syscall.close(descriptor)
            unlink(path)
            rmdir(directory)
            throw error
        }
        listener = descriptor
        RedisRelayFiles.made.withLock { $0.append(directory) }
    }

    /// Starts accepting. On the loop.
    func start() throws(SystemError) {
        try loop.register(listener, interest: .readable, handler: self)
    }

    /// The next link hiredis opens goes to `address` (resolved from the endpoint's host).
    func expect(_ address: String) {
        target = address
    }

    /// The TCP socket to Redis of the current link: what the kernel knows of the path.
    var remoteDescriptor: Int32? { link?.remoteDescriptor }

    /// Closes the link and the socket, and removes the directory. On the loop.
    func stop() {
        link?.close(reason: nil)
        link = nil
        loop.deregisterForClose(listener)
        Syscall.close(listener)
        unlink(path)
        rmdir(directory)
    }

    func readable(on loop: EventLoop) {
        while true {
            let accepted = clinux_accept4(listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            guard accepted >= 0 else { return }
            // hiredis opened a new link: the old one is over, whatever it still held.
            link?.close(reason: nil)
            link = nil
            guard let target, let address = SocketAddress(host: target, port: endpoint.port) else {
                Syscall.close(accepted)
                continue
            }
            link = RedisTLSLink(local: accepted, to: address, relay: self)
            if link == nil { Syscall.close(accepted) }
        }
    }

    func writable(on loop: EventLoop) {}

    func hangup(on loop: EventLoop) {}

    /// hiredis closed its side (a stop, a reconnect): nothing to report.
    func linkClosed(_ link: RedisTLSLink) {
        if self.link === link { self.link = nil }
    }

    /// A link failed on the Redis side; hiredis sees its socket close and reconnects. The reason
    /// is logged once until it changes (a CA that does not match fails every attempt alike).
    func linkFailed(_ link: RedisTLSLink, reason: String) {
        if self.link === link { self.link = nil }
        guard reason != lastFailure else { return }
        lastFailure = reason
        logger.warning("redis tls link failed", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "reason": "\(reason)"])
    }

    /// A link completed its handshake: the next failure is worth a line again.
    func linkEstablished() {
        lastFailure = nil
    }
}

/// What the relays of this process put on disk.
public enum RedisRelayFiles {
    /// Every relay's directory, removed at exit even where a loop stopped before its relay did
    /// (a link that never came up keeps its connection waiting until then).
    static let made = Mutex<[String]>([])

    /// Removes every relay's socket and directory. After the loops stopped.
    public static func remove() {
        for directory in made.withLock({ $0 }) {
            unlink(directory + "/redis.sock")
            rmdir(directory)
        }
    }
}
