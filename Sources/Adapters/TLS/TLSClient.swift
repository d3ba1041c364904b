// The client side of TLS, for links the worker opens itself (Redis over rediss://).
internal import COpenSSL

/// How a TLS client verifies its server: against the system's store and a CA file, or not at
/// all (for tests against a self-signed server only).
public struct TLSClientSettings: Sendable, Equatable {
    /// A PEM file of CA certificates trusted besides the system's.
    public var caFile: String?
    /// Accepts any certificate: no protection against a man in the middle.
    public var insecureSkipVerify = false

    public init(caFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// An `SSL_CTX` for client links, made once at start-up (it reads the CA file) and shared by
/// every link; each `SSL` made from it holds a reference.
public final class TLSClient: @unchecked Sendable {
    let context: OpaquePointer
    public let settings: TLSClientSettings

    public init(_ settings: TLSClientSettings) throws(TLSLoadError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSLoadError(culprit: .openssl, description: "cannot create a TLS context: \(TLSCredentials.lastError())")
        }
        self.context = context
        self.settings = settings
        _ = shim_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        _ = shim_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        if settings.insecureSkipVerify {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            return
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        ERR_clear_error()
        _ = SSL_CTX_set_default_verify_paths(context)
        if let caFile = settings.caFile, SSL_CTX_load_verify_locations(context, caFile, nil) != 1 {
            throw TLSLoadError(culprit: .certificate, description: "\(caFile): no PEM CA certificate in it (\(TLSCredentials.lastError()))")
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A client `SSL` over memory BIOs for `host`: SNI for a name, and the certificate checked
    /// against it (a name, or an IP address as the URL gave it).
    func makeSession(host: String, hostIsAddress: Bool) -> OpaquePointer? {
        guard let ssl = TLSRecords.withMemoryBIOs(SSL_new(context)) else { return nil }
        SSL_set_connect_state(ssl)
        if hostIsAddress {
            _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            _ = shim_SSL_set_tlsext_host_name(ssl, host)
            _ = SSL_set1_host(ssl, host)
        }
        return ssl
    }
}

extension TLSClient: Equatable {
    /// One context is one configuration: compared by identity.
    public static func == (lhs: TLSClient, rhs: TLSClient) -> Bool { lhs === rhs }
}
