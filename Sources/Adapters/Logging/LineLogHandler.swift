// Adapter: swift-log handler writing one line per event to stderr, as logfmt or JSON.
public import Logging
internal import Glibc
internal import CLinux

/// Writes `ts=… level=… msg="…" key=value` (logfmt) or one JSON object per line.
///
/// One `write(2)` per line, so concurrent loops never interleave within a line.
public struct LineLogHandler: LogHandler {
    /// How a line is written.
    public enum Format: Sendable {
        case logfmt, json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: LineLogHandler.Format
    private let fileDescriptor: Int32

    public init(label: String, level: Logger.Level, format: LineLogHandler.Format, fileDescriptor: Int32 = 2) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.fileDescriptor = fileDescriptor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.render(
            timestamp: Self.timestamp(), level: event.level, message: "\(event.message)",
            metadata: merged, format: format)
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }  // Logging must never take the worker down.
                offset += written
            }
        }
    }

    /// Renders one line; pure, so tests can check the format.
    public static func render(
        timestamp: String, level: Logger.Level, message: String, metadata: Logger.Metadata,
        format: LineLogHandler.Format
    ) -> String {
        let keys = metadata.keys.sorted()
        switch format {
        case .logfmt:
            var line = "ts=\(timestamp) level=\(level) msg=\(logfmtValue(message))"
            for key in keys { line += " \(Sanitize.forLog(key))=\(logfmtValue("\(metadata[key]!)"))" }
            return line
        case .json:
            var line = "{\"ts\":\"\(timestamp)\",\"level\":\"\(level)\",\"msg\":\(jsonString(message))"
            for key in keys { line += ",\(jsonString(key)):\(jsonString("\(metadata[key]!)"))" }
            return line + "}"
        }
    }

    private static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.value < 0x21 }
        let clean = Sanitize.forLog(value)
        return needsQuotes ? "\"\(clean)\"" : clean
    }

    private static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0..<0x20, 0x7F, 0x2028, 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// RFC 3339 in UTC with milliseconds.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}
