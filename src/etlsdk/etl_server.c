/*
 * etl_server.c - the ETL transformer HTTP server of liblocus-etl (docs/protocol.md §3, §4, §5, §6).
 *
 * Routes: GET /health -> 200 "Running"; PUT /<path> (hpush: body or FQN); GET /<path> (hpull:
 * fetch from AIS_TARGET_URL, or FQN); POST /download?original_url=..; GET /ws (WebSocket
 * handshake here, the connection itself in etl_ws.c).
 *
 * DESIGN
 * - libmicrohttpd, one thread per connection (docs/design.md §13.3): connection threads receive the
 *   body, open/mmap FQNs, fetch hpull objects and perform direct puts; all of those block.
 *   MHD_ALLOW_UPGRADE is on for /ws: the upgraded connection is served on its own connection
 *   thread by etl_ws.c and leaves the active list (it is on ctx's ws list instead).
 * - Transforms run on a fixed pool of `workers` threads fed by a FIFO (ctx->qmu). The connection
 *   thread submits its request and waits on the request's output (etl_output.c) until the transform
 *   is done or its written output starts streaming.
 * - A request object (req_t) is created by the URI-log callback (it receives the raw, still
 *   escaped URI), lives on ctx's active list and is freed in the completion callback after its
 *   job, if any, has finished. The response never outlives it: MHD calls the completion callback
 *   only once the response has been sent or the connection has failed.
 * - Lock order: ctx->amu (active list) -> ctx->qmu (queue) -> req->out.mu. Nobody waits on a
 *   condition while holding amu or qmu together with out.mu.
 * - Shutdown: quiesce (stop accepting), wait up to the grace period for the active list to
 *   drain, cancel what is left (queued jobs complete with LOCUS_ETL_ECANCELED, writers get
 *   LOCUS_ETL_ECANCELED), join the workers, then MHD_stop_daemon closes connections.
 *   WebSockets first drain (answer what they received, then close with 1001); after the grace
 *   period they are aborted, and destroy waits for all of them before stopping the workers.
 */
#include "etlsdk/internal.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG(level, ...) locus_etl_log(LOCUS_ETL_LOG_##level, "[etl] " __VA_ARGS__)

typedef struct req_s req_t;

typedef enum {
    M_OTHER,
    M_GET,
    M_PUT,
    M_POST,
    M_HEAD,
} method_t;

struct req_s {
    locus_etl_ctx_t *ctx;
    char *raw_uri;
    bool seen;     /* the first access-handler call happened */
    bool detached; /* upgraded to a WebSocket: no longer on ctx's active list */
    method_t method;
    int early_status; /* answer this once the body is consumed (0 = none) */
    char *early_msg;
    locus_etl__uri_t uri;
    bool direct_put;
    char *node_first, *node_rest;

    char *body; /* hpush body or fetched object (malloc) */
    size_t body_len, body_cap;
    void *map; /* mmapped FQN */
    size_t map_len;
    int stream_fd;             /* transform_stream: the FQN, or the spooled body */
    uint64_t stream_len;       /* bytes spooled to stream_fd */
    locus_etl__fetch_t *fetch; /* transform_stream: the hpull fetch streaming into a pipe */

    locus_etl__job_t job;
    char *resp_buf; /* direct-put reply body forwarded to our client */

    req_t *anext, *aprev;
};

/* ------------------------------------------------------------------------------------------ */
/* Options */

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || n > INT_MAX)
        return def;
    return (int)n;
}

void locus_etl_options_init(locus_etl_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->api_version = LOCUS_ETL_API_V1;
    o->host = "0.0.0.0";
    o->port = env_int("PORT", 8000);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = env_int("NUM_WORKERS", ncpu > 0 ? (int)ncpu : 2);
    o->max_connections = env_int("MAX_CONN", 256);
    int64_t mx = size_parse(getenv("LOCUS_ETL_MAX_OBJECT_SIZE"));
    o->max_object_size = mx > 0 ? (uint64_t)mx : (uint64_t)16 << 30;
    o->target_url = getenv("AIS_TARGET_URL");
    o->fqn_roots = getenv("LOCUS_ETL_FQN_ROOTS");
    const char *at = getenv("ARG_TYPE");
    o->arg_type_fqn = at != NULL && strcasecmp(at, "fqn") == 0;
    o->direct_put_retries = env_int("AIS_DIRECT_PUT_RETRIES", 3);
    o->obj_timeout_ms = env_int("LOCUS_ETL_FETCH_TIMEOUT_MS", 300000);
    o->unix_socket = getenv("LOCUS_ETL_SOCKET");
}

/* A listening Unix socket at path with large buffers (docs/design.md §13.9: with the defaults
 * bulk transfers are slower than loopback TCP). -1 with err on failure. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    unlink(path); /* a stale socket of a previous run */
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ------------------------------------------------------------------------------------------ */
/* Worker pool */

/* One transform: the whole-buffer callback, or the streaming one reading j->rd (by default
 * j->in.data, e.g. a ws message). */
static int run_transform(locus_etl_ctx_t *ctx, locus_etl__job_t *j)
{
    if (ctx->srv.transform_stream == NULL)
        return ctx->srv.transform(&j->in, &j->out, ctx->srv.userdata);
    if (!j->rd.use_fd) {
        j->rd.mem = j->in.data;
        j->rd.len = j->in.len;
    }
    j->rd.off = 0;
    j->rd.out = &j->out;
    locus_etl_input_t in = j->in;
    in.data = NULL;
    return ctx->srv.transform_stream(&in, &j->rd, &j->out, ctx->srv.userdata);
}

static void *worker_main(void *arg)
{
    locus_etl_ctx_t *ctx = arg;
    pthread_mutex_lock(&ctx->qmu);
    for (;;) {
        while (ctx->qhead == NULL && !ctx->stopping)
            pthread_cond_wait(&ctx->qcond, &ctx->qmu);
        if (ctx->qhead == NULL)
            break; /* stopping and drained */
        locus_etl__job_t *j = ctx->qhead;
        ctx->qhead = j->qnext;
        if (ctx->qhead == NULL)
            ctx->qtail = NULL;
        j->queued = false;
        pthread_mutex_unlock(&ctx->qmu);

        locus_etl_output_t *o = &j->out;
        pthread_mutex_lock(&o->mu);
        bool cancelled = o->cancelled;
        o->state = JOB_RUNNING;
        pthread_mutex_unlock(&o->mu);
        int rc = cancelled ? LOCUS_ETL_ECANCELED : run_transform(ctx, j);
        pthread_mutex_lock(&o->mu);
        o->rc = rc;
        o->state = JOB_DONE;
        locus_etl__output_signal(o);
        pthread_mutex_unlock(&o->mu);

        pthread_mutex_lock(&ctx->qmu);
    }
    pthread_mutex_unlock(&ctx->qmu);
    return NULL;
}

bool locus_etl__submit(locus_etl_ctx_t *ctx, locus_etl__job_t *j)
{
    pthread_mutex_lock(&ctx->qmu);
    if (ctx->stopping) {
        pthread_mutex_unlock(&ctx->qmu);
        return false;
    }
    j->qnext = NULL;
    if (ctx->qtail)
        ctx->qtail->qnext = j;
    else
        ctx->qhead = j;
    ctx->qtail = j;
    j->queued = true;
    j->submitted = true;
    pthread_cond_signal(&ctx->qcond);
    pthread_mutex_unlock(&ctx->qmu);
    return true;
}

static bool submit(req_t *r)
{
    return locus_etl__submit(r->ctx, &r->job);
}

/* Takes j out of the FIFO if it is still there and completes it as cancelled. Caller holds
 * ctx->qmu. */
static void do_unqueue(locus_etl_ctx_t *ctx, locus_etl__job_t *j)
{
    if (!j->queued)
        return;
    locus_etl__job_t **pp = &ctx->qhead;
    locus_etl__job_t *prev = NULL;
    while (*pp != NULL && *pp != j) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp == j) {
        *pp = j->qnext;
        if (ctx->qtail == j)
            ctx->qtail = prev;
    }
    j->queued = false;
    pthread_mutex_lock(&j->out.mu);
    j->out.cancelled = true;
    j->out.rc = LOCUS_ETL_ECANCELED;
    j->out.state = JOB_DONE;
    locus_etl__output_signal(&j->out);
    pthread_mutex_unlock(&j->out.mu);
}

void locus_etl__job_finish(locus_etl_ctx_t *ctx, locus_etl__job_t *j)
{
    if (!j->submitted)
        return;
    pthread_mutex_lock(&ctx->qmu);
    do_unqueue(ctx, j);
    pthread_mutex_unlock(&ctx->qmu);
    locus_etl__output_cancel(&j->out);
    pthread_mutex_lock(&j->out.mu);
    while (j->out.state != JOB_DONE)
        pthread_cond_wait(&j->out.cond, &j->out.mu);
    pthread_mutex_unlock(&j->out.mu);
    j->submitted = false;
}

/* ------------------------------------------------------------------------------------------ */
/* Request objects */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    locus_etl_ctx_t *ctx = cls;
    req_t *r = xcalloc(1, sizeof(*r));
    r->ctx = ctx;
    r->raw_uri = xstrdup(uri);
    r->stream_fd = -1;
    locus_etl__output_init(&r->job.out, true);
    pthread_mutex_lock(&ctx->amu);
    r->anext = ctx->active;
    if (ctx->active)
        ctx->active->aprev = r;
    ctx->active = r;
    ctx->nactive++;
    pthread_mutex_unlock(&ctx->amu);
    return r;
}

/* Takes r off ctx's active list (once). */
static void req_detach(req_t *r)
{
    locus_etl_ctx_t *ctx = r->ctx;
    pthread_mutex_lock(&ctx->amu);
    if (!r->detached) {
        if (r->aprev)
            r->aprev->anext = r->anext;
        else
            ctx->active = r->anext;
        if (r->anext)
            r->anext->aprev = r->aprev;
        ctx->nactive--;
        r->detached = true;
    }
    pthread_mutex_unlock(&ctx->amu);
}

static void req_free(req_t *r)
{
    req_detach(r);
    /* The client may be gone while the transform still runs: cancel and wait for it. */
    locus_etl__job_finish(r->ctx, &r->job);
    locus_etl__output_dispose(&r->job.out);
    if (r->map != NULL)
        munmap(r->map, r->map_len);
    if (r->stream_fd >= 0)
        close(r->stream_fd);
    locus_etl__fetch_free(r->fetch);
    free(r->body);
    free(r->resp_buf);
    free(r->node_first);
    free(r->node_rest);
    free(r->early_msg);
    locus_etl__uri_dispose(&r->uri);
    free(r->raw_uri);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_t *r = *con_cls;
    *con_cls = NULL;
    if (r == NULL)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        LOG(VERBOSE, "request %s ended early (code %d)", r->raw_uri, (int)toe);
    req_free(r);
}

/* ------------------------------------------------------------------------------------------ */
/* Responses */

static enum MHD_Result reply_buf(struct MHD_Connection *c, unsigned status, const void *p, size_t n,
                                 enum MHD_ResponseMemoryMode mode, const char *ctype)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)p, mode);
    if (resp == NULL)
        return MHD_NO;
    if (ctype != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply_buf(c, status, msg, strlen(msg), MHD_RESPMEM_MUST_COPY,
                     "text/plain; charset=utf-8");
}

static enum MHD_Result reply_error(req_t *r, struct MHD_Connection *c, unsigned status,
                                   const char *msg)
{
    LOG(WARNING, "%u %s, while handling %s %s", status, msg,
        r->method == M_PUT   ? "PUT"
        : r->method == M_GET ? "GET"
                             : "request",
        r->raw_uri);
    return reply_text(c, status, msg);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    req_t *r = cls;
    locus_etl_output_t *o = &r->job.out;
    pthread_mutex_lock(&o->mu);
    while (o->len == o->off && o->state != JOB_DONE && !o->cancelled)
        pthread_cond_wait(&o->cond, &o->mu);
    ssize_t ret;
    if (o->len > o->off) {
        size_t n = o->len - o->off;
        if (n > max)
            n = max;
        memcpy(buf, o->buf + o->off, n);
        o->off += n;
        pthread_cond_broadcast(&o->cond); /* a writer may wait for room */
        ret = (ssize_t)n;
    } else if (o->state == JOB_DONE && o->rc == 0 && !o->oom && !o->cancelled) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        LOG(WARNING, "transform of %s failed after %llu bytes were streamed: %s", r->uri.dpath,
            (unsigned long long)o->total, o->err_msg ? o->err_msg : locus_etl_strerror(o->rc));
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    }
    pthread_mutex_unlock(&o->mu);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Input */

int locus_etl__open_fqn(locus_etl_ctx_t *ctx, const char *fqn, int *fdp, uint64_t *size, char **msg)
{
    *fdp = -1;
    *size = 0;
    if (!locus_etl__fqn_allowed(fqn, ctx->opts.fqn_roots)) {
        *msg = xasprintf("FQN %s is outside the allowed roots", fqn);
        return 403;
    }
    int fd = open(fqn, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        *msg = xasprintf("cannot open %s: %s", fqn, strerror(e));
        return (e == ENOENT || e == ENOTDIR) ? 404 : (e == EACCES || e == EPERM) ? 403 : 500;
    }
    if (ctx->opts.fqn_roots != NULL && ctx->opts.fqn_roots[0]) {
        /* Lexically inside a root, but a symlink may lead elsewhere: check the real path too. */
        char *rp = realpath(fqn, NULL);
        bool ok =
            rp != NULL &&
            (locus_etl__fqn_allowed(rp, ctx->opts.fqn_roots) ||
             (ctx->roots_resolved != NULL && locus_etl__fqn_allowed(rp, ctx->roots_resolved)));
        free(rp);
        if (!ok) {
            close(fd);
            *msg = xasprintf("FQN %s resolves outside the allowed roots", fqn);
            return 403;
        }
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *msg = xasprintf("%s is not a regular file", fqn);
        return 400;
    }
    *fdp = fd;
    *size = (uint64_t)st.st_size;
    return 0;
}

int locus_etl__tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char *path = xasprintf("%s/locus-etl-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    free(path);
    return fd;
}

int locus_etl__map_fqn(locus_etl_ctx_t *ctx, const char *fqn, void **map, size_t *len, char **msg)
{
    *map = NULL;
    *len = 0;
    int fd;
    uint64_t size;
    int rc = locus_etl__open_fqn(ctx, fqn, &fd, &size, msg);
    if (rc != 0)
        return rc;
    struct stat st = {.st_size = (off_t)size};
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            *msg = xasprintf("cannot map %s: %s", fqn, strerror(e));
            return 500;
        }
        madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
        *map = m;
        *len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

static bool streaming(const req_t *r)
{
    return r->ctx->srv.transform_stream != NULL;
}

/* transform_stream: the job reads r->stream_fd from its start; len bytes (0 = unknown). */
static void use_stream_fd(req_t *r, uint64_t len, locus_etl_source_t source)
{
    r->job.rd.use_fd = true;
    r->job.rd.fd = r->stream_fd;
    r->job.in.data = "";
    r->job.in.len = (size_t)len;
    r->job.in.source = source;
}

/* Maps r->uri.fqn read-only into r->job.in (transform_stream: opens it for reading). 0, or an
 * HTTP status with *msg (caller frees). */
static int load_fqn(req_t *r, char **msg)
{
    if (streaming(r)) {
        uint64_t size;
        int st = locus_etl__open_fqn(r->ctx, r->uri.fqn, &r->stream_fd, &size, msg);
        if (st == 0) {
            use_stream_fd(r, size, LOCUS_ETL_SRC_FQN);
            r->job.in.fqn = r->uri.fqn;
        }
        return st;
    }
    void *m = NULL;
    size_t n = 0;
    int st = locus_etl__map_fqn(r->ctx, r->uri.fqn, &m, &n, msg);
    if (st != 0)
        return st;
    r->map = m;
    r->map_len = n;
    r->job.in.data = r->map != NULL ? (const void *)r->map : (const void *)"";
    r->job.in.len = r->map_len;
    r->job.in.fqn = r->uri.fqn;
    r->job.in.source = LOCUS_ETL_SRC_FQN;
    return 0;
}

/* transform_stream: starts fetching url into a pipe the transform reads as the bytes arrive.
 * 0, or an HTTP status with *msg as load_url (then nothing runs). */
static int stream_url(req_t *r, const char *url, char **msg)
{
    locus_etl__fetch_t *f = r->fetch =
        locus_etl__fetch_start(url, r->ctx->opts.obj_timeout_ms, r->ctx->opts.max_object_size);
    if (f == NULL) {
        *msg = xasprintf("cannot fetch %s: %s", url, strerror(errno));
        return 500;
    }
    pthread_mutex_lock(&f->mu);
    bool failed = f->done && (f->status < 200 || f->status > 299);
    long st = f->status;
    pthread_mutex_unlock(&f->mu);
    if (failed && st == 0) {
        *msg = xasprintf("cannot fetch %s: %s", url, f->err);
        return 502;
    }
    if (failed) {
        *msg = xasprintf("fetching %s: HTTP %ld: %.*s", url, st, (int)(f->len > 512 ? 512 : f->len),
                         f->body ? f->body : "");
        return st >= 400 && st <= 599 ? (int)st : 502;
    }
    r->job.rd.use_fd = true;
    r->job.rd.fd = f->rfd;
    r->job.rd.at_end = locus_etl__fetch_end;
    r->job.rd.end_arg = f;
    r->job.in.data = "";
    r->job.in.len = 0; /* unknown */
    r->job.in.source = LOCUS_ETL_SRC_FETCH;
    return 0;
}

/* GETs url into r->job.in (transform_stream: stream_url). 0, or an HTTP status with *msg
 * (caller frees). */
static int load_url(req_t *r, const char *url, char **msg)
{
    if (streaming(r))
        return stream_url(r, url, msg);
    char err[512];
    err[0] = '\0';
    char *body = NULL;
    size_t len = 0;
    long st = locus_etl__http_get(url, r->ctx->opts.obj_timeout_ms, r->ctx->opts.max_object_size,
                                  &body, &len, err, sizeof(err));
    if (st == 0) {
        *msg = xasprintf("cannot fetch %s: %s", url, err);
        return 502;
    }
    if (st == 413 && body == NULL) {
        *msg = xasprintf("cannot fetch %s: %s", url, err);
        return 413;
    }
    if (st < 200 || st >= 300) {
        *msg = xasprintf("fetching %s: HTTP %ld: %.*s", url, st, (int)(len > 512 ? 512 : len),
                         body ? body : "");
        free(body);
        return st >= 400 && st <= 599 ? (int)st : 502;
    }
    free(r->body);
    r->body = body;
    r->body_len = len;
    r->job.in.data = body;
    r->job.in.len = len;
    r->job.in.source = LOCUS_ETL_SRC_FETCH;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Direct put */

static bool transient(long status)
{
    return status == 0 || (status >= 500 && status != 501 && status != 505 && status != 507);
}

/* Destinations (scheme://host:port) that refused a connection recently. A target that died in
 * the middle of a job makes each of its objects fail at once for REFUSED_HOLD_MS rather than
 * wait through the retries one object at a time (hundreds of objects x the backoff). */
#define REFUSED_HOLD_MS 2000
#define REFUSED_SLOTS 16
static struct {
    char origin[128];
    int64_t until_ns;
} refused[REFUSED_SLOTS];
static pthread_mutex_t refused_lock = PTHREAD_MUTEX_INITIALIZER;

/* Marks origin as refusing (mark), or tells whether it refused less than REFUSED_HOLD_MS ago. */
static bool refused_recently(const char *origin, bool mark)
{
    int64_t now = time_mono_ns();
    bool hit = false;
    pthread_mutex_lock(&refused_lock);
    int slot = -1, oldest = 0;
    for (int i = 0; i < REFUSED_SLOTS && slot < 0; i++) {
        if (strcmp(refused[i].origin, origin) == 0)
            slot = i;
        else if (refused[i].until_ns < refused[oldest].until_ns)
            oldest = i;
    }
    if (mark) {
        slot = slot < 0 ? oldest : slot;
        snprintf(refused[slot].origin, sizeof(refused[slot].origin), "%s", origin);
        refused[slot].until_ns = now + (int64_t)REFUSED_HOLD_MS * 1000000;
    } else {
        hit = slot >= 0 && refused[slot].until_ns > now;
    }
    pthread_mutex_unlock(&refused_lock);
    return hit;
}

void locus_etl__direct_put(locus_etl_ctx_t *ctx, const char *first, const char *rest,
                           const char *raw_path, const char *args, const void *p, size_t n,
                           locus_etl__dput_t *res)
{
    memset(res, 0, sizeof(*res));
    res->url = locus_etl__direct_put_url(first, ctx->opts.target_url, raw_path, args);
    if (res->url == NULL)
        return;
    char origin[128];
    locus_etl__url_origin(res->url, origin, sizeof(origin));
    if (refused_recently(origin, false)) {
        snprintf(res->err, sizeof(res->err),
                 "%s refused a connection less than %d ms ago (not tried again yet)", origin,
                 REFUSED_HOLD_MS);
        return;
    }
    for (int attempt = 0;; attempt++) {
        free(res->body);
        res->body = NULL;
        res->len = 0;
        res->err[0] = '\0';
        res->status = locus_etl__http_put(res->url, rest, p, n, ctx->opts.obj_timeout_ms,
                                          &res->body, &res->len, res->err, sizeof(res->err));
        if (res->status == LOCUS_ETL_HTTP_REFUSED) { /* nothing listens: retrying will not help */
            res->status = 0;
            refused_recently(origin, true);
            break;
        }
        if (!transient(res->status) || attempt >= ctx->opts.direct_put_retries)
            break;
        int ms = 100 << (attempt < 5 ? attempt : 5);
        LOG(NOTICE, "direct put to %s: %s; retrying in %d ms", res->url,
            res->status ? "server error" : res->err, ms);
        sleep_ms(ms);
    }
}

void locus_etl__dput_dispose(locus_etl__dput_t *res)
{
    free(res->url);
    free(res->body);
    res->url = NULL;
    res->body = NULL;
}

static enum MHD_Result do_direct_put(req_t *r, struct MHD_Connection *c, const char *p, size_t n)
{
    locus_etl__dput_t d;
    locus_etl__direct_put(r->ctx, r->node_first, r->node_rest, r->uri.path, r->uri.args, p, n, &d);
    enum MHD_Result ret;
    if (d.url == NULL) {
        char *m = xasprintf("invalid Ais-Node-Url %s", r->node_first);
        ret = reply_error(r, c, 400, m);
        free(m);
    } else if (d.status == 0) {
        char *m = xasprintf("direct put to %s failed: %s", d.url, d.err);
        ret = reply_error(r, c, 502, m);
        free(m);
    } else if (d.status == 204 || (d.status >= 200 && d.status < 300 && d.len == 0)) {
        struct MHD_Response *mr = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        char nb[32];
        snprintf(nb, sizeof(nb), "%zu", n);
        MHD_add_response_header(mr, "Ais-Direct-Put-Length", nb);
        ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, mr);
        MHD_destroy_response(mr);
        LOG(DEBUG, "direct put %s: %zu bytes", d.url, n);
    } else if (d.status >= 200 && d.status < 300) {
        /* Next stage of a pipeline answered with its own result: pass it on. */
        r->resp_buf = d.body;
        d.body = NULL;
        ret = reply_buf(c, MHD_HTTP_OK, r->resp_buf, d.len, MHD_RESPMEM_PERSISTENT,
                        r->ctx->content_type);
    } else {
        LOG(WARNING, "direct put to %s: HTTP %ld", d.url, d.status);
        r->resp_buf = d.body;
        d.body = NULL;
        ret = reply_buf(c, (unsigned)d.status, r->resp_buf ? r->resp_buf : "", d.len,
                        MHD_RESPMEM_PERSISTENT, "text/plain; charset=utf-8");
    }
    locus_etl__dput_dispose(&d);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* The access handler */

static method_t parse_method(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return M_GET;
    if (strcmp(m, "PUT") == 0)
        return M_PUT;
    if (strcmp(m, "POST") == 0)
        return M_POST;
    if (strcmp(m, "HEAD") == 0)
        return M_HEAD;
    return M_OTHER;
}

/* First call: headers are in. Sets up the body buffer or an early error. Returns an HTTP status
 * to answer at once (closing the connection), or 0. */
static int on_headers(req_t *r, struct MHD_Connection *c, const char *method, char **msg)
{
    locus_etl_ctx_t *ctx = r->ctx;
    r->method = parse_method(method);
    if (locus_etl__uri_parse(r->raw_uri, ctx->opts.arg_type_fqn, &r->uri) != 0) {
        r->early_status = 400;
        r->early_msg = xasprintf("malformed request URI %s", r->raw_uri);
        return 0;
    }
    const char *nu = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Ais-Node-Url");
    if (nu != NULL && locus_etl__node_urls(nu, &r->node_first, &r->node_rest) == 0) {
        r->direct_put = true;
        r->job.out.may_stream = false;
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && r->method == M_PUT && r->uri.fqn == NULL) {
        int64_t n = size_parse(cl);
        if (n < 0 || (uint64_t)n > ctx->opts.max_object_size) {
            *msg = xasprintf("object too large: Content-Length %s (limit %llu)", cl,
                             (unsigned long long)ctx->opts.max_object_size);
            return 413;
        }
        if (streaming(r))
            return 0; /* spooled as it arrives (on_body) */
        r->body_cap = (size_t)n;
        r->body = malloc(r->body_cap + 1);
        if (r->body == NULL) {
            *msg = xasprintf("cannot allocate %lld bytes for the object", (long long)n);
            return 413;
        }
    }
    return 0;
}

/* transform_stream: appends a body chunk to the unlinked temporary file r->stream_fd (created
 * on the first one), so that the object never sits in memory. false with an early error. */
static bool spool_body(req_t *r, const char *p, size_t n)
{
    if (r->stream_len + n > r->ctx->opts.max_object_size) {
        r->early_status = 413;
        r->early_msg = xasprintf("object too large (limit %llu bytes)",
                                 (unsigned long long)r->ctx->opts.max_object_size);
        return false;
    }
    int rc = -EIO;
    if ((r->stream_fd >= 0 || (r->stream_fd = locus_etl__tmpfile()) >= 0) &&
        (rc = write_all(r->stream_fd, p, n)) == 0) {
        r->stream_len += n;
        return true;
    }
    r->early_status = 507;
    r->early_msg = xasprintf("cannot spool the object to a temporary file: %s",
                             strerror(rc < 0 ? -rc : errno));
    return false;
}

/* Appends a body chunk; false (and an early error) when over the limit. */
static bool on_body(req_t *r, const char *p, size_t n)
{
    if (r->early_status != 0)
        return true; /* discarding */
    if (r->method != M_PUT || r->uri.fqn != NULL)
        return true; /* GET with a body, or an FQN PUT with one: ignored */
    uint64_t max = r->ctx->opts.max_object_size;
    if (streaming(r))
        return spool_body(r, p, n);
    if (r->body_len + n > r->body_cap) {
        if ((uint64_t)(r->body_len + n) > max)
            goto too_big;
        size_t cap = r->body_cap ? r->body_cap * 2 : 256 * 1024;
        while (cap < r->body_len + n)
            cap *= 2;
        if (cap > max)
            cap = (size_t)max;
        char *nb = realloc(r->body, cap + 1);
        if (nb == NULL)
            goto too_big;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    return true;
too_big:
    r->early_status = 413;
    r->early_msg = xasprintf("object too large (limit %llu bytes)", (unsigned long long)max);
    return false;
}

/* The MHD thread-per-connection thread of an upgraded /ws request: serve it here (blocking is
 * allowed in this mode), then hand the socket back to MHD to close. */
static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    req_t *r = con_cls;
    locus_etl_ctx_t *ctx = cls;
    /* A WebSocket lives until it closes: it is tracked on ctx's ws list, not as a request. */
    if (r != NULL)
        req_detach(r);
    char peer[INET6_ADDRSTRLEN + 8] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        char host[INET6_ADDRSTRLEN] = "?";
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            snprintf(peer, sizeof(peer), "%s:%u", host, ntohs(a->sin_port));
        } else if (sa->sa_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            snprintf(peer, sizeof(peer), "[%s]:%u", host, ntohs(a->sin6_port));
        }
    }
    locus_etl__ws_serve(ctx, sock, extra_in, extra_in_size, peer);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* true when the comma-separated header value `v` holds `token` (case-insensitive). */
static bool header_has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = v; p != NULL && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

/* GET /ws: the RFC 6455 opening handshake, then 101 and on_upgrade. */
static enum MHD_Result ws_handshake(req_t *r, struct MHD_Connection *c)
{
    const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
    const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    if (up == NULL || !header_has_token(up, "websocket") || conn == NULL ||
        !header_has_token(conn, "upgrade"))
        return reply_error(r, c, 400, "/ws needs a WebSocket upgrade request");
    if (ver == NULL || strcmp(ver, "13") != 0) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen("unsupported WebSocket version"), (void *)"unsupported WebSocket version",
            MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, "Sec-WebSocket-Version", "13");
        enum MHD_Result ret = MHD_queue_response(c, 426, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    char accept[LOCUS_ETL__WS_ACCEPT_LEN + 1];
    if (key == NULL || locus_etl__ws_accept_key(key, accept) != 0)
        return reply_error(r, c, 400, "missing or malformed Sec-WebSocket-Key");
    struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, r->ctx);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Last call: the whole request is in. Produces the response. */
static enum MHD_Result on_request(req_t *r, struct MHD_Connection *c)
{
    locus_etl_ctx_t *ctx = r->ctx;
    if (r->early_status != 0)
        return reply_error(r, c, (unsigned)r->early_status, r->early_msg);
    const char *path = r->uri.path;
    if (r->method == M_GET && strcmp(path, "health") == 0)
        return reply_text(c, MHD_HTTP_OK, "Running");
    if (r->method == M_GET && strcmp(path, "ws") == 0)
        return ws_handshake(r, c);

    char *msg = NULL;
    int st = 0;
    r->job.in.path = r->uri.dpath;
    r->job.in.args = r->uri.args;
    if (r->uri.fqn != NULL && (r->method == M_GET || r->method == M_PUT)) {
        st = load_fqn(r, &msg);
    } else if (r->method == M_PUT && streaming(r)) {
        if (r->stream_fd >= 0)
            lseek(r->stream_fd, 0, SEEK_SET);
        r->job.in.data = "";
        r->job.in.len = 0;
        r->job.in.source = LOCUS_ETL_SRC_BODY;
        if (r->stream_fd >= 0) /* else an empty body: the reader gets "" */
            use_stream_fd(r, r->stream_len, LOCUS_ETL_SRC_BODY);
    } else if (r->method == M_PUT) {
        r->job.in.data = r->body != NULL ? r->body : "";
        r->job.in.len = r->body_len;
        r->job.in.source = LOCUS_ETL_SRC_BODY;
    } else if (r->method == M_GET) {
        if (ctx->opts.target_url == NULL || ctx->opts.target_url[0] == '\0') {
            msg = xasprintf("AIS_TARGET_URL is not set: cannot fetch %s", r->uri.dpath);
            st = 500;
        } else {
            char *url = locus_etl__hpull_url(ctx->opts.target_url, r->uri.dpath, r->uri.latest);
            st = load_url(r, url, &msg);
            free(url);
        }
    } else if (r->method == M_POST && strcmp(path, "download") == 0) {
        if (r->uri.original_url == NULL) {
            msg = xstrdup("missing original_url");
            st = 400;
        } else {
            st = load_url(r, r->uri.original_url, &msg);
        }
    } else {
        msg = xasprintf("method not allowed: %s", r->raw_uri);
        st = 405;
    }
    if (st != 0) {
        enum MHD_Result ret = reply_error(r, c, (unsigned)st, msg);
        free(msg);
        return ret;
    }

    /* Run the transform on the pool and wait until it is done or starts streaming. */
    if (!submit(r))
        return reply_error(r, c, 503, "server is shutting down");
    locus_etl_output_t *o = &r->job.out;
    pthread_mutex_lock(&o->mu);
    while (o->state != JOB_DONE && o->state != JOB_STREAMING)
        pthread_cond_wait(&o->cond, &o->mu);
    locus_etl__job_state_t state = o->state;
    int rc = o->rc;
    bool failed = state == JOB_DONE && (rc != 0 || o->oom);
    pthread_mutex_unlock(&o->mu);

    if (state == JOB_STREAMING) {
        struct MHD_Response *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256 * 1024, stream_reader, r, NULL);
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctx->content_type);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (failed) {
        /* No lock needed: the job is done, nothing else touches o. */
        if (o->err_msg != NULL)
            msg = xstrdup(o->err_msg);
        else if (o->oom)
            msg = xstrdup("transform failed: out of memory for the output");
        else
            msg = xasprintf("transform failed: %s (%d)", locus_etl_strerror(rc), rc);
        unsigned status = o->err_status ? (unsigned)o->err_status : 500;
        if (rc == LOCUS_ETL_ECANCELED && o->err_msg == NULL)
            status = 503;
        enum MHD_Result ret = reply_error(r, c, status, msg);
        free(msg);
        return ret;
    }
    const char *p;
    size_t n;
    locus_etl__output_bytes(o, &p, &n);
    if (r->direct_put)
        return do_direct_put(r, c, p, n);
    LOG(DEBUG, "%s %s: %zu -> %zu bytes", r->method == M_PUT ? "PUT" : "GET", r->uri.dpath,
        r->job.in.len, n);
    return reply_buf(c, MHD_HTTP_OK, p, n, MHD_RESPMEM_PERSISTENT, ctx->content_type);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    req_t *r = *con_cls;
    if (r == NULL) /* no URI-log callback ran: cannot happen with our options */
        return MHD_NO;
    if (!r->seen) {
        /* First call: never queue a normal response here (it would cost keep-alive, docs/design.md
         * §13.1); only refuse bodies we will not take, which closes the connection anyway. */
        r->seen = true;
        char *msg = NULL;
        int st = on_headers(r, c, method, &msg);
        if (st != 0) {
            enum MHD_Result ret = reply_error(r, c, (unsigned)st, msg);
            free(msg);
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        on_body(r, upload_data, n);
        return MHD_YES;
    }
    return on_request(r, c);
}

static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    LOG(VERBOSE, "mhd: %s", msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle */

static char *resolve_roots(const char *roots)
{
    if (roots == NULL || roots[0] == '\0')
        return NULL;
    buf_t b;
    buf_init(&b);
    char *copy = xstrdup(roots);
    char *save = NULL;
    for (char *t = strtok_r(copy, ":", &save); t != NULL; t = strtok_r(NULL, ":", &save)) {
        char *rp = realpath(t, NULL);
        if (rp == NULL)
            continue;
        if (b.len)
            buf_append(&b, ":", 1);
        buf_puts(&b, rp);
        free(rp);
    }
    free(copy);
    if (b.len == 0) {
        buf_dispose(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int make_addr(const char *host, int port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    *v6 = false;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(a4, res->ai_addr, sizeof(*a4));
    a4->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

static void stop_workers(locus_etl_ctx_t *ctx)
{
    pthread_mutex_lock(&ctx->qmu);
    ctx->stopping = true;
    pthread_cond_broadcast(&ctx->qcond);
    pthread_mutex_unlock(&ctx->qmu);
    for (int i = 0; i < ctx->nworkers; i++)
        pthread_join(ctx->workers[i], NULL);
    ctx->nworkers = 0;
}

static void ctx_free(locus_etl_ctx_t *ctx)
{
    free(ctx->workers);
    free(ctx->roots_resolved);
    pthread_mutex_destroy(&ctx->qmu);
    pthread_cond_destroy(&ctx->qcond);
    pthread_mutex_destroy(&ctx->amu);
    pthread_cond_destroy(&ctx->wscond);
    free(ctx);
}

int locus_etl_start(const locus_etl_server_t *srv, const locus_etl_options_t *opts,
                    locus_etl_ctx_t **out, char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    *out = NULL;
    if (srv == NULL || srv->api_version != LOCUS_ETL_API_V1 ||
        (srv->transform == NULL) == (srv->transform_stream == NULL)) {
        snprintf(err, errlen,
                 "locus_etl_server_t: need api_version LOCUS_ETL_API_V1 and exactly one of "
                 "transform and transform_stream");
        return LOCUS_ETL_EINVAL;
    }
    locus_etl_options_t defaults;
    if (opts == NULL) {
        locus_etl_options_init(&defaults);
        opts = &defaults;
    }
    if (opts->api_version != LOCUS_ETL_API_V1 || opts->port < 0 || opts->port > 65535) {
        snprintf(err, errlen, "locus_etl_options_t: bad api_version or port");
        return LOCUS_ETL_EINVAL;
    }
    locus_etl__http_global_init();
    locus_etl_ctx_t *ctx = xcalloc(1, sizeof(*ctx));
    ctx->srv = *srv;
    ctx->opts = *opts;
    if (ctx->opts.host == NULL || ctx->opts.host[0] == '\0')
        ctx->opts.host = "0.0.0.0";
    if (ctx->opts.workers <= 0)
        ctx->opts.workers = 1;
    if (ctx->opts.max_connections <= 0)
        ctx->opts.max_connections = 256;
    if (ctx->opts.obj_timeout_ms <= 0)
        ctx->opts.obj_timeout_ms = 300000;
    if (ctx->opts.direct_put_retries < 0)
        ctx->opts.direct_put_retries = 0;
    ctx->content_type = srv->content_type ? srv->content_type : "application/octet-stream";
    ctx->roots_resolved = resolve_roots(ctx->opts.fqn_roots);
    pthread_mutex_init(&ctx->qmu, NULL);
    pthread_cond_init(&ctx->qcond, NULL);
    pthread_mutex_init(&ctx->amu, NULL);
    pthread_cond_init(&ctx->wscond, NULL);

    ctx->workers = xcalloc((size_t)ctx->opts.workers, sizeof(pthread_t));
    for (int i = 0; i < ctx->opts.workers; i++) {
        if (pthread_create(&ctx->workers[i], NULL, worker_main, ctx) != 0) {
            snprintf(err, errlen, "cannot create worker thread: %s", strerror(errno));
            stop_workers(ctx);
            ctx_free(ctx);
            return LOCUS_ETL_EIO;
        }
        ctx->nworkers++;
    }

    struct sockaddr_storage ss;
    bool v6 = false;
    bool unix_sock = ctx->opts.unix_socket && ctx->opts.unix_socket[0];
    int lfd = -1;
    if (unix_sock) {
        lfd = listen_unix(ctx->opts.unix_socket, err, errlen);
        if (lfd < 0) {
            stop_workers(ctx);
            ctx_free(ctx);
            return LOCUS_ETL_EIO;
        }
    } else if (make_addr(ctx->opts.host, ctx->opts.port, &ss, &v6) != 0) {
        snprintf(err, errlen, "cannot resolve host %s", ctx->opts.host);
        stop_workers(ctx);
        ctx_free(ctx);
        return LOCUS_ETL_EINVAL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
    if (v6)
        flags |= MHD_USE_IPv6;
    ctx->mhd = MHD_start_daemon(
        flags, (uint16_t)ctx->opts.port, NULL, NULL, on_access, ctx,
        unix_sock ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
        unix_sock ? (intptr_t)lfd : (intptr_t)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, ctx,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ctx, MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop,
        NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)ctx->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_END);
    if (ctx->mhd == NULL) {
        if (lfd >= 0)
            close(lfd);
        snprintf(err, errlen, "cannot listen on %s:%d (port in use?)", ctx->opts.host,
                 ctx->opts.port);
        stop_workers(ctx);
        ctx_free(ctx);
        return LOCUS_ETL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(ctx->mhd, MHD_DAEMON_INFO_BIND_PORT);
    ctx->port = di != NULL && di->port ? di->port : ctx->opts.port;
    if (ctx->opts.target_url == NULL || ctx->opts.target_url[0] == '\0')
        LOG(NOTICE, "AIS_TARGET_URL is not set: hpull (GET) requests without etl_fqn will fail");
    if (unix_sock)
        LOG(NOTICE, "%s: listening on unix socket %s", srv->name ? srv->name : "transformer",
            ctx->opts.unix_socket);
    LOG(NOTICE, "%s: listening on %s:%d, %d workers%s%s", srv->name ? srv->name : "transformer",
        unix_sock ? "unix" : ctx->opts.host, unix_sock ? 0 : ctx->port, ctx->opts.workers,
        ctx->opts.fqn_roots && ctx->opts.fqn_roots[0] ? ", FQN roots " : "",
        ctx->opts.fqn_roots && ctx->opts.fqn_roots[0] ? ctx->opts.fqn_roots : "");
    *out = ctx;
    return LOCUS_ETL_OK;
}

int locus_etl_port(const locus_etl_ctx_t *ctx)
{
    return ctx ? ctx->port : -1;
}

void locus_etl_destroy(locus_etl_ctx_t *ctx, int grace_ms)
{
    if (ctx == NULL)
        return;
    MHD_socket ls = MHD_quiesce_daemon(ctx->mhd);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    /* WebSockets answer what they have received, then close (1001). */
    locus_etl__ws_set_mode(ctx, WS_MODE_DRAIN);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        pthread_mutex_lock(&ctx->amu);
        size_t n = ctx->nactive + ctx->nws;
        pthread_mutex_unlock(&ctx->amu);
        if (n == 0)
            break;
        sleep_ms(10);
    }
    /* Cancel what is left: queued jobs complete as cancelled, running ones see their writes
     * fail. Workers are stopped first so no job starts after the sweep. */
    pthread_mutex_lock(&ctx->amu);
    pthread_mutex_lock(&ctx->qmu);
    ctx->stopping = true;
    pthread_cond_broadcast(&ctx->qcond);
    size_t left = ctx->nactive;
    for (req_t *r = ctx->active; r != NULL; r = r->anext) {
        do_unqueue(ctx, &r->job);
        locus_etl__output_cancel(&r->job.out);
    }
    pthread_mutex_unlock(&ctx->qmu);
    pthread_mutex_unlock(&ctx->amu);
    if (left)
        LOG(NOTICE, "stopping with %zu request(s) in flight", left);
    /* Then WebSockets cancel what they run and close; wait until all are gone (their threads
     * are MHD's: MHD_stop_daemon joins them). */
    locus_etl__ws_set_mode(ctx, WS_MODE_ABORT);
    pthread_mutex_lock(&ctx->amu);
    while (ctx->nws > 0)
        pthread_cond_wait(&ctx->wscond, &ctx->amu);
    pthread_mutex_unlock(&ctx->amu);
    stop_workers(ctx);
    MHD_stop_daemon(ctx->mhd);
    ctx_free(ctx);
}

/* ------------------------------------------------------------------------------------------ */
/* serve */

static void usage(const char *prog, const locus_etl_server_t *srv, FILE *f)
{
    fprintf(f,
            "usage: %s [--host ADDR] [--port N] [--workers N] [--log-level LEVEL]\n"
            "%s: an ETL transformer server (liblocus-etl). Environment:\n"
            "  PORT (8000), NUM_WORKERS (#CPUs), MAX_CONN (256), AIS_TARGET_URL,\n"
            "  LOCUS_ETL_FQN_ROOTS, ARG_TYPE, AIS_DIRECT_PUT_RETRIES (3),\n"
            "  LOCUS_ETL_MAX_OBJECT_SIZE (16GiB), LOCUS_ETL_FETCH_TIMEOUT_MS (300000),\n"
            "  LOCUS_ETL_LOG_LEVEL (notice), LOCUS_ETL_SHUTDOWN_GRACE_MS (5000)\n",
            prog, srv && srv->name ? srv->name : "transformer");
}

static bool parse_int_arg(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

int locus_etl_serve(const locus_etl_server_t *srv, int argc, char **argv)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : "locus-etl";
    locus_etl_options_t o;
    locus_etl_options_init(&o);
    int lvl = locus_etl__log_level_parse(getenv("LOCUS_ETL_LOG_LEVEL"));
    if (lvl >= 0)
        locus_etl_set_log_level((locus_etl_log_level_t)lvl);

    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'l'},    {"port", required_argument, NULL, 'p'},
        {"workers", required_argument, NULL, 'w'}, {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "l:p:w:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            o.host = optarg;
            break;
        case 'p':
            if (!parse_int_arg(optarg, 0, 65535, &o.port)) {
                fprintf(stderr, "%s: bad port %s\n", prog, optarg);
                return 2;
            }
            break;
        case 'w':
            if (!parse_int_arg(optarg, 1, 4096, &o.workers)) {
                fprintf(stderr, "%s: bad worker count %s\n", prog, optarg);
                return 2;
            }
            break;
        case 'L':
            lvl = locus_etl__log_level_parse(optarg);
            if (lvl < 0) {
                fprintf(stderr, "%s: bad log level %s\n", prog, optarg);
                return 2;
            }
            locus_etl_set_log_level((locus_etl_log_level_t)lvl);
            break;
        case 'h':
            usage(prog, srv, stdout);
            return 0;
        default:
            usage(prog, srv, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s\n", prog, argv[optind]);
        usage(prog, srv, stderr);
        return 2;
    }

    /* Block the stop signals before any thread exists so that only sigwait() sees them. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    char err[256];
    locus_etl_ctx_t *ctx = NULL;
    if (locus_etl_start(srv, &o, &ctx, err, sizeof(err)) != 0) {
        locus_etl_log(LOCUS_ETL_LOG_WARNING, "[etl] %s", err);
        return 1;
    }
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    LOG(NOTICE, "%s: signal %d, shutting down", srv->name ? srv->name : "transformer", sig);
    int grace = 5000;
    const char *g = getenv("LOCUS_ETL_SHUTDOWN_GRACE_MS");
    if (g != NULL && *g)
        parse_int_arg(g, 0, 3600000, &grace);
    locus_etl_destroy(ctx, grace);
    LOG(NOTICE, "stopped");
    return 0;
}
