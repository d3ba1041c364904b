// Inflates compressed pushes (RFC 7692) so they can be counted and timed like plain ones.
import CZlib

/// One raw-inflate stream for the whole generator: it runs on one thread.
final class Inflater {
    nonisolated(unsafe) static let shared = Inflater()

    private var stream = z_stream()
    private var output = [UInt8](repeating: 0, count: 1 << 20)
    private var input: [UInt8] = []

    private init() {
        _ = czlib_inflate_init(&stream, -15)
    }

    /// The message, or nil when it does not inflate; the `00 00 ff ff` tail is added here.
    func inflate(_ payload: UnsafeRawBufferPointer) -> [UInt8]? {
        inflateReset(&stream)
        input.removeAll(keepingCapacity: true)
        input.append(contentsOf: payload)
        input += [0, 0, 0xFF, 0xFF]
        let produced = input.withUnsafeMutableBytes { source in
            output.withUnsafeMutableBytes { out -> Int in
                stream.next_in = source.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(source.count)
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(out.count)
                let status = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                return status == Z_OK || status == Z_STREAM_END ? out.count - Int(stream.avail_out) : -1
            }
        }
        return produced < 0 ? nil : Array(output[0..<produced])
    }
}
