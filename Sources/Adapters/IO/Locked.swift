// A Mutex whose hand-over ThreadSanitizer can see.
internal import Synchronization

/// Shared state behind a `Mutex`, for the few places loops share anything.
///
/// On Linux a contended `Mutex` is handed from thread to thread inside the kernel (a
/// priority-inheriting futex). ThreadSanitizer cannot see that, so it reports every contended
/// critical section as a race, which would drown a real one. Builds for the ThreadSanitizer
/// lane define `THREAD_SANITIZER`, and each section then tells it about the hand-over with its
/// own annotations; other builds compile to the bare `Mutex`.
public final class Locked<Value>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: sending Value) {
        mutex = Mutex(value)
    }

    @inline(__always)
    public func withLock<Result>(_ body: (inout sending Value) throws -> sending Result) rethrows -> sending Result {
        try mutex.withLock { value in
            #if THREAD_SANITIZER
            let address = Unmanaged.passUnretained(self).toOpaque()
            tsanAcquire(address)
            defer { tsanRelease(address) }
            #endif
            return try body(&value)
        }
    }
}

#if THREAD_SANITIZER
@_silgen_name("__tsan_acquire") private func tsanAcquire(_ address: UnsafeMutableRawPointer)
@_silgen_name("__tsan_release") private func tsanRelease(_ address: UnsafeMutableRawPointer)
#endif
