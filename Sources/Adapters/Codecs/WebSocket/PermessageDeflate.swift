// Negotiating permessage-deflate (RFC 7692 §5, §7.1): reading the client's offers, writing the answer.

/// What the server agreed to for one connection.
public struct PermessageDeflate: Sendable, Equatable {
    /// The window the server compresses with: the client's `server_max_window_bits`, else 15.
    public let serverWindowBits: Int
    /// The client offered `server_max_window_bits`: §7.1.2.1 accepts such an offer by answering
    /// the parameter, so it is always echoed then, even at 15.
    public var windowBitsAnswered = false

    public init(serverWindowBits: Int, windowBitsAnswered: Bool = false) {
        self.serverWindowBits = serverWindowBits
        self.windowBitsAnswered = windowBitsAnswered
    }

    /// The `Sec-WebSocket-Extensions` value of the 101 answer. The server never carries context
    /// from one message to the next (so one compressed message serves every subscriber) and asks
    /// the client not to either (so an idle connection keeps no inflate state), as §7.1.1 allows.
    public var responseValue: String {
        var value = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        if windowBitsAnswered { value += "; server_max_window_bits=\(serverWindowBits)" }
        return value
    }

    /// Longest header value read; browsers send well under 100 bytes.
    public static let maxOfferBytes = 4096

    /// The first offer in `headerValues` (every `Sec-WebSocket-Extensions` line, in order) that
    /// the server can accept, or nil: then the connection goes on without compression. An offer
    /// with an unknown or repeated parameter, or a bad value, is declined, never the handshake.
    public static func negotiate(_ headerValues: [String]) -> PermessageDeflate? {
        var total = 0
        for value in headerValues {
            total += value.utf8.count
            guard total <= maxOfferBytes else { return nil }
            for offer in ExtensionList.parse(value) where offer.name == "permessage-deflate" {
                if let accepted = accept(offer.parameters) { return accepted }
            }
        }
        return nil
    }

    private static func accept(_ parameters: [(String, String?)]) -> PermessageDeflate? {
        var seen: Set<String> = []
        var serverWindow = 15
        var windowAsked = false
        for (name, value) in parameters {
            guard seen.insert(name).inserted else { return nil }  // §7.1: a repeated parameter declines the offer.
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return nil }
            case "server_max_window_bits":
                guard let bits = value.flatMap(windowBits) else { return nil }
                // zlib's raw deflate cannot keep to a 256-byte window (it widens 8 to 9), so an
                // offer that demands 8 is declined rather than broken.
                guard bits >= 9 else { return nil }
                serverWindow = bits
                windowAsked = true
            case "client_max_window_bits":
                // The client tells what it supports; we inflate any window, so nothing to answer.
                if let value, windowBits(value) == nil { return nil }
            default:
                return nil
            }
        }
        return PermessageDeflate(serverWindowBits: serverWindow, windowBitsAnswered: windowAsked)
    }

    /// §7.1.2: 8 to 15, in decimal without leading zeros.
    private static func windowBits(_ text: String) -> Int? {
        guard let number = Int(text), (8...15).contains(number), String(number) == text else { return nil }
        return number
    }
}

/// The `Sec-WebSocket-Extensions` grammar (RFC 6455 §9.1): comma-separated extensions, each
/// a token with `;`-separated parameters, whose values are tokens or quoted strings.
enum ExtensionList {
    struct Offer {
        var name: String
        var parameters: [(String, String?)]
    }

    /// The offers in `value`; an offer that does not follow the grammar is left out.
    static func parse(_ value: String) -> [Offer] {
        var offers: [Offer] = []
        var scanner = Scanner(Array(value.utf8))
        while !scanner.atEnd {
            if let offer = scanner.offer() { offers.append(offer) }
            scanner.skip(past: UInt8(ascii: ","))
        }
        return offers
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position >= bytes.count }

        /// One offer up to (not past) the next top-level comma; nil when malformed.
        mutating func offer() -> Offer? {
            skipSpace()
            guard let name = token() else { return nil }
            var offer = Offer(name: name.lowercased(), parameters: [])
            while true {
                skipSpace()
                guard !atEnd, bytes[position] != UInt8(ascii: ",") else { return offer }
                guard bytes[position] == UInt8(ascii: ";") else { return nil }
                position += 1
                skipSpace()
                guard let parameter = token() else { return nil }
                skipSpace()
                var value: String?
                if !atEnd, bytes[position] == UInt8(ascii: "=") {
                    position += 1
                    skipSpace()
                    // A value that opens a quote must be a whole quoted string, nothing after it.
                    let read = position < bytes.count && bytes[position] == UInt8(ascii: "\"") ? quoted() : token()
                    guard let read else { return nil }
                    value = read
                }
                offer.parameters.append((parameter.lowercased(), value))
            }
        }

        /// Moves past the next `separator` that is not inside a quoted string.
        mutating func skip(past separator: UInt8) {
            var quoted = false
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte == UInt8(ascii: "\"") { quoted.toggle() }
                if byte == UInt8(ascii: "\\"), quoted { position += 1 }
                if byte == separator && !quoted { return }
            }
        }

        mutating func skipSpace() {
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
        }

        mutating func token() -> String? {
            let start = position
            while position < bytes.count, ASCII.isTokenByte(bytes[position]) { position += 1 }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        /// A quoted-string's content (RFC 9110 §5.6.4); a quoted parameter value must still be a token.
        mutating func quoted() -> String? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            var index = position + 1
            var content: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    position = index + 1
                    guard !content.isEmpty, content.allSatisfy(ASCII.isTokenByte) else { return nil }
                    return String(decoding: content, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count else { return nil }
                }
                content.append(bytes[index])
                index += 1
            }
            return nil
        }
    }
}
