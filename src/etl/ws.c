/*
 * ws.c - the ws:// communicator (docs/protocol.md §3.4): objects go to the ETL server over
 * long-lived WebSocket connections to its GET /ws.
 *
 * Per object, on one connection: a Binary control message with JSON
 *   {"dst_addr": D, "pipeline": "[U2,U3,]D", "etl_args": A, "fqn": PathEscape(FQN), "path":
 * "<obj>"} (each field only when it applies; the direct-put destination D goes in both the v3.28
 * and the current field; the later stages U2.. of a pipeline only in the current one), then the
 * object as one Binary message unless the FQN was sent. Exactly one reply follows: Binary = the
 * transformed bytes (streamed to the caller's sink as they arrive: status 200), Text = delivered by
 * direct put (204), except a Text starting with "ETL-ERROR <status> " which is the server's
 * transform error (that status, "ETL error: <rest>").
 *
 * DESIGN
 * Connections live in pools: one per offline job (session_open: e->ws_conns connections,
 * opened at once, closed by session_close once the job's workers are done) and one of
 * WS_INLINE_CONNS per ETL instance for inline requests (e->comm_state, created on first use,
 * freed by dispose). A request checks a connection out, runs its whole exchange on it and
 * checks it back in: each connection carries one request at a time, which keeps "one reply
 * per request, in order" trivially true at the price of no pipelining on a connection (the
 * job's workers still use all connections at once). Callers wait on the pool's condition
 * variable while every connection is busy. A connection that fails (socket error, close,
 * protocol error, idle timeout, cancelled sink) fails only the request on it and is dropped;
 * the pool opens a new one on the next checkout.
 * There is no per-object timeout on ws (AIStore has none), but a server that stops moving
 * bytes for obj_timeout fails its request (504), so a hung server cannot hang a job.
 */
#include "common/log.h"
#include "common/util.h"
#include "etl/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_INLINE_CONNS 2         /* AIStore: bundle_multiplier 2 x inline multiplier 1 */
#define WS_DEFAULT_CONNS 8        /* AIStore: bundle_multiplier 2 x offline multiplier 4 */
#define WS_TEXT_MAX 4096          /* kept of a Text reply (error messages) */
#define WS_ERROR_MARK "ETL-ERROR" /* Text reply "ETL-ERROR <status> <message>" (etlsdk) */

char *etl__ws_ctrl_json(const etl_req_t *rq);
int etl__ws_parse_error(const char *text, size_t n, char *msg, size_t msglen);

typedef struct {
    etl_inst_t *e; /* borrowed: the pool lives within the instance's or the job's life */
    char host[64];
    int port;
    /* lock protects everything below; it is a leaf lock (nothing is called under it). */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a connection is checked in or a slot frees */
    int max;             /* connections this pool may hold */
    int nopen;           /* idle + checked out + being connected */
    int nidle;
    ws_conn_t **idle; /* [max]: healthy connections nobody is using */
} ws_pool_t;

/* Serializes the lazy creation of inline pools (e->comm_state). */
static pthread_mutex_t inline_lock = PTHREAD_MUTEX_INITIALIZER;

static int idle_ms(const etl_inst_t *e)
{
    int64_t ms = e->obj_timeout_ns / 1000000;
    return ms > 0 ? (int)(ms > 3600000 ? 3600000 : ms) : 10000;
}

/* ---- the control message ---- */

char *etl__ws_ctrl_json(const etl_req_t *rq)
{
    json_t *j = json_object();
    char *nodes = etl_node_urls(rq);
    if (nodes) {
        /* v3.28 servers read dst_addr (no pipelines there), current ones the pipeline (a
         * comma-separated list: the later stages, then the destination). */
        if (rq->dst_url && rq->dst_url[0] && !(rq->pipeline && rq->pipeline[0]))
            json_object_set_new(j, "dst_addr", json_string(rq->dst_url));
        json_object_set_new(j, "pipeline", json_string(nodes));
        free(nodes);
    }
    if (rq->args && rq->args[0])
        json_object_set_new(j, "etl_args", json_string(rq->args));
    if (rq->fqn) {
        char *efqn = etl_path_escape(rq->fqn);
        json_object_set_new(j, "fqn", json_string(efqn));
        free(efqn);
    }
    json_object_set_new(j, "path", json_string(rq->obj));
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s == NULL)
        locus_panic("out of memory");
    return s;
}

/* A Text reply "ETL-ERROR <status> <message>": returns the status (400..599, else 500) with the
 * message copied to msg; 0 when the text is not an error. */
int etl__ws_parse_error(const char *text, size_t n, char *msg, size_t msglen)
{
    size_t ml = strlen(WS_ERROR_MARK);
    if (n < ml + 1 || memcmp(text, WS_ERROR_MARK, ml) != 0 || text[ml] != ' ')
        return 0;
    size_t i = ml + 1;
    int status = 0;
    size_t d = i;
    while (i < n && i < d + 3 && text[i] >= '0' && text[i] <= '9')
        status = status * 10 + (text[i++] - '0');
    if (i - d != 3 || (i < n && text[i] != ' ') || status < 400 || status > 599) {
        status = 500; /* no usable status: the whole rest is the message */
        i = d;
    }
    while (i < n && text[i] == ' ')
        i++;
    snprintf(msg, msglen, "%.*s", (int)(n - i), text + i);
    return status;
}

/* ---- pools ---- */

static ws_pool_t *pool_create(etl_inst_t *e, int max)
{
    ws_pool_t *p = xcalloc(1, sizeof(*p));
    p->e = e;
    p->max = max > 0 ? max : WS_DEFAULT_CONNS;
    p->idle = xcalloc((size_t)p->max, sizeof(*p->idle));
    snprintf(p->host, sizeof(p->host), "127.0.0.1");
    const char *hp = strstr(e->url, "://");
    hp = hp ? hp + 3 : e->url;
    const char *colon = strrchr(hp, ':');
    if (colon && (size_t)(colon - hp) < sizeof(p->host)) {
        snprintf(p->host, sizeof(p->host), "%.*s", (int)(colon - hp), hp);
        p->port = atoi(colon + 1);
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    return p;
}

/* Closes every connection; the caller guarantees none is checked out any more. */
static void pool_destroy(ws_pool_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    while (p->nopen > p->nidle) /* a request still running: wait for its checkin */
        pthread_cond_wait(&p->cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nidle; i++)
        ws_close(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->idle);
    free(p);
}

static ws_conn_t *pool_connect(ws_pool_t *p, char *err, size_t errlen)
{
    if (p->e->sock_path[0])
        return ws_connect_unix(p->e->sock_path, "/ws", idle_ms(p->e), err, errlen);
    return ws_connect_tcp(p->host, p->port, "/ws", idle_ms(p->e), err, errlen);
}

/* A connection for one request: an idle one, a new one while under max, else waits. NULL
 * with err filled when a new connection cannot be made. */
static ws_conn_t *pool_checkout(ws_pool_t *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    while (p->nidle == 0 && p->nopen >= p->max)
        pthread_cond_wait(&p->cond, &p->lock);
    if (p->nidle > 0) {
        ws_conn_t *c = p->idle[--p->nidle];
        pthread_mutex_unlock(&p->lock);
        return c;
    }
    p->nopen++;
    pthread_mutex_unlock(&p->lock);
    ws_conn_t *c = pool_connect(p, err, errlen);
    if (c == NULL) {
        pthread_mutex_lock(&p->lock);
        p->nopen--;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    return c;
}

/* Returns c to the pool, or drops it (closed) when it is no longer usable. */
static void pool_checkin(ws_pool_t *p, ws_conn_t *c, bool healthy)
{
    if (!healthy)
        ws_close(c);
    pthread_mutex_lock(&p->lock);
    if (healthy)
        p->idle[p->nidle++] = c;
    else
        p->nopen--;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static ws_pool_t *inline_pool(etl_inst_t *e)
{
    pthread_mutex_lock(&inline_lock);
    if (e->comm_state == NULL)
        e->comm_state = pool_create(e, WS_INLINE_CONNS);
    ws_pool_t *p = e->comm_state;
    pthread_mutex_unlock(&inline_lock);
    return p;
}

/* ---- one object ---- */

typedef struct {
    const etl_out_t *out;
    int opcode; /* of the reply, 0 until it starts */
    buf_t text; /* a Text reply's first WS_TEXT_MAX bytes */
} reply_t;

static int on_reply_start(void *arg, int opcode, int64_t len)
{
    reply_t *r = arg;
    r->opcode = opcode;
    if (opcode == WS_OP_BINARY && r->out->on_status)
        return r->out->on_status(r->out->arg, 200, len) < 0 ? -1 : 0;
    return 0;
}

static int on_reply_data(void *arg, const void *p, size_t n)
{
    reply_t *r = arg;
    if (r->opcode == WS_OP_BINARY)
        return r->out->sink(r->out->arg, p, n) < 0 ? -1 : 0;
    if (r->text.len < WS_TEXT_MAX)
        buf_append(&r->text, p, n < WS_TEXT_MAX - r->text.len ? n : WS_TEXT_MAX - r->text.len);
    return 0;
}

static int ws_transform(etl_inst_t *e, const etl_req_t *rq, const etl_out_t *out, char *err,
                        size_t errlen)
{
    ws_pool_t *p = rq->session ? rq->session : inline_pool(e);
    char cerr[512] = "";
    ws_conn_t *c = pool_checkout(p, cerr, sizeof(cerr));
    if (c == NULL) {
        snprintf(err, errlen, "ETL error: cannot open a ws connection to %s: %s", e->name, cerr);
        return 503;
    }
    char *ctrl = etl__ws_ctrl_json(rq);
    int rc = ws_queue_msg(c, WS_OP_BINARY, ctrl, strlen(ctrl));
    free(ctrl);
    if (rc == 0 && rq->fqn == NULL && ws_queue_fd(c, WS_OP_BINARY, rq->fd, rq->size) < 0) {
        /* Nothing was sent yet, but the control message is queued: drop the connection. */
        pool_checkin(p, c, false);
        snprintf(err, errlen, "cannot read ais://%s/%s to send it to ETL %s", rq->bck, rq->obj,
                 e->name);
        return 500;
    }
    reply_t r = {.out = out};
    buf_init(&r.text);
    ws_msg_cb_t cb = {on_reply_start, on_reply_data, &r};
    if (rc == 0)
        rc = ws_recv_msg(c, &cb, idle_ms(e), cerr, sizeof(cerr));
    else
        snprintf(cerr, sizeof(cerr), "cannot queue a message");
    int status;
    if (rc == WS_ERR_CANCELLED) {
        snprintf(err, errlen, "transform of ais://%s/%s cancelled", rq->bck, rq->obj);
        status = 499;
    } else if (rc == WS_ERR_TIMEOUT) {
        snprintf(err, errlen, "ETL error: %s sent nothing over ws for %ds (obj_timeout): %s",
                 e->name, idle_ms(e) / 1000, cerr);
        status = 504;
    } else if (rc != 0) {
        snprintf(err, errlen, "ETL error: ws connection to %s lost: %s", e->name, cerr);
        status = 503;
    } else if (r.opcode == WS_OP_BINARY) {
        status = 200;
    } else {
        char msg[WS_TEXT_MAX + 1];
        int est = etl__ws_parse_error(r.text.base ? r.text.base : "", r.text.len, msg, sizeof(msg));
        if (est) {
            snprintf(err, errlen, "ETL error: %s", msg);
            status = est;
        } else {
            status = 204; /* delivered by direct put */
        }
    }
    if (rc != 0)
        LOCUS_LOG(LOG_VERBOSE, "etl %s: ais://%s/%s over ws: %s (connection dropped)", e->name,
                  rq->bck, rq->obj, err);
    pool_checkin(p, c, rc == 0);
    buf_dispose(&r.text);
    return status;
}

/* ---- sessions ---- */

static void *ws_session_open(etl_inst_t *e, int nconns, char *err, size_t errlen)
{
    int n = nconns > 0 ? nconns : (e->ws_conns > 0 ? e->ws_conns : WS_DEFAULT_CONNS);
    ws_pool_t *p = pool_create(e, n);
    /* Open them all now, as AIStore does at job start; one that fails is retried on use. */
    char cerr[512] = "";
    for (int i = 0; i < n; i++) {
        ws_conn_t *c = pool_connect(p, cerr, sizeof(cerr));
        if (c == NULL)
            break;
        p->idle[p->nidle++] = c;
        p->nopen++;
    }
    if (p->nopen == 0) {
        snprintf(err, errlen, "ETL error: cannot open a ws connection to %s: %s", e->name, cerr);
        pool_destroy(p);
        return NULL;
    }
    return p;
}

static void ws_session_close(etl_inst_t *e, void *session)
{
    pool_destroy(session);
}

static void ws_dispose(etl_inst_t *e)
{
    pool_destroy(e->comm_state);
    e->comm_state = NULL;
}

const etl_comm_t etl_comm_ws = {.scheme = "ws://",
                                .transform = ws_transform,
                                .session_open = ws_session_open,
                                .session_close = ws_session_close,
                                .dispose = ws_dispose,
                                .needs_server = true};
