// libcrypto: SHA-256 (for HMAC with precomputed pads), SHA-1, and the CSPRNG.
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, whose contexts are heap
// objects; the plain struct state is what lets a keyed HMAC be copied without allocating.
// libssl: TLS on the listening ports, driven by the event loops through memory BIOs.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <string.h>

// Function-like macros Swift cannot call.
static inline int shim_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}
static inline long shim_SSL_CTX_set_mode(SSL_CTX *context, long mode) { return SSL_CTX_set_mode(context, mode); }
static inline long shim_SSL_CTX_set_session_cache_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_session_cache_mode(context, mode);
}
// The server's cipher order, and no renegotiation (a client could make it cost CPU at will).
static inline void shim_SSL_CTX_set_server_options(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
}
static inline long shim_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline int shim_ERR_GET_REASON(unsigned long error) { return ERR_GET_REASON(error); }

// ALPN: http/1.1 when the client offers it; otherwise the handshake goes on without ALPN, as
// nginx does, rather than failing a client that offered only h2.
static int shim_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                            unsigned int inlen, void *arg) {
    static const unsigned char http11[] = "\x08http/1.1";
    (void)ssl;
    (void)arg;
    unsigned char *selected = NULL;
    unsigned char length = 0;
    if (SSL_select_next_proto(&selected, &length, http11, sizeof(http11) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    *outlen = length;
    return SSL_TLSEXT_ERR_OK;
}
static inline void shim_SSL_CTX_select_http11(SSL_CTX *context) {
    SSL_CTX_set_alpn_select_cb(context, shim_alpn_select, NULL);
}
