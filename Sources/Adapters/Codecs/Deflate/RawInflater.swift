// One zlib inflate stream for permessage-deflate messages from clients (RFC 7692 §7.2.2).
internal import CZlib

/// Why a compressed message was refused.
public enum InflateError: Error, Equatable, Sendable {
    /// The message inflates past the size limit, or past the ratio bound: close 1009.
    case tooBig
    /// Not valid deflate data, or a message that stops inside a deflate block: close 1007.
    case corrupt
    /// zlib could not get memory: close 1011, the server's failure, not the client's.
    case unavailable
}

/// Inflates whole messages, each on its own (the server asks clients for
/// `client_no_context_takeover`, so nothing carries over). One per loop, lent to whichever
/// connection completes a compressed message: an idle connection holds no inflate state.
public final class RawInflater {
    /// RFC 7692 §7.2.2: the receiver appends these four bytes before inflating.
    public static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
    /// Output beyond this many bytes is checked against the ratio bound.
    static let ratioFloor = 64 << 10
    /// Inflated bytes per compressed byte allowed beyond `ratioFloor`: a small message that
    /// claims to expand far more than text does is a deflate bomb, not a message.
    public static let maxRatio = 100

    /// Allocated apart, so its address never moves: zlib checks it on every call.
    private let stream: UnsafeMutablePointer<z_stream> = {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        return stream
    }()
    private var ready = false
    /// Bytes the last `inflate` produced before it returned or stopped, for tests of the bounds.
    public private(set) var producedByLastCall = 0
    private var chunk = [UInt8](repeating: 0, count: 16 << 10)

    public init() {}

    deinit {
        if ready { inflateEnd(stream) }
        stream.deallocate()
    }

    /// Inflates `compressed` (a message as received, with `tail` appended) into at most `limit`
    /// bytes. It stops as soon as the output would pass the limit or the ratio bound, so a bomb
    /// is never inflated whole.
    public func inflate(_ compressed: UnsafeRawBufferPointer, limit: Int) throws(InflateError) -> [UInt8] {
        if !ready {
            guard czlib_inflate_init(stream, -15) == Z_OK else { throw .unavailable }
            ready = true
        } else {
            guard inflateReset(stream) == Z_OK else { throw .unavailable }
        }
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        var output: [UInt8] = []
        producedByLastCall = 0
        stream.pointee.next_in = UnsafeMutablePointer(mutating: compressed.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(compressed.count)
        while true {
            let inputBefore = stream.pointee.avail_in
            let (status, produced) = chunk.withUnsafeMutableBytes { out -> (Int32, Int) in
                stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(out.count)
                let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                return (status, out.count - Int(stream.pointee.avail_out))
            }
            if status == Z_MEM_ERROR { throw .unavailable }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else { throw .corrupt }
            producedByLastCall += produced
            if produced > 0 {
                guard output.count + produced <= limit else { throw .tooBig }
                output.append(contentsOf: chunk[0..<produced])
                if output.count > Self.ratioFloor && output.count > Self.maxRatio * compressed.count { throw .tooBig }
            }
            // A message may end its deflate stream (BFINAL); bytes after that are not deflate data.
            if status == Z_STREAM_END { return output }
            // Everything consumed and the last call did not fill the chunk: the message is out,
            // if it ended on a block boundary (zlib's data_type +128: waiting for the next block
            // header). A message cut inside a block swallowed the tail as data: that is corrupt.
            // Only a call that was given input says so; the extra call after an exactly filled
            // chunk has none, and zlib then reports the state it stopped in for lack of room.
            if stream.pointee.avail_in == 0 && produced < chunk.count {
                guard inputBefore == 0 || stream.pointee.data_type & 128 != 0 else { throw .corrupt }
                return output
            }
        }
    }
}
