// Adapter: HMAC-SHA256 (RFC 2104) over OpenSSL's SHA-256, with the keyed pads hashed once.
public import Application
public import Domain
internal import COpenSSL

/// Signs with the worker secret as the key. Immutable, so every loop may share it.
///
/// OpenSSL's one-shot `HMAC()` builds and frees an EVP context per call: 13 allocations and
/// 1.2 us per token (Benchmarks/, "Token: HMAC-SHA256"). The SHA-256 states after the inner and
/// outer pads depend only on the key, so they are computed here once; a signature copies them
/// by value and hashes just the message.
public struct OpenSSLHMAC: MessageAuthenticator {
    private let innerState: SHA256_CTX
    private let outerState: SHA256_CTX
    private static let blockSize = 64

    public init(secret: SharedSecret) {
        self.init(keyBytes: secret.bytes)
    }

    /// For test vectors with arbitrary keys (RFC 4231).
    public init(keyBytes: [UInt8]) {
        // RFC 2104 section 2: a key longer than a block is replaced by its hash.
        var key = keyBytes.count > Self.blockSize ? Self.sha256(keyBytes) : keyBytes
        key += [UInt8](repeating: 0, count: Self.blockSize - key.count)
        innerState = Self.absorb(key.map { $0 ^ 0x36 })
        outerState = Self.absorb(key.map { $0 ^ 0x5C })
    }

    public func authenticationCode(for message: UnsafeRawBufferPointer) -> MAC256 {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { scratch in
            let innerDigest = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let mac = innerDigest + 32
            var inner = innerState
            if let base = message.baseAddress { SHA256_Update(&inner, base, message.count) }
            SHA256_Final(innerDigest, &inner)
            var outer = outerState
            SHA256_Update(&outer, innerDigest, 32)
            SHA256_Final(mac, &outer)
            return MAC256(bytes: UnsafeRawBufferPointer(start: mac, count: 32))
        }
    }

    private static func absorb(_ pad: [UInt8]) -> SHA256_CTX {
        var state = SHA256_CTX()
        precondition(SHA256_Init(&state) == 1, "SHA256_Init failed inside OpenSSL")
        pad.withUnsafeBytes { _ = SHA256_Update(&state, $0.baseAddress, $0.count) }
        return state
    }

    private static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var state = SHA256_CTX()
        var digest = [UInt8](repeating: 0, count: 32)
        SHA256_Init(&state)
        bytes.withUnsafeBytes { _ = SHA256_Update(&state, $0.baseAddress, $0.count) }
        SHA256_Final(&digest, &state)
        return digest
    }
}
