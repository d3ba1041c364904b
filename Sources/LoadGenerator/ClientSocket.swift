// Non-blocking TCP sockets to a loopback port, and the write path every client shares.
import Glibc
import CLinux

enum ClientSocket {
    /// Starts a connect to 127.0.0.1:`port`; completion shows up as writability.
    static func connect(port: UInt16) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(descriptor >= 0, "socket failed: errno \(clinux_errno()) (open-file limit?)")
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(result == 0 || clinux_errno() == EINPROGRESS, "connect failed: errno \(clinux_errno())")
        return descriptor
    }

    /// The pending error of a connect that became writable; 0 when it succeeded.
    static func connectError(_ descriptor: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        return error
    }
}

/// Bytes a client could not write yet. Requests are small, so this is nearly always empty.
struct Outbox {
    private(set) var pending: [UInt8] = []

    var isEmpty: Bool { pending.isEmpty }

    /// Writes what the socket takes now; true when something is left for writability.
    mutating func send(_ bytes: UnsafeRawBufferPointer, on descriptor: Int32) -> Bool {
        if !pending.isEmpty {
            pending += bytes
            return flush(descriptor)
        }
        let written = Glibc.send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if written == bytes.count { return false }
        let taken = max(written, 0)
        if written < 0 && clinux_errno() != EAGAIN { return false }  // the read side will see the failure
        pending += bytes[taken...]
        return true
    }

    /// Retries the pending bytes; true while some are left.
    mutating func flush(_ descriptor: Int32) -> Bool {
        guard !pending.isEmpty else { return false }
        let written = pending.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if written > 0 { pending.removeFirst(written) }
        return !pending.isEmpty
    }
}
