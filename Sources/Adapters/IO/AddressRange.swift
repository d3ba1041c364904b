// An IP address or a CIDR range (`10.0.0.0/8`, `::1`), and whether an address lies in it.
internal import Glibc

/// A range of IPv4 or IPv6 addresses, written as an address with an optional `/prefix`.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes, masked to the prefix.
    private let network: [UInt8]
    private let prefixLength: Int

    /// Loopback and the private ranges: where a reverse proxy in front of the worker runs.
    public static let localAndPrivate: [AddressRange] = [
        "127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
    ].compactMap(AddressRange.init)

    /// nil unless `text` is an IPv4 or IPv6 address, optionally followed by `/` and a prefix
    /// length no longer than the address.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        var length = bytes.count * 8
        if parts.count == 2 {
            guard let given = Int(parts[1]), given >= 0, given <= length, parts[1].allSatisfy(\.isASCII) else { return nil }
            length = given
        }
        network = Self.masked(bytes, to: length)
        prefixLength = length
    }

    /// Whether `host` (an address as text, as `SocketAddress.host` gives it) is in the range.
    public func contains(_ host: String) -> Bool {
        guard let bytes = Self.bytes(of: host) else { return false }
        return contains(bytes: bytes)
    }

    /// Whether the address with these bytes (as `bytes(of:)` gives them) is in the range.
    func contains(bytes: [UInt8]) -> Bool {
        bytes.count == network.count && Self.masked(bytes, to: prefixLength) == network
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        network.withUnsafeBytes { raw in
            _ = inet_ntop(network.count == 4 ? AF_INET : AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        let address = String(cString: buffer)
        return prefixLength == network.count * 8 ? address : "\(address)/\(prefixLength)"
    }

    /// The address's bytes; an IPv4-mapped IPv6 address is its IPv4 address.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let raw = withUnsafeBytes(of: &v6) { Array($0) }
        if raw[0..<10].allSatisfy({ $0 == 0 }) && raw[10] == 0xFF && raw[11] == 0xFF { return Array(raw[12..<16]) }
        return raw
    }

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let bitsKept = min(8, max(0, length - index * 8))
            result[index] &= bitsKept == 8 ? 0xFF : ~(0xFF >> bitsKept)
        }
        return result
    }
}
