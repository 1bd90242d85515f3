/*
 * chunked.h - the streaming decoder of S3's aws-chunked request bodies (x-amz-content-sha256
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]), as current
 * SDKs send PUT and UploadPart bodies:
 *
 *   <hex size>[;chunk-signature=<64 hex>]\r\n<size bytes>\r\n ... 0[;chunk-signature=..]\r\n
 *   [<trailer name>:<value>\r\n ...][x-amz-trailer-signature:<64 hex>\r\n]\r\n
 *
 * Bytes go through as they arrive (nothing is held but one header or trailer line); the decoded
 * bytes go to a callback. With a signing chain (auth on) each chunk's signature and the
 * trailer's are checked, chained from the request's seed signature (SigV4's streaming rules);
 * a trailing x-amz-checksum-crc32, -crc32c, -sha1 or -sha256 is checked against the decoded
 * bytes when the request announced it (x-amz-trailer).
 */
#ifndef LOCUS_S3_CHUNKED_H
#define LOCUS_S3_CHUNKED_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_CHUNK_LINE_MAX 256 /* a chunk header or trailer line */

/* SigV4's streaming signature chain: the signing key, the request's date and scope, and the
 * previous signature (the seed: the request's own). */
typedef struct {
    unsigned char key[32];
    char date[20];
    char scope[128];
    char prev[65];
} s3_chain_t;

/* Checks sig (hex) over the next link of kind "AWS4-HMAC-SHA256-PAYLOAD" (hash: the chunk's
 * SHA-256, hex) or "AWS4-HMAC-SHA256-TRAILER" (hash: the trailer lines' SHA-256); on success the
 * chain moves on to sig (sigv4.c). */
bool s3_chain_check(s3_chain_t *ch, const char *kind, const char *hash, const char *sig);

typedef enum { CK_NONE = 0, CK_CRC32, CK_CRC32C, CK_SHA1, CK_SHA256 } s3_cksum_kind_t;

typedef struct {
    /* set by s3_chunked_init */
    bool sigs;          /* chunk-signature extensions expected (STREAMING-AWS4-HMAC-...) */
    bool trailer;       /* a trailer section may come (...-TRAILER) */
    s3_chain_t *chain;  /* NULL: signatures are not checked (auth off) */
    s3_cksum_kind_t ck; /* the checksum x-amz-trailer announced */
    int64_t max;        /* decoded bytes allowed at most */
    /* state */
    int state;
    char line[S3_CHUNK_LINE_MAX + 1];
    size_t ll;
    uint64_t left; /* data bytes of the current chunk still to come */
    int64_t total; /* decoded bytes */
    char sig[65];  /* the current chunk's claimed signature */
    EVP_MD_CTX *chunk_sha;
    EVP_MD_CTX *trailer_sha; /* the trailer lines, for the trailer signature */
    EVP_MD_CTX *ck_md;       /* CK_SHA1, CK_SHA256 */
    uint32_t crc;            /* CK_CRC32, CK_CRC32C */
    char ck_got[96];         /* the trailer's checksum value (base64) */
    bool ck_seen;
    bool trailer_signed; /* x-amz-trailer-signature came */
    /* the failure: S3's code (400 unless SignatureDoesNotMatch: 403) and a message */
    const char *code;
    char err[200];
} s3_chunked_t;

/* Prepares d for a body whose x-amz-content-sha256 is mode and x-amz-trailer is trailer (NULL:
 * none), at most max decoded bytes. 0, or -1 with d->code and d->err (mode or trailer not
 * supported). s3_chunked_dispose frees d either way. */
int s3_chunked_init(s3_chunked_t *d, const char *mode, const char *trailer, s3_chain_t *chain,
                    int64_t max);
/* Decodes n more bytes, handing the decoded ones to emit (which returns 0, or -1 to stop). 0, or
 * -1 (d->code and d->err set unless emit failed). */
typedef int (*s3_chunked_emit)(void *arg, const void *p, size_t n);
int s3_chunked_feed(s3_chunked_t *d, const char *p, size_t n, s3_chunked_emit emit, void *arg);
/* At the end of the body: 0 when it ended where it should and the trailer's checksum matched,
 * else -1 with d->code and d->err. */
int s3_chunked_finish(s3_chunked_t *d);
void s3_chunked_dispose(s3_chunked_t *d);

#endif
