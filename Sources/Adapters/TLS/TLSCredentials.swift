// One certificate chain and its key, loaded into an OpenSSL server context.
internal import COpenSSL
internal import Glibc

/// What a TLS listener is set up with: the PEM files and the TLS 1.2 cipher list.
public struct TLSSettings: Sendable, Equatable {
    /// Mozilla's "intermediate" list for TLS 1.2: forward secrecy and AEAD only. TLS 1.3 suites
    /// are OpenSSL's defaults (all of them AEAD).
    public static let defaultCiphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    /// How long a connection may take to finish its handshake before it is closed.
    public static let defaultHandshakeTimeout: Duration = .seconds(10)

    public var certificateFile: String
    public var keyFile: String
    public var ciphers = TLSSettings.defaultCiphers
    public var handshakeTimeout = TLSSettings.defaultHandshakeTimeout

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

/// A loading failure, in one line that names the file at fault.
public struct TLSLoadError: Error, CustomStringConvertible {
    /// Which setting is at fault.
    public enum Culprit: Sendable {
        case certificate, key, ciphers, openssl
    }

    public let culprit: Culprit
    public let description: String
}

/// An `SSL_CTX` with one certificate and key. OpenSSL counts its references: each connection's
/// `SSL` holds one, so a context replaced by a reload lives on until its last connection ends.
final class TLSCredentials: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads and checks the pair; the error says which file and what OpenSSL found wrong.
    init(_ settings: TLSSettings) throws(TLSLoadError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSLoadError(culprit: .openssl, description: "cannot create a TLS context: \(Self.lastError())") }
        self.context = context
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(context, settings.certificateFile) == 1 else {
            throw TLSLoadError(culprit: .certificate, description: "\(settings.certificateFile): not a PEM certificate chain (\(Self.lastError()))")
        }
        guard SSL_CTX_use_PrivateKey_file(context, settings.keyFile, SSL_FILETYPE_PEM) == 1 else {
            // OpenSSL checks the pair as it loads the key; say which of the two went wrong.
            if shim_ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH {
                ERR_clear_error()
                throw TLSLoadError(
                    culprit: .key, description: "\(settings.keyFile): the key does not match the certificate in \(settings.certificateFile)")
            }
            throw TLSLoadError(culprit: .key, description: "\(settings.keyFile): not a PEM private key (\(Self.lastError()))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSLoadError(culprit: .key, description: "\(settings.keyFile): the key does not match the certificate in \(settings.certificateFile)")
        }
        guard SSL_CTX_set_cipher_list(context, settings.ciphers) == 1 else {
            throw TLSLoadError(culprit: .ciphers, description: "no usable cipher in \"\(settings.ciphers)\" (\(Self.lastError()))")
        }
        _ = shim_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        // Buffers are freed while a connection is idle (34 KiB each otherwise), as nginx does:
        // most connections of a push server are idle most of the time. Partial writes never
        // happen on a memory BIO, so nothing else is needed.
        _ = shim_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        // Resumption by stateless tickets only: no cache shared between loops, nothing to lock.
        _ = shim_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        shim_SSL_CTX_set_server_options(context)
        shim_SSL_CTX_select_http11(context)
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// The oldest error OpenSSL queued on this thread, as text; the queue is emptied.
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "no detail" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
