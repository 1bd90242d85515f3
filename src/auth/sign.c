/*
 * sign.c - what the cluster secret signs (docs/security.md, "Intra-cluster trust" and
 * "Redirects"): the canonical form of a request, the intra-cluster signature headers and the
 * signature on a proxy's redirects; base64url and HMAC-SHA256 for the whole component.
 */
#include "auth/internal.h"
#include "common/util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char b64url_tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void b64url_encode(const unsigned char *p, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[j++] = b64url_tbl[(v >> 18) & 63];
        out[j++] = b64url_tbl[(v >> 12) & 63];
        if (i + 1 < n)
            out[j++] = b64url_tbl[(v >> 6) & 63];
        if (i + 2 < n)
            out[j++] = b64url_tbl[v & 63];
    }
    out[j] = '\0';
}

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = xmalloc(n / 4 * 3 + 3);
    size_t j = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val((unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[j++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) { /* stray bits after the last byte: not the one encoding of these bytes */
        free(out);
        return NULL;
    }
    out[j] = '\0';
    *outlen = j;
    return out;
}

/* HMAC-SHA256 keeps one keyed context per thread: OpenSSL 3's one-shot HMAC() looks the MAC
 * and the digest up by name on every call, and every intra-cluster request signs twice and
 * verifies twice with the same key, the cluster secret (~6 us of a 4 KiB S3 GET's relay). */
typedef struct {
    EVP_MAC_CTX *ctx;
    size_t klen;
    bool keyed; /* ctx holds key[0..klen) */
    unsigned char key[128];
} hmac_tls_t;

static EVP_MAC *hmac_alg;
static pthread_key_t hmac_tls;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_tls_free(void *p)
{
    hmac_tls_t *t = p;
    EVP_MAC_CTX_free(t->ctx);
    OPENSSL_cleanse(t, sizeof(*t));
    free(t);
}

static void hmac_init_once(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (hmac_alg == NULL || pthread_key_create(&hmac_tls, hmac_tls_free) != 0)
        locus_panic("OpenSSL has no HMAC");
}

void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    pthread_once(&hmac_once, hmac_init_once);
    hmac_tls_t *t = pthread_getspecific(hmac_tls);
    if (t == NULL) {
        t = xcalloc(1, sizeof(*t));
        t->ctx = EVP_MAC_CTX_new(hmac_alg);
        if (t->ctx == NULL || pthread_setspecific(hmac_tls, t) != 0)
            locus_panic("HMAC context: out of memory");
    }
    int ok;
    if (t->keyed && klen == t->klen && CRYPTO_memcmp(key, t->key, klen) == 0) {
        ok = EVP_MAC_init(t->ctx, NULL, 0, NULL); /* the same key again */
    } else {
        static const unsigned char empty = 0;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                               OSSL_PARAM_construct_end()};
        ok = EVP_MAC_init(t->ctx, klen ? key : &empty, klen, params);
        t->keyed = ok && klen <= sizeof(t->key);
        t->klen = klen;
        if (t->keyed)
            memcpy(t->key, key, klen);
    }
    size_t olen = 0;
    if (!ok || !EVP_MAC_update(t->ctx, msg, mlen) || !EVP_MAC_final(t->ctx, out, &olen, 32) ||
        olen != 32)
        locus_panic("HMAC-SHA256 failed");
}

bool str_equal_ct(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}

void hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void sha256_raw(const void *p, size_t n, unsigned char out[32])
{
    unsigned int mdlen = 0;
    EVP_Digest(p, n, out, &mdlen, EVP_sha256(), NULL);
}

void auth_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    sha256_raw(p, n, md);
    hex_encode(md, sizeof(md), out);
}

/* Form-decodes s[0..n) ('+' is a space, malformed escapes kept as they are) as the HTTP server
 * decodes query keys and values. Caller frees. */
static char *form_decode(const char *s, size_t n)
{
    char *tmp = xstrndup(s, n);
    for (size_t i = 0; i < n; i++)
        if (tmp[i] == '+')
            tmp[i] = ' ';
    char *out = url_decode(tmp, n, NULL);
    if (out == NULL)
        return tmp;
    free(tmp);
    return out;
}

static bool skipped(const char *key, const char *const *skip)
{
    for (const char *const *s = skip; s && *s; s++)
        if (strcmp(*s, key) == 0)
            return true;
    return false;
}

char *auth_canon_request(const char *method, const char *path, const char *raw_query,
                         const char *const *skip)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "%s\n%zu:%s\n", method, strlen(path), path);
    const char *p = raw_query ? raw_query : "";
    while (*p) {
        size_t seg = strcspn(p, "&");
        if (seg > 0) {
            const char *eq = memchr(p, '=', seg);
            size_t klen = eq ? (size_t)(eq - p) : seg;
            char *k = form_decode(p, klen);
            char *v = eq ? form_decode(eq + 1, seg - klen - 1) : xstrdup("");
            if (!skipped(k, skip))
                buf_printf(&b, "%zu:%s=%zu:%s\n", strlen(k), k, strlen(v), v);
            free(k);
            free(v);
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return buf_steal(&b);
}

/* The value of query parameter key in raw_query, form-decoded (caller frees), or NULL. */
static char *query_value(const char *raw_query, const char *key)
{
    size_t kl = strlen(key);
    const char *p = raw_query;
    while (p && *p) {
        size_t seg = strcspn(p, "&");
        if (seg > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
            return form_decode(p + kl + 1, seg - kl - 1);
        p += seg;
        if (*p == '&')
            p++;
    }
    return NULL;
}

/* HMAC-SHA256 of the parts joined by '\n' with the cluster secret, base64url into out. */
static int sign_parts(const char *const *parts, size_t n, char out[64])
{
    size_t slen;
    const unsigned char *secret = auth_cluster_secret(&slen);
    if (secret == NULL)
        return -1;
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_append(&b, "\n", 1);
        buf_puts(&b, parts[i]);
    }
    unsigned char mac[32];
    hmac_sha256(secret, slen, b.base, b.len, mac);
    buf_dispose(&b);
    b64url_encode(mac, sizeof(mac), out);
    return 0;
}

int auth_intra_sign(const char *canon, int64_t date, const char *caller, const char *digest,
                    char out[64])
{
    char ds[32];
    snprintf(ds, sizeof(ds), "%lld", (long long)date);
    const char *parts[] = {"locus-intra-v1", canon, ds, caller, digest};
    return sign_parts(parts, ARRAY_SIZE(parts), out);
}

/* Parses a decimal unix time; -1 when malformed. */
static int64_t parse_time(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 18)
        return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int auth_intra_verify(const char *canon, const char *date, const char *caller, const char *digest,
                      const char *sig, int64_t now, char *err, size_t errlen)
{
    int64_t d = parse_time(date);
    if (d < 0 || caller == NULL || caller[0] == '\0' || !auth_digest_valid(digest) || sig == NULL) {
        snprintf(err, errlen, "intra-cluster request: malformed signature headers");
        return -1;
    }
    if (d < now - AUTH_INTRA_WINDOW || d > now + AUTH_INTRA_WINDOW) {
        snprintf(err, errlen,
                 "intra-cluster request: date %lld is more than %d s away from this node's clock "
                 "(%lld)",
                 (long long)d, AUTH_INTRA_WINDOW, (long long)now);
        return -1;
    }
    char want[64];
    if (auth_intra_sign(canon, d, caller, digest, want) < 0 || !str_equal_ct(want, sig)) {
        snprintf(err, errlen, "intra-cluster request: invalid signature (wrong cluster secret?)");
        return -1;
    }
    return 0;
}

char *auth_url_path(const char *url, const char **query)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?");
    size_t plen = strcspn(p, "?");
    *query = p[plen] == '?' ? p + plen + 1 : "";
    size_t dlen = 0;
    char *path = url_decode(plen ? p : "/", plen ? plen : 1, &dlen);
    if (path && strlen(path) != dlen) {
        free(path);
        return NULL;
    }
    return path;
}

char *auth_redirect_sign(const char *method, const char *location, int64_t now)
{
    if (auth_cluster_secret(NULL) == NULL)
        return NULL;
    const char *q;
    char *path = auth_url_path(location, &q);
    if (path == NULL)
        return NULL;
    const char *sep = q[0] ? "&" : (strchr(location, '?') ? "" : "?");
    char *exp = xasprintf("%s=%lld", AUTH_Q_EXP, (long long)(now + AUTH_REDIRECT_TTL));
    char *query = xasprintf("%s%s%s", q, q[0] ? "&" : "", exp);
    static const char *const skip[] = {AUTH_Q_SIG, NULL};
    char *canon = auth_canon_request(method, path, query, skip);
    const char *parts[] = {"locus-redirect-v1", canon};
    char sig[64];
    sign_parts(parts, ARRAY_SIZE(parts), sig);
    char *out = xasprintf("%s%s&%s=%s", sep, exp, AUTH_Q_SIG, sig);
    free(canon);
    free(query);
    free(exp);
    free(path);
    return out;
}

int auth_redirect_verify(const char *method, const char *path, const char *raw_query, int64_t now,
                         char *err, size_t errlen)
{
    char *sig = query_value(raw_query, AUTH_Q_SIG);
    char *exps = query_value(raw_query, AUTH_Q_EXP);
    int64_t exp = parse_time(exps);
    int rc = -1;
    if (sig == NULL || exp < 0) {
        snprintf(err, errlen, "no valid redirect signature");
        goto out;
    }
    if (now > exp || exp > now + AUTH_REDIRECT_TTL + AUTH_INTRA_WINDOW) {
        snprintf(err, errlen, "the redirect expired (%s=%lld, now %lld): ask the proxy again",
                 AUTH_Q_EXP, (long long)exp, (long long)now);
        goto out;
    }
    static const char *const skip[] = {AUTH_Q_SIG, NULL};
    char *canon = auth_canon_request(method, path, raw_query, skip);
    const char *parts[] = {"locus-redirect-v1", canon};
    char want[64];
    int s = sign_parts(parts, ARRAY_SIZE(parts), want);
    free(canon);
    if (s < 0 || !str_equal_ct(want, sig)) {
        snprintf(err, errlen, "invalid redirect signature");
        goto out;
    }
    rc = 0;
out:
    free(sig);
    free(exps);
    return rc;
}
