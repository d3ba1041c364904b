// Decrypting what an input BIO holds, the same way for the server's connections and the
// Redis relay's client links.
internal import COpenSSL

/// Why decryption stopped.
enum TLSReadEnd {
    /// Every complete record was read; the rest needs more bytes.
    case needsInput
    /// close_notify: the peer sends nothing more, as with a FIN.
    case closedByPeer
    /// A forged or broken record: the stream cannot go on.
    case failed(String)
    /// `proceed` said stop (the connection closed meanwhile).
    case stopped
}

enum TLSRecords {
    /// `ssl` reading from and writing to memory BIOs, which it owns from here on; nil (and
    /// `ssl` freed) when OpenSSL is out of memory.
    static func withMemoryBIOs(_ ssl: OpaquePointer?) -> OpaquePointer? {
        guard let ssl else { return nil }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_bio(ssl, input, output)
        return ssl
    }

    /// Decrypts into `buffer` and hands each piece to `deliver` while `proceed` holds.
    static func read(
        _ ssl: OpaquePointer, into buffer: UnsafeMutableRawBufferPointer, while proceed: () -> Bool,
        deliver: (UnsafeRawBufferPointer) -> Void
    ) -> TLSReadEnd {
        while proceed() {
            ERR_clear_error()
            let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
            if count > 0 {
                deliver(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(count)]))
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ: return .needsInput
            case SSL_ERROR_ZERO_RETURN: return .closedByPeer
            default: return .failed(TLSCredentials.lastError())
            }
        }
        return .stopped
    }
}
