// A blocking TCP client for tests, with a receive deadline so a bug fails instead of hanging.
import Glibc

/// A blocking loopback client socket.
public final class TestSocket {
    public let descriptor: Int32

    /// Connects to `host:port` (or `[::1]:port` when `ipv6`); receives time out after `timeoutSeconds`.
    public init(port: Int, host: String = "127.0.0.1", ipv6: Bool = false, timeoutSeconds: Int = 10) throws {
        descriptor = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            isClosed = true
            throw TestSocketError.failed("socket", errno)
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var result: Int32
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &address) { connect(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(host)
            result = withUnsafePointer(to: &address) { connect(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // Interrupted (a signal, or the task-work notice of an io_uring ring this thread once
        // drove), the connection goes on being made: wait for it, then read its outcome.
        var error = result == 0 ? 0 : errno
        if error == EINTR {
            var waiting = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            while poll(&waiting, 1, Int32(timeoutSeconds * 1000)) < 0 && errno == EINTR {}
            var length = socklen_t(4)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        }
        guard error == 0 else {
            // A class whose init throws once every property is set still runs its deinit: it
            // closes the descriptor, once. Closing here as well closed the number a second
            // time, by then a parallel test's new io_uring ring (io_uring_setup: EBADF).
            throw TestSocketError.failed("connect", error)
        }
    }

    private var isClosed = false

    deinit { if !isClosed { close(descriptor) } }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN, as a crashed or killed peer does.
    public func resetNow() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(descriptor)
        isClosed = true
    }

    /// Shrinks the receive buffer, so the server's writes back up (partial writes, EAGAIN).
    public func setReceiveBuffer(_ bytes: Int32) {
        var size = bytes
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, 4)
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { throw TestSocketError.failed("send", errno) }
            offset += sent
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads exactly `count` bytes, or throws at end of stream or on the deadline.
    public func receive(exactly count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let received = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + offset, count - offset, 0) }
            if received == 0 { throw TestSocketError.closed(received: offset) }
            // A signal (or io_uring's task-work notification to a thread that ran a ring) is no error.
            if received < 0 && errno == EINTR { continue }
            guard received > 0 else { throw TestSocketError.failed("recv", errno) }
            offset += received
        }
        return bytes
    }

    /// Reads whatever arrives next (at least one byte), or [] at end of stream.
    public func receiveSome(max: Int = 65536) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: max)
        var received: Int
        repeat {
            received = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, max, 0) }
        } while received < 0 && errno == EINTR
        guard received >= 0 else { throw TestSocketError.failed("recv", errno) }
        return Array(bytes[0..<received])
    }

    /// Reads until the peer closes; returns everything read.
    public func receiveUntilClosed() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let chunk = try receiveSome()
            if chunk.isEmpty { return all }
            all += chunk
        }
    }

    /// Reads until `marker` has been seen; returns everything read.
    public func receive(through marker: String) throws -> String {
        var text: [UInt8] = []
        let needle = Array(marker.utf8)
        while !(text.count >= needle.count && Array(text.suffix(needle.count)) == needle) {
            let byte = try receive(exactly: 1)
            text += byte
        }
        return String(decoding: text, as: UTF8.self)
    }

    public func shutdownWrite() { shutdown(descriptor, Int32(SHUT_WR)) }

    /// True when nothing has arrived and the peer has not closed: a look without waiting, for
    /// after a barrier that proves the peer would have written by now.
    public var isQuiet: Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
    }
}

public enum TestSocketError: Error, Equatable {
    case failed(String, Int32)
    case closed(received: Int)
}
