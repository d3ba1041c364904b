// The `pusher_apps` key: the Pusher apps the node serves, from the file or the environment.
internal import Domain

/// One Pusher app: credentials the backend and the browsers share, and its limits.
public struct PusherAppSettings: Sendable, Equatable {
    /// Digits only: the Pusher server SDKs refuse any other app id.
    public var id: String
    public var key: String
    /// Signs channel authorisations and HTTP API requests; never logged.
    public var secret: String
    /// Connections of this app on the node; 0: only `max_connections` applies.
    public var maxConnections = 0
    /// Whether subscribed sockets may send `client-*` events on private and presence channels.
    public var enableClientEvents = false
    public var maxPresenceMembers = 100
    /// Whether subscribers of public and private channels are told the cluster's subscription
    /// count (`pusher_internal:subscription_count`) as it changes.
    public var enableSubscriptionCount = false
    /// Whether a signed-in user's `watchlist` is honoured: `online`/`offline` for the users on it.
    public var enableWatchlist = false
    /// The largest event `data` the HTTP API and client events accept, and the largest message
    /// a socket may send.
    public var maxMessageBytes = 10 * 1024
    /// Where this app's webhook events go.
    public var webhooks: [WebhookTarget] = []

    public init(id: String, key: String, secret: String) {
        self.id = id
        self.key = key
        self.secret = secret
    }
}

enum PusherAppsKey {
    static let key = "pusher_apps"
    /// One app from the environment, for containers: all three or none.
    static let singleAppVariables = ["WAVELOG_PUSHER_APP_ID", "WAVELOG_PUSHER_APP_KEY", "WAVELOG_PUSHER_APP_SECRET"]
    /// That app's webhook URLs, comma-separated, each taking every event.
    static let webhooksVariable = "WAVELOG_PUSHER_APP_WEBHOOKS"

    /// A list of mappings `{id, key, secret, ...}`, or, from `WAVELOG_PUSHER_APPS`, a
    /// comma-separated list of `id:key:secret`.
    static func decode(_ value: ConfigValue) throws(ConfigError) -> [PusherAppSettings] {
        var apps: [PusherAppSettings] = []
        switch value.node {
        case .scalar(let text, _, _):
            for (position, entry) in text.split(separator: ",").enumerated() {
                let parts = entry.trimmingSpaces().split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3 else {
                    throw ConfigKeys.error(value, "\(key)[\(position)]", "expected id:key:secret")
                }
                apps.append(try checked(PusherAppSettings(id: String(parts[0]), key: String(parts[1]), secret: String(parts[2])), value, "\(key)[\(position)]"))
            }
        case .sequence(let items, _):
            for (position, item) in items.enumerated() {
                apps.append(try app(item, value, "\(key)[\(position)]"))
            }
        case .mapping:
            throw ConfigKeys.error(value, key, "expected a list of apps, each {id, key, secret}")
        }
        var ids = Set<String>()
        var keys = Set<String>()
        for (position, app) in apps.enumerated() {
            guard ids.insert(app.id).inserted else { throw ConfigKeys.error(value, "\(key)[\(position)].id", "duplicate app id \"\(app.id)\"") }
            guard keys.insert(app.key).inserted else { throw ConfigKeys.error(value, "\(key)[\(position)].key", "duplicate app key") }
        }
        return apps
    }

    private static func app(_ node: YAMLNode, _ value: ConfigValue, _ path: String) throws(ConfigError) -> PusherAppSettings {
        guard case .mapping(let pairs, let mark) = node else {
            throw ConfigError(key: path, message: "expected a mapping {id, key, secret}", mark: node.mark)
        }
        var fields: [String: YAMLNode] = [:]
        for pair in pairs { fields[pair.key] = pair.value }
        func text(_ name: String) throws(ConfigError) -> String {
            guard let field = fields[name], case .scalar(let text, _, _) = field, !text.isEmpty else {
                throw ConfigError(key: "\(path).\(name)", message: "required", mark: fields[name]?.mark ?? mark)
            }
            return text
        }
        var app = PusherAppSettings(id: try text("id"), key: try text("key"), secret: try text("secret"))
        for (name, field) in fields {
            let item = ConfigValue(node: field, environmentVariable: value.environmentVariable)
            switch name {
            case "id", "key", "secret": break
            case "max_connections": app.maxConnections = try ConfigKeys.integer(item, "\(path).\(name)", in: 0...1_000_000)
            case "enable_client_events": app.enableClientEvents = try ConfigKeys.bool(item, "\(path).\(name)")
            case "enable_watchlist": app.enableWatchlist = try ConfigKeys.bool(item, "\(path).\(name)")
            case "enable_subscription_count": app.enableSubscriptionCount = try ConfigKeys.bool(item, "\(path).\(name)")
            case "max_presence_members": app.maxPresenceMembers = try ConfigKeys.integer(item, "\(path).\(name)", in: 1...100_000)
            case "webhooks":
                app.webhooks = try WebhooksKey.decode(field, environmentVariable: value.environmentVariable, "\(path).\(name)", names: WebhookEvent.pusherNames)
            case "max_message_bytes": app.maxMessageBytes = try ConfigKeys.integer(item, "\(path).\(name)", in: 256...(1 << 20))
            default: throw ConfigError(key: "\(path).\(name)", message: "unknown setting", mark: field.mark)
            }
        }
        return try checked(app, value, path)
    }

    private static func checked(_ app: PusherAppSettings, _ value: ConfigValue, _ path: String) throws(ConfigError) -> PusherAppSettings {
        guard !app.id.isEmpty, app.id.utf8.count <= 20, app.id.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw ConfigKeys.error(value, "\(path).id", "expected digits (the Pusher SDKs refuse other app ids), got \"\(Sanitize.forLog(app.id))\"")
        }
        // The key is a path segment of /app/{key} and a query value the SDKs send unescaped.
        guard !app.key.isEmpty, app.key.utf8.count <= 64,
            app.key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "&") && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "%") })
        else {
            throw ConfigKeys.error(value, "\(path).key", "expected up to 64 printable characters without / ? & : %")
        }
        guard app.secret.utf8.count >= 8 else {
            throw ConfigKeys.error(value, "\(path).secret", "must be at least 8 characters")
        }
        return app
    }

    /// `WAVELOG_PUSHER_APP_ID`, `_KEY` and `_SECRET` as one app, or nil when none is set.
    static func singleApp(from environment: [String: String]) throws(ConfigError) -> ConfigValue? {
        let given = singleAppVariables.map { environment[$0] }
        guard given.contains(where: { $0 != nil }) else {
            if let webhooks = environment[webhooksVariable], !webhooks.isEmpty {
                throw ConfigError(key: key, message: "\(webhooksVariable) needs the app of WAVELOG_PUSHER_APP_ID, _KEY and _SECRET", environmentVariable: webhooksVariable)
            }
            return nil
        }
        let mark = SourceMark(line: 0, column: 0)
        var pairs: [(key: String, keyMark: SourceMark, value: YAMLNode)] = []
        for (variable, text) in zip(singleAppVariables, given) {
            guard let text, !text.isEmpty else {
                throw ConfigError(key: key, message: "\(variable) is required with the other WAVELOG_PUSHER_APP_* variables", environmentVariable: variable)
            }
            pairs.append((String(variable.split(separator: "_").last!).lowercased(), mark, .scalar(text, quoted: true, mark)))
        }
        if let webhooks = environment[webhooksVariable], !webhooks.isEmpty {
            pairs.append(("webhooks", mark, .scalar(webhooks, quoted: true, mark)))
        }
        return ConfigValue(node: .sequence([.mapping(pairs, mark)], mark), environmentVariable: singleAppVariables[0])
    }
}
