// A private redis-server for tests: started on a free loopback port, stopped by PID.
import Foundation
import Glibc

/// A `redis-server` process owned by a test.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    private var pid: pid_t

    private let password: String?

    /// Starts redis-server on a free port and waits until it answers PING.
    /// - Parameter password: sets `requirepass`.
    public init(password: String? = nil) throws {
        self.password = password
        var lastError: any Error = RedisServerError.notStarted("no attempt")
        for _ in 0..<5 {
            let port = Self.freePort()
            guard let pid = Self.spawn(port: port, password: password) else {
                lastError = RedisServerError.notStarted("posix_spawn failed")
                continue
            }
            if Self.waitForPing(port: port, pid: pid, password: password) {
                self.port = port
                self.pid = pid
                return
            }
            Self.terminate(pid)
            lastError = RedisServerError.notStarted("no PONG on port \(port)")
        }
        throw lastError
    }

    /// Stops the server (SIGTERM to its PID, SIGKILL after 5 s) and reaps it.
    public func stop() {
        guard pid > 0 else { return }
        Self.terminate(pid)
        pid = 0
    }

    deinit { stop() }

    private static func spawn(port: Int, password: String?) -> pid_t? {
        let arguments = ["/usr/bin/redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]
            + (password.map { ["--requirepass", $0] } ?? [])
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // The test's threads may block SIGTERM; the child must not inherit that mask, or it
        // ignores our SIGTERM and only dies by SIGKILL five seconds later.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/redis-server", &actions, &attributes, &argv, environ) == 0 else { return nil }
        return pid
    }

    private static func terminate(_ pid: pid_t) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<500 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    /// Sends one command over RESP (after AUTH and SELECT `database` when needed) and returns
    /// the raw reply text of that command.
    public func command(_ arguments: [String], database: Int = 0) throws -> String {
        let socket = try TestSocket(port: port)
        var preamble: [[String]] = []
        if let password { preamble.append(["AUTH", password]) }
        if database != 0 { preamble.append(["SELECT", "\(database)"]) }
        var request = ""
        for command in preamble + [arguments] {
            request += "*\(command.count)\r\n"
            for argument in command { request += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        }
        try socket.send(request)
        // Each preamble command answers +OK.
        // Bytes, not Characters: "\r\n" is one Character in Swift.
        let okPrefix = Array(String(repeating: "+OK\r\n", count: preamble.count).utf8)
        var reply: [UInt8] = []
        while true {
            let chunk = try socket.receiveSome()
            if chunk.isEmpty { throw RedisServerError.notStarted("connection closed") }
            reply += chunk
            if reply.count > okPrefix.count {
                guard reply.starts(with: okPrefix) else { return String(decoding: reply, as: UTF8.self) }
                return String(decoding: reply[okPrefix.count...], as: UTF8.self)
            }
        }
    }

    private static func freePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // Polls the port until redis answers: the server has no other readiness signal.
    private static func waitForPing(port: Int, pid: pid_t, password: String?) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        var status: Int32 = 0
        while Date() < deadline && waitpid(pid, &status, WNOHANG) == 0 {
            if let socket = try? TestSocket(port: port, timeoutSeconds: 1),
                (try? socket.send(password.map { "*2\r\n$4\r\nAUTH\r\n$\($0.utf8.count)\r\n\($0)\r\nPING\r\n" } ?? "PING\r\n")) != nil,
                let reply = try? socket.receive(through: "PONG\r\n"), reply.contains("+PONG")
            {
                return true
            }
            usleep(20_000)
        }
        return false
    }
}

public enum RedisServerError: Error {
    case notStarted(String)
}

/// Waits until `condition` holds, checking every 10 ms, or fails after `seconds`.
public func eventually(within seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
