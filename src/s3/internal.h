/*
 * internal.h - the S3 API's internals shared by the files of src/s3 only.
 */
#ifndef LOCUS_S3_INTERNAL_H
#define LOCUS_S3_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"
#include "s3/chunked.h"
#include "s3/s3.h"
#include "s3/xml.h"

#define S3_PUT_MAX (5LL << 30)     /* S3's largest single PUT */
#define S3_SPOOL_MEM (16u << 20)   /* a PUT body up to this stays in memory, beyond in a file */
#define S3_NATIVE_TIMEOUT_MS 60000 /* a call to this proxy's native API or to a target */
#define S3_LIST_MAX 1000           /* S3's max-keys cap */

/* Object bodies of S3_BLOCK bytes at most (a GET's answer, a PUT's body) are relayed in blocks
 * that are kept for reuse (S3_BLOCKS_KEPT at most): a fresh allocation of that size costs a
 * mapping and its page faults every time, which the relay felt (docs/s3.md). */
#define S3_BLOCK (1u << 20)
#define S3_BLOCK_MIN (64u << 10) /* smaller bodies take plain allocations */
#define S3_BLOCKS_KEPT 16
/* A block of S3_BLOCK bytes (never NULL). */
void *s3_block_get(void);
/* Gives a block back (NULL is a no-op); also an MHD free callback. */
void s3_block_put(void *p);

/* One S3 request (req->ctx). */
typedef struct {
    char *bck; /* NULL: the service (ListBuckets) */
    char *key; /* NULL: the bucket */
    /* an error decided in on_headers, answered in on_request */
    unsigned status;
    const char *code;
    char msg[512];
    /* PUT: the body spooled in memory (mem) or, when bigger, in an unlinked file (fd) */
    buf_t mem;
    char *block; /* or, for a body of S3_BLOCK_MIN..S3_BLOCK bytes, a block (s3_block_get) */
    int fd;
    int64_t n;
    EVP_MD_CTX *md5;
    EVP_MD_CTX *sha;   /* with want_sha: the body's SHA-256 */
    char want_sha[65]; /* auth on: the payload hash the client signed (hex), "" when unsigned */
    bool spool_failed;
    bool copy; /* PUT with x-amz-copy-source */
    int part;  /* UploadPart(Copy): its number (?partNumber), with ?uploadId */
    /* an aws-chunked body: its decoder, x-amz-decoded-content-length, and with auth on the
     * signature chain of its chunks (chain.prev[0]: the request is one of them) */
    s3_chunked_t *chunked;
    int64_t decoded_len;
    s3_chain_t chain;
    unsigned sink_status; /* the body sink failed: the answer's status (0: by c->code) */
} s3_ctx_t;

/* An S3 XML error answer (no body for HEAD). code is S3's (NoSuchKey, ...). */
void s3_error(http_req_t *req, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A native JSON error answer (status, body) as the S3 error of the same status; nokey: the
 * code of a 404 (NoSuchKey, NoSuchBucket, NoSuchUpload). */
void s3_error_native(http_req_t *req, long status, const buf_t *body, const char *nokey);
/* An XML answer: the declaration, then xml (taken over). */
void s3_reply_xml(http_req_t *req, unsigned status, buf_t *xml);

/* Whether bucket exists in the current BMD; its creation time (ns) into created when not NULL. */
bool s3_bucket_exists(const char *bck, int64_t *created);
/* The URL of key's owner target's native object endpoint (caller frees), or NULL when there is
 * no target. */
char *s3_target_url(const char *bck, const char *key);
/* A call to this proxy's native API (path: "/v1/..."), JSON body or NULL. Same returns as
 * httpc_do. */
int s3_native(const char *method, const char *path, json_t *body, httpc_resp_t *r);
/* "2006-01-02T15:04:05.000Z" of a time in ns. */
void s3_time_iso(int64_t ns, char out[32]);
/* "Mon, 02 Jan 2006 15:04:05 GMT" of a time in ns. */
void s3_time_http(int64_t ns, char out[40]);

/* With auth on: checks req's SigV4 signature (header or presigned query) against the configured
 * keys (sigv4.c). NULL when valid, with the signed payload hash into want_sha ("" when
 * unsigned) and, for signed aws-chunked bodies, the chain their chunks continue into chain;
 * else the S3 error code, with msg. */
const char *s3_sigv4_check(http_req_t *req, char want_sha[65], s3_chain_t *chain, char *msg,
                           size_t mlen);
/* Whether a body whose SHA-256 is d matches c->want_sha (always when unsigned). */
bool s3_payload_ok(const s3_ctx_t *c, const unsigned char d[32]);

/* Objects (object.c). */
void s3_put_headers(http_req_t *req, s3_ctx_t *c);
void s3_object_request(http_req_t *req, s3_ctx_t *c);
void s3_delete_many(http_req_t *req, s3_ctx_t *c);

/* Multipart uploads (mpt.c). */
/* Whether id has the form of an upload id. */
bool s3_upload_id_ok(const char *id);
/* A part number 1..S3_PARTS_MAX (text, untrusted), else -1. */
int s3_part_number(const char *s);
/* An object request with ?uploads or ?uploadId, or a POST (url: the owner target's native
 * object URL): answered (true), or not one of them (false). */
bool s3_mpt_object(http_req_t *req, s3_ctx_t *c, const char *url);
/* GET /s3/<b>?uploads: ListMultipartUploads. */
void s3_mpt_list_uploads(http_req_t *req, s3_ctx_t *c);

/* ListObjects V1 and V2 (list.c). */
void s3_list_objects(http_req_t *req, s3_ctx_t *c);

#endif
