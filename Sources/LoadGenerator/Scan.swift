// Byte scanning for the few things the generator reads from answers.
enum Scan {
    static let headerTerminator: [UInt8] = Array("\r\n\r\n".utf8)
    static let authOK: [UInt8] = Array("auth_ok".utf8)
    static let sequenceKey: [UInt8] = Array("\"q\":".utf8)
    static let timeKey: [UInt8] = Array("\"t\":".utf8)
    static let escapedSequenceKey: [UInt8] = Array("\\\"q\\\":".utf8)
    static let escapedTimeKey: [UInt8] = Array("\\\"t\\\":".utf8)
    static let pusherSubscribed: [UInt8] = Array("pusher_internal:subscription_succeeded".utf8)
    static let pusherSocketKey: [UInt8] = Array("socket_id\\\":\\\"".utf8)

    /// The `socket_id` of a `pusher:connection_established` message, if it is one.
    static func pusherSocketID(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let at = find(pusherSocketKey, in: bytes) else { return nil }
        var end = at + pusherSocketKey.count
        while end < bytes.count, bytes[end] == UInt8(ascii: ".") || (bytes[end] >= 48 && bytes[end] <= 57) { end += 1 }
        return String(decoding: bytes[(at + pusherSocketKey.count)..<end], as: UTF8.self)
    }
    static let contentLength: [UInt8] = Array("content-length:".utf8)
    static let eventTerminator: [UInt8] = Array("\n\n".utf8)
    static let dataField: [UInt8] = Array("data:".utf8)

    /// The offset just past the blank line that ends an HTTP head.
    static func headerEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        find(headerTerminator, in: bytes).map { $0 + 4 }
    }

    /// The three-digit status of an HTTP response head.
    static func statusCode(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count >= 12 else { return 0 }
        return (9..<12).reduce(0) { $0 * 10 + Int(bytes[$1]) - 48 }
    }

    static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        find(needle, in: bytes) != nil
    }

    static func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        let first = needle[0]
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == first {
                var matched = 1
                while matched < needle.count && bytes[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }

    /// The decimal after `key`, e.g. `"q":` in a payload.
    static func number(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard let at = find(key, in: bytes) else { return nil }
        return digits(in: bytes, from: at + key.count)
    }

    /// Content-Length of a response head (case-insensitive), 0 when absent.
    static func contentLengthValue(_ head: UnsafeRawBufferPointer) -> Int {
        var lowered = [UInt8](head)
        for index in lowered.indices where lowered[index] >= 65 && lowered[index] <= 90 { lowered[index] += 32 }
        return lowered.withUnsafeBytes { bytes -> Int? in
            guard let at = find(contentLength, in: bytes) else { return nil }
            var index = at + contentLength.count
            while index < bytes.count, bytes[index] == 32 { index += 1 }
            return digits(in: bytes, from: index)
        } ?? 0
    }

    private static func digits(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        var value = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
            value = value * 10 + Int(bytes[index] - 48)
            index += 1
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
