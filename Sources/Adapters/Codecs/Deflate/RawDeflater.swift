// One zlib deflate stream producing permessage-deflate message payloads (RFC 7692 §7.2.1).
internal import CZlib

/// Compresses whole messages, each on its own (no context carried from one to the next, so
/// one compressed message can be shared by every subscriber). Not thread-safe: one user at a time.
public final class RawDeflater {
    /// The LZ77 window, 2^bits bytes (RFC 7692 `server_max_window_bits`, 9-15).
    public let windowBits: Int
    public let level: Int
    /// Allocated apart, so its address never moves: zlib checks it on every call.
    private let stream: UnsafeMutablePointer<z_stream>
    private var output: [UInt8] = []

    /// nil when zlib refuses the parameters (out of memory, a window outside 9-15).
    public init?(windowBits: Int, level: Int) {
        guard (9...15).contains(windowBits), (0...9).contains(level) else { return nil }
        self.windowBits = windowBits
        self.level = level
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Negative window bits: a raw deflate stream, without zlib's header and checksum.
        guard czlib_deflate_init(stream, Int32(level), -Int32(windowBits)) == Z_OK else {
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// The compressed form of `message`: deflated with a sync flush and without the final
    /// `00 00 ff ff`, as RFC 7692 §7.2.1 sends it; nil when zlib fails (the caller then sends the
    /// message uncompressed). Calls `body` with bytes valid only during the call.
    public func compress<R>(_ message: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard deflateReset(stream) == Z_OK else { return nil }
        let bound = Int(deflateBound(stream, uLong(message.count))) + 16
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        var produced = -1
        output.withUnsafeMutableBytes { out in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: message.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(message.count)
            stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(out.count)
            // With the output sized by deflateBound, one call consumes everything; anything else
            // is a failure, never a shorter message.
            let status = deflate(stream, Z_SYNC_FLUSH)
            if status == Z_OK, stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 {
                produced = out.count - Int(stream.pointee.avail_out)
            }
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        guard produced >= 0 else { return nil }
        return output.withUnsafeBytes { out in
            var length = produced
            if length >= 4, out[length - 4] == 0, out[length - 3] == 0, out[length - 2] == 0xFF, out[length - 1] == 0xFF {
                length -= 4
            }
            // §7.2.3.6: an empty result is sent as a single 0x00 byte.
            if length == 0 { return [UInt8(0)].withUnsafeBytes { body($0) } }
            return body(UnsafeRawBufferPointer(rebasing: out[0..<length]))
        }
    }
}
