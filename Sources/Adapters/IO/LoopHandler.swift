// What the loop calls when a registered descriptor is ready.

/// A handler for one registered descriptor. Called only on its loop's thread.
public protocol LoopHandler: AnyObject {
    /// Data (or end of stream, or an error to read) is available.
    func readable(on loop: EventLoop)
    /// The descriptor can take more bytes.
    func writable(on loop: EventLoop)
    /// Hang-up or error while the handler was not reading.
    func hangup(on loop: EventLoop)
}

/// Something with queued output, flushed by the loop before it sleeps
/// (docs/development.md "Write first, arm EPOLLOUT later").
public protocol Flushable: AnyObject {
    func flush(on loop: EventLoop)
}
