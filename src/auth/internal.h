/*
 * internal.h - shared by the files of src/auth only: base64url, HMAC-SHA256 and the node's keys.
 */
#ifndef LOCUS_AUTH_INTERNAL_H
#define LOCUS_AUTH_INTERNAL_H

#include "auth/auth.h"

#include <stddef.h>

/* base64url without padding of n bytes into out (at least 4 * ceil(n / 3) + 1 bytes). */
void b64url_encode(const unsigned char *p, size_t n, char *out);
/* Strict base64url decoding (golang-jwt's RawURLEncoding.Strict): only [A-Za-z0-9_-], no
 * padding, a length that is not 1 mod 4, and zero bits past the last byte. A new buffer with a
 * NUL after its *outlen bytes (caller frees), or NULL. */
unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen);

/* HMAC-SHA256 of msg with key (out: 32 bytes). */
void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]);
/* Constant-time comparison of two NUL-terminated strings. */
bool str_equal_ct(const char *a, const char *b);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void hex_encode(const unsigned char *p, size_t n, char *out);
/* SHA-256 of a buffer (out: 32 bytes). */
void sha256_raw(const void *p, size_t n, unsigned char out[32]);
/* Forgets the tokens verified with the node's keys (when the keys change). */
void auth_token_cache_clear(void);

/* The cluster secret (NULL when none). */
const unsigned char *auth_cluster_secret(size_t *len);

#endif
