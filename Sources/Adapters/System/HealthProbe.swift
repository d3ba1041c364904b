// One blocking GET to a health URL on this host: the `probe` command, for HEALTHCHECK and scripts.
internal import Glibc
internal import CLinux

/// GETs `http://ADDRESS:PORT/PATH` (an IP address: a probe never resolves names). Blocking on
/// purpose: it runs in its own short-lived process, never on a loop; the `probe` command bounds
/// it with an alarm.
public enum HealthProbe {
    /// nil when the answer is 200; otherwise one line saying why not.
    public static func check(_ url: String) -> String? {
        guard url.hasPrefix("http://") else { return fail("only http:// URLs: \(url)") }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
            let address = SocketAddress(host: String(authority[..<colon]).trimmingCharacters(in: "[]"), port: port)
        else { return fail("expected http://ADDRESS:PORT/PATH, got \(url)") }
        let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return fail("socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var storage = address.storage
        let connected = withUnsafePointer(to: &storage) { connect(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), address.length) }
        guard connected == 0 else { return fail("connect \(authority): \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            return fail("send: \(String(cString: strerror(errno)))")
        }
        var answer = [UInt8](repeating: 0, count: 512)
        let count = answer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 12 else { return fail("no answer from \(authority)") }
        let statusLine = String(decoding: answer[0..<count].prefix { $0 != 0x0D }, as: UTF8.self)
        guard statusLine.hasPrefix("HTTP/1.1 200") || statusLine.hasPrefix("HTTP/1.0 200") else { return fail(statusLine) }
        return nil
    }

    private static func fail(_ reason: String) -> String? {
        reason
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
