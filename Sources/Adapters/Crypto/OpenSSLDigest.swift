// Adapter: SHA-1 (for the WebSocket accept key) and secure random bytes from OpenSSL.
internal import COpenSSL

/// OpenSSL's digests and random generator.
public enum OpenSSLDigest {
    /// Loads OpenSSL's configuration now: the first digest would otherwise read openssl.cnf from
    /// disk on an event loop.
    public static func initialize() {
        OPENSSL_init_crypto(UInt64(OPENSSL_INIT_LOAD_CONFIG), nil)
        _ = [UInt8](repeating: 0, count: 1).withUnsafeBytes { sha1($0) }
    }

    /// SHA-1 of `bytes`; RFC 6455 §4.2.2 uses it for `Sec-WebSocket-Accept` (not for security).
    /// The struct API: OpenSSL 3's one-shot `SHA1()` fetches the algorithm through EVP on every
    /// call, 3,600 instructions of a 6,000-instruction handshake digest.
    public static func sha1(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        var state = SHA_CTX()
        SHA1_Init(&state)
        if let base = bytes.baseAddress { SHA1_Update(&state, base, bytes.count) }
        digest.withUnsafeMutableBufferPointer { _ = SHA1_Final($0.baseAddress, &state) }
        return digest
    }

    /// SHA-1 of `first` followed by `second`, written as 20 bytes at `digest`: the handshake hashes
    /// the client's key and a constant without joining them first.
    public static func sha1(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, into digest: UnsafeMutableRawPointer) {
        var state = SHA_CTX()
        SHA1_Init(&state)
        if let base = first.baseAddress { SHA1_Update(&state, base, first.count) }
        if let base = second.baseAddress { SHA1_Update(&state, base, second.count) }
        SHA1_Final(digest.assumingMemoryBound(to: UInt8.self), &state)
    }

    /// MD5 of `bytes`, for the Pusher HTTP API's `body_md5` (a checksum there, not security).
    public static func md5(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(MD5_DIGEST_LENGTH))
        var state = MD5_CTX()
        MD5_Init(&state)
        if let base = bytes.baseAddress { MD5_Update(&state, base, bytes.count) }
        digest.withUnsafeMutableBufferPointer { _ = MD5_Final($0.baseAddress, &state) }
        return digest
    }

    /// `count` bytes from OpenSSL's CSPRNG; nil only if the generator could not be seeded.
    public static func randomBytes(count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        return ok == 1 ? bytes : nil
    }
}
