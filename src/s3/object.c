/*
 * object.c - S3 object operations, relayed to the HRW owner target's native endpoints (S3
 * clients do not follow a 307 on PUT, and unmodified boto3 not even on GET, so the proxy
 * carries the bytes both ways, as AIStore's S3-Reverse-Proxy does):
 *   PutObject     the body spooled on the proxy (memory, or an unlinked file past
 *                 S3_SPOOL_MEM) while its MD5 is computed, then PUT to the target with the MD5
 *                 as the object's ETag (CLUSTER_HDR_MD5_ETAG);
 *   GetObject     relayed by the request's worker (Range passes through: 206): an answer up
 *                 to S3_GET_BUFFER_MAX from memory, a bigger one streamed;
 *   HeadObject, DeleteObject, CopyObject (the target's copy, ?object_to), DeleteObjects (a
 *                 fan-out of DELETEs).
 *
 * DESIGN
 * A GET runs on the request's worker with its keep-alive connections to the targets
 * (httpc_get_lite: no libcurl, no poll), with no other thread in between: a small answer is read
 * whole and answered like any other (one hand-off to the worker and back; 64 KiB to 1 MiB in a
 * reused block), and a big one is answered as soon as its body starts, the worker then releasing
 * the connection (http_release) and writing the body into the response's stream as it comes. A
 * target that fails before the answer went out is a 503; after, the response ends with an error
 * (the client sees a transfer cut short, never a short 200 that looks whole).
 */
#include "s3/internal.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "common/log.h"
#include "common/names.h"
#include "common/util.h"
#include "net/fanout.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define S3_GET_BUFFER_MAX S3_BLOCK /* a GET answer up to this is relayed from memory */
/* A GET's receive buffer: 16 KiB pieces (libcurl's default) cost a 1 MiB GET 64 reads and
 * copies; measured: 15% less CPU per 1 MiB relayed with 512 KiB. */
#define S3_GET_RECV_BUF (512u << 10)
#define S3_ERR_BODY_MAX (64u << 10)

/* ---------------------------------------------------------------- metadata headers */

/* What a target's object answer says, as S3 headers want it. */
typedef struct {
    char etag[80];   /* quoted */
    char mtime[40];  /* HTTP date */
    char size[24];   /* Ais-Size */
    char length[24]; /* Content-Length */
    char crange[96]; /* Content-Range */
} s3_md_t;

static void copy_val(char *dst, size_t dlen, const char *v, size_t vl)
{
    snprintf(dst, dlen, "%.*s", (int)(vl < dlen ? vl : dlen - 1), v);
}

/* The "ETag=<hex>" member of an Ais-Custom-Md "k=v,k2=v2", quoted into out. */
static bool custom_etag(const char *v, size_t vl, char *out, size_t olen)
{
    const char *p = v, *end = v + vl;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (e - p > 5 && strncmp(p, "ETag=", 5) == 0) {
            snprintf(out, olen, "\"%.*s\"", (int)(e - p - 5 < 64 ? e - p - 5 : 64), p + 5);
            return true;
        }
        p = e + 1;
    }
    return false;
}

static void on_md_header(s3_md_t *m, const char *n, size_t nl, const char *v, size_t vl)
{
#define IS(h) (nl == sizeof(h) - 1 && strncasecmp(n, h, nl) == 0)
    if (IS("Ais-Custom-Md")) {
        custom_etag(v, vl, m->etag, sizeof(m->etag));
    } else if (IS("Ais-Checksum-Value") && m->etag[0] == '\0' && vl > 0) {
        snprintf(m->etag, sizeof(m->etag), "\"%.*s\"", (int)(vl < 64 ? vl : 64), v);
    } else if (IS("Ais-Atime")) {
        char t[24];
        copy_val(t, sizeof(t), v, vl);
        s3_time_http(strtoll(t, NULL, 10), m->mtime);
    } else if (IS("Ais-Size")) {
        copy_val(m->size, sizeof(m->size), v, vl);
    } else if (IS("Content-Length")) {
        copy_val(m->length, sizeof(m->length), v, vl);
    } else if (IS("Content-Range")) {
        copy_val(m->crange, sizeof(m->crange), v, vl);
    }
#undef IS
}

/* The S3 headers of m into h (at most 6 and the terminator). */
static void md_headers(const s3_md_t *m, httpc_header_t *h)
{
    int k = 0;
    if (m->etag[0])
        h[k++] = (httpc_header_t){"ETag", m->etag};
    if (m->mtime[0])
        h[k++] = (httpc_header_t){"Last-Modified", m->mtime};
    if (m->crange[0])
        h[k++] = (httpc_header_t){"Content-Range", m->crange};
    h[k++] = (httpc_header_t){"Accept-Ranges", "bytes"};
    h[k] = (httpc_header_t){NULL, NULL};
}

/* ---------------------------------------------------------------- blocks */

static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static void *blocks[S3_BLOCKS_KEPT];
static int n_blocks;

void *s3_block_get(void)
{
    void *p = NULL;
    pthread_mutex_lock(&blocks_lock);
    if (n_blocks > 0)
        p = blocks[--n_blocks];
    pthread_mutex_unlock(&blocks_lock);
    return p ? p : xmalloc(S3_BLOCK);
}

void s3_block_put(void *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&blocks_lock);
    bool kept = n_blocks < S3_BLOCKS_KEPT;
    if (kept)
        blocks[n_blocks++] = p;
    pthread_mutex_unlock(&blocks_lock);
    if (!kept)
        free(p);
}

/* ---------------------------------------------------------------- GET */

/* One GET relayed by the request's worker: the target's answer is read into memory (a small
 * object, or an error) and answered at the end, or, when it is big or of unknown length,
 * streamed: the response headers go as soon as the body starts and the worker lets the
 * connection go (http_release) while it copies the rest. */
typedef struct {
    http_req_t *req; /* NULL once released: the request is the I/O thread's */
    s3_md_t md;
    long status;       /* the target's, once its body started */
    bool started;      /* the first body piece came */
    bool too_big;      /* a big body with no worker to stream it */
    buf_t body;        /* a small answer, or an error's (bounded) */
    char *block;       /* or an answer of S3_BLOCK_MIN..S3_BLOCK bytes (s3_block_get) */
    size_t n;          /* bytes in block */
    http_stream_t *st; /* a big answer's stream */
} s3get_t;

static bool get_ok(long status)
{
    return status == 200 || status == 206;
}

static void get_on_header(void *arg, const char *n, size_t nl, const char *v, size_t vl)
{
    on_md_header(&((s3get_t *)arg)->md, n, nl, v, vl);
}

/* The first body piece of a 200/206: buffer it, or start streaming. 0, or -1 to abort. */
static int get_start(s3get_t *g)
{
    int64_t len = g->md.length[0] ? strtoll(g->md.length, NULL, 10) : -1;
    if (len >= (int64_t)S3_BLOCK_MIN && len <= (int64_t)S3_BLOCK) {
        g->block = s3_block_get();
        return 0;
    }
    if (len >= 0 && len < (int64_t)S3_BLOCK_MIN) {
        buf_reserve(&g->body, (size_t)len);
        return 0;
    }
    if (!http_releasable(g->req)) {
        g->too_big = true;
        return -1;
    }
    g->st = http_stream_new();
    if (g->st == NULL) {
        g->too_big = true;
        return -1;
    }
    httpc_header_t h[8];
    md_headers(&g->md, h);
    g->req->bytes_out = len;
    http_stream_send_hdrs(g->req, g->st, (unsigned)g->status, len, "application/octet-stream", h);
    http_release(g->req);
    g->req = NULL;
    return 0;
}

static int get_on_body(void *arg, long status, const void *p, size_t n)
{
    s3get_t *g = arg;
    if (!g->started) {
        g->started = true;
        g->status = status;
        if (get_ok(status) && get_start(g) < 0)
            return -1;
    }
    if (g->st)
        return http_stream_write(g->st, p, n);
    if (g->block) {
        if (n > S3_BLOCK - g->n)
            return -1; /* more than its Content-Length */
        memcpy(g->block + g->n, p, n);
        g->n += n;
        return 0;
    }
    if (get_ok(status) || g->body.len + n <= S3_ERR_BODY_MAX)
        buf_append(&g->body, p, n);
    return 0;
}

/* The answer of a GET that was not streamed: the buffered body, or the error. */
static void get_answer(http_req_t *req, s3get_t *g, int rc, const httpc_resp_t *r)
{
    if (g->too_big) {
        s3_error(req, 503, "SlowDown", "cannot stream the object: out of threads");
        return;
    }
    if (rc < 0) { /* no answer, or the target failed mid-body: never a short 200 */
        s3_error(req, 503, "ServiceUnavailable", "target failed: %s", r->err ? r->err : "?");
        return;
    }
    if (!get_ok(r->status)) {
        s3_error_native(req, r->status, &g->body, "NoSuchKey");
        return;
    }
    httpc_header_t h[8];
    md_headers(&g->md, h);
    size_t n = g->block ? g->n : g->body.len;
    struct MHD_Response *resp;
    if (g->block) {
        resp = MHD_create_response_from_buffer_with_free_callback(n, g->block, s3_block_put);
        g->block = NULL;
    } else if (n) {
        resp = MHD_create_response_from_buffer(n, buf_steal(&g->body), MHD_RESPMEM_MUST_FREE);
    } else {
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    }
    for (httpc_header_t *x = h; x->name; x++)
        MHD_add_response_header(resp, x->name, x->value);
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    req->bytes_out = (int64_t)n;
    http_send(req, (unsigned)r->status, resp);
}

static void object_get(http_req_t *req, const char *url)
{
    s3get_t g = {.req = req};
    buf_init(&g.body);
    httpc_header_t hdrs[2] = {{NULL, NULL}, {NULL, NULL}};
    const char *range = http_header(req, "Range");
    if (range)
        hdrs[0] = (httpc_header_t){"Range", range};
    httpc_cb_t cb = {.on_header = get_on_header,
                     .on_body = get_on_body,
                     .arg = &g,
                     .buffer_size = S3_GET_RECV_BUF};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_get_lite("GET", url, hdrs, 0, &cb, &r);
    if (g.st) /* released: a failure ends the response with an error, never a short 200 */
        http_stream_end(g.st, rc == 0);
    else
        get_answer(req, &g, rc, &r);
    httpc_resp_dispose(&r);
    buf_dispose(&g.body);
    s3_block_put(g.block); /* not answered from it */
}

/* ---------------------------------------------------------------- HEAD, DELETE */

static void md_collect(void *arg, const char *n, size_t nl, const char *v, size_t vl)
{
    on_md_header(arg, n, nl, v, vl);
}

static int no_data(void *arg, long status, const void *p, size_t n)
{
    (void)arg;
    (void)status;
    (void)p;
    (void)n;
    return 0;
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* HEAD of key at url: 0 with md filled, or the status of the failure (-1: no answer). */
static long head_md(const char *url, s3_md_t *md)
{
    memset(md, 0, sizeof(*md));
    httpc_cb_t cb = {.on_header = md_collect, .on_body = no_data, .arg = md};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_get_lite("HEAD", url, NULL, S3_NATIVE_TIMEOUT_MS, &cb, &r);
    long st = rc < 0 ? -1 : r.status == 200 ? 0 : r.status;
    httpc_resp_dispose(&r);
    return st;
}

static void object_head(http_req_t *req, const char *url)
{
    s3_md_t md;
    long st = head_md(url, &md);
    if (st == 404) {
        s3_error(req, 404, "NoSuchKey", "no such key");
        return;
    }
    if (st != 0) {
        s3_error(req, st < 0 ? 503 : (unsigned)st, "ServiceUnavailable", "HEAD failed");
        return;
    }
    httpc_header_t h[8];
    md_headers(&md, h);
    struct MHD_Response *r = MHD_create_response_from_callback((uint64_t)strtoll(md.size, NULL, 10),
                                                               4096, no_body, NULL, NULL);
    for (httpc_header_t *x = h; x->name; x++)
        MHD_add_response_header(r, x->name, x->value);
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    http_send(req, 200, r);
}

/* DELETE at url: the native status (-1: no answer, err filled). */
static long delete_at(const char *url, char *err, size_t errlen)
{
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do("DELETE", url, NULL, 0, NULL, S3_NATIVE_TIMEOUT_MS, &r);
    if (rc < 0)
        snprintf(err, errlen, "%s", r.err);
    else if (r.body.base)
        snprintf(err, errlen, "%.*s", (int)(r.body.len < 400 ? r.body.len : 400), r.body.base);
    long st = rc < 0 ? -1 : r.status;
    httpc_resp_dispose(&r);
    return st;
}

/* S3 answers 204 whether the key was there or not. */
static void object_delete(http_req_t *req, const char *url)
{
    char err[512] = "";
    long st = delete_at(url, err, sizeof(err));
    if (st == 200 || st == 204 || st == 404)
        http_reply(req, 204, NULL, "", 0);
    else
        s3_error(req, st < 0 ? 503 : (unsigned)st, "InternalError", "%s", err);
}

/* ---------------------------------------------------------------- PUT */

/* An unlinked spool file in the node's data dir. -1 with errno. */
static int spool_open(void)
{
    const char *dir = cluster_config()->data_dir;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
        return fd;
    char *path = xasprintf("%s/s3-spool-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    free(path);
    return fd;
}

static void spool_init(s3_ctx_t *c)
{
    c->md5 = EVP_MD_CTX_new();
    if (c->md5 == NULL || EVP_DigestInit_ex(c->md5, EVP_md5(), NULL) != 1)
        locus_panic("cannot start an MD5 digest");
    if (c->want_sha[0] && !c->copy) {
        c->sha = EVP_MD_CTX_new();
        if (c->sha == NULL || EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1)
            locus_panic("cannot start a SHA-256 digest");
    }
    buf_init(&c->mem);
}

/* Appends to the spool (memory or a page-cache write, never a wait: I/O threads call it).
 * 0, or -1 with c->code and c->msg. */
static int spool_write(s3_ctx_t *c, const void *data, size_t n)
{
    c->n += (int64_t)n;
    if (c->n > S3_PUT_MAX) {
        snprintf(c->msg, sizeof(c->msg), "a body over %lld bytes", (long long)S3_PUT_MAX);
        c->code = "EntityTooLarge";
        return -1;
    }
    EVP_DigestUpdate(c->md5, data, n);
    if (c->sha)
        EVP_DigestUpdate(c->sha, data, n);
    if (c->block) {
        if (c->n > (int64_t)S3_BLOCK) { /* more than its (decoded) length said */
            snprintf(c->msg, sizeof(c->msg), "a body longer than its length said");
            c->code = "IncompleteBody";
            c->sink_status = 400;
            return -1;
        }
        memcpy(c->block + c->n - (int64_t)n, data, n);
        return 0;
    }
    if (c->fd < 0 && c->mem.len + n <= S3_SPOOL_MEM) {
        buf_append(&c->mem, data, n);
        return 0;
    }
    if (c->fd < 0) {
        c->fd = spool_open();
        if (c->fd < 0 || write_all(c->fd, c->mem.base, c->mem.len) < 0)
            goto fail;
        buf_dispose(&c->mem);
    }
    if (write_all(c->fd, data, n) == 0)
        return 0;
fail:
    snprintf(c->msg, sizeof(c->msg), "cannot spool the body: %s", strerror(errno));
    c->code = "InternalError";
    return -1;
}

static int chunk_emit(void *arg, const void *p, size_t n)
{
    return spool_write(arg, p, n);
}

static int put_sink(http_req_t *req, const char *data, size_t n)
{
    s3_ctx_t *c = req->ctx;
    if (c->chunked == NULL)
        return spool_write(c, data, n);
    if (s3_chunked_feed(c->chunked, data, n, chunk_emit, c) == 0)
        return 0;
    if (c->chunked->code) { /* the decoder's refusal, else the spool's */
        c->code = c->chunked->code;
        c->sink_status = strcmp(c->code, "SignatureDoesNotMatch") == 0 ? 403 : 400;
        snprintf(c->msg, sizeof(c->msg), "%s", c->chunked->err);
    }
    return -1;
}

/* An aws-chunked body (x-amz-content-sha256 STREAMING-...): its decoder. false with the error
 * in c. */
static bool chunked_headers(http_req_t *req, s3_ctx_t *c, const char *mode)
{
    const char *dl = http_header(req, "x-amz-decoded-content-length");
    char *end = NULL;
    long long n = dl ? strtoll(dl, &end, 10) : -1;
    c->status = 400;
    c->code = "InvalidArgument";
    if (dl == NULL || *dl == '\0' || *end || n < 0 || n > S3_PUT_MAX) {
        snprintf(c->msg, sizeof(c->msg),
                 "an aws-chunked body needs x-amz-decoded-content-length (0..%lld)",
                 (long long)S3_PUT_MAX);
        return false;
    }
    c->decoded_len = n;
    c->chunked = xcalloc(1, sizeof(*c->chunked));
    s3_chain_t *chain = auth_enabled() && c->chain.prev[0] ? &c->chain : NULL;
    if (auth_enabled() && chain == NULL && strncmp(mode, "STREAMING-AWS4-", 15) == 0) {
        snprintf(c->msg, sizeof(c->msg),
                 "signed aws-chunked bodies need a signed Authorization "
                 "header (not a presigned URL)");
        return false;
    }
    if (s3_chunked_init(c->chunked, mode, http_header(req, "x-amz-trailer"), chain, n) < 0) {
        c->status = 501;
        c->code = c->chunked->code;
        snprintf(c->msg, sizeof(c->msg), "%s", c->chunked->err);
        return false;
    }
    c->status = 0;
    c->code = NULL;
    return true;
}

/* UploadPart's ?partNumber=&uploadId=: c->part, or false with the error in c. */
static bool part_headers(http_req_t *req, s3_ctx_t *c)
{
    const char *pn = http_query(req, "partNumber"), *id = http_query(req, "uploadId");
    if (pn == NULL && id == NULL)
        return true;
    c->part = s3_part_number(pn);
    if (c->part < 0 || id == NULL) {
        c->status = 400;
        c->code = "InvalidArgument";
        snprintf(c->msg, sizeof(c->msg),
                 "an upload part needs uploadId and a partNumber in "
                 "1..%d",
                 S3_PARTS_MAX);
    } else if (!s3_upload_id_ok(id)) {
        c->status = 404;
        c->code = "NoSuchUpload";
        snprintf(c->msg, sizeof(c->msg), "the upload id \"%.64s\" does not exist", id);
    }
    return c->status == 0;
}

void s3_put_headers(http_req_t *req, s3_ctx_t *c)
{
    if (!part_headers(req, c))
        return;
    if (http_header(req, "x-amz-copy-source")) {
        c->copy = true;
        if (req->content_length > (int64_t)HTTP_DRAIN_MAX) {
            c->status = 400;
            c->code = "InvalidRequest";
            snprintf(c->msg, sizeof(c->msg), "a copy has no body");
        }
        return;
    }
    const char *enc = http_header(req, "Content-Encoding");
    const char *sha = http_header(req, "x-amz-content-sha256");
    bool streaming = sha && strncmp(sha, "STREAMING-", 10) == 0;
    if (enc && strstr(enc, "aws-chunked") && !streaming) {
        c->status = 400;
        c->code = "InvalidArgument";
        snprintf(c->msg, sizeof(c->msg), "aws-chunked needs x-amz-content-sha256 STREAMING-*");
        return;
    }
    if (streaming && !chunked_headers(req, c, sha))
        return;
    if (req->content_length > S3_PUT_MAX && !streaming) {
        c->status = 400;
        c->code = "EntityTooLarge";
        snprintf(c->msg, sizeof(c->msg), "a body over %lld bytes", (long long)S3_PUT_MAX);
        return;
    }
    if (!s3_bucket_exists(c->bck, NULL)) {
        c->status = 404;
        c->code = "NoSuchBucket";
        snprintf(c->msg, sizeof(c->msg), "bucket %.200s does not exist", c->bck);
        return;
    }
    spool_init(c);
    int64_t len = c->chunked ? c->decoded_len : req->content_length; /* what the spool gets */
    if (len >= (int64_t)S3_BLOCK_MIN && len <= (int64_t)S3_BLOCK)
        c->block = s3_block_get();
    else if (len > 0 && len <= (int64_t)S3_SPOOL_MEM)
        buf_reserve(&c->mem, (size_t)len); /* no regrowth (copies) on the way */
    req->body_mode = BODY_STREAM;
    req->on_body = put_sink;
}

/* Content-MD5 (base64), when the client sent one, against the body's digest d. */
static bool md5_matches(http_req_t *req, const unsigned char d[16])
{
    const char *want = http_header(req, "Content-MD5");
    if (want == NULL)
        return true;
    char *b64 = base64_encode(d, 16);
    bool ok = strcmp(b64, want) == 0;
    free(b64);
    return ok;
}

/* PUTs the spool to url with its MD5 (hex, into hex) as the ETag. 0, or -1 when answered (the
 * client's Content-MD5 does not match, the target failed). */
static int spool_put(http_req_t *req, s3_ctx_t *c, const char *url, char hex[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(c->md5, d, &dn);
    if (!c->copy && !md5_matches(req, d)) {
        s3_error(req, 400, "BadDigest", "the Content-MD5 you specified did not match the body");
        return -1;
    }
    if (c->sha) {
        unsigned char sd[EVP_MAX_MD_SIZE];
        EVP_DigestFinal_ex(c->sha, sd, &dn);
        if (!s3_payload_ok(c, sd)) {
            s3_error(req, 400, "XAmzContentSHA256Mismatch",
                     "the body does not match x-amz-content-sha256");
            return -1;
        }
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    const httpc_header_t hdrs[] = {{CLUSTER_HDR_MD5_ETAG, hex}, {NULL, NULL}};
    httpc_resp_t r;
    httpc_resp_init(&r);
    const char *mem = c->block ? c->block : c->mem.base ? c->mem.base : "";
    size_t len = c->block ? (size_t)c->n : c->mem.len;
    int rc = c->fd >= 0 ? httpc_put_fd(url, c->fd, c->n, hdrs, 0, &r)
                        : httpc_put_lite(url, mem, len, hdrs, 0, &r);
    int out = -1;
    if (rc < 0)
        s3_error(req, 503, "ServiceUnavailable", "target unreachable: %s", r.err);
    else if (r.status != 200)
        s3_error_native(req, r.status, &r.body, c->part > 0 ? "NoSuchUpload" : "NoSuchBucket");
    else
        out = 0;
    httpc_resp_dispose(&r);
    return out;
}

static void object_put(http_req_t *req, s3_ctx_t *c, const char *url)
{
    if (req->sink_failed) {
        unsigned st = c->sink_status                           ? c->sink_status
                      : strcmp(c->code, "EntityTooLarge") == 0 ? 400
                                                               : 500;
        s3_error(req, st, c->code, "%s", c->msg);
        return;
    }
    if (c->chunked && s3_chunked_finish(c->chunked) < 0) {
        s3_error(req, 400, c->chunked->code, "%s", c->chunked->err);
        return;
    }
    int64_t want = c->chunked ? c->decoded_len : req->content_length;
    if (want >= 0 && c->n != want) {
        s3_error(req, 400, "IncompleteBody", "got %lld of %lld bytes", (long long)c->n,
                 (long long)want);
        return;
    }
    char hex[33], etag[40];
    if (spool_put(req, c, url, hex) < 0)
        return;
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "ETag", etag);
    http_send(req, 200, resp);
}

/* ---------------------------------------------------------------- CopyObject */

/* x-amz-copy-source: "[/]<bucket>/<key>[?versionId=..]", percent-encoded. 0 with *bck and *key
 * (caller frees), or -1 with the error answered. */
static int copy_source(http_req_t *req, char **bck, char **key)
{
    const char *h = http_header(req, "x-amz-copy-source");
    const char *q = strchr(h, '?');
    size_t n = q ? (size_t)(q - h) : strlen(h), dl = 0;
    char *src = url_decode(h, n, &dl);
    const char *p = src;
    while (p && *p == '/')
        p++;
    const char *slash = p ? strchr(p, '/') : NULL;
    const char *why = "expecting <bucket>/<key>";
    if (src && dl == strlen(src) && slash && slash[1]) {
        *bck = xstrndup(p, (size_t)(slash - p));
        *key = xstrdup(slash + 1);
        why = name_check(*bck, *key);
        if (why) {
            free(*bck);
            free(*key);
        }
    }
    if (why) {
        s3_error(req, 400, "InvalidArgument", "invalid x-amz-copy-source \"%.200s\": %s", h, why);
        free(src);
        return -1;
    }
    free(src);
    return 0;
}

typedef struct {
    s3_ctx_t *c;
    long want; /* the source's answer to take: 200, or 206 for a range */
    buf_t err; /* a failed GET's answer (bounded) */
    bool failed;
} copy_in_t;

static int copy_body(void *arg, long status, const void *p, size_t n)
{
    copy_in_t *in = arg;
    if (status != in->want) {
        if (in->err.len + n <= S3_ERR_BODY_MAX)
            buf_append(&in->err, p, n);
        return 0;
    }
    if (spool_write(in->c, p, n) < 0) {
        in->failed = true;
        return -1;
    }
    return 0;
}

/* UploadPartCopy's x-amz-copy-source-range ("bytes=first-last", both given) into the source
 * GET's Range header; "" without one. false when answered (400). */
static bool copy_range(http_req_t *req, const s3_ctx_t *c, char out[64])
{
    const char *h = http_header(req, "x-amz-copy-source-range");
    out[0] = '\0';
    if (h == NULL)
        return true;
    long long a, b;
    char tail;
    if (c->part <= 0 || sscanf(h, "bytes=%lld-%lld%c", &a, &b, &tail) != 2 || a < 0 || b < a ||
        strspn(h + 6, "0123456789-") != strlen(h + 6)) {
        s3_error(req, 400, "InvalidArgument",
                 "x-amz-copy-source-range must be bytes=first-last (UploadPartCopy only)");
        return false;
    }
    snprintf(out, 64, "bytes=%lld-%lld", a, b);
    return true;
}

/* The answer of a copy: CopyObjectResult, or CopyPartResult for UploadPartCopy. */
static void copy_answer(http_req_t *req, const s3_ctx_t *c, const char hex[33])
{
    char t[32], etag[40];
    s3_time_iso(time_now_ns(), t);
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    const char *root = c->part > 0 ? "CopyPartResult" : "CopyObjectResult";
    buf_t x;
    buf_init(&x);
    buf_printf(&x, "<%s xmlns=\"" S3_XML_NS "\">", root);
    s3x_elem(&x, "LastModified", t);
    s3x_elem(&x, "ETag", etag);
    buf_printf(&x, "</%s>", root);
    s3_reply_xml(req, 200, &x);
}

/* CopyObject and UploadPartCopy (durl: the copy's native URL, a part's with its query): the
 * source is read through this proxy into the spool and PUT like a new object, so that the copy
 * gets its own MD5 ETag (the targets' copy does not carry custom metadata). */
static void object_copy(http_req_t *req, s3_ctx_t *c, const char *durl)
{
    char *sb = NULL, *sk = NULL, range[64];
    if (!copy_range(req, c, range) || copy_source(req, &sb, &sk) < 0)
        return;
    char *surl = NULL;
    copy_in_t in = {.c = c, .want = range[0] ? 206 : 200};
    buf_init(&in.err);
    if (!s3_bucket_exists(sb, NULL)) {
        s3_error(req, 404, "NoSuchBucket", "bucket %s does not exist", sb);
        goto out;
    }
    surl = s3_target_url(sb, sk);
    if (surl == NULL) {
        s3_error(req, 503, "ServiceUnavailable", "no storage targets in the cluster");
        goto out;
    }
    spool_init(c);
    httpc_header_t hdrs[2] = {{"Range", range}, {NULL, NULL}};
    httpc_cb_t cb = {.on_body = copy_body, .arg = &in};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do_cb("GET", surl, range[0] ? hdrs : NULL, 0, &cb, &r);
    char hex[33];
    if (in.failed)
        s3_error(req, strcmp(c->code, "EntityTooLarge") == 0 ? 400 : 500, c->code, "%s", c->msg);
    else if (rc < 0)
        s3_error(req, 503, "ServiceUnavailable", "target unreachable: %s", r.err);
    else if (r.status == 416)
        s3_error(req, 416, "InvalidRange", "x-amz-copy-source-range is outside the source");
    else if (r.status != in.want)
        s3_error_native(req, r.status, &in.err, "NoSuchKey");
    else if (spool_put(req, c, durl, hex) == 0)
        copy_answer(req, c, hex);
    httpc_resp_dispose(&r);
out:
    buf_dispose(&in.err);
    free(surl);
    free(sb);
    free(sk);
}

/* ---------------------------------------------------------------- DeleteObjects */

static void delete_result(buf_t *x, const char *key, const fanout_req_t *q, bool quiet)
{
    bool ok = q && q->rc == 0 &&
              (q->resp.status == 200 || q->resp.status == 204 || q->resp.status == 404);
    if (ok) {
        if (!quiet) {
            buf_puts(x, "<Deleted>");
            s3x_elem(x, "Key", key);
            buf_puts(x, "</Deleted>");
        }
        return;
    }
    buf_puts(x, "<Error>");
    s3x_elem(x, "Key", key);
    s3x_elem(x, "Code", q == NULL ? "InvalidArgument" : "InternalError");
    s3x_elem(x, "Message", q == NULL ? "invalid object name" : "the delete failed");
    buf_puts(x, "</Error>");
}

void s3_delete_many(http_req_t *req, s3_ctx_t *c)
{
    s3_delete_t d;
    char err[256];
    if (s3x_parse_delete(req->body.base, req->body.len, &d, err, sizeof(err)) < 0) {
        s3_delete_dispose(&d);
        s3_error(req, 400, "MalformedXML", "%s", err);
        return;
    }
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    EVP_Digest(req->body.base ? req->body.base : "", req->body.len, dg, &dn, EVP_md5(), NULL);
    if (!md5_matches(req, dg)) {
        s3_delete_dispose(&d);
        s3_error(req, 400, "BadDigest", "the Content-MD5 you specified did not match the body");
        return;
    }
    fanout_req_t *calls = xcalloc(d.n + 1, sizeof(*calls));
    size_t *of = xcalloc(d.n + 1, sizeof(size_t)); /* key i's call, or SIZE_MAX */
    size_t n = 0;
    for (size_t i = 0; i < d.n; i++) {
        char *url = name_check_object(d.keys[i], strlen(d.keys[i]))
                        ? NULL
                        : s3_target_url(c->bck, d.keys[i]);
        of[i] = url ? n : SIZE_MAX;
        if (url)
            calls[n++] = (fanout_req_t){.method = "DELETE", .url = url};
    }
    fanout_opts_t o = {.concurrency = 16, .timeout_ms = S3_NATIVE_TIMEOUT_MS};
    fanout_run(calls, n, &o);
    buf_t x;
    buf_init(&x);
    buf_puts(&x, "<DeleteResult xmlns=\"" S3_XML_NS "\">");
    for (size_t i = 0; i < d.n; i++)
        delete_result(&x, d.keys[i], of[i] == SIZE_MAX ? NULL : &calls[of[i]], d.quiet);
    buf_puts(&x, "</DeleteResult>");
    fanout_free(calls, n);
    free(of);
    s3_delete_dispose(&d);
    s3_reply_xml(req, 200, &x);
}

/* ---------------------------------------------------------------- object lambda */

/* The ETL a GET asks for: MinIO Object Lambda's lambdaArn=arn:minio:s3-object-lambda::<etl>:
 * webhook, or x-locus-etl / etl_name; NULL when none. -1 (answered) when the ARN is not one. */
static int etl_wanted(http_req_t *req, char **name)
{
    const char *arn = http_query(req, "lambdaArn");
    const char *plain = http_header(req, "x-locus-etl");
    if (plain == NULL)
        plain = http_query(req, "etl_name");
    *name = NULL;
    if (arn) {
        static const char pfx[] = "arn:minio:s3-object-lambda::", sfx[] = ":webhook";
        size_t n = strlen(arn);
        if (n <= strlen(pfx) + strlen(sfx) || !str_has_prefix(arn, pfx) ||
            !str_has_suffix(arn, sfx)) {
            s3_error(req, 400, "InvalidArgument",
                     "lambdaArn must be arn:minio:s3-object-lambda::<etl>:webhook");
            return -1;
        }
        *name = xstrndup(arn + strlen(pfx), n - strlen(pfx) - strlen(sfx));
    } else if (plain) {
        *name = xstrdup(plain);
    }
    if (*name && name_check_bucket(*name)) { /* ETL names follow the bucket name rules */
        s3_error(req, 400, "InvalidArgument", "invalid ETL name \"%.64s\"", *name);
        free(*name);
        return -1;
    }
    return 0;
}

/* A GET through an ETL: the target's inline transform (?etl_name=, with etl_args). 0 with *url
 * extended, or -1 when answered. */
static int etl_url(http_req_t *req, char **url)
{
    char *name;
    if (etl_wanted(req, &name) < 0)
        return -1;
    if (name == NULL)
        return 0;
    const char *args = http_query(req, "etl_args");
    char *ea = args ? url_encode(args, NULL) : NULL;
    char *u = xasprintf("%s?etl_name=%s%s%s", *url, name, ea ? "&etl_args=" : "", ea ? ea : "");
    free(ea);
    free(name);
    free(*url);
    *url = u;
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

void s3_object_request(http_req_t *req, s3_ctx_t *c)
{
    const char *m = req->method;
    if (!s3_bucket_exists(c->bck, NULL)) {
        s3_error(req, 404, "NoSuchBucket", "bucket %s does not exist", c->bck);
        return;
    }
    if (http_query(req, "tagging") || http_query(req, "acl") ||
        (c->part <= 0 && http_query(req, "partNumber"))) {
        s3_error(req, 501, "NotImplemented", "this object sub-resource is not implemented");
        return;
    }
    char *url = s3_target_url(c->bck, c->key);
    if (url == NULL) {
        s3_error(req, 503, "ServiceUnavailable", "no storage targets in the cluster");
        return;
    }
    if (c->part > 0) { /* UploadPart(Copy): to the upload on the owner */
        char *u =
            xasprintf("%s?uploadId=%s&partNumber=%d", url, http_query(req, "uploadId"), c->part);
        free(url);
        url = u;
    }
    if (c->copy)
        object_copy(req, c, url);
    else if (s3_mpt_object(req, c, url))
        ; /* answered */
    else if (strcmp(m, "GET") == 0 && etl_url(req, &url) == 0)
        object_get(req, url);
    else if (strcmp(m, "GET") == 0)
        ; /* answered */
    else if (strcmp(m, "HEAD") == 0)
        object_head(req, url);
    else if (strcmp(m, "PUT") == 0)
        object_put(req, c, url);
    else if (strcmp(m, "DELETE") == 0)
        object_delete(req, url);
    else
        s3_error(req, 405, "MethodNotAllowed", "%s is not allowed on an object", m);
    free(url);
}
