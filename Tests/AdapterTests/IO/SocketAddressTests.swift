// Peer addresses as the logs, the per-address limits and X-Forwarded-For checks see them.
import Adapters
import Glibc
import Testing
import TestSupport

struct SocketAddressTests {
    @Test func ipv4HostsReadAsInetNtopWritesThem() throws {
        var generator = SeededGenerator(seed: 0x1F4)
        let fixed: [[UInt8]] = [[0, 0, 0, 0], [255, 255, 255, 255], [127, 0, 0, 1], [10, 9, 99, 100], [1, 20, 200, 9]]
        let random = (0..<500).map { _ in (0..<4).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
        for octets in fixed + random {
            var address = in_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: octets) }
            var buffer = [CChar](repeating: 0, count: 16)
            inet_ntop(AF_INET, &address, &buffer, 16)
            let expected = String(cString: buffer)
            let parsed = try #require(SocketAddress(host: expected, port: 80))
            #expect(parsed.host == expected)
            #expect(parsed.description == "\(expected):80")
        }
    }

    @Test(arguments: [("::1", "::1"), ("2001:db8::1", "2001:db8::1"), ("::ffff:192.0.2.33", "192.0.2.33"), ("::ffff:0.0.0.0", "0.0.0.0")])
    func ipv6HostsAndMappedIPv4(literal: String, host: String) throws {
        #expect(try #require(SocketAddress(host: literal, port: 1)).host == host)
    }
}
