// Small kernel-made files (/proc, /sys), read whole without Foundation.
internal import Glibc

enum SystemFile {
    /// The file's text, at most `limit` bytes; nil when it cannot be opened or is empty.
    static func contents(_ path: String, limit: Int = 1 << 16) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while text.count < limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            text += chunk[0..<count]
        }
        return text.isEmpty ? nil : String(decoding: text.prefix(limit), as: UTF8.self)
    }
}
