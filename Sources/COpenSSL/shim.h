// libcrypto: SHA-256 (for HMAC with precomputed pads), SHA-1, and the CSPRNG.
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, whose contexts are heap
// objects; the plain struct state is what lets a keyed HMAC be copied without allocating.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
