/*
 * http_server.c - libmicrohttpd wrapper: a few I/O threads, each with its own epoll set, run
 * every connection; request handlers that may block run on worker threads while their
 * connection is suspended. Streamed request bodies, raw (still-encoded) paths so redirects keep
 * the client's escaping. See net.h for the two-call handler design and docs/design.md §10 for
 * the threads.
 *
 * DESIGN
 * The I/O threads never block: they parse requests, run on_headers, feed bodies to sinks (a
 * write to the page cache), and run on_request when on_headers marked the request fast. Any
 * other on_request is handed to a worker: the connection is suspended, the worker runs the
 * handler and keeps its response (http_send), then resumes the connection; MHD calls the access
 * handler again on the I/O thread, which queues the kept response (MHD queues responses only
 * from its own callbacks). Workers are created when none is idle and exit after
 * worker_idle_ms (30 s) idle, so a handler that waits for another node never holds up a request.
 *
 * A request goes to an idle worker directly: the I/O thread pops one off the idle stack, sets
 * its job and posts the worker's own semaphore, one futex wake for one futex wait. A condition
 * variable shared by all workers cost 4.4 futex calls per relayed GET: the woken worker and the
 * ones going idle met on the shared lock inside the wait. Requests queue only when no worker is
 * idle (one is being started, or threads ran out).
 */
#include "net/internal.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Per-connection memory of MHD (headers and the read buffer, so the largest piece of a request
 * body). MHD clears it between requests, so small requests want it small and big PUTs big:
 * 128 KiB is the measured middle (docs/design.md §13.2). */
#define CONN_MEMORY (128u * 1024)
#define STOP_WAIT_SEC 10
#define BACKLOG 1024u /* listen(2) backlog: bursts of new connections from many clients */

typedef struct {
    char *key;
    char *val; /* decoded */
} qparam_t;

typedef struct req_impl_s req_impl_t;
typedef struct upgrade_s upgrade_t;

struct req_impl_s {
    http_req_t req;
    qparam_t *params;
    size_t n_params;
    req_impl_t *next;             /* worker queue */
    struct MHD_Response *pending; /* an offloaded request's response, queued on resume */
    unsigned pending_status;
    unsigned status;    /* what it was answered (0: nothing) */
    int64_t start_ns;   /* monotonic, when its headers came */
    int64_t bytes_in;   /* request body bytes received */
    int tag;            /* what tag_hook said of it */
    upgrade_t *upgrade; /* http_upgrade()'s, until its connection is handed over */
};

static http_tag_cb tag_hook;   /* http_set_stats_hooks() */
static http_done_cb done_hook; /* ditto */

void http_set_stats_hooks(http_tag_cb tag, http_done_cb done)
{
    tag_hook = tag;
    done_hook = done;
}

typedef struct worker_s worker_t;

/* A request worker; while idle it is on the server's idle stack, waiting on its semaphore. */
struct worker_s {
    http_server_t *s;
    sem_t go;        /* posted once it has a job, or when stopping */
    req_impl_t *job; /* set by whoever took it off the idle stack; NULL: exit */
    worker_t *next;  /* idle stack */
    bool idle;       /* on the idle stack */
};

struct http_server_s {
    struct MHD_Daemon *mhd;
    http_handler_cb on_headers;
    http_handler_cb on_request;
    pthread_mutex_t lock;
    pthread_cond_t drained;  /* inflight or threads went down */
    req_impl_t *head, *tail; /* requests no idle worker took */
    worker_t *idle;          /* idle workers, the last one to go idle on top */
    unsigned threads;        /* live workers */
    unsigned inflight;       /* suspended connections: offloaded requests and parked streams */
    bool stopping;
};

static char node_name[128] = "node";

static int io_threads_set; /* http_set_io_threads(); 0 = by the CPUs */

static _Atomic int worker_idle_ms = 30000; /* http_set_worker_idle_ms(); read by idle workers */

void http_set_worker_idle_ms(int ms)
{
    worker_idle_ms = ms < 1 ? 1 : ms;
}

void http_set_io_threads(int n)
{
    io_threads_set = n < 0 ? 0 : n > 64 ? 64 : n;
}

unsigned http_io_threads(void)
{
    if (io_threads_set > 0)
        return (unsigned)io_threads_set;
    int n = cpus_usable();
    return n < 2 ? 2u : n > 16 ? 16u : (unsigned)n;
}

static char *tls_cert_pem, *tls_key_pem; /* http_set_tls() */

int http_set_tls(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    free(tls_cert_pem);
    free(tls_key_pem);
    tls_cert_pem = tls_key_pem = NULL;
    if (cert_file == NULL)
        return 0;
    size_t n;
    int rc = read_file(cert_file, &tls_cert_pem, &n);
    const char *bad = cert_file;
    if (rc == 0) {
        rc = read_file(key_file, &tls_key_pem, &n);
        bad = key_file;
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", bad, strerror(-rc));
        free(tls_cert_pem);
        tls_cert_pem = NULL;
        return -1;
    }
    return 0;
}

const char *http_node_name(void)
{
    return node_name;
}

void http_set_node_name(const char *name)
{
    snprintf(node_name, sizeof(node_name), "%s", name);
}

/* Keep MHD from decoding paths and query values: we need the raw form for redirects and
 * decode ourselves. */
static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

char *http_query_decode(const char *s)
{
    size_t n = strlen(s);
    char *tmp = xstrdup(s);
    for (size_t i = 0; i < n; i++)
        if (tmp[i] == '+')
            tmp[i] = ' ';
    char *out = url_decode(tmp, n, NULL);
    if (out == NULL)
        out = tmp; /* malformed escapes: keep as is, handlers validate values */
    else
        free(tmp);
    return out;
}

/* MHD turns '+' into ' ' before our (no-op) unescape callback sees a query argument; a request
 * line holds no raw space, so turning it back gives the argument as received. */
static void append_raw_arg(buf_t *q, const char *s)
{
    size_t start = q->len;
    buf_puts(q, s);
    for (size_t i = start; i < q->len; i++)
        if (q->base[i] == ' ')
            q->base[i] = '+';
}

char *http_path_decode(const char *raw)
{
    size_t plen = 0;
    char *path = url_decode(raw, strlen(raw), &plen);
    if (path && strlen(path) != plen) { /* %00: names never hold NUL bytes */
        free(path);
        path = NULL;
    }
    return path;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    req_impl_t *ri = cls;
    buf_t *q = (buf_t *)ri->req.ctx; /* temporarily used as the raw-query builder */
    if (q->len)
        buf_append(q, "&", 1);
    append_raw_arg(q, key);
    if (value) {
        buf_append(q, "=", 1);
        append_raw_arg(q, value);
    }
    ri->params = xrealloc(ri->params, (ri->n_params + 1) * sizeof(qparam_t));
    ri->params[ri->n_params].key = http_query_decode(key);
    ri->params[ri->n_params].val = http_query_decode(value ? value : "");
    ri->n_params++;
    return MHD_YES;
}

const char *http_header(http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(http_req_t *req, const char *name)
{
    req_impl_t *ri = (req_impl_t *)req;
    for (size_t i = 0; i < ri->n_params; i++)
        if (strcmp(ri->params[i].key, name) == 0)
            return ri->params[i].val;
    return NULL;
}

bool http_query_bool(http_req_t *req, const char *name)
{
    const char *v = http_query(req, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0);
}

bool http_answer_before_body(http_req_t *req)
{
    const char *expect = http_header(req, "Expect");
    return expect && strcasecmp(expect, "100-continue") == 0 &&
           (req->content_length < 0 || req->content_length > (int64_t)HTTP_DRAIN_MAX);
}

void http_send(http_req_t *req, unsigned status, struct MHD_Response *resp)
{
    if (req->_answered) {
        MHD_destroy_response(resp);
        LOCUS_LOG(LOG_WARNING, "[net] second response for %s %s ignored", req->method,
                  req->raw_path);
        return;
    }
    req->_answered = true;
    ((req_impl_t *)req)->status = status;
    if (req->_offloaded) { /* a worker: the I/O thread queues it once resumed */
        req_impl_t *ri = (req_impl_t *)req;
        ri->pending = resp;
        ri->pending_status = status;
        return;
    }
    if (MHD_queue_response(req->conn, status, resp) != MHD_YES)
        LOCUS_LOG(LOG_WARNING, "[net] failed to queue %u for %s %s", status, req->method,
                  req->raw_path);
    MHD_destroy_response(resp);
}

void http_reply(http_req_t *req, unsigned status, const char *ctype, const void *body, size_t n)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    http_send(req, status, r);
}

void http_reply_text(http_req_t *req, unsigned status, const char *text)
{
    http_reply(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

void http_reply_json(http_req_t *req, unsigned status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) { /* a NULL built from bytes that were not UTF-8: a bug, not a crash */
        http_reply_error(req, 500, "internal error: cannot encode the response");
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    http_send(req, status, r);
}

char *http_error_json(unsigned status, const char *msg, const char *method, const char *url_path,
                      const char *remote)
{
    /* Messages quote names, paths and query values as received and are cut at a fixed size,
     * maybe inside a character. jansson refuses invalid UTF-8 (json_pack would return NULL);
     * like Go's encoding/json, every bad byte becomes U+FFFD. */
    char *m = utf8_sanitize(msg), *me = utf8_sanitize(method), *u = utf8_sanitize(url_path),
         *r = utf8_sanitize(remote);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "message", m, "method", me, "url_path", u,
                  "remote_addr", r, "caller", "", "node", node_name, "status", (int)status);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) /* cannot happen with sanitized strings; never a NULL into strlen */
        s = xstrdup("{}");
    free(m);
    free(me);
    free(u);
    free(r);
    return s;
}

void http_reply_error(http_req_t *req, unsigned status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status >= 500)
        LOCUS_LOG(LOG_WARNING, "%u %s while %s %s, client: %s", status, msg, req->method,
                  req->raw_path, req->remote);
    else
        LOCUS_LOG(LOG_VERBOSE, "%u %s while %s %s, client: %s", status, msg, req->method,
                  req->raw_path, req->remote);
    char *s = http_error_json(status, msg, req->method, req->raw_path, req->remote);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (strcmp(req->method, "HEAD") == 0) {
        for (char *p = msg; *p; p++) /* a header value holds no CR, LF or other control */
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = ' ';
        MHD_add_response_header(r, "Hdr-Error", msg);
    }
    http_send(req, status, r);
}

void http_reply_redirect(http_req_t *req, unsigned status, const char *location)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Location", location);
    http_send(req, status, r);
}

json_t *http_body_json(http_req_t *req)
{
    if (req->body_too_large) {
        http_reply_error(req, 413, "request body too large (max %u bytes)", HTTP_MAX_CONTROL_BODY);
        return NULL;
    }
    if (req->body.len == 0) {
        http_reply_error(req, 400, "missing JSON request body");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(req->body.base, req->body.len, 0, &je);
    if (j == NULL) {
        http_reply_error(req, 400, "invalid JSON in request body: %s (line %d, column %d)", je.text,
                         je.line, je.column);
        return NULL;
    }
    return j;
}

static void upgrade_free(upgrade_t *up);

static void req_free(req_impl_t *ri)
{
    http_req_t *req = &ri->req;
    if (ri->upgrade) /* the 101 never went out: its session never ran */
        upgrade_free(ri->upgrade);
    if (ri->pending) /* a worker's answer whose connection closed before it could be queued */
        MHD_destroy_response(ri->pending);
    if (req->ctx_free)
        req->ctx_free(req);
    for (size_t i = 0; i < ri->n_params; i++) {
        free(ri->params[i].key);
        free(ri->params[i].val);
    }
    free(ri->params);
    free(req->raw_path);
    free(req->path);
    free(req->raw_query);
    buf_dispose(&req->body);
    free(ri);
}

struct cl_count {
    int n;
    const char *first;
    bool conflict;
};

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct cl_count *c = cls;
    if (strcasecmp(key, "Content-Length") != 0)
        return MHD_YES;
    if (c->n > 0 && strcmp(c->first, value ? value : "") != 0)
        c->conflict = true;
    if (c->n == 0)
        c->first = value ? value : "";
    c->n++;
    return MHD_YES;
}

static req_impl_t *req_create(http_server_t *s, struct MHD_Connection *conn, const char *url,
                              const char *method)
{
    req_impl_t *ri = xcalloc(1, sizeof(*ri));
    ri->start_ns = time_mono_ns();
    http_req_t *req = &ri->req;
    req->conn = conn;
    req->method = method;
    req->_server = s;
    req->raw_path = xstrdup(url);
    req->path = http_path_decode(url);
    buf_t q;
    buf_init(&q);
    req->ctx = &q;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, ri);
    req->ctx = NULL;
    req->raw_query = buf_steal(&q);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    req->content_length = cl ? strtoll(cl, NULL, 10) : -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ci->client_addr;
        char ip[32];
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(req->remote, sizeof(req->remote), "%s:%d", ip, ntohs(sin->sin_port));
    }
    buf_init(&req->body);
    return ri;
}

/* What every handler may take for granted of a request line: a path and query values that
 * decode to UTF-8 without NUL bytes, and one unambiguous body length (two different
 * Content-Length headers, or one with Transfer-Encoding, is how requests get smuggled). */
static const char *req_check_url(req_impl_t *ri)
{
    http_req_t *req = &ri->req;
    if (req->path == NULL)
        return "malformed percent-encoding (or %00) in URL path";
    if (!utf8_valid(req->path, strlen(req->path)))
        return "URL path is not valid UTF-8";
    for (size_t i = 0; i < ri->n_params; i++)
        if (!utf8_valid(ri->params[i].key, strlen(ri->params[i].key)) ||
            !utf8_valid(ri->params[i].val, strlen(ri->params[i].val)))
            return "URL query is not valid UTF-8";
    struct cl_count cl = {0, NULL, false};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_length, &cl);
    if (cl.conflict)
        return "conflicting Content-Length headers";
    if (cl.n > 0 && MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Transfer-Encoding"))
        return "both Content-Length and Transfer-Encoding";
    if (cl.n > 0 && (cl.first[0] == '\0' || strspn(cl.first, "0123456789") != strlen(cl.first)))
        return "invalid Content-Length";
    return NULL;
}

/* Set by http_release() on the worker that runs the request: the request is the I/O thread's. */
static __thread bool released;

/* on_request, and a 500 when the handler answered nothing. */
static void run_request(http_server_t *s, http_req_t *req)
{
    released = false;
    s->on_request(req);
    if (released)
        return; /* req may be gone already */
    if (!req->_answered)
        http_reply_error(req, 500, "internal error: no response for %s", req->raw_path);
}

/* One suspended connection less (called locked); wakes a stop waiting for none. */
static void inflight_drop(http_server_t *s)
{
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->drained);
}

bool http_server_park(http_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    bool ok = !s->stopping;
    if (ok)
        s->inflight++;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void http_server_unpark(http_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    inflight_drop(s);
    pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------- upgraded connections */

struct upgrade_s {
    http_server_t *s;
    http_upgrade_fn fn;
    void *arg;
    void (*arg_free)(void *);
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    char *extra; /* bytes the client sent after its request, read already */
    size_t extra_len;
};

static void upgrade_free(upgrade_t *up)
{
    if (up->arg_free)
        up->arg_free(up->arg);
    free(up->extra);
    free(up);
}

static void *upgrade_main(void *p)
{
    upgrade_t *up = p;
    http_server_t *s = up->s;
    int fl = fcntl(up->fd, F_GETFL);
    if (fl >= 0)
        fcntl(up->fd, F_SETFL, fl & ~O_NONBLOCK);
    up->fn(up->arg, up->fd, up->extra, up->extra_len);
    MHD_upgrade_action(up->urh, MHD_UPGRADE_ACTION_CLOSE);
    upgrade_free(up);
    httpc_thread_cleanup();
    http_server_unpark(s);
    return NULL;
}

/* MHD, on the I/O thread, once the 101 went out: the session gets a thread of its own. It counts
 * as a suspended connection, so that a stop waits for it. */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra,
                        size_t n, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)cls;
    (void)conn;
    req_impl_t *ri = req_cls;
    upgrade_t *up = ri ? ri->upgrade : NULL;
    if (up == NULL) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    ri->upgrade = NULL;
    up->fd = sock;
    up->urh = urh;
    if (n > 0) {
        up->extra = xmalloc(n);
        memcpy(up->extra, extra, n);
        up->extra_len = n;
    }
    int rc = EAGAIN;
    if (http_server_park(up->s)) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        rc = pthread_create(&th, &a, upgrade_main, up);
        pthread_attr_destroy(&a);
        if (rc != 0)
            http_server_unpark(up->s);
    }
    if (rc != 0) {
        LOCUS_LOG(LOG_WARNING, "[net] cannot run an upgraded connection: %s", strerror(rc));
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        upgrade_free(up);
    }
}

void http_upgrade(http_req_t *req, const char *proto, http_upgrade_fn fn, void *arg,
                  void (*arg_free)(void *))
{
    req_impl_t *ri = (req_impl_t *)req;
    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgraded, NULL);
    if (r == NULL || ri->upgrade || MHD_add_response_header(r, "Upgrade", proto) != MHD_YES) {
        if (r)
            MHD_destroy_response(r);
        if (arg_free)
            arg_free(arg);
        http_reply_error(req, 500, "cannot upgrade the connection to %s", proto);
        return;
    }
    upgrade_t *up = xcalloc(1, sizeof(*up));
    up->s = req->_server;
    up->fn = fn;
    up->arg = arg;
    up->arg_free = arg_free;
    up->fd = -1;
    ri->upgrade = up;
    http_send(req, 101, r);
}

/* The oldest queued request, or NULL (locked). */
static req_impl_t *queue_pop(http_server_t *s)
{
    req_impl_t *ri = s->head;
    if (ri) {
        s->head = ri->next;
        if (s->head == NULL)
            s->tail = NULL;
    }
    return ri;
}

/* Takes w off the idle stack (locked). */
static void idle_unlink(http_server_t *s, worker_t *w)
{
    for (worker_t **p = &s->idle; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    w->idle = false;
}

/* Called locked, returns locked: w goes idle until someone gives it a job (returned) or it has
 * waited worker_idle_ms or the server stops (NULL: the worker exits). */
static req_impl_t *worker_wait(http_server_t *s, worker_t *w)
{
    w->job = NULL;
    w->next = s->idle;
    w->idle = true;
    s->idle = w;
    pthread_mutex_unlock(&s->lock);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int ms = worker_idle_ms;
    int64_t ns = ts.tv_nsec + (int64_t)(ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    int rc;
    while ((rc = sem_timedwait(&w->go, &ts)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&s->lock);
    if (rc < 0 && w->idle) { /* timed out and nobody chose it */
        idle_unlink(s, w);
        return NULL;
    }
    if (rc < 0) { /* chosen just as it timed out: the post is on its way, take it */
        pthread_mutex_unlock(&s->lock);
        while (sem_wait(&w->go) < 0 && errno == EINTR)
            ;
        pthread_mutex_lock(&s->lock);
    }
    return w->job;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    http_server_t *s = w->s;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        req_impl_t *ri = queue_pop(s);
        if (ri == NULL && !s->stopping)
            ri = worker_wait(s, w);
        if (ri == NULL)
            break; /* idle too long, or stopping */
        pthread_mutex_unlock(&s->lock);
        struct MHD_Connection *conn = ri->req.conn;
        run_request(s, &ri->req);
        if (!released)                   /* else http_release() resumed it */
            MHD_resume_connection(conn); /* ri belongs to the I/O thread from here */
        pthread_mutex_lock(&s->lock);
        if (!released)
            inflight_drop(s);
    }
    s->threads--;
    pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->lock);
    sem_destroy(&w->go);
    free(w);
    httpc_thread_cleanup();
    return NULL;
}

bool http_releasable(const http_req_t *req)
{
    return req->_offloaded;
}

void http_release(http_req_t *req)
{
    if (!req->_offloaded || !req->_answered || released)
        return; /* on an I/O thread the response is queued already */
    http_server_t *s = req->_server;
    released = true;
    MHD_resume_connection(req->conn); /* req belongs to the I/O thread from here */
    pthread_mutex_lock(&s->lock);
    inflight_drop(s);
    pthread_mutex_unlock(&s->lock);
}

/* Starts one more worker, which takes the queue's head first; false when the system refuses a
 * thread. Called locked. */
static bool spawn_worker(http_server_t *s)
{
    worker_t *w = xcalloc(1, sizeof(*w));
    w->s = s;
    sem_init(&w->go, 0, 0);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int rc = pthread_create(&th, &a, worker_main, w);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        LOCUS_LOG(LOG_WARNING, "[net] cannot start a request worker: %s", strerror(rc));
        sem_destroy(&w->go);
        free(w);
        return false;
    }
    s->threads++;
    return true;
}

/* Hands the request to a worker (a new one when none is idle) with its connection suspended;
 * runs it here when stopping (nothing may be suspended then) or when no worker exists and none
 * can be started. */
static void offload(http_server_t *s, req_impl_t *ri)
{
    pthread_mutex_lock(&s->lock);
    worker_t *w = s->stopping ? NULL : s->idle;
    if (s->stopping || (w == NULL && !spawn_worker(s) && s->threads == 0)) {
        pthread_mutex_unlock(&s->lock);
        run_request(s, &ri->req);
        return;
    }
    ri->req._offloaded = true;
    MHD_suspend_connection(ri->req.conn);
    s->inflight++;
    if (w) {
        s->idle = w->next;
        w->idle = false;
        w->job = ri;
    } else { /* the new worker (or the next to finish) takes it */
        ri->next = NULL;
        if (s->tail)
            s->tail->next = ri;
        else
            s->head = ri;
        s->tail = ri;
    }
    pthread_mutex_unlock(&s->lock);
    if (w) /* after the unlock, so the worker does not wake into a held lock */
        sem_post(&w->go);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    http_server_t *s = cls;
    req_impl_t *ri = *req_cls;
    if (ri == NULL) {
        ri = req_create(s, conn, url, method);
        *req_cls = ri;
        http_req_t *req = &ri->req;
        const char *bad = req_check_url(ri);
        if (bad) { /* answer at once (this closes the connection, which is fine) */
            if (req->path == NULL)
                req->path = xstrdup(req->raw_path);
            ri->tag = tag_hook ? tag_hook(req) : 0;
            http_reply_error(req, 400, "%s", bad);
            return MHD_YES;
        }
        ri->tag = tag_hook ? tag_hook(req) : 0;
        s->on_headers(req);
        req->_headers_done = true;
        return MHD_YES;
    }
    http_req_t *req = &ri->req;
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        ri->bytes_in += (int64_t)n;
        if (req->_answered)
            return MHD_YES;
        switch (req->body_mode) {
        case BODY_BUFFER:
            if (req->body.len + n > HTTP_MAX_CONTROL_BODY)
                req->body_too_large = true;
            else if (!req->body_too_large)
                buf_append(&req->body, upload_data, n);
            break;
        case BODY_STREAM:
            if (!req->sink_failed && req->on_body(req, upload_data, n) < 0)
                req->sink_failed = true;
            break;
        case BODY_DISCARD:
            break;
        }
        return MHD_YES;
    }
    if (ri->pending) { /* back from a worker */
        if (MHD_queue_response(conn, ri->pending_status, ri->pending) != MHD_YES)
            LOCUS_LOG(LOG_WARNING, "[net] failed to queue %u for %s %s", ri->pending_status,
                      req->method, req->raw_path);
        MHD_destroy_response(ri->pending);
        ri->pending = NULL;
        return MHD_YES;
    }
    if (req->_answered)
        return MHD_YES;
    if (req->fast)
        run_request(s, req);
    else
        offload(s, ri);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_impl_t *ri = *req_cls;
    if (ri == NULL)
        return;
    *req_cls = NULL;
    if (done_hook)
        done_hook(&ri->req, ri->tag, ri->status, time_mono_ns() - ri->start_ns, ri->bytes_in,
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    req_free(ri);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    LOCUS_LOG(LOG_VERBOSE, "[mhd] %s", msg);
}

http_server_t *http_server_start(const char *host, int port, const char *name,
                                 http_handler_cb on_headers, http_handler_cb on_request, char *err,
                                 size_t errlen)
{
    http_set_node_name(name);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        snprintf(err, errlen, "invalid listen address \"%s\" (IPv4 expected)", host);
        return NULL;
    }
    http_server_t *s = xcalloc(1, sizeof(*s));
    s->on_headers = on_headers;
    s->on_request = on_request;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->drained, NULL);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
                     MHD_USE_ERROR_LOG;
    /* HTTPS (GnuTLS inside MHD; file responses are then read and encrypted, not sendfile'd). */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (tls_cert_pem)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    /* One I/O thread is the daemon's own thread, and MHD warns about a pool of 1 (or 0): then
     * the slot repeats the backlog option instead, with the same value (both take unsigned). */
    unsigned pool = http_io_threads();
    enum MHD_OPTION pool_opt =
        pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_LISTEN_BACKLOG_SIZE;
    if (pool <= 1)
        pool = BACKLOG;
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR, &sin, pool_opt, pool,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)BACKLOG, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    if (s->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d (port in use%s?)", host, port,
                 tls_cert_pem ? ", or a bad TLS certificate or key" : "");
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->drained);
        free(s);
        return NULL;
    }
    return s;
}

/* Waits (locked) until nothing is suspended and no worker lives, at most STOP_WAIT_SEC. */
static bool drain(http_server_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += STOP_WAIT_SEC;
    while (s->inflight > 0 || s->threads > 0)
        if (pthread_cond_timedwait(&s->drained, &s->lock, &ts) == ETIMEDOUT)
            return s->inflight == 0 && s->threads == 0;
    return true;
}

void http_server_stop(http_server_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    while (s->idle) { /* wake the idle workers with no job: they exit */
        worker_t *w = s->idle;
        s->idle = w->next;
        w->idle = false;
        w->job = NULL;
        sem_post(&w->go);
    }
    bool drained = drain(s);
    unsigned left = s->inflight;
    pthread_mutex_unlock(&s->lock);
    if (!drained) {
        /* MHD aborts when stopped with a suspended connection; the process is exiting anyway. */
        LOCUS_LOG(LOG_WARNING, "[net] %u request(s) still running after %d s: not waiting", left,
                  STOP_WAIT_SEC);
        return;
    }
    MHD_stop_daemon(s->mhd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->drained);
    free(s);
}

int http_server_port(const http_server_t *s)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}
