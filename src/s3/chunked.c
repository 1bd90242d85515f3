/*
 * chunked.c - the streaming decoder of aws-chunked bodies (chunked.h): a state machine over the
 * bytes as they arrive, one bounded line buffer, the decoded bytes handed on at once.
 */
#include "s3/chunked.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_HDR = 0, ST_DATA, ST_DATA_END, ST_TRAILER, ST_DONE, ST_FAILED };

/* ---------------------------------------------------------------- CRC-32 and CRC-32C */

static uint32_t crc_tab[2][256]; /* reflected: CRC-32 (0xEDB88320), CRC-32C (0x82F63B78) */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    const uint32_t poly[2] = {0xEDB88320u, 0x82F63B78u};
    for (int t = 0; t < 2; t++)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ poly[t] : c >> 1;
            crc_tab[t][i] = c;
        }
}

/* Continues a CRC (start: 0) of table t over n bytes. */
static uint32_t crc_update(int t, uint32_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_tab[t][(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---------------------------------------------------------------- setup */

static const struct {
    const char *name; /* the trailer's header */
    s3_cksum_kind_t kind;
} cksums[] = {{"x-amz-checksum-crc32", CK_CRC32},
              {"x-amz-checksum-crc32c", CK_CRC32C},
              {"x-amz-checksum-sha1", CK_SHA1},
              {"x-amz-checksum-sha256", CK_SHA256}};

static const char *ck_name(s3_cksum_kind_t k)
{
    for (size_t i = 0; i < sizeof(cksums) / sizeof(cksums[0]); i++)
        if (cksums[i].kind == k)
            return cksums[i].name;
    return "";
}

static int fail(s3_chunked_t *d, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(s3_chunked_t *d, const char *code, const char *fmt, ...)
{
    d->state = ST_FAILED;
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof(d->err), fmt, ap);
    va_end(ap);
    return -1;
}

static EVP_MD_CTX *md_new(const EVP_MD *md)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, md, NULL) != 1)
        locus_panic("cannot start a digest");
    return c;
}

/* The hex digest of c (then reset for the next use). */
static void md_hex(EVP_MD_CTX *c, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(c, d, &n);
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    EVP_DigestInit_ex(c, NULL, NULL);
}

int s3_chunked_init(s3_chunked_t *d, const char *mode, const char *trailer, s3_chain_t *chain,
                    int64_t max)
{
    memset(d, 0, sizeof(*d));
    pthread_once(&crc_once, crc_init);
    d->max = max;
    if (strcmp(mode, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 0) {
        d->trailer = true;
    } else if (strcmp(mode, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") == 0) {
        d->sigs = true;
    } else if (strcmp(mode, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") == 0) {
        d->sigs = d->trailer = true;
    } else {
        return fail(d, "NotImplemented", "x-amz-content-sha256 \"%.64s\" is not supported", mode);
    }
    d->chain = d->sigs ? chain : NULL;
    if (d->chain) {
        d->chunk_sha = md_new(EVP_sha256());
        d->trailer_sha = md_new(EVP_sha256());
    }
    if (trailer && trailer[0]) {
        for (size_t i = 0; i < sizeof(cksums) / sizeof(cksums[0]); i++)
            if (strcasecmp(trailer, cksums[i].name) == 0)
                d->ck = cksums[i].kind;
        if (d->ck == CK_NONE || !d->trailer)
            return fail(d, "NotImplemented", "x-amz-trailer \"%.64s\" is not supported", trailer);
        if (d->ck == CK_SHA1 || d->ck == CK_SHA256)
            d->ck_md = md_new(d->ck == CK_SHA1 ? EVP_sha1() : EVP_sha256());
    }
    return 0;
}

void s3_chunked_dispose(s3_chunked_t *d)
{
    EVP_MD_CTX_free(d->chunk_sha);
    EVP_MD_CTX_free(d->trailer_sha);
    EVP_MD_CTX_free(d->ck_md);
    d->chunk_sha = d->trailer_sha = d->ck_md = NULL;
}

/* ---------------------------------------------------------------- lines */

/* With a chain: whether the chunk just read has its claimed signature. 0 or -1 (failed). */
static int chunk_signed(s3_chunked_t *d)
{
    if (d->chain == NULL)
        return 0;
    char h[65];
    md_hex(d->chunk_sha, h);
    if (!s3_chain_check(d->chain, "AWS4-HMAC-SHA256-PAYLOAD", h, d->sig))
        return fail(d, "SignatureDoesNotMatch", "aws-chunked: a chunk signature is wrong");
    return 0;
}

/* "<hex>[;chunk-signature=<64 hex>]" */
static int chunk_header(s3_chunked_t *d)
{
    const char *l = d->line;
    size_t hx = strspn(l, "0123456789abcdefABCDEF");
    if (hx == 0 || hx > 15)
        return fail(d, "IncompleteBody", "aws-chunked: a malformed chunk size line");
    uint64_t size = strtoull(l, NULL, 16);
    const char *ext = l + hx;
    static const char sig[] = ";chunk-signature=";
    if (d->sigs) {
        if (strncmp(ext, sig, sizeof(sig) - 1) != 0 || strlen(ext + sizeof(sig) - 1) != 64 ||
            strspn(ext + sizeof(sig) - 1, "0123456789abcdef") != 64)
            return fail(d, "IncompleteBody", "aws-chunked: a chunk without its signature");
        memcpy(d->sig, ext + sizeof(sig) - 1, 65);
    } else if (*ext) {
        return fail(d, "IncompleteBody", "aws-chunked: an unexpected chunk extension");
    }
    if (size > (uint64_t)(d->max - d->total))
        return fail(d, "IncompleteBody",
                    "aws-chunked: more bytes than x-amz-decoded-content-length (%lld)",
                    (long long)d->max);
    d->left = size;
    if (size > 0) {
        d->state = ST_DATA;
        return 0;
    }
    d->state = ST_TRAILER;
    return chunk_signed(d); /* the last chunk's signature is over no data */
}

/* The base64 of the checksum the decoded bytes have. Caller frees. */
static char *ck_value(s3_chunked_t *d)
{
    unsigned char b[EVP_MAX_MD_SIZE];
    unsigned n = 4;
    if (d->ck_md) {
        EVP_DigestFinal_ex(d->ck_md, b, &n);
    } else {
        for (int i = 0; i < 4; i++)
            b[i] = (unsigned char)(d->crc >> (24 - 8 * i));
    }
    return base64_encode(b, n);
}

/* A trailer line "name:value", or the empty line that ends the body. */
static int trailer_line(s3_chunked_t *d)
{
    const char *l = d->line, *colon = strchr(l, ':');
    if (*l == '\0') {
        if (d->chain && d->trailer && !d->trailer_signed)
            return fail(d, "SignatureDoesNotMatch", "aws-chunked: no x-amz-trailer-signature");
        d->state = ST_DONE;
        return 0;
    }
    if (colon == NULL || !d->trailer || d->trailer_signed)
        return fail(d, "IncompleteBody", "aws-chunked: an unexpected trailer line");
    size_t nl = (size_t)(colon - l);
    const char *v = colon + 1;
    while (*v == ' ')
        v++;
    if (nl == 23 && strncasecmp(l, "x-amz-trailer-signature", nl) == 0) {
        char h[65];
        if (d->chain) {
            md_hex(d->trailer_sha, h);
            if (strlen(v) != 64 || !s3_chain_check(d->chain, "AWS4-HMAC-SHA256-TRAILER", h, v))
                return fail(d, "SignatureDoesNotMatch",
                            "aws-chunked: the trailer signature is "
                            "wrong");
        }
        d->trailer_signed = true; /* nothing but the end may follow */
        return 0;
    }
    if (d->ck == CK_NONE || d->ck_seen || nl != strlen(ck_name(d->ck)) ||
        strncasecmp(l, ck_name(d->ck), nl) != 0 || strlen(v) >= sizeof(d->ck_got))
        return fail(d, "InvalidRequest", "aws-chunked: trailer \"%.*s\" was not announced",
                    (int)(nl < 64 ? nl : 64), l);
    snprintf(d->ck_got, sizeof(d->ck_got), "%s", v);
    d->ck_seen = true;
    if (d->chain) {
        char *canon = xasprintf("%s:%s\n", ck_name(d->ck), v);
        EVP_DigestUpdate(d->trailer_sha, canon, strlen(canon));
        free(canon);
    }
    return 0;
}

/* A whole line (CRLF removed) in the state it ends. */
static int on_line(s3_chunked_t *d)
{
    switch (d->state) {
    case ST_HDR:
        return chunk_header(d);
    case ST_DATA_END:
        if (d->line[0])
            return fail(d, "IncompleteBody", "aws-chunked: a chunk longer than its size");
        d->state = ST_HDR;
        return chunk_signed(d);
    default:
        return trailer_line(d);
    }
}

/* ---------------------------------------------------------------- feeding */

/* The data bytes of the current chunk at p (at most n): how many were taken, -1 on failure. */
static ssize_t take_data(s3_chunked_t *d, const char *p, size_t n, s3_chunked_emit emit, void *arg)
{
    size_t m = n < d->left ? n : (size_t)d->left;
    if (d->chain)
        EVP_DigestUpdate(d->chunk_sha, p, m);
    if (d->ck_md)
        EVP_DigestUpdate(d->ck_md, p, m);
    else if (d->ck != CK_NONE)
        d->crc = crc_update(d->ck == CK_CRC32C, d->crc, p, m);
    if (emit(arg, p, m) < 0) {
        d->state = ST_FAILED;
        return -1;
    }
    d->left -= m;
    d->total += (int64_t)m;
    if (d->left == 0)
        d->state = ST_DATA_END;
    return (ssize_t)m;
}

int s3_chunked_feed(s3_chunked_t *d, const char *p, size_t n, s3_chunked_emit emit, void *arg)
{
    size_t i = 0;
    while (i < n) {
        if (d->state == ST_FAILED)
            return -1;
        if (d->state == ST_DONE)
            return fail(d, "IncompleteBody", "aws-chunked: bytes after the end of the body");
        if (d->state == ST_DATA) {
            ssize_t m = take_data(d, p + i, n - i, emit, arg);
            if (m < 0)
                return -1;
            i += (size_t)m;
            continue;
        }
        char ch = p[i++];
        if (ch != '\n') {
            if (d->ll == S3_CHUNK_LINE_MAX)
                return fail(d, "IncompleteBody", "aws-chunked: a line over %d bytes",
                            S3_CHUNK_LINE_MAX);
            d->line[d->ll++] = ch;
            continue;
        }
        if (d->ll == 0 || d->line[d->ll - 1] != '\r')
            return fail(d, "IncompleteBody", "aws-chunked: a line not ended by CRLF");
        d->line[d->ll - 1] = '\0';
        d->ll = 0;
        if (strlen(d->line) != strcspn(d->line, "\r"))
            return fail(d, "IncompleteBody", "aws-chunked: a stray CR or NUL in a line");
        if (on_line(d) < 0)
            return -1;
    }
    return 0;
}

int s3_chunked_finish(s3_chunked_t *d)
{
    if (d->state == ST_FAILED)
        return -1;
    if (d->state != ST_DONE)
        return fail(d, "IncompleteBody", "aws-chunked: the body ended before its last chunk");
    if (d->ck == CK_NONE)
        return 0;
    if (!d->ck_seen)
        return fail(d, "InvalidRequest", "aws-chunked: the announced %s trailer is missing",
                    ck_name(d->ck));
    char *want = ck_value(d);
    bool ok = strcmp(want, d->ck_got) == 0;
    free(want);
    if (!ok)
        return fail(d, "BadDigest", "the %s you specified did not match the calculated checksum",
                    ck_name(d->ck) + strlen("x-amz-checksum-"));
    return 0;
}
