/*
 * stats.c - this node's request metrics and GET /metrics (docs/operations.md, "Metrics"). Every
 * request is counted as it ends (the HTTP server's done hook): per operation its count, errors,
 * bytes and time, under AIStore's metric names (ais_<role>_get_count, _get_bytes,
 * _get_ns_total, _err_get_count, ...), plus a latency histogram per operation and the answers
 * by status code. The roles register collectors of their own (mountpaths, jobs, ETLs).
 */
#include "cluster/cluster.h"
#include "cluster/daemon.h"
#include "cluster/internal.h"
#include "auth/auth.h"
#include "common/log.h"
#include "common/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_GET, OP_PUT, OP_HEAD, OP_DEL, OP_LST, OP_OTHER, OP_COUNT } op_t;
/* AIStore's short names (get.n -> ais_target_get_count, lst.n -> ..._lst_count). */
static const char *const op_names[OP_COUNT] = {"get", "put", "head", "del", "lst", "other"};

typedef struct {
    _Atomic uint64_t n, errs, bytes, ns;
    metrics_hist_t lat;
} op_stats_t;

static op_stats_t ops[OP_COUNT];
static _Atomic uint64_t by_code[600]; /* answers by status code (0: none) */
static _Atomic uint64_t incomplete;   /* responses that did not go out whole */
static int64_t start_ns;

/* The operation of a client's request, AIStore's way: object GET/PUT/HEAD/DELETE, a bucket
 * listing (GET on /v1/buckets/B). Anything else is "other", and so are the calls nodes make to
 * each other (they name themselves in Ais-Caller-Id: a rebalance's PUTs, the deletes of other
 * copies), so that the operations count what clients asked. */
static op_t classify(const http_req_t *req)
{
    const char *p = req->path ? req->path : "";
    const char *m = req->method;
    if (http_header((http_req_t *)req, AUTH_HDR_CALLER) != NULL)
        return OP_OTHER;
    if (strncmp(p, "/v1/objects/", 12) == 0) {
        if (strcmp(m, "GET") == 0)
            return OP_GET;
        if (strcmp(m, "PUT") == 0)
            return OP_PUT;
        if (strcmp(m, "HEAD") == 0)
            return OP_HEAD;
        if (strcmp(m, "DELETE") == 0)
            return OP_DEL;
    } else if (strncmp(p, "/v1/buckets/", 12) == 0 && p[12] != '\0' && strcmp(m, "GET") == 0) {
        return OP_LST;
    }
    return OP_OTHER;
}

static void on_done(const http_req_t *req, unsigned status, int64_t ns, int64_t bytes_in, bool ok)
{
    op_t op = classify(req);
    op_stats_t *s = &ops[op];
    atomic_fetch_add(&s->n, 1);
    if (status >= 400 || status == 0 || !ok)
        atomic_fetch_add(&s->errs, 1);
    int64_t bytes = op == OP_PUT ? bytes_in : req->bytes_out;
    if (bytes > 0 && status < 300)
        atomic_fetch_add(&s->bytes, (uint64_t)bytes);
    atomic_fetch_add(&s->ns, ns > 0 ? (uint64_t)ns : 0);
    metrics_hist_observe(&s->lat, ns);
    atomic_fetch_add(&by_code[status < 600 ? status : 0], 1);
    if (!ok)
        atomic_fetch_add(&incomplete, 1);
}

/* One AIStore-named counter family per operation: ais_<role>_<op><suffix>. */
static void op_family(buf_t *b, const char *role, const char *suffix, const char *help, int field)
{
    for (int i = 0; i < OP_OTHER; i++) {
        if (field == 2 && i != OP_GET && i != OP_PUT)
            continue; /* bytes: GET and PUT */
        char name[96];
        if (field == 1)
            snprintf(name, sizeof(name), "ais_%s_err_%s_count", role, op_names[i]);
        else
            snprintf(name, sizeof(name), "ais_%s_%s%s", role, op_names[i], suffix);
        uint64_t v = field == 0   ? atomic_load(&ops[i].n)
                     : field == 1 ? atomic_load(&ops[i].errs)
                     : field == 2 ? atomic_load(&ops[i].bytes)
                                  : atomic_load(&ops[i].ns);
        metrics_family(b, name, "counter", help);
        metrics_sample(b, name, NULL, (double)v);
    }
}

static void collect(buf_t *b)
{
    const char *role = cluster_role() == ROLE_PROXY ? "proxy" : "target";
    op_family(b, role, "_count", "requests of the operation (AIStore's <op>.n)", 0);
    op_family(b, role, "", "failed requests of the operation: answered 4xx/5xx or cut short", 1);
    op_family(b, role, "_bytes", "object bytes received (PUT) or sent (GET) in 2xx answers", 2);
    op_family(b, role, "_ns_total", "total time of the operation's requests (nanoseconds)", 3);
    const char *h = "locus_request_duration_seconds";
    metrics_family(b, h, "histogram",
                   "time from a request's headers to its response sent, per operation");
    for (int i = 0; i < OP_COUNT; i++) {
        char lab[32];
        snprintf(lab, sizeof(lab), "op=\"%s\"", op_names[i]);
        metrics_hist_samples(b, h, lab, &ops[i].lat);
    }
    metrics_family(b, "locus_http_responses_total", "counter",
                   "answers by HTTP status code (code 0: closed without one)");
    for (unsigned c = 0; c < 600; c++) {
        uint64_t v = atomic_load(&by_code[c]);
        if (v == 0)
            continue;
        char lab[32];
        snprintf(lab, sizeof(lab), "code=\"%u\"", c);
        metrics_sample(b, "locus_http_responses_total", lab, (double)v);
    }
    metrics_family(b, "locus_http_incomplete_total", "counter",
                   "responses the peer did not receive whole (closed, timed out)");
    metrics_sample(b, "locus_http_incomplete_total", NULL, (double)atomic_load(&incomplete));
    char up[64];
    snprintf(up, sizeof(up), "ais_%s_uptime", role);
    metrics_family(b, up, "gauge", "this node's uptime (seconds)");
    metrics_sample(b, up, NULL, (double)(time_mono_ns() - start_ns) / 1e9);
}

void stats_init(void)
{
    start_ns = time_mono_ns();
    metrics_set_node(cluster_self_id());
    metrics_register(collect);
    http_set_done_hook(on_done);
}

bool stats_handle(http_req_t *req)
{
    if (strcmp(req->path, "/metrics") != 0)
        return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_reply_error(req, 405, "%s /metrics: only GET", req->method);
        return true;
    }
    buf_t b;
    buf_init(&b);
    metrics_render(&b);
    http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.base ? b.base : "", b.len);
    buf_dispose(&b);
    return true;
}
