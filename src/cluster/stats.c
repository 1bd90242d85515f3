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

#include <stddef.h>
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
static int classify(http_req_t *req)
{
    const char *p = req->path ? req->path : "";
    const char *m = req->method;
    if (http_header(req, AUTH_HDR_CALLER) != NULL)
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

static void on_done(const http_req_t *req, int op, unsigned status, int64_t ns, int64_t bytes_in,
                    bool ok)
{
    op_stats_t *s = &ops[op >= 0 && op < OP_COUNT ? op : OP_OTHER];
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

/* One AIStore-named counter family per operation: the name from fmt (role, op), the value the
 * op_stats_t field at off; bytes are kept for GET and PUT only. */
static void op_family(buf_t *b, const char *role, const char *fmt, const char *help, size_t off)
{
    for (int i = 0; i < OP_OTHER; i++) {
        if (off == offsetof(op_stats_t, bytes) && i != OP_GET && i != OP_PUT)
            continue;
        char name[96];
        snprintf(name, sizeof(name), fmt, role, op_names[i]);
        metrics_family(b, name, "counter", help);
        metrics_sample(b, name, NULL,
                       (double)atomic_load((_Atomic uint64_t *)((char *)&ops[i] + off)));
    }
}

static void collect(buf_t *b)
{
    const char *role = cluster_role() == ROLE_PROXY ? "proxy" : "target";
    op_family(b, role, "ais_%s_%s_count", "requests of the operation (AIStore's <op>.n)",
              offsetof(op_stats_t, n));
    op_family(b, role, "ais_%s_err_%s_count",
              "failed requests of the operation: answered 4xx/5xx or cut short",
              offsetof(op_stats_t, errs));
    op_family(b, role, "ais_%s_%s_bytes",
              "object bytes received (PUT) or sent (GET) in 2xx answers",
              offsetof(op_stats_t, bytes));
    op_family(b, role, "ais_%s_%s_ns_total", "total time of the operation's requests (nanoseconds)",
              offsetof(op_stats_t, ns));
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

static json_t *tracked(uint64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    return json_pack("{s:s}", "v", s);
}

json_t *stats_tracker_json(void)
{
    json_t *t = json_object();
    char k[48];
    for (int i = 0; i < OP_OTHER; i++) {
        snprintf(k, sizeof(k), "%s.n", op_names[i]);
        json_object_set_new(t, k, tracked(atomic_load(&ops[i].n)));
        snprintf(k, sizeof(k), "err.%s.n", op_names[i]);
        json_object_set_new(t, k, tracked(atomic_load(&ops[i].errs)));
        snprintf(k, sizeof(k), "%s.ns.total", op_names[i]);
        json_object_set_new(t, k, tracked(atomic_load(&ops[i].ns)));
        if (i == OP_GET || i == OP_PUT) { /* AIStore's ".bps" are cumulative bytes */
            snprintf(k, sizeof(k), "%s.bps", op_names[i]);
            json_object_set_new(t, k, tracked(atomic_load(&ops[i].bytes)));
        }
    }
    json_object_set_new(t, "up.ns.time", tracked((uint64_t)(time_mono_ns() - start_ns)));
    return t;
}

void stats_init(void)
{
    start_ns = time_mono_ns();
    metrics_set_node(cluster_self_id());
    metrics_register(collect);
    http_set_stats_hooks(classify, on_done);
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
