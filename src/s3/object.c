/*
 * object.c - S3 object operations, relayed to the HRW owner target's native endpoints (S3
 * clients do not follow a 307 on PUT, and unmodified boto3 not even on GET, so the proxy
 * carries the bytes both ways, as AIStore's S3-Reverse-Proxy does):
 *   PutObject     the body spooled on the proxy (memory, or an unlinked file past
 *                 S3_SPOOL_MEM) while its MD5 is computed, then PUT to the target with the MD5
 *                 as the object's ETag (CLUSTER_HDR_MD5_ETAG);
 *   GetObject     streamed from the target by a pool thread into the client's response (Range
 *                 passes through: 206);
 *   HeadObject, DeleteObject, CopyObject (the target's copy, ?object_to), DeleteObjects (a
 *                 fan-out of DELETEs).
 *
 * DESIGN
 * A response body produced on the request's own worker would not leave before the worker
 * returns (net.h), so GETs run on a pool of threads that keep their keep-alive connections to
 * the targets: the worker waits for the target's status and headers, queues the streamed
 * response and returns; the pool thread then copies the body. Pool threads start on demand
 * (S3_POOL_MAX at most) and exit after a minute idle.
 */
#include "s3/internal.h"
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

#define S3_POOL_MAX 256
#define S3_POOL_IDLE_SEC 60
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

/* ---------------------------------------------------------------- GET pool */

typedef struct s3get_s {
    struct s3get_s *next;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;  /* the worker and the pool thread */
    int phase; /* 0: waiting for the answer, 1: status and headers known, 2: done */
    long status;
    bool streaming; /* 200/206: the body goes to st */
    char *url;
    char range[256];
    s3_md_t md;
    buf_t err; /* any other answer's body (bounded) */
    char terr[256];
    http_stream_t *st;
} s3get_t;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* the queue and counts below */
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static s3get_t *pool_head, *pool_tail;
static int pool_idle, pool_threads;

static void get_unref(s3get_t *g)
{
    pthread_mutex_lock(&g->lock);
    locus_assert(g->refs > 0);
    bool last = --g->refs == 0;
    pthread_mutex_unlock(&g->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    free(g->url);
    buf_dispose(&g->err);
    free(g);
}

static void get_on_header(void *arg, const char *n, size_t nl, const char *v, size_t vl)
{
    s3get_t *g = arg;
    if (g->phase == 0) /* only the pool thread writes md, before phase 1 */
        on_md_header(&g->md, n, nl, v, vl);
}

static void get_publish(s3get_t *g, long status)
{
    pthread_mutex_lock(&g->lock);
    if (g->phase == 0) {
        g->status = status;
        g->streaming = status == 200 || status == 206;
        g->phase = 1;
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
}

static int get_on_body(void *arg, long status, const void *p, size_t n)
{
    s3get_t *g = arg;
    get_publish(g, status);
    if (g->streaming)
        return http_stream_write(g->st, p, n);
    if (g->err.len + n <= S3_ERR_BODY_MAX)
        buf_append(&g->err, p, n);
    return 0;
}

static void get_run(s3get_t *g)
{
    httpc_header_t hdrs[2] = {{NULL, NULL}, {NULL, NULL}};
    if (g->range[0])
        hdrs[0] = (httpc_header_t){"Range", g->range};
    httpc_cb_t cb = {.on_header = get_on_header, .on_body = get_on_body, .arg = g};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do_cb("GET", g->url, hdrs, 0, &cb, &r);
    if (rc < 0)
        snprintf(g->terr, sizeof(g->terr), "%s", r.err ? r.err : "transport error");
    get_publish(g, rc < 0 ? -1 : r.status); /* an empty body, or no answer */
    httpc_resp_dispose(&r);
    pthread_mutex_lock(&g->lock);
    g->phase = 2;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    http_stream_end(g->st, rc == 0);
    get_unref(g);
}

static void *pool_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (pool_head == NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += S3_POOL_IDLE_SEC;
            pool_idle++;
            int rc = pthread_cond_timedwait(&pool_cond, &pool_lock, &ts);
            pool_idle--;
            if (rc == ETIMEDOUT && pool_head == NULL)
                goto out;
        }
        s3get_t *g = pool_head;
        pool_head = g->next;
        if (pool_head == NULL)
            pool_tail = NULL;
        pthread_mutex_unlock(&pool_lock);
        get_run(g);
        pthread_mutex_lock(&pool_lock);
    }
out:
    pool_threads--;
    pthread_mutex_unlock(&pool_lock);
    httpc_thread_cleanup();
    return NULL;
}

/* Queues g for a pool thread (a new one when none is idle). false when no thread can run it. */
static bool pool_submit(s3get_t *g)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_idle == 0 && pool_threads < S3_POOL_MAX) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        if (pthread_create(&th, &a, pool_main, NULL) == 0)
            pool_threads++;
        pthread_attr_destroy(&a);
    }
    bool ok = pool_threads > 0;
    if (ok) {
        g->next = NULL;
        if (pool_tail)
            pool_tail->next = g;
        else
            pool_head = g;
        pool_tail = g;
        pthread_cond_signal(&pool_cond);
    }
    pthread_mutex_unlock(&pool_lock);
    return ok;
}

static void object_get(http_req_t *req, const char *url)
{
    s3get_t *g = xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    buf_init(&g->err);
    g->refs = 2;
    g->url = xstrdup(url);
    const char *range = http_header(req, "Range");
    if (range)
        snprintf(g->range, sizeof(g->range), "%s", range);
    g->st = http_stream_new();
    if (g->st == NULL || !pool_submit(g)) {
        if (g->st) {
            http_stream_cancel(g->st);
            http_stream_end(g->st, false);
        }
        g->refs = 1;
        get_unref(g);
        s3_error(req, 503, "SlowDown", "cannot start a transfer: out of threads");
        return;
    }
    pthread_mutex_lock(&g->lock);
    while (g->phase == 0)
        pthread_cond_wait(&g->cond, &g->lock);
    bool streaming = g->streaming;
    pthread_mutex_unlock(&g->lock);
    if (streaming) {
        httpc_header_t h[8];
        md_headers(&g->md, h);
        int64_t len = g->md.length[0] ? strtoll(g->md.length, NULL, 10) : -1;
        http_stream_send_hdrs(req, g->st, (unsigned)g->status, len, "application/octet-stream", h);
        get_unref(g);
        return;
    }
    http_stream_cancel(g->st);
    pthread_mutex_lock(&g->lock);
    while (g->phase < 2)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    if (g->status < 0)
        s3_error(req, 503, "ServiceUnavailable", "target unreachable: %s", g->terr);
    else
        s3_error_native(req, g->status, &g->err, "NoSuchKey");
    get_unref(g);
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
    int rc = httpc_do_cb("HEAD", url, NULL, S3_NATIVE_TIMEOUT_MS, &cb, &r);
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

static int put_sink(http_req_t *req, const char *data, size_t n)
{
    return spool_write(req->ctx, data, n);
}

void s3_put_headers(http_req_t *req, s3_ctx_t *c)
{
    if (http_header(req, "x-amz-copy-source")) {
        c->copy = true;
        if (req->content_length > (int64_t)HTTP_DRAIN_MAX) {
            c->status = 400;
            c->code = "InvalidRequest";
            snprintf(c->msg, sizeof(c->msg), "a copy has no body");
        }
        return;
    }
    if (http_query(req, "uploadId") || http_query(req, "partNumber")) {
        c->status = 501;
        c->code = "NotImplemented";
        snprintf(c->msg, sizeof(c->msg), "multipart upload is not implemented yet");
        return;
    }
    const char *enc = http_header(req, "Content-Encoding");
    const char *sha = http_header(req, "x-amz-content-sha256");
    if ((enc && strstr(enc, "aws-chunked")) || (sha && strncmp(sha, "STREAMING-", 10) == 0)) {
        c->status = 501;
        c->code = "NotImplemented";
        snprintf(c->msg, sizeof(c->msg), "aws-chunked payloads are not supported yet");
        return;
    }
    if (req->content_length > S3_PUT_MAX) {
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
    int rc = c->fd >= 0
                 ? httpc_put_fd(url, c->fd, c->n, hdrs, 0, &r)
                 : httpc_do("PUT", url, c->mem.base ? c->mem.base : "", c->mem.len, hdrs, 0, &r);
    int out = -1;
    if (rc < 0)
        s3_error(req, 503, "ServiceUnavailable", "target unreachable: %s", r.err);
    else if (r.status != 200)
        s3_error_native(req, r.status, &r.body, "NoSuchBucket");
    else
        out = 0;
    httpc_resp_dispose(&r);
    return out;
}

static void object_put(http_req_t *req, s3_ctx_t *c, const char *url)
{
    if (req->sink_failed) {
        s3_error(req, strcmp(c->code, "EntityTooLarge") == 0 ? 400 : 500, c->code, "%s", c->msg);
        return;
    }
    if (req->content_length >= 0 && c->n != req->content_length) {
        s3_error(req, 400, "IncompleteBody", "got %lld of %lld bytes", (long long)c->n,
                 (long long)req->content_length);
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
    buf_t err; /* a failed GET's answer (bounded) */
    bool failed;
} copy_in_t;

static int copy_body(void *arg, long status, const void *p, size_t n)
{
    copy_in_t *in = arg;
    if (status != 200) {
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

/* CopyObject: the source is read through this proxy into the spool and PUT like a new object,
 * so that the copy gets its own MD5 ETag (the targets' copy does not carry custom metadata). */
static void object_copy(http_req_t *req, s3_ctx_t *c)
{
    char *sb = NULL, *sk = NULL;
    if (copy_source(req, &sb, &sk) < 0)
        return;
    char *surl = NULL, *durl = NULL;
    copy_in_t in = {.c = c};
    buf_init(&in.err);
    if (!s3_bucket_exists(sb, NULL)) {
        s3_error(req, 404, "NoSuchBucket", "bucket %s does not exist", sb);
        goto out;
    }
    surl = s3_target_url(sb, sk);
    durl = s3_target_url(c->bck, c->key);
    if (surl == NULL || durl == NULL) {
        s3_error(req, 503, "ServiceUnavailable", "no storage targets in the cluster");
        goto out;
    }
    spool_init(c);
    httpc_cb_t cb = {.on_body = copy_body, .arg = &in};
    httpc_resp_t r;
    httpc_resp_init(&r);
    int rc = httpc_do_cb("GET", surl, NULL, 0, &cb, &r);
    char hex[33];
    if (in.failed)
        s3_error(req, strcmp(c->code, "EntityTooLarge") == 0 ? 400 : 500, c->code, "%s", c->msg);
    else if (rc < 0)
        s3_error(req, 503, "ServiceUnavailable", "target unreachable: %s", r.err);
    else if (r.status != 200)
        s3_error_native(req, r.status, &in.err, "NoSuchKey");
    else if (spool_put(req, c, durl, hex) == 0) {
        char t[32], etag[40];
        s3_time_iso(time_now_ns(), t);
        snprintf(etag, sizeof(etag), "\"%s\"", hex);
        buf_t x;
        buf_init(&x);
        buf_puts(&x, "<CopyObjectResult xmlns=\"" S3_XML_NS "\">");
        s3x_elem(&x, "LastModified", t);
        s3x_elem(&x, "ETag", etag);
        buf_puts(&x, "</CopyObjectResult>");
        s3_reply_xml(req, 200, &x);
    }
    httpc_resp_dispose(&r);
out:
    buf_dispose(&in.err);
    free(surl);
    free(durl);
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
    if (c->copy) {
        object_copy(req, c);
        return;
    }
    if (http_query(req, "uploadId") || http_query(req, "uploads") || http_query(req, "tagging") ||
        http_query(req, "acl")) {
        s3_error(req, 501, "NotImplemented", "this object sub-resource is not implemented");
        return;
    }
    char *url = s3_target_url(c->bck, c->key);
    if (url == NULL) {
        s3_error(req, 503, "ServiceUnavailable", "no storage targets in the cluster");
        return;
    }
    if (strcmp(m, "GET") == 0 && etl_url(req, &url) == 0)
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
