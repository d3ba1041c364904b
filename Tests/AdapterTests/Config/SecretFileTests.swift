// worker_secret_file: read from a real file, permissions checked, the newline trimmed, and the
// precedence of the environment over the file.
import Adapters
import Domain
import Foundation
import Glibc
import Testing

struct SecretFileTests {
    static let secret = "0123456789abcdef0123456789abcdef-from-a-file"

    /// A file in a fresh directory, with `mode`.
    func secretFile(_ contents: String, mode: mode_t = 0o600) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("worker_secret").path
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> LoadedConfig {
        try ConfigText.load(yaml, environment: environment, cores: 1)
    }

    func failure(_ yaml: String, environment: [String: String] = [:]) -> String? {
        ConfigText.error(yaml, environment: environment, cores: 1)?.description
    }

    @Test func theSecretIsReadAndOneTrailingNewlineTrimmed() throws {
        let path = try secretFile(Self.secret + "\n")
        let loaded = try load("worker_secret_file: \(path)\n")
        #expect(loaded.config.workerSecret.matches(Array(Self.secret.utf8)))
        #expect(loaded.warnings.isEmpty)
        let windows = try secretFile(Self.secret + "\r\n")
        #expect(try load("worker_secret_file: \(windows)\n").config.workerSecret.matches(Array(Self.secret.utf8)))
    }

    @Test func theEnvironmentNamesTheFileToo() throws {
        let path = try secretFile(Self.secret)
        let loaded = try load("", environment: ["WAVELOG_WORKER_SECRET_FILE": path])
        #expect(loaded.config.workerSecret.matches(Array(Self.secret.utf8)))
    }

    @Test func theEnvironmentWinsOverTheFileWhicheverFormEachTakes() throws {
        let path = try secretFile(Self.secret)
        let inline = "worker_secret: \"an-inline-secret-of-32-characters-or-more\"\n"
        #expect(try load(inline, environment: ["WAVELOG_WORKER_SECRET_FILE": path]).config.workerSecret.matches(Array(Self.secret.utf8)))
        let fromEnvironment = "an-environment-secret-of-32-characters-000"
        #expect(try load("worker_secret_file: \(path)\n", environment: ["WAVELOG_WORKER_SECRET": fromEnvironment])
            .config.workerSecret.matches(Array(fromEnvironment.utf8)))
    }

    @Test func bothInOneSourceIsAnError() throws {
        let path = try secretFile(Self.secret)
        #expect(failure("worker_secret: \"an-inline-secret-of-32-characters-or-more\"\nworker_secret_file: \(path)\n")
            == "config: worker_secret_file: set worker_secret or worker_secret_file, not both (line 2, column 21)")
    }

    @Test func aMissingFileNamesTheKeyAndThePath() {
        #expect(failure("worker_secret_file: /nonexistent/secret\n")
            == "config: worker_secret_file: /nonexistent/secret: no such file or directory (line 1, column 21)")
    }

    @Test func aFileOthersCanWriteIsRefusedAndOneOthersCanReadIsAWarning() throws {
        let writable = try secretFile(Self.secret, mode: 0o622)
        #expect(failure("worker_secret_file: \(writable)\n")?.hasSuffix("\(writable): writable by group or others; chmod 600 it (line 1, column 21)") == true)
        let readable = try secretFile(Self.secret, mode: 0o644)
        let loaded = try load("worker_secret_file: \(readable)\n")
        #expect(loaded.warnings == ["config: worker_secret_file: \(readable) is readable by every user; chmod 600 it where other users exist"])
    }

    @Test func aShortSecretInTheFileNamesTheFile() throws {
        let path = try secretFile("short\n")
        #expect(failure("worker_secret_file: \(path)\n") == "config: worker_secret_file: \(path): the secret must be at least 32 characters, got 5 (line 1, column 21)")
    }
}
