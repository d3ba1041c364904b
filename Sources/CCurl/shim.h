// libcurl's easy interface for Swift: curl_easy_setopt and curl_easy_getinfo are variadic,
// which Swift cannot call, so each argument type gets a plain function.
#include <curl/curl.h>

static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) { return curl_easy_setopt(handle, option, value); }
static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) { return curl_easy_setopt(handle, option, value); }
static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, const void *value) { return curl_easy_setopt(handle, option, value); }
static inline CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) { return curl_easy_getinfo(handle, info, value); }

// The answer's body is not read: a webhook's answer is its status.
static size_t ccurl_discard(char *data, size_t size, size_t count, void *context) { (void)data; (void)context; return size * count; }
static inline CURLcode ccurl_discard_body(CURL *handle) { return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, ccurl_discard); }
