/*
 * auth.h - authentication and authorization (docs/security.md): AIStore AuthN tokens (JWT,
 * HS256 or RS256, verified with libjwt) and their access lists, the intra-cluster request
 * signature (HMAC-SHA256 with the cluster secret) and the signature a proxy puts on the
 * redirects it hands to clients.
 *
 * DESIGN
 * This component knows no HTTP server and no cluster: it parses, verifies and signs strings.
 * cluster/trust.c applies it to requests (who is calling) and to the node's outgoing calls;
 * proxy and target decide which access an endpoint needs. The node's keys are loaded once by
 * auth_init() and read-only afterwards, so every function here is safe to call from any thread.
 */
#ifndef LOCUS_AUTH_AUTH_H
#define LOCUS_AUTH_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* ---- access bits: AIStore's apc.AccessAttrs, bit for bit (api/apc/access.go) */

typedef uint64_t auth_ace_t;

#define AUTH_ACE_GET (1ull << 0)             /* read object contents */
#define AUTH_ACE_OBJ_HEAD (1ull << 1)        /* read object properties */
#define AUTH_ACE_PUT (1ull << 2)             /* write an object */
#define AUTH_ACE_APPEND (1ull << 3)          /* append (append_type=append, flush) */
#define AUTH_ACE_OBJ_DELETE (1ull << 4)      /* delete an object */
#define AUTH_ACE_OBJ_MOVE (1ull << 5)        /* rename an object */
#define AUTH_ACE_PROMOTE (1ull << 6)         /* promote local files */
#define AUTH_ACE_OBJ_UPDATE (1ull << 7)      /* update object metadata */
#define AUTH_ACE_BCK_HEAD (1ull << 8)        /* read bucket properties */
#define AUTH_ACE_OBJ_LIST (1ull << 9)        /* list a bucket's objects */
#define AUTH_ACE_PATCH (1ull << 10)          /* set bucket properties */
#define AUTH_ACE_BCK_SET_ACL (1ull << 11)    /* set bucket permissions */
#define AUTH_ACE_LIST_BUCKETS (1ull << 12)   /* list the buckets (cluster) */
#define AUTH_ACE_SHOW_CLUSTER (1ull << 13)   /* view cluster information (cluster) */
#define AUTH_ACE_CREATE_BUCKET (1ull << 14)  /* create a bucket (cluster) */
#define AUTH_ACE_DESTROY_BUCKET (1ull << 15) /* destroy a bucket (cluster) */
#define AUTH_ACE_MOVE_BUCKET (1ull << 16)    /* rename a bucket (cluster) */
#define AUTH_ACE_ADMIN (1ull << 17)          /* every cluster operation */

#define AUTH_ACCESS_RO                                                                             \
    (AUTH_ACE_GET | AUTH_ACE_OBJ_HEAD | AUTH_ACE_BCK_HEAD | AUTH_ACE_OBJ_LIST) /* "ro" */
#define AUTH_ACCESS_RW                                                                             \
    (AUTH_ACCESS_RO | AUTH_ACE_PUT | AUTH_ACE_APPEND | AUTH_ACE_OBJ_DELETE |                       \
     AUTH_ACE_OBJ_MOVE) /* "rw" */
#define AUTH_ACCESS_BUCKET_ADMIN (AUTH_ACE_PATCH | AUTH_ACE_BCK_SET_ACL | AUTH_ACE_OBJ_UPDATE)
#define AUTH_CLUSTER_RO (AUTH_ACE_LIST_BUCKETS | AUTH_ACE_SHOW_CLUSTER)
#define AUTH_CLUSTER_RW                                                                            \
    (AUTH_CLUSTER_RO | AUTH_ACE_CREATE_BUCKET | AUTH_ACE_DESTROY_BUCKET | AUTH_ACE_MOVE_BUCKET)
#define AUTH_ACCESS_ALL (~0ull) /* "su" */

/* "ro", "rw", "su", a decimal number, or operation names joined by ',' ("GET,PUT", AIStore's
 * names: GET, HEAD-OBJECT, PUT, ..., ADMIN). 0, or -1 when s is none of these. */
int auth_access_parse(const char *s, auth_ace_t *out);

/* ---- token claims (AIStore's cmd/authn/tok AISClaims) */

typedef struct {
    char *id; /* cluster uuid; "" = the default for every cluster */
    auth_ace_t perm;
} auth_clu_acl_t;

typedef struct {
    char *name;
    char *provider; /* "ais" (or "" = ais) */
    char *ns_uuid;  /* the cluster of the bucket; "" = any (Locus) */
    auth_ace_t perm;
} auth_bck_acl_t;

typedef struct {
    char *sub;   /* the user: "sub" (or AIStore's pre-v4.3 "username") */
    bool admin;  /* "admin" */
    int64_t exp; /* "exp" (or pre-v4.3 "expires", RFC 3339), unix seconds; 0 = none */
    int64_t nbf; /* "nbf", unix seconds; 0 = none */
    auth_clu_acl_t *clusters;
    size_t n_clusters;
    auth_bck_acl_t *buckets;
    size_t n_buckets;
} auth_claims_t;

void auth_claims_dispose(auth_claims_t *c);

/* Reads the claims of a token payload. 0, or -1 with err ("missing 'sub' claim", a malformed
 * ACL); fills c either way (dispose it). */
int auth_claims_from_json(json_t *payload, auth_claims_t *c, char *err, size_t errlen);
/* The payload of a token with these claims (new reference): sub, exp, iat, admin, clusters,
 * buckets as AIStore's AuthN writes them (perm as a decimal string). */
json_t *auth_claims_to_json(const auth_claims_t *c, int64_t iat);

/* AIStore's CheckPermissions: may the token's user do `perms` on bucket bck (NULL for cluster
 * operations) of cluster cluster_id? 0, or 403 with err. An admin may do anything; then the
 * bucket's own ACL, then the cluster's ACL, then the default cluster ACL (id ""). Locus adds:
 * a bucket ACL whose namespace uuid is "" applies in every cluster (tokens made without the
 * cluster's uuid, e.g. by `locus auth token`). */
int auth_check(const auth_claims_t *c, const char *cluster_id, const char *bck, auth_ace_t perms,
               char *err, size_t errlen);

/* ---- parsing (no key needed; what the fuzzers drive) */

/* The token of an Authorization header value "Bearer <token>" (scheme case-sensitive as
 * AIStore's, one space): *tok points into hdr, *len its length. 0, or -1 when the header is
 * not a bearer token. */
int auth_parse_bearer(const char *hdr, size_t hdrlen, const char **tok, size_t *len);

/* A token split and decoded, not verified. */
typedef struct {
    char alg[16];         /* the header's "alg" */
    json_t *payload;      /* decoded payload (owned) */
    auth_claims_t claims; /* read from payload */
} auth_token_t;

#define AUTH_TOKEN_MAX 16384 /* longer tokens are refused */

/* Checks a token's form: three base64url segments (no padding, no stray bits, as golang-jwt's
 * strict decoding), a JSON header naming an alg, a JSON object payload with valid claims. 0, or
 * -1 with err. Dispose t either way. */
int auth_token_parse(const char *tok, size_t len, auth_token_t *t, char *err, size_t errlen);
void auth_token_dispose(auth_token_t *t);
/* The whole Authorization header value (hdrlen bytes, not NUL-terminated): auth_parse_bearer,
 * then auth_token_parse. One entry point for a fuzzer. 0, or -1 with err; dispose t either way. */
int auth_parse_authorization(const char *hdr, size_t hdrlen, auth_token_t *t, char *err,
                             size_t errlen);

/* ---- verification */

/* The keys that verify user tokens. */
typedef struct {
    const unsigned char *secret; /* HS256 secret (AIStore auth.signature.key), or NULL */
    size_t secret_len;
    const unsigned char *pubkey; /* PEM of the RSA public key (RS256/384/512), or NULL */
    size_t pubkey_len;
} auth_keys_t;

/* Verifies a token with keys at time now (unix seconds): its form, an alg the keys allow (HS256
 * with a secret, RS256/RS384/RS512 with a public key; never "none"), the signature (libjwt),
 * "exp" (required) and "nbf". 0 with the claims in c (dispose them), or -1 with err (401). */
int auth_token_verify(const auth_keys_t *keys, const char *tok, size_t len, int64_t now,
                      auth_claims_t *c, char *err, size_t errlen);

/* A new HS256 token (caller frees) with claims c, issued at iat: AIStore's format. NULL with err
 * on failure. */
char *auth_token_mint(const unsigned char *secret, size_t slen, const auth_claims_t *c, int64_t iat,
                      char *err, size_t errlen);

/* ---- this node's configuration (auth_init) */

/* Loads the keys of the node config: cluster_secret / cluster_secret_file, and with auth_enabled
 * auth_secret / auth_secret_file and auth_pubkey_file. Refuses auth_enabled without a token key
 * or without a cluster secret (redirects and intra-cluster calls are signed with it), and secret
 * files others may read. 0 or -1 with err. */
int auth_init(const config_t *cfg, char *err, size_t errlen);
/* Forgets the keys (tests). */
void auth_reset(void);
/* Clients must present a valid token. */
bool auth_enabled(void);
/* A cluster secret is configured: intra-cluster calls are signed and checked. */
bool auth_intra_enabled(void);
/* The node's token keys (valid while the node runs). */
const auth_keys_t *auth_node_keys(void);
/* For tests: set the keys directly (copied); secret may be NULL. */
void auth_set_cluster_secret(const void *secret, size_t len);
void auth_set_enabled(bool on, const auth_keys_t *keys);

/* ---- signatures with the cluster secret */

/* The body digest an intra-cluster request signs (header AUTH_HDR_DIGEST), one of two forms:
 *  - "p1305-<nonce>-<tag>" (what nodes send): a Poly1305 tag (32 hex digits) of the body under a
 *    one-time key, HMAC-SHA256(cluster secret, "locus-body-v1\n" nonce), nonce 32 random hex
 *    digits per request. Poly1305 runs at ~6x the speed of SHA-256 here, and the body is digested
 *    twice per hop (by the sender and the receiver);
 *  - 64 hex digits: the body's SHA-256 (accepted, e.g. from scripts).
 * Without the cluster secret no p1305 digest can be made or checked (the signature is off too).
 */
#define AUTH_DIGEST_LEN 72 /* the longest digest's length + 1 */
/* Whether d has one of the two forms. */
bool auth_digest_valid(const char *d);
/* An incremental digest: new(NULL) starts a p1305 one with a fresh nonce (a sender); new(claimed)
 * one of the same kind and nonce as claimed (a receiver), NULL when claimed is malformed or is
 * p1305 with no secret. update, then final (frees h) writes the digest; free drops it unfinished.
 */
typedef struct auth_digest_s auth_digest_t;
auth_digest_t *auth_digest_new(const char *claimed);
void auth_digest_update(auth_digest_t *h, const void *p, size_t n);
void auth_digest_final(auth_digest_t *h, char out[AUTH_DIGEST_LEN]);
void auth_digest_free(auth_digest_t *h);
/* The digest of a buffer, and of size bytes of fd from offset off (0 or -errno), as a sender;
 * -1 without a secret. */
int auth_digest_buf(const void *p, size_t n, char out[AUTH_DIGEST_LEN]);
int auth_digest_fd(int fd, int64_t off, int64_t size, char out[AUTH_DIGEST_LEN]);
/* Finishes h (frees it): whether the body it saw is the one claimed (constant-time). */
bool auth_digest_check(auth_digest_t *h, const char *claimed);
/* Whether the body p[0..n) is the one claimed. */
bool auth_digest_matches(const char *claimed, const void *p, size_t n);
/* Hex SHA-256 of a buffer (out: 65 bytes). */
void auth_sha256_hex(const void *p, size_t n, char out[65]);

/* The percent-decoded path of a URL (caller frees; NULL when malformed or holding %00) and, in
 * *query, a pointer to its raw query ("" when none). */
char *auth_url_path(const char *url, const char **query);

/* The canonical form of a request that signatures cover: method, the percent-decoded path, and
 * every query parameter (form-decoded) in order except those named skip (NULL-terminated list,
 * may be NULL), each length-prefixed. Caller frees. */
char *auth_canon_request(const char *method, const char *path, const char *raw_query,
                         const char *const *skip);

/* Intra-cluster signature header set. */
#define AUTH_HDR_CALLER "Ais-Caller-Id"        /* the sender's daemon id (AIStore's name) */
#define AUTH_HDR_DATE "Locus-Intra-Date"       /* unix seconds at signing */
#define AUTH_HDR_DIGEST "Locus-Content-Digest" /* the body's digest (above) */
#define AUTH_HDR_SIG "Locus-Intra-Sig"         /* base64url HMAC-SHA256 */
#define AUTH_INTRA_WINDOW 60                   /* seconds of clock difference allowed */

/* The signature (base64url, no padding; out: at least 44 bytes) of an intra-cluster request:
 * HMAC-SHA256(cluster secret, "locus-intra-v1\n" canon "\n" date "\n" caller "\n" digest).
 * -1 without a cluster secret. */
int auth_intra_sign(const char *canon, int64_t date, const char *caller, const char *digest,
                    char out[64]);
/* Checks a received signature at time now: 0, or -1 with err (wrong signature, a date outside
 * the window, a malformed header). */
int auth_intra_verify(const char *canon, const char *date, const char *caller, const char *digest,
                      const char *sig, int64_t now, char *err, size_t errlen);

/* Redirect signatures: query parameters a proxy appends to a 307 Location. */
#define AUTH_Q_EXP "auth_exp" /* unix seconds after which the redirect is refused */
#define AUTH_Q_SIG "auth_sig" /* base64url HMAC-SHA256 */
#define AUTH_REDIRECT_TTL 60  /* seconds a redirect stays valid */

/* "&auth_exp=E&auth_sig=S" for a redirect of method to location (a URL whose query the
 * signature covers whole, auth_exp included). Caller frees; NULL without a cluster secret. */
char *auth_redirect_sign(const char *method, const char *location, int64_t now);
/* Checks the redirect signature of a request (path decoded, raw query as received): 0, or -1
 * with err (none, wrong, expired). */
int auth_redirect_verify(const char *method, const char *path, const char *raw_query, int64_t now,
                         char *err, size_t errlen);

#endif
