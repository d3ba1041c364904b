// A short-lived thread for the few blocking calls that have no non-blocking form (getaddrinfo).
internal import Glibc
internal import CLinux

/// Runs blocking work off the event loops; the work reports back with `loop.execute`.
enum DetachedThread {
    static func run(_ body: @escaping @Sendable () -> Void) {
        _ = run(orSkip: false, body)
    }

    /// `orSkip`: work that never ends (a watch) is skipped when no thread can be made, instead
    /// of running inline as a last resort. False when it did not run.
    static func run(orSkip: Bool, _ body: @escaping @Sendable () -> Void) -> Bool {
        let box = Unmanaged.passRetained(DetachedBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            Unmanaged<DetachedBody>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, box)
        if result == 0 {
            pthread_detach(thread)
            return true
        }
        let work = Unmanaged<DetachedBody>.fromOpaque(box).takeRetainedValue()
        if orSkip { return false }
        work.body()  // Last resort: run inline.
        return true
    }
}

private final class DetachedBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Host name resolution off the loop.
enum HostResolver {
    /// True for IPv4 and IPv6 literals, which need no resolution.
    static func isAddressLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Resolves `host` to its first address, as text; nil when it does not resolve. Blocks.
    static func resolve(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &results) == 0, let first = results else { return nil }
        defer { freeaddrinfo(results) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = first.pointee.ai_family
        if family == AF_INET {
            var address = UnsafeRawPointer(first.pointee.ai_addr!).load(as: sockaddr_in.self).sin_addr
            inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
        } else if family == AF_INET6 {
            var address = UnsafeRawPointer(first.pointee.ai_addr!).load(as: sockaddr_in6.self).sin6_addr
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        } else {
            return nil
        }
        return String(cString: buffer)
    }
}
