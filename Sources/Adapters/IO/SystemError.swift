// A failed system call, named the way anet names them: `accept4: too many open files`.
internal import Glibc

/// A system call that failed with `errno`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call and, where useful, its subject: `bind(0.0.0.0:9000)`.
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        guard let message = strerror(errno) else { return "\(call): errno \(errno)" }
        let text = String(cString: message)
        return "\(call): \(text.prefix(1).lowercased())\(text.dropFirst())"
    }
}

/// The outcome of non-blocking I/O: done (with a count), or try again when the poller says so.
public enum IOResult<Value>: Equatable where Value: Equatable {
    case processed(Value)
    case wouldBlock
}
