// One relayed link: hiredis's Unix socket on one side, TLS over TCP to Redis on the other.
internal import COpenSSL
internal import CLinux
internal import Glibc

/// Plaintext from hiredis is encrypted toward Redis; records from Redis are decrypted toward
/// hiredis. Each direction holds at most `limit` bytes before it stops reading, so a slow side
/// pushes back on the other as a direct socket would. Either side closing ends both.
final class RedisTLSLink {
    enum Phase { case connecting, handshaking, established, closed }

    static let limit = 1 << 20

    private let local: Int32
    private let remote: Int32
    private let ssl: OpaquePointer
    private unowned let relay: RedisTLSRelay
    private var phase = Phase.connecting
    /// What hiredis sent before the handshake finished (its AUTH or PING).
    private var early = ByteQueue()
    private var toRemote = ByteQueue()
    private var toLocal = ByteQueue()
    private var localSide: Side!
    private var remoteSide: Side!

    var remoteDescriptor: Int32? { phase == .connecting || phase == .closed ? nil : remote }

    /// Starts connecting to `address`; a link that cannot even start closes hiredis's socket.
    /// Nil when OpenSSL is out of memory (the caller closes `local`).
    init?(local: Int32, to address: SocketAddress, relay: RedisTLSRelay) {
        guard let ssl = relay.client.makeSession(host: relay.endpoint.host, hostIsAddress: relay.hostIsAddress) else { return nil }
        self.ssl = ssl
        self.local = local
        self.relay = relay
        remote = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        localSide = Side(self, isLocal: true)
        remoteSide = Side(self, isLocal: false)
        guard remote >= 0 else {
            closeQuietly(reason: "socket: \(SystemError(call: "socket", errno: errno))")
            return
        }
        var on: Int32 = 1
        _ = setsockopt(remote, Int32(IPPROTO_TCP), TCP_NODELAY, &on, 4)
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) { connect(remote, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), address.length) }
        if result != 0 && errno != EINPROGRESS {
            closeQuietly(reason: "connect: \(SystemError(call: "connect", errno: errno))")
            return
        }
        do {
            try relay.loop.register(local, interest: .readable, handler: localSide)
            try relay.loop.register(remote, interest: .writable, handler: remoteSide)
        } catch {
            closeQuietly(reason: "\(error)")
        }
    }

    /// Before registration: nothing to deregister.
    private func closeQuietly(reason: String) {
        phase = .closed
        Syscall.close(local)
        if remote >= 0 { Syscall.close(remote) }
        SSL_free(ssl)
        relay.linkFailed(self, reason: reason)
    }

    deinit {
        if phase != .closed { SSL_free(ssl) }
    }

    /// Ends both sides. `reason` nil: hiredis closed its side (a stop, a reconnect).
    func close(reason: String?) {
        guard phase != .closed else { return }
        phase = .closed
        relay.loop.deregisterForClose(local)
        relay.loop.deregisterForClose(remote)
        // Commands hiredis counted as lost must not run after a partition heals: a reset
        // discards what the kernel still holds, as for a direct link.
        var reset = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(remote, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        Syscall.close(local)
        Syscall.close(remote)
        SSL_free(ssl)
        if let reason { relay.linkFailed(self, reason: reason) } else { relay.linkClosed(self) }
    }

    // MARK: - Events

    fileprivate func readable(local isLocal: Bool) {
        let buffer = relay.loop.readBuffer
        let count = Glibc.read(isLocal ? local : remote, buffer.baseAddress, buffer.count)
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            close(reason: isLocal ? nil : "read: \(SystemError(call: "read", errno: errno))")
            return
        }
        if count == 0 {
            close(reason: isLocal ? nil : "closed by redis")
            return
        }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        if isLocal {
            if phase == .established { encrypt(bytes) } else { early.append(bytes) }
        } else {
            guard BIO_write(SSL_get_rbio(ssl), bytes.baseAddress, Int32(count)) == Int32(count) else {
                close(reason: "out of memory")
                return
            }
            if phase == .handshaking && !handshake() { return }
            if phase == .established && !decrypt() { return }
        }
        moveRecords()
        pump()
    }

    fileprivate func writable(local isLocal: Bool) {
        if !isLocal && phase == .connecting {
            var failure: Int32 = 0
            var length = socklen_t(4)
            getsockopt(remote, SOL_SOCKET, SO_ERROR, &failure, &length)
            guard failure == 0 else {
                close(reason: "connect: \(SystemError(call: "connect", errno: failure))")
                return
            }
            phase = .handshaking
            relay.onRemoteConnected?(remote)
            guard handshake() else { return }
            moveRecords()
        }
        pump()
    }

    fileprivate func hangup(local isLocal: Bool) {
        if !isLocal && phase == .connecting {
            writable(local: false)  // SO_ERROR says why
        } else {
            close(reason: isLocal ? nil : "closed by redis")
        }
    }

    // MARK: - TLS

    /// One step of the handshake; false when the link closed.
    private func handshake() -> Bool {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            phase = .established
            relay.linkEstablished()
            if !early.isEmpty {
                let pending = early
                early = ByteQueue()
                pending.withBytes { encrypt($0) }
            }
            return decrypt()
        }
        if SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ { return true }
        let verify = SSL_get_verify_result(ssl)
        let reason = verify != X509_V_OK
            ? "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify)))"
            : "handshake: \(TLSCredentials.lastError())"
        moveRecords()
        close(reason: reason)
        return false
    }

    private func encrypt(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if SSL_write(ssl, bytes.baseAddress, Int32(bytes.count)) <= 0 {
            close(reason: "write: \(TLSCredentials.lastError())")
        }
    }

    /// Decrypts every complete record toward hiredis; false when the link closed.
    private func decrypt() -> Bool {
        switch TLSRecords.read(ssl, into: relay.loop.readBuffer, while: { true }, deliver: { toLocal.append($0) }) {
        case .needsInput, .stopped: return true
        case .closedByPeer: close(reason: "closed by redis")
        case .failed(let reason): close(reason: "record: \(reason)")
        }
        return false
    }

    /// Records OpenSSL wrote go to the queue toward Redis.
    private func moveRecords() {
        guard phase != .closed else { return }
        let output = SSL_get_wbio(ssl)
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return }
        toRemote.append(count: pending) { _ = BIO_read(output, $0.baseAddress, Int32(pending)) }
    }

    // MARK: - Writing and interest

    /// Writes what each side can take, then watches for what is left.
    private func pump() {
        guard phase != .closed else { return }
        if phase != .connecting && !toRemote.write(to: remote) {
            close(reason: "write: \(SystemError(call: "write", errno: errno))")
            return
        }
        if !toLocal.write(to: local) {
            close(reason: nil)
            return
        }
        let localInterest: PollerInterest = [
            toRemote.count + early.count < Self.limit ? .readable : [], toLocal.isEmpty ? [] : .writable,
        ]
        let remoteInterest: PollerInterest = [
            phase != .connecting && toLocal.count < Self.limit ? .readable : [],
            phase == .connecting || !toRemote.isEmpty ? .writable : [],
        ]
        do {
            try relay.loop.setInterest(local, localInterest)
            try relay.loop.setInterest(remote, remoteInterest)
        } catch {
            close(reason: "\(error)")
        }
    }

    /// The loop handler of one side's socket.
    private final class Side: LoopHandler {
        unowned let link: RedisTLSLink
        let isLocal: Bool

        init(_ link: RedisTLSLink, isLocal: Bool) {
            self.link = link
            self.isLocal = isLocal
        }

        func readable(on loop: EventLoop) { link.readable(local: isLocal) }
        func writable(on loop: EventLoop) { link.writable(local: isLocal) }
        func hangup(on loop: EventLoop) { link.hangup(local: isLocal) }
    }
}

/// Bytes waiting for a non-blocking socket, written from the front.
struct ByteQueue {
    private var bytes: [UInt8] = []
    private var start = 0

    var count: Int { bytes.count - start }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ more: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: more)
    }

    mutating func append(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let old = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count))
        bytes.withUnsafeMutableBytes { fill(UnsafeMutableRawBufferPointer(rebasing: $0[old...])) }
    }

    func withBytes(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }

    /// Writes as much as the socket takes; false on an error other than a full socket.
    mutating func write(to descriptor: Int32) -> Bool {
        while !isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + start, count, Int32(MSG_NOSIGNAL)) }
            if written < 0 { return errno == EAGAIN || errno == EINTR }
            start += written
        }
        bytes.removeAll(keepingCapacity: bytes.capacity <= 64 * 1024)
        start = 0
        return true
    }
}
