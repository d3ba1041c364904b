// Immutable bytes ready for the wire, shared by reference between sockets and loops (STYLE B9).

/// Bytes encoded once (a WebSocket frame, an HTTP response) and written to any number of sockets.
/// Immutable after creation, so it is safe to share across loops.
public final class EncodedFrame: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer

    /// Copies `source` once into storage owned by the frame.
    public init(copying source: UnsafeRawBufferPointer) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 8)
        if source.count > 0 { storage.copyMemory(from: source) }
        bytes = UnsafeRawBufferPointer(rebasing: storage[0..<source.count])
    }

    public convenience init(_ source: [UInt8]) {
        self.init(copying: source.withUnsafeBytes { $0 })
    }

    public convenience init(_ text: String) {
        var text = text
        let copied = text.withUTF8 { EncodedFrame(copying: UnsafeRawBufferPointer($0)) }
        self.init(copying: copied.bytes)
    }

    /// Builds a frame of exactly `count` bytes by letting `fill` write them, without a second copy.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 8)
        fill(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        bytes = UnsafeRawBufferPointer(rebasing: storage[0..<count])
    }

    public var count: Int { bytes.count }

    deinit {
        UnsafeMutableRawPointer(mutating: bytes.baseAddress!).deallocate()
    }
}
