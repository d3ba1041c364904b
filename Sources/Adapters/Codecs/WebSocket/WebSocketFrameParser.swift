// An incremental RFC 6455 decoder for client frames: a pure value that never sees a socket
// (docs/development.md "Parsers are pure values").

/// A complete message or control frame from the client.
public enum WebSocketEvent: Sendable, Equatable {
    case text([UInt8])
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// `code` is nil for an empty close frame.
    case close(code: UInt16?, reason: [UInt8])
}

/// Decodes masked client frames, reassembles fragmented messages, and enforces every limit as
/// soon as a frame header declares it (RFC 6455 §5).
public struct WebSocketFrameParser {
    public enum Result: Equatable {
        case needMoreBytes
        case event(WebSocketEvent, consumed: Int)
        /// A non-final fragment was absorbed into the message being assembled.
        case fragment(consumed: Int)
    }

    /// Largest message (all fragments together, inflated); more is 1009.
    public let maxMessageBytes: Int
    /// Compressed bytes a message may take: deflate can make incompressible data a little longer.
    var maxCompressedBytes: Int { maxMessageBytes + maxMessageBytes / 64 + 64 }

    private var messageOpcode: UInt8?
    private var message: [UInt8] = []
    private var utf8 = UTF8Validator()
    /// The loop's inflater when permessage-deflate was negotiated; nil otherwise (RSV1 is then 1002).
    private let inflater: RawInflater?
    /// The message being assembled arrived with RSV1 set (RFC 7692 §6.1).
    private var messageCompressed = false

    /// - Parameter inflater: the loop's shared inflater, when the handshake negotiated
    ///   permessage-deflate. It is used only while a compressed message completes.
    public init(maxMessageBytes: Int, inflater: RawInflater? = nil) {
        self.maxMessageBytes = maxMessageBytes
        self.inflater = inflater
    }

    /// True when no fragmented message is in progress.
    public var isIdle: Bool { messageOpcode == nil }

    /// Decodes the next frame from the unconsumed `bytes`.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(WebSocketProtocolError) -> Result {
        do {
            guard let header = try FrameHeader(bytes, at: 0) else { return .needMoreBytes }
            try check(header)
            guard bytes.count - header.headerLength >= header.payloadLength else { return .needMoreBytes }
            let payloadStart = header.headerLength
            let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<(payloadStart + header.payloadLength)])
            let frameEnd = payloadStart + header.payloadLength

            if header.opcode >= 0x8 {
                let unmasked = Self.unmask(payload, header.mask)
                return .event(try controlEvent(header.opcode, unmasked), consumed: frameEnd)
            }

            let opcode = header.opcode == 0 ? messageOpcode! : header.opcode
            if header.opcode != 0 { messageCompressed = header.rsv == 0x40 }
            let start = message.count
            message.append(contentsOf: payload)
            Self.unmaskInPlace(&message, from: start, header.mask)
            if opcode == 0x1 && !messageCompressed {
                let valid = message.withUnsafeBytes { utf8.feed(UnsafeRawBufferPointer(rebasing: $0[start...])) }
                // Fail fast on the first invalid byte, even mid-message (Autobahn 6.x).
                guard valid else { throw .invalidUTF8 }
            }
            guard header.fin else {
                messageOpcode = opcode
                return .fragment(consumed: frameEnd)
            }
            var complete = message
            if messageCompressed, let inflater {
                complete.append(contentsOf: RawInflater.tail)
                let limit = maxMessageBytes
                let inflated = complete.withUnsafeBytes { bytes in Swift.Result { () throws(InflateError) in try inflater.inflate(bytes, limit: limit) } }
                switch inflated {
                case .success(let bytes): complete = bytes
                case .failure(.tooBig): throw .messageTooBig
                case .failure(.corrupt): throw .badCompressedData
                case .failure(.unavailable): throw .internalError
                }
                if opcode == 0x1 {
                    guard complete.withUnsafeBytes({ UTF8Validator.isValid($0) }) else { throw .invalidUTF8 }
                }
            } else if opcode == 0x1 && !utf8.isComplete {
                throw .invalidUTF8
            }
            messageOpcode = nil
            messageCompressed = false
            message = []
            utf8 = UTF8Validator()
            return .event(opcode == 0x1 ? .text(complete) : .binary(complete), consumed: frameEnd)
        }
    }

    private func check(_ header: FrameHeader) throws(WebSocketProtocolError) {
        // RFC 7692 §6.1: RSV1 marks a compressed message, on its first frame only, and only
        // once the extension was negotiated; every other reserved bit is an error.
        let compressedStart = header.rsv == 0x40 && inflater != nil && (header.opcode == 0x1 || header.opcode == 0x2)
        guard header.rsv == 0 || compressedStart else { throw .protocolError("reserved bits set without an extension") }
        guard header.masked else { throw .protocolError("client frame not masked") }
        switch header.opcode {
        case 0x8, 0x9, 0xA:
            // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
            guard header.fin else { throw .protocolError("fragmented control frame") }
            guard header.payloadLength <= 125 else { throw .protocolError("control frame over 125 bytes") }
        case 0x0:
            guard messageOpcode != nil else { throw .protocolError("continuation without a message") }
        case 0x1, 0x2:
            guard messageOpcode == nil else { throw .protocolError("new message inside a fragmented one") }
        default:
            throw .protocolError("reserved opcode")
        }
        if header.opcode < 0x8 {
            let compressed = header.opcode == 0 ? messageCompressed : compressedStart
            let limit = compressed ? maxCompressedBytes : maxMessageBytes
            if header.payloadLength > limit - message.count { throw .messageTooBig }
        }
    }

    private func controlEvent(_ opcode: UInt8, _ payload: [UInt8]) throws(WebSocketProtocolError) -> WebSocketEvent {
        switch opcode {
        case 0x9: return .ping(payload)
        case 0xA: return .pong(payload)
        default:
            if payload.isEmpty { return .close(code: nil, reason: []) }
            guard payload.count >= 2 else { throw .protocolError("close frame with a one-byte body") }
            let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
            guard CloseCode.isValidOnTheWire(code) else { throw .protocolError("invalid close code \(code)") }
            let reason = Array(payload[2...])
            guard reason.withUnsafeBytes({ UTF8Validator.isValid($0) }) else { throw .invalidUTF8 }
            return .close(code: code, reason: reason)
        }
    }

    private static func unmask(_ payload: UnsafeRawBufferPointer, _ mask: UInt32) -> [UInt8] {
        var bytes = Array(payload)
        unmaskInPlace(&bytes, from: 0, mask)
        return bytes
    }

    /// Eight bytes at a time: a byte-wise loop with the key in an array cost an allocation and
    /// six instructions a byte, 1,800 for a typical auth frame.
    private static func unmaskInPlace(_ bytes: inout [UInt8], from start: Int, _ mask: UInt32) {
        bytes.withUnsafeMutableBytes { buffer in
            let count = buffer.count - start
            guard count > 0 else { return }
            let payload = buffer.baseAddress! + start
            // The key's four bytes in wire order in memory, twice.
            let key = UInt64(mask.bigEndian) | UInt64(mask.bigEndian) << 32
            var index = 0
            while index + 8 <= count {
                let word = payload.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                payload.storeBytes(of: word ^ key, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < count {
                let byte = payload.load(fromByteOffset: index, as: UInt8.self)
                payload.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: mask >> (24 - 8 * UInt32(index & 3))), toByteOffset: index, as: UInt8.self)
                index += 1
            }
        }
    }
}

/// The fixed part of a frame (RFC 6455 §5.2).
private struct FrameHeader {
    let fin: Bool
    let rsv: UInt8
    let opcode: UInt8
    let masked: Bool
    let payloadLength: Int
    let mask: UInt32
    let headerLength: Int

    /// nil until the whole header is available.
    init?(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(WebSocketProtocolError) {
        let available = bytes.count - offset
        guard available >= 2 else { return nil }
        let first = bytes[offset]
        let second = bytes[offset + 1]
        fin = first & 0x80 != 0
        rsv = first & 0x70
        opcode = first & 0x0F
        masked = second & 0x80 != 0
        var length = Int(second & 0x7F)
        var cursor = offset + 2
        if length == 126 {
            guard available >= 4 else { return nil }
            length = Int(bytes[cursor]) << 8 | Int(bytes[cursor + 1])
            cursor += 2
        } else if length == 127 {
            guard available >= 10 else { return nil }
            guard bytes[cursor] & 0x80 == 0 else { throw .protocolError("64-bit length with the top bit set") }
            var value: UInt64 = 0
            for index in 0..<8 { value = value << 8 | UInt64(bytes[cursor + index]) }
            // Anything this large is over every message limit; cap before converting.
            length = value > UInt64(Int32.max) ? Int(Int32.max) : Int(value)
            cursor += 8
        }
        if masked {
            guard bytes.count - cursor >= 4 else { return nil }
            mask = UInt32(bytes[cursor]) << 24 | UInt32(bytes[cursor + 1]) << 16 | UInt32(bytes[cursor + 2]) << 8 | UInt32(bytes[cursor + 3])
            cursor += 4
        } else {
            mask = 0
        }
        payloadLength = length
        headerLength = cursor - offset
    }
}
