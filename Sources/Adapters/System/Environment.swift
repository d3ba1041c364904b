// Adapter: the process environment, without Foundation.
internal import Glibc

/// Reads the process environment.
public enum ProcessEnvironment {
    /// Every `NAME=value` pair of the environment.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
