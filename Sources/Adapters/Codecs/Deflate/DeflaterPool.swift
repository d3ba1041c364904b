// Deflate streams shared by the threads that encode publishes: pooled, never per connection.
internal import Synchronization

/// A few deflate streams of one window size and level, lent to whichever thread encodes.
///
/// A publish is encoded on the thread that handled it (a loop, or the Redis loop), once for all
/// subscribers; a stream is taken for that one call and given back. The lock is taken once per
/// publish, never per delivery; the pool holds at most as many streams as threads ever encoded
/// at once.
public final class DeflaterPool: Sendable {
    public let windowBits: Int
    public let level: Int
    private let idle = Locked<[Idle]>([])

    public init(windowBits: Int, level: Int) {
        self.windowBits = windowBits
        self.level = level
    }

    /// Compresses `message` with a pooled stream; nil when zlib cannot (the caller sends it plain).
    public func compress<R>(_ message: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let deflater = idle.withLock({ $0.popLast()?.deflater }) ?? RawDeflater(windowBits: windowBits, level: level) else {
            return nil
        }
        defer { idle.withLock { $0.append(Idle(deflater: deflater)) } }
        return deflater.compress(message, body)
    }
}

/// A stream no thread is using; the lock hands it to exactly one thread at a time.
private struct Idle: @unchecked Sendable {
    let deflater: RawDeflater
}
