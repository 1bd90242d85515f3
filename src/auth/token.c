/*
 * token.c - AIStore AuthN tokens: the Authorization header, the token's form and claims
 * (AIStore's cmd/authn/tok AISClaims), signature verification with libjwt, and minting.
 *
 * DESIGN
 * A token is checked in two steps. auth_token_parse() needs no key: it checks the three
 * base64url segments strictly, reads the header's alg and the claims with jansson; it is what
 * the fuzzers drive. auth_token_verify() then lets libjwt check the signature with the key the
 * alg calls for, after refusing any alg the node's keys do not allow: libjwt 1.10 takes the alg
 * from the token, so an HS256 token "signed" with the RSA public key's PEM as its secret would
 * otherwise pass (algorithm confusion, docs/design.md §13.12), and "none" is never accepted.
 *
 * Verification costs ~12 us for HS256 and ~550 us for RS256 (libjwt parses the PEM key on every
 * call), and a client sends the same token with every request: tokens verified with the node's
 * own keys are remembered (CACHE_SLOTS, by the SHA-256 of the token) with their claims, so a
 * token seen again costs a digest and a copy; its exp and nbf are still checked each time.
 */
#include "auth/internal.h"
#include "common/util.h"

#include <errno.h>
#include <jwt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void auth_claims_dispose(auth_claims_t *c)
{
    free(c->sub);
    for (size_t i = 0; i < c->n_clusters; i++)
        free(c->clusters[i].id);
    free(c->clusters);
    for (size_t i = 0; i < c->n_buckets; i++) {
        free(c->buckets[i].name);
        free(c->buckets[i].provider);
        free(c->buckets[i].ns_uuid);
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

void auth_token_dispose(auth_token_t *t)
{
    json_decref(t->payload);
    auth_claims_dispose(&t->claims);
    memset(t, 0, sizeof(*t));
}

int auth_parse_bearer(const char *hdr, size_t hdrlen, const char **tok, size_t *len)
{
    static const char scheme[] = "Bearer ";
    size_t sl = sizeof(scheme) - 1;
    if (hdr == NULL || hdrlen <= sl || memcmp(hdr, scheme, sl) != 0)
        return -1;
    const char *t = hdr + sl;
    size_t n = hdrlen - sl;
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0 || memchr(t, ' ', n) != NULL)
        return -1;
    *tok = t;
    *len = n;
    return 0;
}

/* ---------------------------------------------------------------- claims */

/* A permission: AIStore writes it as a decimal string (`json:"perm,string"`); a number works too;
 * absent is 0 (omitempty). 0 or -1. */
static int perm_of(json_t *v, auth_ace_t *out)
{
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (auth_ace_t)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) > 20)
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || s[0] == '-')
        return -1;
    *out = (auth_ace_t)n;
    return 0;
}

static char *str_or_empty(json_t *v)
{
    return xstrdup(json_is_string(v) ? json_string_value(v) : "");
}

static int read_clusters(json_t *arr, auth_claims_t *c, char *err, size_t errlen)
{
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "claim 'clusters' is not an array");
        return -1;
    }
    c->clusters = xcalloc(json_array_size(arr) + 1, sizeof(auth_clu_acl_t));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_null(e))
            continue;
        json_t *id = json_object_get(e, "id");
        auth_clu_acl_t *a = &c->clusters[c->n_clusters];
        if (!json_is_object(e) || (id && !json_is_string(id)) ||
            perm_of(json_object_get(e, "perm"), &a->perm) < 0) {
            snprintf(err, errlen, "claim 'clusters': entry %zu is malformed", i);
            return -1;
        }
        a->id = str_or_empty(id);
        c->n_clusters++;
    }
    return 0;
}

static int read_bucket(json_t *e, auth_bck_acl_t *a)
{
    json_t *bck = json_object_get(e, "bck");
    json_t *ns = json_object_get(bck, "namespace");
    json_t *name = json_object_get(bck, "name");
    if (!json_is_object(bck) || !json_is_string(name) || json_string_length(name) == 0 ||
        perm_of(json_object_get(e, "perm"), &a->perm) < 0)
        return -1;
    a->name = xstrdup(json_string_value(name));
    a->provider = str_or_empty(json_object_get(bck, "provider"));
    a->ns_uuid = str_or_empty(json_object_get(ns, "uuid"));
    return 0;
}

static int read_buckets(json_t *arr, auth_claims_t *c, char *err, size_t errlen)
{
    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "claim 'buckets' is not an array");
        return -1;
    }
    c->buckets = xcalloc(json_array_size(arr) + 1, sizeof(auth_bck_acl_t));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_null(e))
            continue;
        if (!json_is_object(e) || read_bucket(e, &c->buckets[c->n_buckets]) < 0) {
            auth_bck_acl_t *a = &c->buckets[c->n_buckets];
            free(a->name);
            free(a->provider);
            free(a->ns_uuid);
            memset(a, 0, sizeof(*a));
            snprintf(err, errlen, "claim 'buckets': entry %zu is malformed", i);
            return -1;
        }
        c->n_buckets++;
    }
    return 0;
}

/* RFC 3339 ("2026-01-02T15:04:05.123Z", "...+01:00") to unix seconds; -1 when malformed. The
 * "expires" claim of AIStore's tokens before v4.3 (a Go time.Time). */
static int64_t parse_rfc3339(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int64_t off = 0;
    if (*p == '+' || *p == '-') {
        int hh, mm, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2 || k != 5 || p[6] != '\0')
            return -1;
        off = (int64_t)(hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
    } else if (strcmp(p, "Z") != 0) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t - off;
}

/* A NumericDate: a JSON number of seconds (fractions allowed), absent = 0. 0 or -1. */
static int numeric_date(json_t *v, int64_t *out)
{
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!(d >= 0 && d < 9e15))
        return -1;
    *out = (int64_t)d;
    return 0;
}

int auth_claims_from_json(json_t *payload, auth_claims_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (!json_is_object(payload)) {
        snprintf(err, errlen, "token payload is not a JSON object");
        return -1;
    }
    json_t *sub = json_object_get(payload, "sub");
    if (!json_is_string(sub) || json_string_length(sub) == 0)
        sub = json_object_get(payload, "username");
    if (!json_is_string(sub) || json_string_length(sub) == 0) {
        snprintf(err, errlen, "missing 'sub' claim");
        return -1;
    }
    c->sub = xstrdup(json_string_value(sub));
    json_t *admin = json_object_get(payload, "admin");
    if (admin && !json_is_boolean(admin) && !json_is_null(admin)) {
        snprintf(err, errlen, "claim 'admin' is not a boolean");
        return -1;
    }
    c->admin = json_is_true(admin);
    if (numeric_date(json_object_get(payload, "exp"), &c->exp) < 0 ||
        numeric_date(json_object_get(payload, "nbf"), &c->nbf) < 0) {
        snprintf(err, errlen, "claim 'exp' or 'nbf' is not a number of seconds");
        return -1;
    }
    const char *legacy = json_string_value(json_object_get(payload, "expires"));
    if (c->exp == 0 && legacy != NULL) {
        int64_t t = parse_rfc3339(legacy);
        if (t <= 0) {
            snprintf(err, errlen, "claim 'expires' is not an RFC 3339 time");
            return -1;
        }
        c->exp = t;
    }
    if (read_clusters(json_object_get(payload, "clusters"), c, err, errlen) < 0 ||
        read_buckets(json_object_get(payload, "buckets"), c, err, errlen) < 0)
        return -1;
    return 0;
}

json_t *auth_claims_to_json(const auth_claims_t *c, int64_t iat)
{
    json_t *clusters = json_array(), *buckets = json_array();
    char perm[24];
    for (size_t i = 0; i < c->n_clusters; i++) {
        snprintf(perm, sizeof(perm), "%llu", (unsigned long long)c->clusters[i].perm);
        json_array_append_new(clusters,
                              json_pack("{s:s, s:s}", "id", c->clusters[i].id, "perm", perm));
    }
    for (size_t i = 0; i < c->n_buckets; i++) {
        const auth_bck_acl_t *b = &c->buckets[i];
        snprintf(perm, sizeof(perm), "%llu", (unsigned long long)b->perm);
        json_array_append_new(
            buckets, json_pack("{s:{s:s, s:s, s:{s:s, s:s}}, s:s}", "bck", "name", b->name,
                               "provider", b->provider[0] ? b->provider : "ais", "namespace",
                               "uuid", b->ns_uuid ? b->ns_uuid : "", "name", "", "perm", perm));
    }
    json_t *j = json_pack("{s:s, s:I, s:I, s:s, s:b}", "sub", c->sub, "exp", (json_int_t)c->exp,
                          "iat", (json_int_t)iat, "iss", "locus", "admin", (int)c->admin);
    json_object_set_new(j, "clusters", c->n_clusters ? clusters : json_null());
    if (!c->n_clusters)
        json_decref(clusters);
    if (c->n_buckets)
        json_object_set_new(j, "buckets", buckets);
    else
        json_decref(buckets);
    return j;
}

/* ---------------------------------------------------------------- form */

/* Decodes one base64url segment as a JSON object (new reference) or NULL. */
static json_t *segment_json(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *raw = b64url_decode(s, n, &len);
    if (raw == NULL)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int auth_token_parse(const char *tok, size_t len, auth_token_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (len == 0 || len > AUTH_TOKEN_MAX) {
        snprintf(err, errlen, "token is empty or longer than %d bytes", AUTH_TOKEN_MAX);
        return -1;
    }
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL || d1 == tok ||
        d2 == d1 + 1) {
        snprintf(err, errlen, "malformed token: expecting header.payload.signature");
        return -1;
    }
    json_t *hdr = segment_json(tok, (size_t)(d1 - tok));
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    json_t *typ = json_object_get(hdr, "typ");
    if (hdr == NULL || alg == NULL || strlen(alg) >= sizeof(t->alg) ||
        (typ != NULL && !json_is_string(typ))) {
        json_decref(hdr);
        snprintf(err, errlen, "malformed token header");
        return -1;
    }
    snprintf(t->alg, sizeof(t->alg), "%s", alg);
    json_decref(hdr);
    size_t siglen = len - (size_t)(d2 + 1 - tok);
    size_t dummy;
    unsigned char *sig = siglen ? b64url_decode(d2 + 1, siglen, &dummy) : NULL;
    if (siglen && sig == NULL) {
        snprintf(err, errlen, "malformed token signature");
        return -1;
    }
    free(sig);
    t->payload = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (t->payload == NULL) {
        snprintf(err, errlen, "malformed token payload");
        return -1;
    }
    char why[256];
    if (auth_claims_from_json(t->payload, &t->claims, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "invalid token: %s", why);
        return -1;
    }
    return 0;
}

int auth_parse_authorization(const char *hdr, size_t hdrlen, auth_token_t *t, char *err,
                             size_t errlen)
{
    const char *tok;
    size_t len;
    memset(t, 0, sizeof(*t));
    if (auth_parse_bearer(hdr, hdrlen, &tok, &len) < 0) {
        snprintf(err, errlen, "invalid Authorization header: expecting \"Bearer <token>\"");
        return -1;
    }
    return auth_token_parse(tok, len, t, err, errlen);
}

/* ---------------------------------------------------------------- verified tokens */

#define CACHE_SLOTS 1024

/* Tokens verified with the node's keys (auth_node_keys), direct-mapped by their digest. */
static struct {
    bool used;
    unsigned char digest[32];
    auth_claims_t claims;
} cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER; /* guards cache; leaf lock */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void claims_copy(auth_claims_t *dst, const auth_claims_t *src)
{
    *dst = *src;
    dst->sub = dup_or_null(src->sub);
    dst->clusters = xcalloc(src->n_clusters + 1, sizeof(auth_clu_acl_t));
    for (size_t i = 0; i < src->n_clusters; i++) {
        dst->clusters[i] = src->clusters[i];
        dst->clusters[i].id = dup_or_null(src->clusters[i].id);
    }
    dst->buckets = xcalloc(src->n_buckets + 1, sizeof(auth_bck_acl_t));
    for (size_t i = 0; i < src->n_buckets; i++) {
        const auth_bck_acl_t *b = &src->buckets[i];
        dst->buckets[i] = (auth_bck_acl_t){dup_or_null(b->name), dup_or_null(b->provider),
                                           dup_or_null(b->ns_uuid), b->perm};
    }
}

void auth_token_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].used)
            auth_claims_dispose(&cache[i].claims);
        cache[i].used = false;
    }
    pthread_mutex_unlock(&cache_lock);
}

static size_t slot_of(const unsigned char d[32])
{
    return ((size_t)d[0] << 8 | d[1]) % CACHE_SLOTS;
}

/* True with a copy of the claims when the token was verified before. */
static bool cache_get(const unsigned char d[32], auth_claims_t *c)
{
    size_t i = slot_of(d);
    pthread_mutex_lock(&cache_lock);
    bool hit = cache[i].used && memcmp(cache[i].digest, d, 32) == 0;
    if (hit)
        claims_copy(c, &cache[i].claims);
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const unsigned char d[32], const auth_claims_t *c)
{
    size_t i = slot_of(d);
    pthread_mutex_lock(&cache_lock);
    if (cache[i].used)
        auth_claims_dispose(&cache[i].claims);
    memcpy(cache[i].digest, d, 32);
    claims_copy(&cache[i].claims, c);
    cache[i].used = true;
    pthread_mutex_unlock(&cache_lock);
}

/* 0 when the claims are valid at now, else -1 with err. */
static int check_times(const auth_claims_t *c, int64_t now, char *err, size_t errlen)
{
    if (c->exp == 0) {
        snprintf(err, errlen, "invalid token: no expiration ('exp' claim)");
        return -1;
    }
    if (now >= c->exp) {
        snprintf(err, errlen, "token expired (user %s)", c->sub);
        return -1;
    }
    if (c->nbf && now < c->nbf) {
        snprintf(err, errlen, "token is not valid yet (user %s)", c->sub);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- verify, mint */

/* The key for alg, or NULL (err filled) when the node's keys do not allow it. */
static const unsigned char *key_for(const auth_keys_t *k, const char *alg, int *klen, char *err,
                                    size_t errlen)
{
    if (strcmp(alg, "HS256") == 0 && k->secret) {
        *klen = (int)k->secret_len;
        return k->secret;
    }
    if ((strcmp(alg, "RS256") == 0 || strcmp(alg, "RS384") == 0 || strcmp(alg, "RS512") == 0) &&
        k->pubkey) {
        *klen = (int)k->pubkey_len;
        return k->pubkey;
    }
    snprintf(err, errlen, "invalid token: signing method %s is not accepted (this cluster: %s%s%s)",
             alg, k->secret ? "HS256" : "", k->secret && k->pubkey ? ", " : "",
             k->pubkey ? "RS256/RS384/RS512" : "");
    return NULL;
}

int auth_token_verify(const auth_keys_t *keys, const char *tok, size_t len, int64_t now,
                      auth_claims_t *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    unsigned char d[32];
    bool cached = keys == auth_node_keys() && len <= AUTH_TOKEN_MAX;
    if (cached) {
        sha256_raw(tok, len, d);
        if (cache_get(d, c)) {
            if (check_times(c, now, err, errlen) == 0)
                return 0;
            auth_claims_dispose(c);
            return -1;
        }
    }
    auth_token_t t;
    int rc = -1;
    if (auth_token_parse(tok, len, &t, err, errlen) < 0)
        goto out;
    int klen = 0;
    const unsigned char *key = key_for(keys, t.alg, &klen, err, errlen);
    if (key == NULL)
        goto out;
    char *copy = xstrndup(tok, len);
    jwt_t *jwt = NULL;
    int jrc = jwt_decode(&jwt, copy, key, klen);
    free(copy);
    if (jrc != 0 || jwt == NULL || jwt_get_alg(jwt) != jwt_str_alg(t.alg)) {
        snprintf(err, errlen, "invalid token: signature verification failed");
        jwt_free(jwt);
        goto out;
    }
    jwt_free(jwt);
    if (cached) /* the signature holds: the times are checked on every use */
        cache_put(d, &t.claims);
    if (check_times(&t.claims, now, err, errlen) < 0)
        goto out;
    *c = t.claims;
    memset(&t.claims, 0, sizeof(t.claims));
    rc = 0;
out:
    auth_token_dispose(&t);
    return rc;
}

char *auth_token_mint(const unsigned char *secret, size_t slen, const auth_claims_t *c, int64_t iat,
                      char *err, size_t errlen)
{
    jwt_t *jwt = NULL;
    char *out = NULL;
    json_t *j = auth_claims_to_json(c, iat);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (slen == 0 || jwt_new(&jwt) != 0) {
        snprintf(err, errlen, "cannot make a token: %s", slen ? "out of memory" : "empty secret");
        goto out;
    }
    if (jwt_add_grants_json(jwt, text) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, secret, (int)slen) != 0 ||
        (out = jwt_encode_str(jwt)) == NULL)
        snprintf(err, errlen, "cannot make a token (libjwt)");
out:
    jwt_free(jwt);
    free(text);
    return out;
}
