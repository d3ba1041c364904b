// Adapter: HMAC-SHA256 through OpenSSL's one-shot HMAC().
public import Application
public import Domain
internal import COpenSSL

/// Signs with the worker secret as the key. Stateless, so every loop may share it.
public struct OpenSSLHMAC: MessageAuthenticator {
    private let key: [UInt8]

    public init(secret: SharedSecret) {
        key = secret.bytes
    }

    /// For test vectors with arbitrary keys (RFC 4231).
    public init(keyBytes: [UInt8]) {
        key = keyBytes
    }

    public func authenticationCode(for message: UnsafeRawBufferPointer) -> MAC256 {
        withUnsafeTemporaryAllocation(byteCount: Int(EVP_MAX_MD_SIZE), alignment: 8) { out in
            var length: UInt32 = 0
            // OpenSSL reads nothing when the length is 0, but wants a valid pointer all the same.
            var empty: UInt8 = 0
            let result = key.withUnsafeBytes { keyBytes in
                withUnsafeMutablePointer(to: &empty) { emptyPointer in
                    HMAC(
                        EVP_sha256(), keyBytes.baseAddress ?? UnsafeRawPointer(emptyPointer), Int32(keyBytes.count),
                        message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyPointer), message.count,
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length
                    )
                }
            }
            precondition(result != nil && length == 32, "HMAC-SHA256 failed inside OpenSSL")
            return MAC256(bytes: UnsafeRawBufferPointer(rebasing: out[0..<32]))
        }
    }
}
