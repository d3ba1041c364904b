// A message's place in its topic's stream: an epoch and an offset, written "<epoch>-<offset>".

/// Where a published message of a topic with history stands. The offset grows by one per
/// message; the epoch changes whenever the count had to start again (the counter was lost), so
/// two positions compare only within one epoch. The same on every node of a cluster.
public struct StreamPosition: Hashable, Sendable, CustomStringConvertible {
    /// The longest text `parse` reads: 16 hex digits, a dash, 20 decimal digits.
    public static let maxTextLength = 37

    /// 64 random bits, written as 16 lowercase hex digits.
    public let epoch: UInt64
    public let offset: UInt64

    public init(epoch: UInt64, offset: UInt64) {
        self.epoch = epoch
        self.offset = offset
    }

    /// The message after this one.
    public var next: StreamPosition { StreamPosition(epoch: epoch, offset: offset &+ 1) }

    public var description: String {
        let hex = String(epoch, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + "-" + String(offset)
    }

    /// The epoch alone, as it is written in a position.
    public static func epochText(_ epoch: UInt64) -> String {
        StreamPosition(epoch: epoch, offset: 0).description.prefix(16).description
    }

    /// Reads `<1-16 lowercase hex digits>-<1-20 decimal digits>`; nil for anything else, including
    /// overflow and values longer than `maxTextLength` (which are not scanned).
    public static func parse<Bytes: Collection>(_ text: Bytes) -> StreamPosition? where Bytes.Element == UInt8 {
        guard text.count <= maxTextLength else { return nil }
        var epoch: UInt64 = 0
        var offset: UInt64 = 0
        var epochDigits = 0
        var offsetDigits = 0
        var inOffset = false
        for byte in text {
            if !inOffset {
                if byte == UInt8(ascii: "-") {
                    guard epochDigits > 0 else { return nil }
                    inOffset = true
                    continue
                }
                guard let value = Hex.lowercaseDigitValue(byte), epochDigits < 16 else { return nil }
                epoch = epoch << 4 | UInt64(value)
                epochDigits += 1
            } else {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let (times, overflowA) = offset.multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !overflowA, !overflowB else { return nil }
                offset = sum
                offsetDigits += 1
            }
        }
        guard inOffset, offsetDigits > 0 else { return nil }
        return StreamPosition(epoch: epoch, offset: offset)
    }

    public static func parse(_ text: String) -> StreamPosition? { parse(Array(text.utf8.prefix(maxTextLength + 1))) }
}
