// Adapter: the host's name, which names this node in the roster.
internal import Glibc

/// Reads the host name.
public enum HostName {
    /// `gethostname`, or "" when it fails or is empty.
    public static func current() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
