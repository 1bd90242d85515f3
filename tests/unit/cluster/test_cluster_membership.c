/*
 * test_cluster_membership.c - a primary proxy's side of membership (src/cluster/membership.c)
 * and the endpoints every node serves (src/cluster/daemon.c), against a real HTTP server on
 * a loopback port: the node is initialized as primary on a temp data dir (no cluster_start,
 * so no background thread), the server routes /v1/... to cluster_handle, and under /peer/ it
 * plays every other node, recording the metasync pushes it receives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cluster/cluster.h"
#include "cluster/daemon.h"
#include "cluster/internal.h"
#include "cluster/membership.h"
#include "cluster/trust.h"
#include "cluster/meta.h"
#include "common/config.h"
#include "common/util.h"
#include "net/net.h"

#include "../node_http.h"

static char dir[64];
static config_t cfg;
static http_server_t *srv;
static char peer_url[64]; /* where the other nodes "are": this server's /peer */

static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_pushes;
static int64_t last_push_version = -1;

static void on_headers(http_req_t *req)
{
}

static void peer_request(http_req_t *req)
{
    json_t *j = json_loadb(req->body.base ? req->body.base : "", req->body.len,
                           JSON_DECODE_INT_AS_REAL, NULL);
    pthread_mutex_lock(&peer_lock);
    n_pushes++;
    last_push_version = json_int64(json_object_get(json_object_get(j, "smap"), "version"));
    pthread_mutex_unlock(&peer_lock);
    json_decref(j);
    http_reply(req, 200, NULL, "", 0);
}

static void on_request(http_req_t *req)
{
    if (str_has_prefix(req->path, "/peer/v1/metasync")) {
        peer_request(req);
        return;
    }
    char copy[256];
    const char *segs[4];
    int n = route_split(req->path, copy, sizeof(copy), segs, 4);
    trust_t who; /* no cluster secret: a node is who says so in Ais-Caller-Id */
    trust_identify(req, &who);
    if (n < 0 || !cluster_handle(req, segs, n, &who))
        http_reply_error(req, 404, "no route");
    trust_dispose(&who);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/locus-test-members-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    httpc_global_init();
    char err[256];
    srv = http_server_start("127.0.0.1", 0, "p[p1]", on_headers, on_request, err, sizeof(err));
    if (srv == NULL)
        return -1;
    node_port = http_server_port(srv);
    snprintf(peer_url, sizeof(peer_url), "http://127.0.0.1:%d/peer", node_port);
    node_config(&cfg, ROLE_PROXY, "p1", xstrdup(dir));
    return cluster_init(&cfg, err, sizeof(err)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    http_server_stop(srv);
    httpc_thread_cleanup();
    remove_tree(dir);
    config_dispose(&cfg);
    return 0;
}

static int64_t smap_version(void)
{
    smap_t *s = smap_get();
    int64_t v = s->version;
    smap_put(s);
    return v;
}

static bool in_smap(const char *id)
{
    smap_t *s = smap_get();
    bool in = smap_find(s, id) != NULL;
    smap_put(s);
    return in;
}

static int pushes(void)
{
    pthread_mutex_lock(&peer_lock);
    int n = n_pushes;
    pthread_mutex_unlock(&peer_lock);
    return n;
}

static void test_init_primary(void **state)
{
    assert_true(cluster_is_primary());
    assert_string_equal(cluster_self_id(), "p1");
    assert_string_equal(cluster_self_name(), "p[p1]");
    assert_string_equal(cluster_primary_url(), cfg.public_url);
    smap_t *s = smap_get();
    assert_int_equal(s->version, 1); /* a new cluster's first smap */
    assert_string_equal(s->primary_id, "p1");
    assert_int_equal(s->n_proxies, 1);
    assert_string_equal(s->proxies[0].url, cfg.public_url);
    smap_put(s);
    static const char *const files[] = {"daemon.id", "smap.json", "bmd.json", "etlmd.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *p = xasprintf("%s/%s", dir, files[i]);
        assert_int_equal(access(p, F_OK), 0);
        free(p);
    }
}

static void test_upsert(void **state)
{
    int64_t v = smap_version();
    meta_write_lock();
    assert_true(smap_upsert("t1", peer_url, false));
    assert_int_equal(smap_version(), v + 1);
    assert_false(smap_upsert("t1", peer_url, false)); /* re-join, same URL */
    assert_int_equal(smap_version(), v + 1);
    assert_true(smap_upsert("t1", "http://127.0.0.1:1", false)); /* moved */
    assert_int_equal(smap_version(), v + 2);
    assert_true(smap_upsert("t0", peer_url, false));
    meta_write_unlock();
    smap_t *s = smap_get();
    assert_int_equal(s->n_targets, 2);
    assert_string_equal(s->targets[0].id, "t0"); /* kept sorted */
    assert_string_equal(s->targets[1].url, "http://127.0.0.1:1");
    smap_put(s);
    assert_int_equal(pushes(), 0); /* upsert alone does not push */
}

static void test_remove(void **state)
{
    int64_t v = smap_version();
    char *ids[] = {"t1", "t0", "nope"};
    meta_write_lock();
    smap_remove_nodes(ids, 3);
    meta_write_unlock();
    assert_int_equal(smap_version(), v + 1);
    assert_false(in_smap("t0"));
    assert_false(in_smap("t1"));
    assert_true(in_smap("p1"));
}

static void test_join_keepalive(void **state)
{
    int64_t v = smap_version();
    char *join = xasprintf(
        "{\"daemon_id\":\"t2\",\"daemon_type\":\"target\",\"direct_url\":\"%s\"}", peer_url);
    httpc_resp_t r;
    assert_int_equal(call("POST", "/v1/cluster/join", join, &r), 200);
    json_t *m = json_loadb(r.body.base, r.body.len, JSON_DECODE_INT_AS_REAL, NULL);
    httpc_resp_dispose(&r);
    assert_non_null(m);
    /* The answer carries every document, the new smap with the joiner in it. */
    assert_int_equal(json_int64(json_object_get(json_object_get(m, "smap"), "version")), v + 1);
    assert_non_null(json_object_get(json_object_get(json_object_get(m, "smap"), "tmap"), "t2"));
    assert_non_null(json_object_get(m, "bmd"));
    assert_non_null(json_object_get(m, "etlmd"));
    json_decref(m);
    assert_int_equal(smap_version(), v + 1);
    assert_int_equal(pushes(), 1); /* pushed to t2 (every node but the primary) */
    assert_int_equal(last_push_version, v + 1);

    /* Joining again as the same node changes nothing and pushes nothing. */
    assert_int_equal(call_status("POST", "/v1/cluster/join", join), 200);
    free(join);
    assert_int_equal(smap_version(), v + 1);
    assert_int_equal(pushes(), 1);

    char *ka = xasprintf("{\"daemon_id\":\"t2\",\"smap_version\":%lld,\"bmd_version\":0,"
                         "\"etlmd_version\":0}",
                         (long long)(v + 1));
    assert_int_equal(call("POST", "/v1/cluster/keepalive", ka, &r), 200);
    assert_int_equal(r.body.len, 2); /* up to date: "{}" */
    httpc_resp_dispose(&r);
    free(ka);
    ka = "{\"daemon_id\":\"t2\",\"smap_version\":1,\"bmd_version\":0,\"etlmd_version\":0}";
    assert_int_equal(call("POST", "/v1/cluster/keepalive", ka, &r), 200);
    assert_true(r.body.len > 2); /* behind: the documents */
    httpc_resp_dispose(&r);
    assert_int_equal(
        call_status("POST", "/v1/cluster/keepalive", "{\"daemon_id\":\"t9\",\"smap_version\":1}"),
        404);
    assert_int_equal(call_status("POST", "/v1/cluster/join",
                                 "{\"daemon_id\":\"t3\",\"daemon_type\":\"gateway\","
                                 "\"direct_url\":\"http://x\"}"),
                     400);
    assert_int_equal(call_status("POST", "/v1/cluster/join", "{\"daemon_id\":\"t/3\"}"), 400);
    assert_int_equal(pushes(), 1);
}

/* The flags of a node in the current smap (0 when absent). */
static uint32_t flags_of(const char *id)
{
    smap_t *s = smap_get();
    const snode_t *n = smap_find(s, id);
    uint32_t f = n ? n->flags : 0;
    smap_put(s);
    return f;
}

static void test_dead_nodes(void **state)
{
    /* Timeouts generous against a loaded machine: only "longer than the timeout" and "well
     * within it" are asserted, with a second between them. */
    cfg.keepalive_timeout_ns = 1000 * 1000000LL;
    meta_write_lock();
    assert_true(smap_upsert("t3", peer_url, false)); /* never heard from */
    meta_write_unlock();
    int64_t v = smap_version();
    int n0 = pushes();
    sleep_ms(1300); /* t2 (joined in the test before) is now silent for too long */
    check_dead_nodes();
    /* A dead target stays in the map, marked DOWN (docs/design.md §14). */
    assert_true(in_smap("t2"));
    assert_int_equal(flags_of("t2"), SNODE_DOWN);
    assert_int_equal(flags_of("t3"), 0); /* grace period from its first check */
    assert_true(in_smap("p1"));
    assert_int_equal(smap_version(), v + 1);
    assert_int_equal(pushes(), n0 + 1); /* the new smap went to t3, not to the DOWN t2 */
    assert_int_equal(last_push_version, v + 1);

    check_dead_nodes(); /* nobody timed out since; t2 is known to be down */
    assert_int_equal(smap_version(), v + 1);
    sleep_ms(1300);
    seen_touch("t3"); /* a keepalive just in time */
    check_dead_nodes();
    assert_int_equal(flags_of("t3"), 0);
    sleep_ms(1300);
    check_dead_nodes();
    assert_int_equal(flags_of("t3"), SNODE_DOWN);
    assert_int_equal(smap_version(), v + 2);
    assert_int_equal(pushes(), n0 + 1); /* nobody up left to push to */

    /* A DOWN node's keepalive is refused (it joins again), and its join clears the flag. */
    char *ka = xasprintf("{\"daemon_id\":\"t3\",\"smap_version\":%lld}", (long long)(v + 2));
    assert_int_equal(call_status("POST", "/v1/cluster/keepalive", ka), 404);
    free(ka);
    char *join = xasprintf(
        "{\"daemon_id\":\"t3\",\"daemon_type\":\"target\",\"direct_url\":\"%s\"}", peer_url);
    assert_int_equal(call_status("POST", "/v1/cluster/join", join), 200);
    free(join);
    assert_int_equal(flags_of("t3"), 0);
    assert_int_equal(smap_version(), v + 3);
    cfg.keepalive_timeout_ns = 6000000000LL;
}

/* Flags set and cleared by the primary's membership calls; removal; a node's leave. */
static void test_flags_leave(void **state)
{
    int64_t v = smap_version();
    assert_int_equal(membership_set_flags("t3", SNODE_MAINT, 0), 0);
    assert_int_equal(flags_of("t3"), SNODE_MAINT);
    assert_int_equal(smap_version(), v + 1);
    assert_int_equal(membership_set_flags("t3", SNODE_MAINT, 0), 0); /* unchanged: no version */
    assert_int_equal(smap_version(), v + 1);
    assert_int_equal(membership_set_flags("nope", SNODE_MAINT, 0), -1);
    assert_int_equal(membership_set_flags("t3", 0, SNODE_MAINT), 0);
    assert_int_equal(flags_of("t3"), 0);
    /* Leave: only the node itself (the caller id), and a target becomes DOWN. */
    assert_int_equal(call_status("POST", "/v1/cluster/leave", "{\"daemon_id\":\"t3\"}"), 400);
    assert_int_equal(membership_remove("t3"), 0);
    assert_false(in_smap("t3"));
    assert_int_equal(membership_remove("t3"), -1);
}

static void test_endpoints(void **state)
{
    assert_false(cluster_ready());
    assert_int_equal(call_status("GET", "/v1/health", NULL), 503);
    cluster_mark_ready();
    assert_int_equal(call_status("GET", "/v1/health", NULL), 200);

    httpc_resp_t r;
    assert_int_equal(call("GET", "/v1/daemon?what=smap", NULL, &r), 200);
    smap_t *s = smap_get();
    char *t = smap_to_text(s);
    smap_put(s);
    assert_int_equal(r.body.len, strlen(t));
    assert_memory_equal(r.body.base, t, r.body.len);
    free(t);
    httpc_resp_dispose(&r);
    assert_int_equal(call("GET", "/v1/daemon?what=snode", NULL, &r), 200);
    json_t *j = json_loadb(r.body.base, r.body.len, 0, NULL);
    httpc_resp_dispose(&r);
    assert_string_equal(json_string_value(json_object_get(j, "daemon_id")), "p1");
    assert_string_equal(json_string_value(json_object_get(j, "daemon_type")), "proxy");
    json_decref(j);
    assert_int_equal(call_status("GET", "/v1/daemon?what=etlmd", NULL), 200);
    assert_int_equal(call_status("GET", "/v1/daemon?what=nodes", NULL), 400);
    assert_int_equal(call_status("POST", "/v1/metasync", "{bad"), 400);
    /* Our own current documents again: the same version, ignored. The call goes to a node's
     * URL, so it says who sends it (Ais-Caller-Id: p1, the primary). */
    char *all = meta_all_text();
    int64_t v = smap_version();
    assert_int_equal(call_status("POST", "/v1/metasync", all), 200);
    free(all);
    assert_int_equal(smap_version(), v);
    assert_int_equal(call_status("GET", "/v1/nothing", NULL), 404);
}

static void test_route_split(void **state)
{
    char copy[32];
    const char *segs[3];
    assert_int_equal(route_split("/v1/objects/b/dir/o", copy, sizeof(copy), segs, 3), 3);
    assert_string_equal(segs[0], "objects");
    assert_string_equal(segs[1], "b");
    assert_string_equal(segs[2], "dir/o"); /* the rest whole */
    assert_int_equal(route_split("/v1/buckets", copy, sizeof(copy), segs, 3), 1);
    assert_string_equal(segs[0], "buckets");
    assert_int_equal(route_split("/v1", copy, sizeof(copy), segs, 3), 0);
    assert_int_equal(route_split("/v1/", copy, sizeof(copy), segs, 3), 0);
    assert_int_equal(route_split("/v2/x", copy, sizeof(copy), segs, 3), -1);
    assert_int_equal(route_split("/v1x", copy, sizeof(copy), segs, 3), -1);
    assert_int_equal(
        route_split("/v1/0123456789012345678901234567890123", copy, sizeof(copy), segs, 3),
        -1); /* does not fit the copy */
}

/* A restarted primary keeps its id and its cluster map as persisted. */
static void test_restart(void **state)
{
    smap_t *before = smap_get();
    char *t = smap_to_text(before);
    smap_put(before);
    free(cfg.id);
    cfg.id = NULL; /* from daemon.id */
    char err[256];
    assert_int_equal(cluster_init(&cfg, err, sizeof(err)), 0);
    assert_string_equal(cluster_self_id(), "p1");
    smap_t *s = smap_get();
    char *t2 = smap_to_text(s);
    smap_put(s);
    assert_string_equal(t2, t);
    free(t);
    free(t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_primary), cmocka_unit_test(test_upsert),
        cmocka_unit_test(test_remove),       cmocka_unit_test(test_join_keepalive),
        cmocka_unit_test(test_dead_nodes),   cmocka_unit_test(test_flags_leave),
        cmocka_unit_test(test_endpoints),    cmocka_unit_test(test_route_split),
        cmocka_unit_test(test_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
