// Which poller the loops use (`io_backend`), and what `auto` settles on here (docs/adr/0014).
internal import Glibc

/// The `io_backend` setting.
public enum IOBackend: String, Sendable, CaseIterable {
    /// io_uring when this kernel and its sandbox allow it, else epoll.
    case auto, uring, epoll, poll

    /// The poller the loops get, and why `auto` did not get io_uring (nil when it did, or when
    /// a backend was named). A named backend that cannot start is an error naming it.
    public func resolve() throws(SystemError) -> (kind: PollerKind, fallback: String?) {
        switch self {
        case .epoll: return (.epoll, nil)
        case .poll: return (.poll, nil)
        case .uring:
            try Self.probeUring()
            return (.uring, nil)
        case .auto:
            do {
                try Self.probeUring()
                return (.uring, nil)
            } catch {
                return (.epoll, Self.explain(error))
            }
        }
    }

    /// Creates and drops one ring: the same call each loop makes, so seccomp filters,
    /// `kernel.io_uring_disabled` and missing operations all show up here, before any loop.
    private static func probeUring() throws(SystemError) {
        try PollerKind.uring.make().close()
    }

    private static func explain(_ error: SystemError) -> String {
        switch error.errno {
        case ENOSYS: return "\(error) (a kernel without io_uring, or a seccomp filter)"
        case EPERM, EACCES: return "\(error) (kernel.io_uring_disabled, or a seccomp filter)"
        case EOPNOTSUPP, EINVAL: return "\(error) (a kernel too old for the operations used)"
        default: return "\(error)"
        }
    }
}
