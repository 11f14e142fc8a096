#ifndef RIVULET_COPENSSL_SHIM_H
#define RIVULET_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

// Function-like macros are not imported into Swift, so they get inline wrappers.
static inline long rivulet_ssl_ctx_set_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_mode(context, mode);
}

static inline int rivulet_ssl_ctx_set_min_tls12(SSL_CTX *context) {
    return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}

static inline long rivulet_ssl_ctx_set_options(SSL_CTX *context, long options) {
    return (long)SSL_CTX_set_options(context, (uint64_t)options);
}

// SSL_OP_* values are built with the function-like SSL_OP_BIT macro, so Swift cannot see them.
// A server context drops compression and renegotiation, and reads a peer's EOF without close_notify as a plain
// end of stream (HTTP and WebSocket frame their own messages, so truncation is detected above TLS).
static inline long rivulet_ssl_ctx_set_server_options(SSL_CTX *context) {
    return (long)SSL_CTX_set_options(
        context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
}

#endif
