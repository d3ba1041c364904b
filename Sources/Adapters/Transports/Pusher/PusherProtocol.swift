// The Pusher Channels protocol's names: error codes, channel kinds, channel-name rules.

/// Error and close codes of the Pusher protocol, chosen for what pusher-js does on each:
/// 4001-4099 never reconnect, 4100-4199 back off, 4200-4299 reconnect at once, 4300 and above
/// refused for good (so a rate limit is an error message on an open socket, not a close).
enum PusherCode {
    static let appNotFound: UInt16 = 4001
    static let unsupportedProtocol: UInt16 = 4007
    static let noProtocol: UInt16 = 4008
    static let unauthorized: UInt16 = 4009
    static let overCapacity: UInt16 = 4100
    static let reconnect: UInt16 = 4200
    static let pongNotReceived: UInt16 = 4201
    static let clientEventRateLimit: UInt16 = 4301
    static let watchlistLimit: UInt16 = 4302
}

/// What a channel's name makes it.
enum PusherChannelKind: Equatable {
    case `public`
    case `private`
    case presence
    /// `#server-to-user-<id>`: events for one signed-in user.
    case user(id: Substring)

    static let userPrefix = "#server-to-user-"
    static let maxNameBytes = 200

    /// The kind of `name`, or nil when the name is not allowed:
    /// `^[A-Za-z0-9_\-=@,.;]+$`, at most 200 bytes, or a user channel.
    init?(name: String) {
        if name.hasPrefix(Self.userPrefix) {
            let id = name.dropFirst(Self.userPrefix.count)
            guard !id.isEmpty, name.utf8.count <= Self.maxNameBytes + Self.userPrefix.count else { return nil }
            self = .user(id: id)
            return
        }
        guard !name.isEmpty, name.utf8.count <= Self.maxNameBytes, name.utf8.allSatisfy(Self.isNameByte) else { return nil }
        if name.hasPrefix("presence-") {
            self = .presence
        } else if name.hasPrefix("private-") {
            self = .private
        } else {
            self = .public
        }
    }

    var needsSignature: Bool { self == .private || self == .presence }

    static let encryptedPrefix = "private-encrypted-"

    /// End-to-end encrypted (`private-encrypted-`): signed as private, data relayed untouched,
    /// no client events (the server cannot check what it cannot read).
    static func isEncrypted(_ name: some StringProtocol) -> Bool { name.hasPrefix(encryptedPrefix) }

    static let cachePrefixes = ["cache-", "private-cache-", "private-encrypted-cache-", "presence-cache-"]

    /// A cache channel: a new subscriber gets the last event published through the HTTP API.
    static func isCache(_ name: some StringProtocol) -> Bool { cachePrefixes.contains { name.hasPrefix($0) } }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "="), UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: ";"):
            return true
        default:
            return false
        }
    }
}
