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
    public static func sha1(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        var empty: UInt8 = 0
        digest.withUnsafeMutableBufferPointer { out in
            withUnsafePointer(to: &empty) { emptyPointer in
                _ = SHA1(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer, bytes.count, out.baseAddress)
            }
        }
        return digest
    }

    /// `count` bytes from OpenSSL's CSPRNG; nil only if the generator could not be seeded.
    public static func randomBytes(count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        return ok == 1 ? bytes : nil
    }
}
