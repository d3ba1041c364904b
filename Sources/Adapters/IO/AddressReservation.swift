// Holds the ports a worker is about to listen on, so that no other process is handed them first.
internal import Glibc
internal import CLinux

/// A bound socket, not listening, that checks an address is free and keeps it until the loops'
/// listeners hold it.
///
/// The loops share a port through `SO_REUSEPORT`, which Linux also grants to another process of
/// the same user; that would silently split traffic between two workers. This socket is bound
/// without `SO_REUSEPORT`, so binding it fails on any existing listener and a second worker
/// gets "address already in use". While it is held, the kernel hands its port to no other
/// `bind` to port 0, yet the loops' listeners may still join it (both sides set `SO_REUSEADDR`,
/// and it never listens). Released any earlier, a port-0 pick could be given to another
/// process between the check and the loops' binds (about one pick in 3,000 when two workers
/// start at once), and that process's listener would take half of this one's connections.
public final class AddressReservation {
    /// The address with port 0 resolved to the port the kernel picked.
    public let address: SocketAddress
    private var descriptor: Int32

    /// - Parameters:
    ///   - key: the configuration key of the address, named in bind errors.
    public init(_ requested: SocketAddress, key: String) throws(SystemError) {
        let descriptor = try Syscall.blocking("socket", { socket(requested.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        do {
            var on: Int32 = 1
            var off: Int32 = 0
            try Syscall.blocking("setsockopt(SO_REUSEADDR)", { setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, 4) })
            if requested.family == AF_INET6 {
                try Syscall.blocking("setsockopt(IPV6_V6ONLY)", { setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, 4) })
            }
            var storage = requested.storage
            try Syscall.blocking("bind(\(key) \(requested))", {
                withUnsafePointer(to: &storage) { Glibc.bind(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), requested.length) }
            })
        } catch {
            Syscall.close(descriptor)
            throw error
        }
        var bound = requested
        getsockname(descriptor, withUnsafeMutablePointer(to: &bound.storage) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self) }, &bound.length)
        self.address = bound
        self.descriptor = descriptor
    }

    /// Lets the port go; call once every loop's listener is bound to it.
    public func release() {
        guard descriptor >= 0 else { return }
        Syscall.close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
