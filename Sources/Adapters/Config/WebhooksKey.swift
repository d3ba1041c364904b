// The `webhooks` of a Pusher app and the node's `topic_webhooks`: where events go, and which.

/// One endpoint: its URL and the event names it takes (nil: every one of its scope).
public struct WebhookTarget: Sendable, Equatable {
    public var url: String
    public var eventTypes: Set<String>?

    public init(url: String, eventTypes: Set<String>? = nil) {
        self.url = url
        self.eventTypes = eventTypes
    }

    public func wants(_ name: String) -> Bool { eventTypes?.contains(name) ?? true }
}

enum WebhooksKey {
    /// A list of `{url, event_types}` (or of bare URLs); from the environment, comma-separated
    /// URLs, each taking every event. `names` are the event types this list may name.
    static func decode(_ node: YAMLNode, environmentVariable: String?, _ path: String, names: Set<String>) throws(ConfigError) -> [WebhookTarget] {
        var targets: [WebhookTarget] = []
        switch node {
        case .scalar(let text, _, let mark):
            for (position, url) in text.split(separator: ",").map({ String($0.trimmingSpaces()) }).filter({ !$0.isEmpty }).enumerated() {
                targets.append(WebhookTarget(url: try checkedURL(url, "\(path)[\(position)].url", mark, environmentVariable)))
            }
        case .sequence(let items, _):
            for (position, item) in items.enumerated() {
                targets.append(try target(item, "\(path)[\(position)]", names: names, environmentVariable))
            }
        case .mapping(_, let mark):
            throw ConfigError(key: path, message: "expected a list of endpoints, each {url, event_types}", mark: mark, environmentVariable: environmentVariable)
        }
        return targets
    }

    private static func target(_ node: YAMLNode, _ path: String, names: Set<String>, _ variable: String?) throws(ConfigError) -> WebhookTarget {
        if case .scalar(let text, _, let mark) = node { return WebhookTarget(url: try checkedURL(text, "\(path).url", mark, variable)) }
        guard case .mapping(let pairs, let mark) = node else {
            throw ConfigError(key: path, message: "expected a mapping {url, event_types}", mark: node.mark, environmentVariable: variable)
        }
        var target = WebhookTarget(url: "")
        var sawURL = false
        for pair in pairs {
            switch pair.key {
            case "url":
                guard case .scalar(let text, _, let mark) = pair.value else {
                    throw ConfigError(key: "\(path).url", message: "expected a URL", mark: pair.value.mark, environmentVariable: variable)
                }
                target.url = try checkedURL(text, "\(path).url", mark, variable)
                sawURL = true
            case "event_types":
                let list = try ConfigKeys.stringList(ConfigValue(node: pair.value, environmentVariable: variable), "\(path).event_types")
                for name in list where !names.contains(name) {
                    throw ConfigError(
                        key: "\(path).event_types", message: "expected some of \(names.sorted().joined(separator: ", ")), got \"\(Sanitize.forLog(name))\"",
                        mark: pair.value.mark, environmentVariable: variable)
                }
                guard !list.isEmpty else {
                    throw ConfigError(
                        key: "\(path).event_types", message: "expected at least one event type (leave the key out for every one)",
                        mark: pair.value.mark, environmentVariable: variable)
                }
                target.eventTypes = Set(list)
            default:
                throw ConfigError(key: "\(path).\(pair.key)", message: "unknown setting", mark: pair.value.mark, environmentVariable: variable)
            }
        }
        guard sawURL else { throw ConfigError(key: "\(path).url", message: "required", mark: mark, environmentVariable: variable) }
        return target
    }

    /// http or https, a host, no spaces or credentials in the clear.
    static func checkedURL(_ text: String, _ key: String, _ mark: SourceMark, _ variable: String?) throws(ConfigError) -> String {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            throw ConfigError(key: key, message: "expected an http:// or https:// URL, got \"\(Sanitize.forLog(text))\"", mark: mark, environmentVariable: variable)
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.hasPrefix(":"), !authority.contains("@"),
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw ConfigError(key: key, message: "expected an http:// or https:// URL with a host, got \"\(Sanitize.forLog(text))\"", mark: mark, environmentVariable: variable)
        }
        return text
    }
}
