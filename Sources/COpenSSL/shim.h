// libcrypto: one-shot HMAC-SHA256 and SHA-1, and the CSPRNG.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
