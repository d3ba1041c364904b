// Immutable bytes ready for the wire, shared by reference between sockets and loops
// (docs/development.md "Encode once").

/// Bytes encoded once (a WebSocket frame, an HTTP response) and written to any number of sockets.
/// Immutable after creation, so it is safe to share across loops.
public final class EncodedFrame: @unchecked Sendable {
    /// Valid only while the frame is alive: callers outside the write queue use `withUnsafeBytes`.
    let storage: UnsafeRawBufferPointer

    /// Copies `source` once into storage owned by the frame.
    public init(copying source: UnsafeRawBufferPointer) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 8)
        if source.count > 0 { storage.copyMemory(from: source) }
        self.storage = UnsafeRawBufferPointer(rebasing: storage[0..<source.count])
    }

    public convenience init(_ source: [UInt8]) {
        // Copy inside the closure: the pointer is valid only there.
        self.init(count: source.count) { out in
            source.withUnsafeBytes { if $0.count > 0 { out.copyMemory(from: $0) } }
        }
    }

    public convenience init(_ text: String) {
        self.init(Array(text.utf8))
    }

    /// Builds a frame of exactly `count` bytes by letting `fill` write them, without a second copy.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 8)
        fill(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        self.storage = UnsafeRawBufferPointer(rebasing: storage[0..<count])
    }

    public var count: Int { storage.count }

    /// Calls `body` with the bytes; the frame stays alive for the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(storage) }
    }

    /// A copy of the bytes.
    public var copiedBytes: [UInt8] { withUnsafeBytes { Array($0) } }

    deinit {
        UnsafeMutableRawPointer(mutating: storage.baseAddress!).deallocate()
    }
}
