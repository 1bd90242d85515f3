/*
 * test_proxy_bcast.c - the proxy's fan-out to the targets (proxy_bcast, src/proxy/proxy.c) and
 * the request handlers (proxy_on_request) on a real HTTP server: object redirects, bucket
 * operations, list objects, job start/query/abort and the ETL control plane. No daemon runs:
 * this process is a primary proxy on a temp data dir whose smap names three mock targets, each
 * a real HTTP server on a loopback port. A mock target records what it receives and answers as
 * the test asks; under /v1/internal/lso it serves a sorted page of its own names, under
 * /v1/etl/_status/<name> the state of the ETL's current generation. PUT redirects are also
 * checked on the wire (libcurl): which bodies are drained on a kept connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/cluster.h"
#include "cluster/internal.h"
#include "cluster/membership.h"
#include "cluster/meta.h"
#include "common/config.h"
#include "common/lso.h"
#include "common/util.h"
#include "net/net.h"
#include "proxy/internal.h"
#include "proxy/proxy.h"

#include "../node_http.h"

#define NT 3
#define LOG_MAX 16

/* Server k plays target tid[k]: started in this order, so the smap order (by id) differs
 * from the start order and from the port order. */
static const char *const tid[NT] = {"tc", "ta", "tb"};
/* Each target's objects in bucket "lb" (sorted). */
static const char *const tnames[NT][4] = {{"e1", NULL}, {"a1", "c1", NULL}, {"b1", "d1", NULL}};

static char dir[64];
static config_t cfg;
static http_server_t *psrv, *tsrv[NT];
static int tport[NT];

/* What the mock targets answer (set by a test, reset by reset()) and what they received. */
static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static int tstatus[NT];
static const char *tbody[NT];  /* NULL: {"node":"<id>"} */
static const char *tstate[NT]; /* what /v1/etl/_status/<name> says of the ETL's current xid */
static char tlog[NT][LOG_MAX][512];
static int nlog[NT];

static int idx_of_id(const char *id)
{
    for (int k = 0; k < NT; k++)
        if (strcmp(tid[k], id) == 0)
            return k;
    fail_msg("no target %s", id);
    return -1;
}

/* The mock target a request came to, by the port in its Host header. */
static int idx_of_req(http_req_t *req)
{
    const char *host = http_header(req, "Host");
    const char *colon = host ? strrchr(host, ':') : NULL;
    int port = colon ? atoi(colon + 1) : -1;
    for (int k = 0; k < NT; k++)
        if (tport[k] == port)
            return k;
    return -1;
}

static void reset(void)
{
    pthread_mutex_lock(&lk);
    for (int k = 0; k < NT; k++) {
        tstatus[k] = 200;
        tbody[k] = NULL;
        tstate[k] = "running";
        nlog[k] = 0;
    }
    pthread_mutex_unlock(&lk);
}

/* The k-th request target id received: "METHOD path?query|body" ("" when none). */
static const char *logged(const char *id, int k)
{
    int i = idx_of_id(id);
    return k < nlog[i] ? tlog[i][k] : "";
}

static int n_logged(const char *id)
{
    pthread_mutex_lock(&lk);
    int n = nlog[idx_of_id(id)];
    pthread_mutex_unlock(&lk);
    return n;
}

static void on_headers(http_req_t *req)
{
}

/* A sorted page of target k's names after ?after=, at most ?limit=. */
static void mock_lso(http_req_t *req, int k)
{
    const char *after = http_query(req, "after");
    size_t limit = strtoul(http_query(req, "limit"), NULL, 10);
    lso_page_t p;
    lso_page_init(&p);
    if (strcmp(http_query(req, "bck"), "lb") == 0)
        for (int i = 0; tnames[k][i] && p.n < limit; i++)
            if (strcmp(tnames[k][i], after ? after : "") > 0) {
                lso_entry_t e = {.name = (char *)tnames[k][i], .size = 10 + i};
                lso_page_add(&p, &e);
            }
    http_reply_json(req, 200, lso_encode_json(&p, LSO_PROP_NAME | LSO_PROP_SIZE));
    lso_page_dispose(&p);
}

/* A target's status of an ETL server (as src/etl answers it): the EtlMD's current xid in the
 * state the test set, and counters that tell the targets apart. */
static void mock_etl_status(http_req_t *req, int k, const char *state)
{
    const char *name = req->path + strlen("/v1/etl/_status/");
    mdoc_t *md = md_get(MD_ETL);
    json_t *xid = json_object_get(json_object_get(md->items, name), "xid");
    json_t *j = json_pack("{s:s, s:O, s:s, s:i, s:i, s:i}", "state", state, "xid",
                          xid ? xid : json_null(), "reason", "exec failed", "obj_count", k + 1,
                          "in_bytes", 10 * (k + 1), "out_bytes", 100 * (k + 1));
    md_put(md);
    http_reply_json(req, 200, j);
}

static void mock_request(http_req_t *req)
{
    int k = idx_of_req(req);
    if (k < 0) {
        http_reply_error(req, 500, "unknown mock target");
        return;
    }
    if (strcmp(req->path, "/v1/metasync") == 0) { /* bucket changes pushed by the primary */
        http_reply(req, 200, NULL, "", 0);
        return;
    }
    pthread_mutex_lock(&lk);
    if (nlog[k] < LOG_MAX)
        snprintf(tlog[k][nlog[k]++], sizeof(tlog[k][0]), "%s %s%s%s|%.*s", req->method, req->path,
                 req->raw_query[0] ? "?" : "", req->raw_query, (int)req->body.len,
                 req->body.base ? req->body.base : "");
    int status = tstatus[k];
    const char *body = tbody[k];
    const char *state = tstate[k];
    pthread_mutex_unlock(&lk);
    if (str_has_prefix(req->path, "/v1/etl/_status/")) {
        mock_etl_status(req, k, state);
        return;
    }
    if (strcmp(req->path, "/v1/internal/lso") == 0 && status == 200) {
        mock_lso(req, k);
        return;
    }
    char *dflt = xasprintf("{\"node\":\"%s\"}", tid[k]);
    http_reply(req, (unsigned)status, "application/json", body ? body : dflt,
               strlen(body ? body : dflt));
    free(dflt);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/locus-test-proxy-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    httpc_global_init();
    char err[256] = "";
    psrv = http_server_start("127.0.0.1", 0, "p[p1]", proxy_on_headers, proxy_on_request, err,
                             sizeof(err));
    for (int k = 0; k < NT && psrv; k++) {
        tsrv[k] =
            http_server_start("127.0.0.1", 0, "mock", on_headers, mock_request, err, sizeof(err));
        if (tsrv[k] == NULL)
            break;
        tport[k] = http_server_port(tsrv[k]);
    }
    if (psrv == NULL || tsrv[NT - 1] == NULL) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    node_port = http_server_port(psrv);
    node_config(&cfg, ROLE_PROXY, "p1", xstrdup(dir));
    if (cluster_init(&cfg, err, sizeof(err)) < 0 || proxy_init(err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    proxy_reb_stop(); /* the fan-outs counted here are the tests' own, not a rebalance's */
    meta_write_lock();
    for (int k = 0; k < NT; k++) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", tport[k]);
        smap_upsert(tid[k], url, false);
    }
    meta_write_unlock();
    reset();
    return 0;
}

static int teardown(void **state)
{
    http_server_stop(psrv);
    for (int k = 0; k < NT; k++)
        http_server_stop(tsrv[k]);
    httpc_thread_cleanup();
    remove_tree(dir);
    config_dispose(&cfg);
    return 0;
}

/* ---------------------------------------------------------------- proxy_bcast */

/* What a merge callback saw: the targets in call order and the "node" of their answers. */
typedef struct {
    char order[64];
    char nodes[64];
    const char *stop_at; /* fail the merge at this target */
} seen_t;

static int merge_record(proxy_bcast_t *b, const snode_t *t, json_t *answer)
{
    seen_t *s = b->arg;
    size_t n = strlen(s->order);
    snprintf(s->order + n, sizeof(s->order) - n, "%s%s", n ? "," : "", t->id);
    n = strlen(s->nodes);
    const char *node = json_string_value(json_object_get(answer, "node"));
    snprintf(s->nodes + n, sizeof(s->nodes) - n, "%s%s", n ? "," : "", node ? node : "?");
    if (s->stop_at && strcmp(s->stop_at, t->id) == 0) {
        snprintf(b->err, sizeof(b->err), "merge refused %s", t->id);
        return 507;
    }
    return 0;
}

static int bcast(proxy_bcast_t *b, seen_t *s, bool strict)
{
    memset(s, 0, sizeof(*s));
    b->method = b->method ? b->method : "GET";
    b->path = b->path ? b->path : "/v1/test";
    b->timeout_ms = 5000;
    b->strict = strict;
    b->arg = s;
    return proxy_bcast(b);
}

static void test_bcast_merge_in_smap_order(void **state)
{
    reset();
    seen_t s;
    proxy_bcast_t b = {
        .method = "POST", .path = "/v1/test?x=1", .body = "{\"a\":1}", .merge = merge_record};
    assert_int_equal(bcast(&b, &s, true), 0);
    assert_int_equal(b.n_targets, NT);
    assert_int_equal(b.n_ok, NT);
    assert_string_equal(b.failed, "");
    assert_string_equal(b.err, "");
    /* By id, whatever the servers' start or answer order; each with its own answer. */
    assert_string_equal(s.order, "ta,tb,tc");
    assert_string_equal(s.nodes, "ta,tb,tc");
    for (int k = 0; k < NT; k++) {
        assert_int_equal(n_logged(tid[k]), 1);
        assert_string_equal(logged(tid[k], 0), "POST /v1/test?x=1|{\"a\":1}");
    }
}

static void test_bcast_strict_fails_on_first(void **state)
{
    reset();
    tstatus[idx_of_id("tb")] = 409;
    tbody[idx_of_id("tb")] = "tb says no";
    tstatus[idx_of_id("tc")] = 500;
    seen_t s;
    proxy_bcast_t b = {.merge = merge_record};
    assert_int_equal(bcast(&b, &s, true), 503);
    assert_string_equal(b.failed, "tb"); /* the first in smap order, not tc */
    assert_string_equal(b.err, "target tb failed: tb says no");
    assert_string_equal(s.order, "ta"); /* nothing merged after the failure */
    assert_int_equal(b.n_targets, NT);
    assert_int_equal(b.n_ok, 1);
    for (int k = 0; k < NT; k++) /* all were called all the same */
        assert_int_equal(nlog[k], 1);

    /* Without merge the status check is the same. */
    b = (proxy_bcast_t){.merge = NULL};
    assert_int_equal(bcast(&b, &s, true), 503);
    assert_string_equal(b.failed, "tb");
}

static void test_bcast_lenient_skips_failures(void **state)
{
    reset();
    tstatus[idx_of_id("ta")] = 404;
    seen_t s;
    proxy_bcast_t b = {.merge = merge_record};
    assert_int_equal(bcast(&b, &s, false), 0);
    assert_int_equal(b.n_targets, NT);
    assert_int_equal(b.n_ok, 2);
    assert_string_equal(s.order, "tb,tc");
    assert_string_equal(b.failed, "");
}

static void test_bcast_merge_status_ends_it(void **state)
{
    reset();
    seen_t s = {0};
    proxy_bcast_t b = {.merge = merge_record};
    b.method = "GET";
    b.path = "/v1/test";
    b.timeout_ms = 5000;
    b.arg = &s;
    s.stop_at = "tb";
    assert_int_equal(proxy_bcast(&b), 507);
    assert_string_equal(b.err, "merge refused tb");
    assert_string_equal(s.order, "ta,tb");
}

static void test_bcast_only(void **state)
{
    reset();
    seen_t s;
    proxy_bcast_t b = {.only = "tb", .merge = merge_record};
    assert_int_equal(bcast(&b, &s, true), 0);
    assert_int_equal(b.n_targets, 1);
    assert_int_equal(b.n_ok, 1);
    assert_string_equal(s.nodes, "tb");
    assert_int_equal(n_logged("ta"), 0);
    assert_int_equal(n_logged("tb"), 1);
    assert_int_equal(n_logged("tc"), 0);

    b = (proxy_bcast_t){.only = "tz", .merge = merge_record};
    assert_int_equal(bcast(&b, &s, false), 404);
    assert_int_equal(b.n_targets, 0);
    assert_string_equal(b.err, "target tz is not in the cluster map");
    assert_int_equal(n_logged("tb"), 1); /* nobody called */
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_bcast_dead_target(void **state)
{
    reset();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    meta_write_lock();
    smap_upsert("td", url, false);
    meta_write_unlock();
    seen_t s;
    proxy_bcast_t b = {.merge = merge_record};
    assert_int_equal(bcast(&b, &s, true), 503);
    assert_int_equal(b.n_targets, NT + 1);
    assert_string_equal(b.failed, "td");
    assert_true(str_has_prefix(b.err, "target td failed: "));
    assert_true(strlen(b.err) > strlen("target td failed: ")); /* the transport error */
    assert_string_equal(s.order, "ta,tb,tc");

    b = (proxy_bcast_t){.merge = merge_record};
    assert_int_equal(bcast(&b, &s, false), 0);
    assert_int_equal(b.n_ok, NT);
    assert_string_equal(s.order, "ta,tb,tc");

    char *ids[] = {"td"};
    meta_write_lock();
    smap_remove_nodes(ids, 1);
    meta_write_unlock();
}

static void test_bcast_not_json(void **state)
{
    reset();
    tbody[idx_of_id("tb")] = "this is not JSON";
    seen_t s;
    proxy_bcast_t b = {.merge = merge_record};
    assert_int_equal(bcast(&b, &s, true), 500);
    assert_string_equal(b.failed, "tb");
    assert_string_equal(b.err, "invalid JSON from target tb");
    assert_string_equal(s.order, "ta");

    b = (proxy_bcast_t){.merge = merge_record}; /* lenient: skipped */
    assert_int_equal(bcast(&b, &s, false), 0);
    assert_int_equal(b.n_ok, 2);
    assert_string_equal(s.order, "ta,tc");

    b = (proxy_bcast_t){.merge = NULL}; /* no merge: answers are not parsed */
    assert_int_equal(bcast(&b, &s, true), 0);
    assert_int_equal(b.n_ok, NT);
}

/* ---------------------------------------------------------------- handlers */

/* The answer's body as JSON (asserted). */
static json_t *call_json(const char *method, const char *path, const char *body, int want)
{
    httpc_resp_t r;
    int st = call(method, path, body, &r);
    if (st != want)
        fail_msg("%s %s: %d %.*s", method, path, st, (int)r.body.len, r.body.base);
    json_t *j = json_loadb(r.body.base ? r.body.base : "", r.body.len, 0, NULL);
    httpc_resp_dispose(&r);
    assert_non_null(j);
    return j;
}

static void create_bucket(const char *name)
{
    char *path = xasprintf("/v1/buckets/%s", name);
    httpc_resp_t r;
    int st = call("POST", path, "{\"action\":\"create-bck\"}", &r);
    httpc_resp_dispose(&r);
    free(path);
    assert_true(st == 200 || st == 409);
}

/* The names of a list page, comma-separated, and its continuation token. */
static void page_names(json_t *page, char *names, size_t len, const char **token)
{
    names[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(page, "entries"), i, e)
    {
        size_t n = strlen(names);
        snprintf(names + n, len - n, "%s%s", i ? "," : "",
                 json_string_value(json_object_get(e, "name")));
    }
    *token = json_string_value(json_object_get(page, "continuation_token"));
}

static void test_list_objects_merges_pages(void **state)
{
    reset();
    create_bucket("lb");
    char names[256];
    const char *token;
    json_t *p =
        call_json("GET", "/v1/buckets/lb",
                  "{\"action\":\"list\",\"value\":{\"pagesize\":3,\"props\":\"name,size\"}}", 200);
    page_names(p, names, sizeof(names), &token);
    assert_string_equal(names, "a1,b1,c1");
    assert_string_equal(token, "c1"); /* a full page: the last name */
    json_t *first = json_array_get(json_object_get(p, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "size")), "10"); /* as AIStore */
    json_decref(p);
    for (int k = 0; k < NT; k++) /* each target was asked for a page of at most 3 */
        assert_non_null(strstr(logged(tid[k], 0), "bck=lb&prefix=&after=&limit=3"));

    p = call_json("GET", "/v1/buckets/lb",
                  "{\"action\":\"list\",\"value\":{\"pagesize\":3,\"continuation_token\":\"c1\"}}",
                  200);
    page_names(p, names, sizeof(names), &token);
    assert_string_equal(names, "d1,e1");
    assert_string_equal(token, ""); /* the last page */
    json_decref(p);
    assert_non_null(strstr(logged("ta", 1), "after=c1&limit=3"));

    /* One target failing fails the listing, naming it. */
    tstatus[idx_of_id("tc")] = 500;
    tbody[idx_of_id("tc")] = "disk on fire";
    p = call_json("GET", "/v1/buckets/lb", NULL, 503);
    assert_string_equal(json_string_value(json_object_get(p, "message")),
                        "list objects: target tc failed: disk on fire");
    json_decref(p);

    /* A bucket not in the BMD: answered by the proxy alone. */
    reset();
    p = call_json("GET", "/v1/buckets/nosuch", NULL, 404);
    json_decref(p);
    for (int k = 0; k < NT; k++)
        assert_int_equal(nlog[k], 0);
}

static void test_job_start(void **state)
{
    reset();
    create_bucket("lb");
    httpc_resp_t r;
    assert_int_equal(call("POST", "/v1/buckets/lb?bck_to=ais://lb2",
                          "{\"action\":\"copy-bck\",\"value\":{\"prefix\":\"a\"}}", &r),
                     200);
    char *id = xstrndup(r.body.base, r.body.len);
    httpc_resp_dispose(&r);
    for (int k = 0; k < NT; k++) {
        assert_int_equal(nlog[k], 1);
        const char *l = tlog[k][0];
        assert_true(str_has_prefix(l, "POST /v1/xactions|"));
        json_t *j = json_loads(strchr(l, '|') + 1, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "id")), id);
        assert_string_equal(json_string_value(json_object_get(j, "kind")), "copy-bck");
        assert_string_equal(json_string_value(json_object_get(j, "src")), "lb");
        assert_string_equal(json_string_value(json_object_get(j, "dst")), "lb2");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "msg"), "prefix")),
                            "a");
        json_decref(j);
    }
    bmd_t *b = bmd_get(); /* the destination was created */
    assert_non_null(bmd_bucket(b, "lb2"));
    bmd_put(b);
    free(id);

    /* One target refusing: the job is aborted everywhere and the refusal named. */
    reset();
    tstatus[idx_of_id("ta")] = 500;
    json_t *e =
        call_json("DELETE", "/v1/buckets/lb",
                  "{\"action\":\"delete-listrange\",\"value\":{\"template\":\"o-{0..3}\"}}", 503);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "cannot start delete-listrange on target ta");
    json_decref(e);
    for (int k = 0; k < NT; k++) {
        assert_int_equal(nlog[k], 2);
        assert_non_null(strstr(tlog[k][0], "\"template\":\"o-{0..3}\""));
        assert_true(str_has_prefix(tlog[k][1], "DELETE /v1/xactions?id="));
    }

    /* A malformed range is refused before any target is called. */
    reset();
    e = call_json("DELETE", "/v1/buckets/lb",
                  "{\"action\":\"delete-listrange\",\"value\":{\"template\":\"o-{3..\"}}", 400);
    json_decref(e);
    for (int k = 0; k < NT; k++)
        assert_int_equal(nlog[k], 0);
}

static void test_job_query_merges_snapshots(void **state)
{
    reset();
    tbody[idx_of_id("ta")] = "{\"kind\":\"copy-bck\",\"end_ns\":100,\"node\":\"ta\",\"err\":\"\"}";
    tbody[idx_of_id("tb")] = "{\"kind\":\"copy-bck\",\"end_ns\":300,\"node\":\"tb\",\"err\":"
                             "\"boom\",\"aborted\":true}";
    tstatus[idx_of_id("tc")] = 404; /* lost the job (restarted): does not hold it back */
    json_t *st = call_json("GET", "/v1/cluster?what=status&id=j1", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(st, "kind")), "copy-bck");
    assert_string_equal(json_string_value(json_object_get(st, "uuid")), "j1");
    assert_string_equal(json_string_value(json_object_get(st, "err")), "boom");
    assert_int_equal(json_integer_value(json_object_get(st, "end_time")), 300);
    assert_true(json_is_true(json_object_get(st, "aborted")));
    json_decref(st);
    assert_string_equal(logged("tc", 0), "GET /v1/xactions?id=j1|");

    /* The id from a JobArgs body; per-target snapshots without end_ns and node. */
    json_t *per = call_json("GET", "/v1/cluster?what=qryxstats", "{\"ID\":\"j1\"}", 200);
    assert_int_equal(json_object_size(per), 2);
    json_t *a = json_array_get(json_object_get(per, "ta"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "copy-bck");
    assert_null(json_object_get(a, "end_ns"));
    assert_null(json_object_get(a, "node"));
    assert_null(json_object_get(per, "tc"));
    json_decref(per);

    /* One target still running: not ended. */
    tbody[idx_of_id("ta")] = "{\"kind\":\"copy-bck\",\"end_ns\":0}";
    st = call_json("GET", "/v1/cluster?what=status&id=j1", NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(st, "end_time")), 0);
    json_decref(st);

    /* Nobody knows it. */
    reset();
    for (int k = 0; k < NT; k++)
        tstatus[k] = 404;
    json_decref(call_json("GET", "/v1/cluster?what=status&id=j2", NULL, 404));
    json_decref(call_json("GET", "/v1/cluster?what=status", NULL, 400)); /* no id */
}

static void test_job_abort(void **state)
{
    reset();
    tstatus[idx_of_id("ta")] = 404;
    httpc_resp_t r;
    assert_int_equal(
        call("PUT", "/v1/cluster", "{\"action\":\"stop-xaction\",\"value\":{\"ID\":\"j1\"}}", &r),
        200);
    httpc_resp_dispose(&r);
    for (int k = 0; k < NT; k++)
        assert_string_equal(tlog[k][0], "DELETE /v1/xactions?id=j1|");

    for (int k = 0; k < NT; k++)
        tstatus[k] = 404;
    json_decref(
        call_json("PUT", "/v1/cluster", "{\"action\":\"stop\",\"value\":{\"id\":\"j1\"}}", 404));
}

/* Queries for many jobs: the filter goes to every target as query parameters; status_all
 * aggregates per job id over the targets as what=status does, running_all names the running
 * ones, sorted. */
static void test_job_query_many(void **state)
{
    reset();
    tbody[idx_of_id("ta")] =
        "[{\"id\":\"j1\",\"kind\":\"copy-bck\",\"end_ns\":100,\"node\":\"ta\"},"
        "{\"id\":\"j2\",\"kind\":\"etl-bck\",\"end_ns\":0,\"err\":\"\"}]";
    tbody[idx_of_id("tb")] = "[{\"id\":\"j1\",\"kind\":\"copy-bck\",\"end_ns\":0},"
                             "{\"id\":\"j2\",\"kind\":\"etl-bck\",\"end_ns\":0}]";
    tbody[idx_of_id("tc")] = "[]";
    json_t *per = call_json("GET", "/v1/cluster?what=qryxstats",
                            "{\"kind\":\"copy-bck\",\"bck\":{\"name\":\"b1\",\"provider\":\"ais\"},"
                            "\"show_active\":true}",
                            200);
    assert_string_equal(logged("ta", 0), "GET /v1/xactions?kind=copy-bck&bck=b1&show_active=true|");
    assert_int_equal(json_object_size(per), 2); /* tc has none */
    assert_int_equal(json_array_size(json_object_get(per, "ta")), 2);
    assert_null(json_object_get(json_array_get(json_object_get(per, "ta"), 0), "end_ns"));
    json_decref(per);

    json_t *vec = call_json("GET", "/v1/cluster?what=status_all", NULL, 200);
    assert_int_equal(json_array_size(vec), 2);
    json_t *s1 = json_array_get(vec, 0);
    assert_string_equal(json_string_value(json_object_get(s1, "uuid")), "j1");
    assert_int_equal(json_integer_value(json_object_get(s1, "end_time")), 0); /* tb runs it */
    json_decref(vec);

    tbody[idx_of_id("tb")] = "[{\"id\":\"j1\",\"kind\":\"copy-bck\",\"end_ns\":200},"
                             "{\"id\":\"j2\",\"kind\":\"etl-bck\",\"end_ns\":0}]";
    vec = call_json("GET", "/v1/cluster?what=status_all", NULL, 200);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vec, 0), "end_time")), 200);
    json_decref(vec);
    vec = call_json("GET", "/v1/cluster?what=status_all", "{\"ID\":\"j2\"}", 200);
    assert_int_equal(json_array_size(vec), 1); /* with an id: that job only */
    assert_string_equal(json_string_value(json_object_get(json_array_get(vec, 0), "uuid")), "j2");
    json_decref(vec);
    vec = call_json("GET", "/v1/cluster?what=running_all", NULL, 200);
    assert_int_equal(json_array_size(vec), 1);
    assert_string_equal(json_string_value(json_array_get(vec, 0)), "etl-bck[j2]");
    json_decref(vec);
    assert_string_equal(logged("ta", nlog[idx_of_id("ta")] - 1),
                        "GET /v1/xactions?kind=&bck=&show_active=true|");

    /* Bad filters are refused before any target is called. */
    reset();
    json_decref(call_json("GET", "/v1/cluster?what=qryxstats", "{\"kind\":\"nosuch\"}", 400));
    json_decref(call_json("GET", "/v1/cluster?what=status_all", "{\"show_active\":\"yes\"}", 400));
    json_decref(call_json("GET", "/v1/cluster?what=running_all&bck=a/b", NULL, 400));
    json_decref(call_json("GET", "/v1/cluster?what=nosuch", NULL, 400));
    for (int k = 0; k < NT; k++)
        assert_int_equal(nlog[k], 0);
}

static void test_job_abort_kind(void **state)
{
    reset();
    for (int k = 0; k < NT; k++)
        tbody[k] = "{\"stopped\":2}";
    json_t *r = call_json("PUT", "/v1/cluster",
                          "{\"action\":\"stop-xaction\",\"value\":{\"kind\":\"copy-bck\"}}", 200);
    assert_int_equal(json_integer_value(json_object_get(r, "stopped")), 2 * NT);
    json_decref(r);
    assert_string_equal(logged("ta", 0), "DELETE /v1/xactions?kind=copy-bck&bck=|");
    reset();
    json_decref(call_json("PUT", "/v1/cluster",
                          "{\"action\":\"stop-xaction\",\"value\":{\"id\":\"\",\"kind\":\"\"}}",
                          400)); /* neither: as AIStore, 400 */
    json_decref(call_json("PUT", "/v1/cluster",
                          "{\"action\":\"stop-xaction\",\"value\":{\"bck\":{\"name\":\"b\"}}}",
                          400));
    json_decref(call_json("PUT", "/v1/cluster",
                          "{\"action\":\"stop-xaction\",\"value\":{\"Kind\":\"bad kind\"}}", 400));
    json_decref(call_json("PUT", "/v1/cluster", "{\"action\":\"stop-xaction\",\"value\":7}", 400));
    for (int k = 0; k < NT; k++)
        assert_int_equal(nlog[k], 0);
}

/* ---------------------------------------------------------------- objects and buckets */

/* Object requests go to their HRW owner by 307, with the proxy's id and a timestamp added;
 * the proxy calls no target for them. */
static void test_object_redirect(void **state)
{
    reset();
    create_bucket("lb");
    smap_t *s = smap_get();
    int per_target[NT] = {0};
    for (int i = 0; i < 30; i++) {
        char name[32], path[64];
        snprintf(name, sizeof(name), "dir/obj %d", i);
        snprintf(path, sizeof(path), "/v1/objects/lb/dir/obj%%20%d?provider=ais", i);
        httpc_resp_t r;
        assert_int_equal(call(i % 2 ? "PUT" : "GET", path, i % 2 ? "data" : NULL, &r), 307);
        const snode_t *owner = smap_owner(s, "lb", name);
        char *want = xasprintf("%s%s&pid=p1&utm=", owner->url, path);
        assert_non_null(r.location);
        assert_true(str_has_prefix(r.location, want));
        per_target[idx_of_id(owner->id)]++;
        free(want);
        httpc_resp_dispose(&r);
    }
    smap_put(s);
    for (int k = 0; k < NT; k++) {
        assert_true(per_target[k] > 0); /* spread over all targets */
        assert_int_equal(nlog[k], 0);
    }
    json_t *e = call_json("GET", "/v1/objects/nosuch/o", NULL, 404);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "bucket \"ais://nosuch\" does not exist");
    json_decref(e);
    json_decref(call_json("GET", "/v1/objects/lb/o?provider=aws", NULL, 400));
    json_decref(call_json("GET", "/v1/objects/lb/", NULL, 400)); /* no object name */
    json_decref(call_json("GET", "/v1/objects/lb", NULL, 400));
}

/* One PUT of n zero bytes to the proxy on h (its connection cache reused), with or without
 * Expect: 100-continue; n < 0: 10 bytes, chunked (no length). Returns the status; *conns:
 * connections curl opened for it, *sent: body bytes it sent. */
static long put_on(CURL *h, const char *path, long n, bool expect, long *conns, curl_off_t *sent)
{
    char *url = xasprintf("http://127.0.0.1:%d%s", node_port, path);
    char *body = xcalloc(1, n < 0 ? 10 : (size_t)n);
    struct curl_slist *hl = curl_slist_append(NULL, expect ? "Expect: 100-continue" : "Expect:");
    if (n < 0)
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(n < 0 ? 10 : n));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 20000L); /* never give up waiting */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, conns);
    curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, sent);
    curl_slist_free_all(hl);
    free(body);
    free(url);
    return status;
}

/* A client that waits for 100 Continue: a small body is drained and the 307 comes on a kept
 * connection; a body over HTTP_DRAIN_MAX is answered before it is sent (and the connection
 * closes). Without Expect the body is always drained and the connection kept. */
static void test_object_put_connections(void **state)
{
    reset();
    create_bucket("lb");
    CURL *h = curl_easy_init();
    long conns;
    curl_off_t sent;
    const char *p = "/v1/objects/lb/obj";
    assert_int_equal(put_on(h, p, 4096, true, &conns, &sent), 307);
    assert_int_equal(conns, 1);
    assert_int_equal(sent, 4096);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(put_on(h, p, 4096, true, &conns, &sent), 307);
        assert_int_equal(conns, 0); /* the same connection */
    }
    assert_int_equal(put_on(h, "/v1/objects/nosuch/o", 100, true, &conns, &sent), 404);
    assert_int_equal(conns, 0);
    assert_int_equal(put_on(h, p, HTTP_DRAIN_MAX, true, &conns, &sent), 307);
    assert_int_equal(conns, 0);
    assert_int_equal(sent, HTTP_DRAIN_MAX);

    long big = HTTP_DRAIN_MAX + 1;
    assert_int_equal(put_on(h, p, big, true, &conns, &sent), 307);
    assert_int_equal(sent, 0); /* answered before the body */
    assert_int_equal(put_on(h, p, 10, true, &conns, &sent), 307);
    assert_int_equal(conns, 1); /* ... on a connection that then closed */
    assert_int_equal(put_on(h, p, big, false, &conns, &sent), 307);
    assert_int_equal(conns, 0);
    assert_int_equal(sent, (curl_off_t)big); /* no Expect: sent anyway, drained */
    assert_int_equal(put_on(h, p, 10, true, &conns, &sent), 307);
    assert_int_equal(conns, 0);
    /* No length: it cannot be bounded, so it is answered before it is sent. */
    assert_int_equal(put_on(h, p, -1, true, &conns, &sent), 307);
    assert_int_equal(sent, 0);
    assert_int_equal(put_on(h, p, 10, true, &conns, &sent), 307);
    assert_int_equal(conns, 1);
    curl_easy_cleanup(h);
    for (int k = 0; k < NT; k++)
        assert_int_equal(nlog[k], 0);
}

static void test_buckets(void **state)
{
    reset();
    create_bucket("lb");
    create_bucket("aa");
    json_t *e = call_json("POST", "/v1/buckets/aa", "{\"action\":\"create-bck\"}", 409);
    json_decref(e);
    json_t *l = call_json("GET", "/v1/buckets", NULL, 200);
    assert_true(json_array_size(l) >= 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "name")), "aa");
    json_decref(l);
    httpc_resp_t r;
    assert_int_equal(call("HEAD", "/v1/buckets/aa", NULL, &r), 200);
    httpc_resp_dispose(&r);
    assert_int_equal(call("DELETE", "/v1/buckets/aa", "{\"action\":\"destroy-bck\"}", &r), 200);
    httpc_resp_dispose(&r);
    assert_int_equal(call("HEAD", "/v1/buckets/aa", NULL, &r), 404);
    httpc_resp_dispose(&r);
    json_decref(call_json("DELETE", "/v1/buckets/aa", "{\"action\":\"destroy-bck\"}", 404));
    /* Copying onto itself or from a missing bucket: refused before any target is called. */
    json_decref(
        call_json("POST", "/v1/buckets/lb?bck_to=ais://lb", "{\"action\":\"copy-bck\"}", 400));
    json_decref(
        call_json("POST", "/v1/buckets/aa?bck_to=ais://x", "{\"action\":\"copy-bck\"}", 404));
    json_decref(call_json("POST", "/v1/buckets/lb?bck_to=ais://x",
                          "{\"action\":\"copy-bck\",\"value\":{\"bogus\":1}}", 400));
    for (int k = 0; k < NT; k++)
        assert_int_equal(nlog[k], 0);
}

/* ---------------------------------------------------------------- ETL control plane */

#define ETL_INIT "{\"name\":\"md5-etl\",\"runtime\":{\"image\":\"aistorage/transformer_md5\"}}"

/* The EtlMD entry's member key of md5-etl ("" when absent; copied into out). */
static const char *etl_md(const char *key, char *out, size_t len)
{
    mdoc_t *md = md_get(MD_ETL);
    const char *v = json_string_value(json_object_get(json_object_get(md->items, "md5-etl"), key));
    snprintf(out, len, "%s", v ? v : "");
    md_put(md);
    return out;
}

/* The answer's body as text (caller frees), asserting the status. */
static char *call_text(const char *method, const char *path, const char *body, int want)
{
    httpc_resp_t r;
    int st = call(method, path, body, &r);
    if (st != want)
        fail_msg("%s %s: %d %.*s", method, path, st, (int)r.body.len, r.body.base);
    char *s = xstrndup(r.body.base ? r.body.base : "", r.body.len);
    httpc_resp_dispose(&r);
    return s;
}

/* Init waits until every target runs the new generation; list sums the targets' counters;
 * view gathers a job's object errors from the targets. */
static void test_etl_init_list_view(void **state)
{
    reset();
    char v[128];
    char *xid = call_text("PUT", "/v1/etl", ETL_INIT, 200);
    assert_true(str_has_prefix(xid, "etl-"));
    assert_string_equal(etl_md("xid", v, sizeof(v)), xid);
    assert_string_equal(etl_md("stage", v, sizeof(v)), "Running");
    for (int k = 0; k < NT; k++)
        assert_string_equal(logged(tid[k], 0), "GET /v1/etl/_status/md5-etl|");
    json_decref(call_json("PUT", "/v1/etl", ETL_INIT, 409)); /* exists */

    json_t *l = call_json("GET", "/v1/etl", NULL, 200);
    assert_int_equal(json_array_size(l), 1);
    json_t *e = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(e, "id")), "md5-etl");
    assert_string_equal(json_string_value(json_object_get(e, "stage")), "Running");
    assert_string_equal(json_string_value(json_object_get(e, "xaction_id")), xid);
    assert_int_equal(json_integer_value(json_object_get(e, "obj_count")), 1 + 2 + 3);
    assert_int_equal(json_integer_value(json_object_get(e, "in_bytes")), 60);
    assert_int_equal(json_integer_value(json_object_get(e, "out_bytes")), 600);
    json_decref(l);

    reset();
    tbody[idx_of_id("tc")] = "{\"obj_errors\":[{\"obj_name\":\"c1\"},{\"obj_name\":\"c2\"}]}";
    tbody[idx_of_id("ta")] = "{\"obj_errors\":[{\"obj_name\":\"a1\"}]}";
    tstatus[idx_of_id("tb")] = 404; /* does not know the job */
    json_t *view = call_json("GET", "/v1/etl/md5-etl?uuid=j9", NULL, 200);
    json_t *errs = json_object_get(view, "obj_errors");
    assert_int_equal(json_array_size(errs), 3);
    static const char *const want[] = {"a1", "c1", "c2"}; /* in smap order */
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(errs, i), "obj_name")),
                            want[i]);
    assert_string_equal(json_string_value(json_object_get(view, "stage")), "Running");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(view, "init_msg"), "name")), "md5-etl");
    json_decref(view);
    assert_string_equal(logged("ta", 0), "GET /v1/xactions?id=j9&errors=1|");
    json_decref(call_json("GET", "/v1/etl/nope", NULL, 404));
    free(xid);
}

static void test_etl_logs_health(void **state)
{
    reset();
    json_t *a = call_json("GET", "/v1/etl/md5-etl/logs/tb", NULL, 200);
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "node")), "tb");
    json_decref(a);
    assert_int_equal(n_logged("ta"), 0);
    assert_string_equal(logged("tb", 0), "GET /v1/etl/md5-etl/logs|");
    json_t *e = call_json("GET", "/v1/etl/md5-etl/logs/tz", NULL, 404);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "target tz is not in the cluster map");
    json_decref(e);
    a = call_json("GET", "/v1/etl/md5-etl/health", NULL, 200);
    assert_int_equal(json_array_size(a), NT);
    for (size_t i = 0; i < NT; i++) /* ta, tb, tc */
        assert_int_equal(json_string_value(json_object_get(json_array_get(a, i), "node"))[1],
                         'a' + (int)i);
    json_decref(a);
    tstatus[idx_of_id("tc")] = 500;
    a = call_json("GET", "/v1/etl/md5-etl/health", NULL, 200); /* the others' answers only */
    assert_int_equal(json_array_size(a), NT - 1);
    json_decref(a);
    json_decref(call_json("GET", "/v1/etl/nope/health", NULL, 404));
}

/* Stop, start (a new generation), a target's abort report, a start one target fails, delete. */
static void test_etl_lifecycle(void **state)
{
    reset();
    char v[128], old[128];
    etl_md("xid", old, sizeof(old));
    free(call_text("POST", "/v1/etl/md5-etl/stop", NULL, 200));
    assert_string_equal(etl_md("stage", v, sizeof(v)), "Aborted");
    assert_string_equal(etl_md("reason", v, sizeof(v)), "stopped by user");
    free(call_text("POST", "/v1/etl/md5-etl/stop", NULL, 200)); /* again: no change */

    char *xid = call_text("POST", "/v1/etl/md5-etl/start", NULL, 200);
    assert_string_not_equal(xid, old);
    assert_string_equal(etl_md("xid", v, sizeof(v)), xid);
    assert_string_equal(etl_md("stage", v, sizeof(v)), "Running");
    json_t *e = call_json("POST", "/v1/etl/md5-etl/start", NULL, 400);
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
                           "can't start etl job md5-etl during Running stage"));
    json_decref(e);

    /* A target reports its server died: only the current generation is aborted. */
    free(call_text("POST", "/v1/etl/md5-etl/_abort",
                   "{\"xid\":\"etl-stale\",\"reason\":\"old news\"}", 200));
    assert_string_equal(etl_md("stage", v, sizeof(v)), "Running");
    char *body = xasprintf("{\"xid\":\"%s\",\"reason\":\"server died\"}", xid);
    free(call_text("POST", "/v1/etl/md5-etl/_abort", body, 200));
    free(body);
    assert_string_equal(etl_md("stage", v, sizeof(v)), "Aborted");
    assert_string_equal(etl_md("reason", v, sizeof(v)), "server died");
    free(xid);

    /* One target cannot start the server: the start fails naming it, the generation aborted. */
    tstate[idx_of_id("tb")] = "failed";
    e = call_json("POST", "/v1/etl/md5-etl/start", NULL, 400);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "etl job md5-etl failed to start on t[tb]: exec failed");
    json_decref(e);
    assert_string_equal(etl_md("stage", v, sizeof(v)), "Aborted");
    assert_string_equal(etl_md("reason", v, sizeof(v)),
                        "etl job md5-etl failed to start on t[tb]: exec failed");

    free(call_text("DELETE", "/v1/etl/md5-etl", NULL, 200));
    json_decref(call_json("GET", "/v1/etl/md5-etl", NULL, 404));
    json_decref(call_json("DELETE", "/v1/etl/md5-etl", NULL, 404));
    json_decref(call_json("POST", "/v1/etl/md5-etl/start", NULL, 404));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcast_merge_in_smap_order),
        cmocka_unit_test(test_bcast_strict_fails_on_first),
        cmocka_unit_test(test_bcast_lenient_skips_failures),
        cmocka_unit_test(test_bcast_merge_status_ends_it),
        cmocka_unit_test(test_bcast_only),
        cmocka_unit_test(test_bcast_dead_target),
        cmocka_unit_test(test_bcast_not_json),
        cmocka_unit_test(test_list_objects_merges_pages),
        cmocka_unit_test(test_job_start),
        cmocka_unit_test(test_job_query_merges_snapshots),
        cmocka_unit_test(test_job_abort),
        cmocka_unit_test(test_job_query_many),
        cmocka_unit_test(test_job_abort_kind),
        cmocka_unit_test(test_object_redirect),
        cmocka_unit_test(test_object_put_connections),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_etl_init_list_view),
        cmocka_unit_test(test_etl_logs_health),
        cmocka_unit_test(test_etl_lifecycle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
