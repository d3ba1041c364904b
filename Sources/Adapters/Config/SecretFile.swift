// `worker_secret_file`: the shared secret read from a file (Docker and Kubernetes secrets, systemd credentials).
internal import Glibc

/// Picks the secret's source and reads it from a file when that is the source.
///
/// Precedence follows every other key: the environment over the file. Within one source,
/// `worker_secret` and `worker_secret_file` together are an error, since the operator cannot
/// have meant both.
enum SecretFile {
    /// Longest secret file read; a secret is a line.
    static let maxBytes = 4096

    /// Replaces `worker_secret_file` in `values` by a `worker_secret` read from it; returns
    /// warnings to log once logging is up.
    static func resolve(_ values: inout [String: ConfigValue]) throws(ConfigError) -> [String] {
        let inline = values["worker_secret"].flatMap { $0.node.isNull ? nil : $0 }
        let file = values["worker_secret_file"].flatMap { $0.node.isNull ? nil : $0 }
        values["worker_secret_file"] = nil
        guard let file else { return [] }
        if let inline {
            switch (inline.environmentVariable != nil, file.environmentVariable != nil) {
            case (true, false): return []  // the environment's secret wins over the file's path
            case (false, true): break  // the environment's path wins over the file's secret
            // Upstream's WORKER_SECRET yields to WAVELOG_WORKER_SECRET_FILE, as WORKER_* yields to WAVELOG_*.
            case (true, true) where inline.environmentVariable?.hasPrefix("WORKER_") == true: break
            default:
                throw ConfigKeys.error(file, "worker_secret_file", "set worker_secret or worker_secret_file, not both")
            }
        }
        let path = try ConfigKeys.string(file, "worker_secret_file")
        var warnings: [String] = []
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigKeys.error(file, "worker_secret_file", "\(path): \(YAMLConfigLoader.describe(errno: errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ConfigKeys.error(file, "worker_secret_file", "\(path): not a regular file")
        }
        // Anyone who can write the file can impersonate the backend and mint tokens.
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw ConfigKeys.error(file, "worker_secret_file", "\(path): writable by group or others; chmod 600 it")
        }
        // Container runtimes mount secrets 0444 where no other user exists, so reading is a warning.
        if info.st_mode & S_IROTH != 0 {
            warnings.append("config: worker_secret_file: \(path) is readable by every user; chmod 600 it where other users exist")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ConfigKeys.error(file, "worker_secret_file", "\(path): \(YAMLConfigLoader.describe(errno: errno))")
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        var count = 0
        while count < bytes.count {
            let read = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { break }
            count += read
        }
        guard count <= maxBytes else { throw ConfigKeys.error(file, "worker_secret_file", "\(path): longer than \(maxBytes) bytes") }
        var secret = Array(bytes[0..<count])
        // `echo secret > file` and editors leave a newline; nothing else is trimmed.
        if secret.last == 0x0A { secret.removeLast() }
        if secret.last == 0x0D { secret.removeLast() }
        guard let text = String(validating: secret, as: UTF8.self) else {
            throw ConfigKeys.error(file, "worker_secret_file", "\(path): not UTF-8 text")
        }
        values["worker_secret"] = ConfigValue(
            node: .scalar(text, quoted: true, file.node.mark),
            environmentVariable: file.environmentVariable, secretFile: path)
        return warnings
    }
}
