// Socket addresses: parsing bind addresses and printing peers.
internal import Glibc
internal import CLinux

/// An IPv4 or IPv6 address and port.
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    /// `host` must be an IP literal ("" means every interface, IPv6 dual-stack).
    public init?(host: String, port: Int) {
        var storage = sockaddr_storage()
        let target = host.isEmpty ? "::" : host
        var v6 = sockaddr_in6()
        var v4 = sockaddr_in()
        if inet_pton(AF_INET6, target, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeBytes(of: v6) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
            self.storage = storage
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else if inet_pton(AF_INET, target, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeBytes(of: v4) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
            self.storage = storage
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else {
            return nil
        }
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    var family: Int32 { Int32(storage.ss_family) }

    public var port: Int {
        withUnsafeBytes(of: storage) { bytes in
            family == AF_INET6
                ? Int(UInt16(bigEndian: bytes.load(as: sockaddr_in6.self).sin6_port))
                : Int(UInt16(bigEndian: bytes.load(as: sockaddr_in.self).sin_port))
        }
    }

    /// The address alone, without brackets or port; IPv4-mapped IPv6 shown as IPv4. Every
    /// accepted connection asks, so IPv4 is written by hand: inet_ntop formats with sprintf,
    /// 2,000 instructions an accept (callgrind).
    public var host: String {
        withUnsafeBytes(of: storage) { bytes -> String in
            if family == AF_INET6 {
                var address = bytes.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: &address) { raw in
                    if raw[0..<10].allSatisfy({ $0 == 0 }) && raw[10] == 0xFF && raw[11] == 0xFF {
                        return Self.dottedQuad(UnsafeRawBufferPointer(rebasing: raw[12..<16]))
                    }
                    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
                    inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
                    return String(cString: buffer)
                }
            }
            var address = bytes.load(as: sockaddr_in.self).sin_addr
            return withUnsafeBytes(of: &address) { Self.dottedQuad($0) }
        }
    }

    /// `a.b.c.d` for the four bytes of an IPv4 address in network order.
    static func dottedQuad(_ octets: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: 15) { out in
            var index = 0
            for (position, octet) in octets.enumerated() {
                if position > 0 {
                    out[index] = UInt8(ascii: ".")
                    index += 1
                }
                if octet >= 100 {
                    out[index] = 0x30 + octet / 100
                    index += 1
                }
                if octet >= 10 {
                    out[index] = 0x30 + octet / 10 % 10
                    index += 1
                }
                out[index] = 0x30 + octet % 10
                index += 1
            }
            return index
        }
    }

    public var description: String {
        family == AF_INET6 && !host.contains(".") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
