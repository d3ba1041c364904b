// The one wrapper every system call goes through (docs/development.md "One syscall wrapper").
internal import Glibc
internal import CLinux

/// Retries `EINTR`, maps `EAGAIN` to `.wouldBlock`, throws `SystemError` otherwise, and traps on
/// `EBADF`/`EFAULT`, which only our own bugs can cause.
enum Syscall {
    @inline(__always)
    static func call<T: BinaryInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
        while true {
            let result = body()
            if result >= 0 { return .processed(result) }
            let error = clinux_errno()
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case EBADF, EFAULT: preconditionFailure("\(name()): \(SystemError(call: "", errno: error)) - a bug in the worker")
            default: throw SystemError(call: name(), errno: error)
            }
        }
    }

    /// For calls that never return EAGAIN (socket, bind, listen, epoll_ctl, ...).
    @inline(__always)
    @discardableResult
    static func blocking<T: BinaryInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
        switch try call(name(), body) {
        case .processed(let value): return value
        case .wouldBlock: throw SystemError(call: name(), errno: EAGAIN)
        }
    }

    /// `close(2)` ignores EINTR: on Linux the descriptor is released even then, and retrying
    /// could close a descriptor another thread has just been given.
    static func close(_ descriptor: Int32) {
        precondition(descriptor >= 0, "closing an invalid descriptor")
        _ = Glibc.close(descriptor)
    }
}
