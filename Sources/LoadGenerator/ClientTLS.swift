// TLS for the generator's subscribers (wss://, https://): OpenSSL over memory BIOs on the same
// epoll loop. Certificates are not verified: the generator measures servers on loopback.
import COpenSSL

/// A client `SSL_CTX` shared by every subscriber of a run; no session reuse, so every
/// connection is a full handshake, as a browser's first visit is.
final class ClientTLSContext {
    let context: OpaquePointer

    init() {
        context = SSL_CTX_new(TLS_client_method())!
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        _ = shim_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        _ = shim_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
    }
}

/// One connection's client side.
final class ClientTLS {
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    private(set) var established = false

    init(_ shared: ClientTLSContext) {
        ssl = SSL_new(shared.context)!
        input = BIO_new(BIO_s_mem())!
        output = BIO_new(BIO_s_mem())!
        SSL_set_bio(ssl, input, output)
        SSL_set_connect_state(ssl)
    }

    deinit { SSL_free(ssl) }

    /// Takes a handshake step; false when the handshake failed.
    func handshake() -> Bool {
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            established = true
            return true
        }
        return SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ
    }

    /// Ciphertext from the server; each run of plaintext goes to `deliver`. False on failure.
    func received(_ bytes: UnsafeRawBufferPointer, plaintext buffer: UnsafeMutableRawBufferPointer,
                  deliver: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard BIO_write(input, bytes.baseAddress, Int32(bytes.count)) == Int32(bytes.count) else { return false }
        if !established {
            guard handshake() else { return false }
            if !established { return true }
        }
        while true {
            let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
            if count > 0 {
                deliver(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(count)]))
                continue
            }
            return SSL_get_error(ssl, count) == SSL_ERROR_WANT_READ
        }
    }

    /// Encrypts `bytes` (after the handshake).
    func encrypt(_ bytes: UnsafeRawBufferPointer) {
        _ = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
    }

    /// What OpenSSL has for the wire: handshake messages or records.
    func takeOutput() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        _ = BIO_read(output, &bytes, Int32(pending))
        return bytes
    }
}
