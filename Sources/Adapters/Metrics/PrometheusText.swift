// Writing the Prometheus text exposition format: HELP, TYPE, samples with escaped labels.

/// A small writer for the Prometheus text format (0.0.4). Built once per scrape, not per event.
struct PrometheusText {
    private(set) var output = ""
    private var described: Set<String> = []

    mutating func gauge(_ name: String, _ help: String, labels: [(String, String)] = [], _ value: Double) {
        sample(name, "gauge", help, labels, value)
    }

    mutating func counter(_ name: String, _ help: String, labels: [(String, String)] = [], _ value: Double) {
        sample(name, "counter", help, labels, value)
    }

    private mutating func sample(_ name: String, _ type: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        if described.insert(name).inserted {
            output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        output += name
        if !labels.isEmpty {
            output += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        output += " " + Self.format(value) + "\n"
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
