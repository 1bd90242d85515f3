/*
 * sigv4.c - S3 request authentication with auth on: AWS Signature Version 4, in the
 * Authorization header or in a presigned URL's query, checked against the access keys of the
 * node's s3_keys_file ("<access key id> <secret>" per line, '#' comments, mode 0600). A valid
 * signature by a configured key grants the S3 API (the keys are the operator's, like the
 * cluster secret). The payload hash the client signed (x-amz-content-sha256) is checked against
 * the body later, when the body is there (s3_ctx_t.want_sha).
 */
#include "s3/internal.h"
#include "cluster/cluster.h"
#include "common/util.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define KEYS_MAX 256
#define SKEW_SEC (15 * 60)
#define PRESIGN_MAX_SEC (7 * 24 * 3600)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    char id[129];
    char secret[129];
} s3_key_t;

static s3_key_t keys[KEYS_MAX]; /* read-only after s3_init */
static size_t n_keys;

int s3_init(const char *keys_file, char *err, size_t errlen)
{
    n_keys = 0;
    if (keys_file == NULL || keys_file[0] == '\0')
        return 0;
    struct stat sb;
    char *text = NULL;
    size_t len = 0;
    if (stat(keys_file, &sb) != 0 || read_file(keys_file, &text, &len) != 0) {
        snprintf(err, errlen, "s3_keys_file: cannot read %s", keys_file);
        return -1;
    }
    if (sb.st_mode & 077) {
        free(text);
        snprintf(err, errlen, "s3_keys_file: %s is readable by others: chmod 600 it", keys_file);
        return -1;
    }
    int rc = 0, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char id[256], secret[256], extra[2];
        if (line[strspn(line, " \t\r")] == '\0' || line[strspn(line, " \t")] == '#')
            continue;
        int n = sscanf(line, "%255s %255s %1s", id, secret, extra);
        if (n != 2 || strlen(id) >= sizeof(keys[0].id) ||
            strlen(secret) >= sizeof(keys[0].secret) || n_keys == KEYS_MAX) {
            snprintf(err, errlen, "s3_keys_file %s:%d: expecting \"<access key id> <secret>\"",
                     keys_file, lineno);
            rc = -1;
            break;
        }
        memcpy(keys[n_keys].id, id, strlen(id) + 1); /* lengths checked above */
        memcpy(keys[n_keys].secret, secret, strlen(secret) + 1);
        n_keys++;
    }
    free(text);
    return rc;
}

static const char *secret_of(const char *id)
{
    for (size_t i = 0; i < n_keys; i++)
        if (strcmp(keys[i].id, id) == 0)
            return keys[i].secret;
    return NULL;
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

static void hex32(const unsigned char *d, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The sorted canonical query: every parameter but X-Amz-Signature, key and value decoded then
 * encoded the AWS way. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void canonical_query(const char *raw, buf_t *out)
{
    char *copy = xstrdup(raw), *save = NULL;
    char **parts = NULL;
    size_t n = 0;
    for (char *p = strtok_r(copy, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        char *k = http_query_decode(p), *v = http_query_decode(eq ? eq + 1 : "");
        if (strcmp(k, "X-Amz-Signature") != 0) {
            char *ek = url_encode(k, NULL), *ev = url_encode(v, NULL);
            parts = xrealloc(parts, (n + 1) * sizeof(char *));
            parts[n++] = xasprintf("%s=%s", ek, ev);
            free(ek);
            free(ev);
        }
        free(k);
        free(v);
    }
    if (n > 1)
        qsort(parts, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%s%s", i ? "&" : "", parts[i]);
        free(parts[i]);
    }
    free(parts);
    free(copy);
}

/* name:value lines of the signed headers (values trimmed, inner runs of spaces made one).
 * false when a signed header is missing. */
static bool canonical_headers(http_req_t *req, const char *signed_hdrs, buf_t *out)
{
    char *copy = xstrdup(signed_hdrs), *save = NULL;
    bool ok = true;
    for (char *h = strtok_r(copy, ";", &save); h && ok; h = strtok_r(NULL, ";", &save)) {
        const char *v = http_header(req, h);
        if (v == NULL) {
            ok = false;
            break;
        }
        buf_printf(out, "%s:", h);
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        for (size_t i = 0; i < vl; i++)
            if (!(v[i] == ' ' && i > 0 && v[i - 1] == ' '))
                buf_append(out, &v[i], 1);
        buf_puts(out, "\n");
    }
    free(copy);
    return ok;
}

/* What a signature is made of, from the header or the query. */
typedef struct {
    char cred[512]; /* <id>/<date>/<region>/<service>/aws4_request */
    char signed_hdrs[1024];
    char sig[65];
    char date[17];    /* 20060102T150405Z */
    char payload[65]; /* x-amz-content-sha256 or UNSIGNED-PAYLOAD */
    long expires;     /* presigned: seconds; -1 for the header form */
} sigv4_t;

static bool copy_field(char *dst, size_t dlen, const char *src, size_t n)
{
    if (n == 0 || n >= dlen)
        return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
static bool parse_header(const char *a, sigv4_t *s)
{
    const char *p = a + strlen("AWS4-HMAC-SHA256");
    int got = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (eq == NULL)
            break;
        if (end == NULL)
            end = p + strlen(p);
        if (end < eq)
            return false;
        size_t kl = (size_t)(eq - p), vl = (size_t)(end - eq - 1);
        if (kl == 10 && strncmp(p, "Credential", 10) == 0)
            got |= copy_field(s->cred, sizeof(s->cred), eq + 1, vl) ? 1 : 0;
        else if (kl == 13 && strncmp(p, "SignedHeaders", 13) == 0)
            got |= copy_field(s->signed_hdrs, sizeof(s->signed_hdrs), eq + 1, vl) ? 2 : 0;
        else if (kl == 9 && strncmp(p, "Signature", 9) == 0)
            got |= copy_field(s->sig, sizeof(s->sig), eq + 1, vl) ? 4 : 0;
        p = end;
    }
    return got == 7;
}

static bool set_from(char *dst, size_t dlen, const char *v)
{
    return v && copy_field(dst, dlen, v, strlen(v));
}

/* The signature's parts from the request. 0, or an S3 error code (the message in msg). */
static const char *gather(http_req_t *req, sigv4_t *s, char *msg, size_t mlen)
{
    const char *a = http_header(req, "Authorization");
    s->expires = -1;
    if (a && strncmp(a, "AWS4-HMAC-SHA256 ", 17) == 0) {
        if (!parse_header(a, s) ||
            !set_from(s->date, sizeof(s->date), http_header(req, "x-amz-date")) ||
            !set_from(s->payload, sizeof(s->payload), http_header(req, "x-amz-content-sha256"))) {
            snprintf(msg, mlen,
                     "the Authorization header, x-amz-date or x-amz-content-sha256 "
                     "is missing or malformed");
            return "AuthorizationHeaderMalformed";
        }
        return NULL;
    }
    const char *alg = http_query(req, "X-Amz-Algorithm");
    const char *exp = http_query(req, "X-Amz-Expires");
    if (alg && strcmp(alg, "AWS4-HMAC-SHA256") == 0) {
        char *end = NULL;
        s->expires = exp ? strtol(exp, &end, 10) : -2;
        if (!set_from(s->cred, sizeof(s->cred), http_query(req, "X-Amz-Credential")) ||
            !set_from(s->signed_hdrs, sizeof(s->signed_hdrs),
                      http_query(req, "X-Amz-SignedHeaders")) ||
            !set_from(s->sig, sizeof(s->sig), http_query(req, "X-Amz-Signature")) ||
            !set_from(s->date, sizeof(s->date), http_query(req, "X-Amz-Date")) || end == NULL ||
            *end || s->expires < 1 || s->expires > PRESIGN_MAX_SEC) {
            snprintf(msg, mlen, "a presigned URL's X-Amz-* parameters are missing or malformed");
            return "AuthorizationQueryParametersError";
        }
        snprintf(s->payload, sizeof(s->payload), "UNSIGNED-PAYLOAD");
        return NULL;
    }
    snprintf(msg, mlen,
             "auth is on: requests must be signed with AWS Signature Version 4 "
             "by a configured access key");
    return "AccessDenied";
}

/* The date's time; -1 when it is not "YYYYMMDDTHHMMSSZ". */
static time_t amz_time(const char *d)
{
    struct tm tm = {0};
    const char *end = strptime(d, "%Y%m%dT%H%M%SZ", &tm);
    return end && *end == '\0' ? timegm(&tm) : (time_t)-1;
}

/* Checks the request's date and its credential's scope; the secret of its key into *secret. */
static const char *check_scope(const sigv4_t *s, const char **secret, char *scope, size_t slen,
                               char *msg, size_t mlen)
{
    char id[256], date[16], region[64], service[16], term[16], extra[2];
    if (sscanf(s->cred, "%255[^/]/%15[^/]/%63[^/]/%15[^/]/%15[^/]%1s", id, date, region, service,
               term, extra) != 5 ||
        strcmp(service, "s3") != 0 || strcmp(term, "aws4_request") != 0 ||
        strncmp(date, s->date, 8) != 0 || strlen(date) != 8) {
        snprintf(msg, mlen, "malformed credential scope");
        return "AuthorizationHeaderMalformed";
    }
    *secret = secret_of(id);
    if (*secret == NULL) {
        snprintf(msg, mlen, "the access key id %.64s is not configured", id);
        return "InvalidAccessKeyId";
    }
    time_t t = amz_time(s->date), now = time(NULL);
    if (t == (time_t)-1 || t > now + SKEW_SEC || (s->expires < 0 && t < now - SKEW_SEC)) {
        snprintf(msg, mlen, "the request time is too far from the server's");
        return "RequestTimeTooSkewed";
    }
    if (s->expires > 0 && now > t + s->expires) {
        snprintf(msg, mlen, "request has expired");
        return "AccessDenied";
    }
    snprintf(scope, slen, "%s/%s/%s/aws4_request", date, region, service);
    return NULL;
}

bool s3_chain_check(s3_chain_t *ch, const char *kind, const char *hash, const char *sig)
{
    char *sts = xasprintf("%s\n%s\n%s\n%s\n%s%s", kind, ch->date, ch->scope, ch->prev,
                          strstr(kind, "PAYLOAD") ? EMPTY_SHA256 "\n" : "", hash);
    unsigned char d[32];
    char want[65];
    hmac(ch->key, 32, sts, d);
    free(sts);
    hex32(d, want);
    if (strlen(sig) != 64 || CRYPTO_memcmp(want, sig, 64) != 0)
        return false;
    memcpy(ch->prev, want, 65);
    return true;
}

const char *s3_sigv4_check(http_req_t *req, char want_sha[65], s3_chain_t *chain, char *msg,
                           size_t mlen)
{
    sigv4_t s = {0};
    const char *secret = NULL, *code = gather(req, &s, msg, mlen);
    char scope[128];
    if (code == NULL)
        code = check_scope(&s, &secret, scope, sizeof(scope), msg, mlen);
    if (code)
        return code;
    buf_t cr;
    buf_init(&cr);
    buf_printf(&cr, "%s\n%s\n", req->method, req->raw_path);
    canonical_query(req->raw_query, &cr);
    buf_puts(&cr, "\n");
    if (!canonical_headers(req, s.signed_hdrs, &cr)) {
        buf_dispose(&cr);
        snprintf(msg, mlen, "a signed header is missing");
        return "AccessDenied";
    }
    buf_printf(&cr, "\n%s\n%s", s.signed_hdrs, s.payload);
    unsigned char d[32], k[32];
    EVP_Digest(cr.base, cr.len, d, NULL, EVP_sha256(), NULL);
    buf_dispose(&cr);
    char dh[65], sig[65];
    hex32(d, dh);
    char *sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", s.date, scope, dh);
    char *kd = xasprintf("AWS4%s", secret);
    char date[9], region[64];
    snprintf(date, sizeof(date), "%.8s", scope);
    sscanf(scope + 9, "%63[^/]", region);
    hmac(kd, strlen(kd), date, k);
    hmac(k, 32, region, k);
    hmac(k, 32, "s3", k);
    hmac(k, 32, "aws4_request", k);
    hmac(k, 32, sts, d);
    hex32(d, sig);
    OPENSSL_cleanse(kd, strlen(kd));
    free(kd);
    free(sts);
    if (strlen(s.sig) != 64 || CRYPTO_memcmp(sig, s.sig, 64) != 0) {
        snprintf(msg, mlen,
                 "the request signature we calculated does not match the signature "
                 "you provided");
        return "SignatureDoesNotMatch";
    }
    want_sha[0] = '\0';
    if (strlen(s.payload) == 64 && strspn(s.payload, "0123456789abcdef") == 64)
        memcpy(want_sha, s.payload, 65);
    if (strncmp(s.payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 34) == 0) { /* chunks chain */
        memcpy(chain->key, k, 32);
        snprintf(chain->date, sizeof(chain->date), "%s", s.date);
        snprintf(chain->scope, sizeof(chain->scope), "%s", scope);
        memcpy(chain->prev, sig, 65);
    }
    OPENSSL_cleanse(k, sizeof(k));
    return NULL;
}
