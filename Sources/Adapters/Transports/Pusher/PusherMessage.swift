// What a Pusher client may send, read from one WebSocket text message.
internal import Domain

/// One client message of the Pusher protocol.
public enum PusherClientMessage: Equatable {
    case ping
    case pong
    case subscribe(channel: String, auth: String?, channelData: String?)
    case unsubscribe(channel: String)
    case signin(auth: String, userData: String)
    /// A `client-*` event: its name, channel and `data` as the raw JSON the client sent.
    case clientEvent(name: String, channel: String, data: [UInt8])
    /// Some other event name; ignored, as the Pusher service ignores it.
    case other(event: String)
}

/// Why a message could not be read; answered with a `pusher:error`, the socket stays open.
public enum PusherMessageError: Error, Equatable {
    /// Not a JSON object, or its `event` is missing or not a string.
    case malformed
    /// A known event whose `data` lacks what it needs (`channel`, `auth`, ...).
    case incomplete(event: String)
}

/// Reads client messages. Bounded by the WebSocket layer's message limit, which the socket
/// applies before this runs; nothing here recurses deeper than the JSON reader's limit of 8.
public enum PusherMessageDecoder {
    static let maxDepth = 8

    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<PusherClientMessage, PusherMessageError> {
        guard let message = try? JSONObjectFields(bytes, maxDepth: maxDepth),
            let eventField = message["event"], let event = message.string(eventField)
        else { return .failure(.malformed) }
        switch event {
        case "pusher:ping": return .success(.ping)
        case "pusher:pong": return .success(.pong)
        case "pusher:subscribe", "pusher:unsubscribe", "pusher:signin":
            // `data` is an object; some clients send it as a string holding the object.
            guard let dataField = message["data"] else { return .failure(.incomplete(event: event)) }
            let objectBytes: [UInt8]
            switch dataField.kind {
            case .object: objectBytes = message.rawValue(dataField)
            case .string: objectBytes = Array((message.string(dataField) ?? "").utf8)
            default: return .failure(.incomplete(event: event))
            }
            return objectBytes.withUnsafeBufferPointer { control(event, $0) }
        default:
            guard event.hasPrefix("client-") else { return .success(.other(event: event)) }
            guard let channelField = message["channel"], let channel = message.string(channelField),
                let dataField = message["data"]
            else { return .failure(.incomplete(event: event)) }
            return .success(.clientEvent(name: event, channel: channel, data: message.rawValue(dataField)))
        }
    }

    private static func control(_ event: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Result<PusherClientMessage, PusherMessageError> {
        guard let data = try? JSONObjectFields(bytes, maxDepth: maxDepth) else { return .failure(.incomplete(event: event)) }
        func text(_ name: StaticString) -> String? { data[name].flatMap { data.string($0) } }
        switch event {
        case "pusher:subscribe":
            guard let channel = text("channel") else { return .failure(.incomplete(event: event)) }
            return .success(.subscribe(channel: channel, auth: text("auth"), channelData: text("channel_data")))
        case "pusher:unsubscribe":
            guard let channel = text("channel") else { return .failure(.incomplete(event: event)) }
            return .success(.unsubscribe(channel: channel))
        default:
            guard let auth = text("auth"), let userData = text("user_data") else { return .failure(.incomplete(event: event)) }
            return .success(.signin(auth: auth, userData: userData))
        }
    }
}

/// A presence member as `channel_data` names it: `{"user_id": ..., "user_info": {...}}`.
struct PresenceMember: Equatable, Sendable {
    /// A string, or a number as written: member lists use it as a string.
    let userID: String
    /// The raw JSON of `user_info`, or nil.
    let userInfo: [UInt8]?

    init(userID: String, userInfo: [UInt8]?) {
        self.userID = userID
        self.userInfo = userInfo
    }

    /// nil when `channelData` is not an object with a non-empty `user_id`.
    init?(channelData: String) {
        let bytes = Array(channelData.utf8)
        let read: (id: String, info: [UInt8]?)? = bytes.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer, maxDepth: PusherMessageDecoder.maxDepth), let idField = object["user_id"] else { return nil }
            let id: String?
            switch idField.kind {
            case .string: id = object.string(idField)
            case .number: id = String(decoding: object.rawValue(idField), as: UTF8.self)
            default: id = nil
            }
            guard let id, !id.isEmpty, id.utf8.count <= 200 else { return nil }
            return (id, object["user_info"].map { object.rawValue($0) })
        }
        guard let read else { return nil }
        self.init(userID: read.id, userInfo: read.info)
    }
}

/// `user_data` of a sign-in: an object whose `id` is a non-empty string, and an optional
/// `watchlist`, the ids of users whose coming and going the socket is told.
struct SigninUserData: Equatable {
    static let maxWatchlist = 100

    let id: String
    /// nil without a `watchlist`; empty and `watchlistTooLong` past `maxWatchlist` ids.
    let watchlist: [String]?
    let watchlistTooLong: Bool

    /// nil when `user_data` is not an object with a non-empty string `id`, or its `watchlist`
    /// is not an array of strings (or numbers, read as written).
    init?(_ userData: String) {
        let bytes = Array(userData.utf8)
        let read: (id: String, watchlist: [String]?, tooLong: Bool)? = bytes.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer, maxDepth: PusherMessageDecoder.maxDepth),
                let field = object["id"], let id = object.string(field), !id.isEmpty, id.utf8.count <= 200
            else { return nil }
            guard let listField = object["watchlist"], listField.kind != .null else { return (id, nil, false) }
            guard listField.kind == .array,
                let elements = try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: buffer[listField.valueRange]), maxDepth: 2)
            else { return nil }
            guard elements.count <= Self.maxWatchlist else { return (id, [], true) }
            var ids: [String] = []
            for element in elements {
                let range = (element.range.lowerBound + listField.valueRange.lowerBound)..<(element.range.upperBound + listField.valueRange.lowerBound)
                switch element.kind {
                case .string: ids.append(JSONText.unescape(buffer, (range.lowerBound + 1)..<(range.upperBound - 1)))
                case .number: ids.append(String(decoding: buffer[range], as: UTF8.self))
                default: return nil
                }
            }
            return (id, ids, false)
        }
        guard let read else { return nil }
        id = read.id
        watchlist = read.watchlist
        watchlistTooLong = read.tooLong
    }
}
