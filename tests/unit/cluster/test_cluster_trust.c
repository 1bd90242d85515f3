/*
 * test_cluster_trust.c - src/cluster/trust.c through real HTTP: this node (primary p1, with a
 * cluster secret) signs its calls to cluster nodes (one-shot, fan-out, a PUT from a file) and
 * identifies them as p1 on receipt, with the body's digest; it signs nothing to a URL that is not
 * a node's (an ETL server); and a request whose signature, date, secret or body is wrong is not
 * a node's. The recording server plays both: /v1/... is this node, the other server a stranger.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/trust.h"
#include "common/config.h"
#include "common/util.h"
#include "net/fanout.h"
#include "net/net.h"

#include "../node_http.h"

static char dir[64];
static config_t cfg;
static http_server_t *srv, *stranger;

/* What the last request looked like to the server that got it. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int kind, status;
    char node[64];
    bool body_ok;
    bool had_sig, had_caller;
} seen;

static void on_headers(http_req_t *req)
{
}

static void on_request(http_req_t *req)
{
    trust_t t;
    trust_identify(req, &t);
    pthread_mutex_lock(&seen_lock);
    seen.kind = t.kind;
    seen.status = t.status;
    snprintf(seen.node, sizeof(seen.node), "%s", t.node);
    seen.body_ok = trust_body_ok(&t, req->body.base, req->body.len);
    seen.had_sig = http_header(req, AUTH_HDR_SIG) != NULL;
    seen.had_caller = http_header(req, AUTH_HDR_CALLER) != NULL;
    pthread_mutex_unlock(&seen_lock);
    trust_dispose(&t);
    http_reply(req, 200, NULL, "", 0);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/locus-test-trust-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    httpc_global_init();
    char err[256];
    srv = http_server_start("127.0.0.1", 0, "p[p1]", on_headers, on_request, err, sizeof(err));
    stranger = http_server_start("127.0.0.1", 0, "e", on_headers, on_request, err, sizeof(err));
    if (srv == NULL || stranger == NULL)
        return -1;
    node_port = http_server_port(srv);
    node_config(&cfg, ROLE_PROXY, "p1", xstrdup(dir));
    auth_set_cluster_secret("the-cluster-secret", 18);
    return cluster_init(&cfg, err, sizeof(err)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    http_server_stop(srv);
    http_server_stop(stranger);
    httpc_set_signer(NULL);
    httpc_thread_cleanup();
    auth_reset();
    remove_tree(dir);
    config_dispose(&cfg);
    return 0;
}

static void expect_node(void)
{
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen.status, 0);
    assert_int_equal(seen.kind, TRUST_NODE);
    assert_string_equal(seen.node, "p1");
    assert_true(seen.body_ok);
    pthread_mutex_unlock(&seen_lock);
}

static void test_calls_to_nodes_are_signed(void **state)
{
    httpc_resp_t r;
    assert_int_equal(call("POST", "/v1/metasync?a=1&b=x%20y", "{\"k\":1}", &r), 200);
    httpc_resp_dispose(&r);
    expect_node();
    /* A fan-out, and a PUT streamed from a file. */
    fanout_req_t *q = xcalloc(1, sizeof(*q));
    q->method = "POST";
    q->url = xasprintf("http://127.0.0.1:%d/v1/xactions", node_port);
    q->body = "{\"id\":\"j\"}";
    q->body_len = strlen(q->body);
    fanout_run(q, 1, &(fanout_opts_t){.timeout_ms = 5000});
    assert_int_equal(q->rc, 0);
    assert_int_equal(q->resp.status, 200);
    fanout_free(q, 1);
    expect_node();
    char *f = xasprintf("%s/body", dir);
    assert_int_equal(write_file_atomic(f, "object bytes", 12), 0);
    int fd = open(f, O_RDONLY);
    char *url = xasprintf("http://127.0.0.1:%d/v1/objects/b/o?xid=j", node_port);
    httpc_resp_init(&r);
    assert_int_equal(httpc_put_fd(url, fd, 12, NULL, 5000, &r), 0);
    assert_int_equal(r.status, 200);
    httpc_resp_dispose(&r);
    close(fd);
    free(url);
    free(f);
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen.kind, TRUST_NODE);
    pthread_mutex_unlock(&seen_lock);
}

static void test_nothing_signed_for_strangers(void **state)
{
    char *url = xasprintf("http://127.0.0.1:%d/health", http_server_port(stranger));
    httpc_resp_t r;
    httpc_resp_init(&r);
    assert_int_equal(httpc_do("GET", url, NULL, 0, NULL, 5000, &r), 0);
    httpc_resp_dispose(&r);
    free(url);
    pthread_mutex_lock(&seen_lock);
    assert_false(seen.had_sig);
    assert_false(seen.had_caller);
    assert_int_equal(seen.kind, TRUST_ANON);
    pthread_mutex_unlock(&seen_lock);
}

/* One request with these headers and no signer. */
static void send_raw(const char *path, const char *body, const httpc_header_t *hdrs)
{
    httpc_set_signer(NULL);
    char *url = xasprintf("http://127.0.0.1:%d%s", node_port, path);
    httpc_resp_t r;
    httpc_resp_init(&r);
    assert_int_equal(httpc_do("POST", url, body, body ? strlen(body) : 0, hdrs, 5000, &r), 0);
    httpc_resp_dispose(&r);
    free(url);
    trust_init(); /* the signer back */
}

static void test_bad_signatures(void **state)
{
    char sha[65], sig[64], date[32];
    auth_sha256_hex("{}", 2, sha);
    char *canon = auth_canon_request("POST", "/v1/metasync", "", NULL);
    int64_t now = (int64_t)time(NULL);
    /* Right: a node. */
    snprintf(date, sizeof(date), "%lld", (long long)now);
    auth_intra_sign(canon, now, "p1", sha, sig);
    httpc_header_t h[] = {{AUTH_HDR_CALLER, "p1"},
                          {AUTH_HDR_DATE, date},
                          {AUTH_HDR_DIGEST, sha},
                          {AUTH_HDR_SIG, sig},
                          {NULL, NULL}};
    send_raw("/v1/metasync", "{}", h);
    expect_node();
    /* Another body than the digest: a node, but its body is refused. */
    send_raw("/v1/metasync", "{\"evil\":1}", h);
    pthread_mutex_lock(&seen_lock);
    assert_false(seen.body_ok);
    pthread_mutex_unlock(&seen_lock);
    /* Too old, another path, another secret: 401. */
    snprintf(date, sizeof(date), "%lld", (long long)(now - AUTH_INTRA_WINDOW - 5));
    auth_intra_sign(canon, now - AUTH_INTRA_WINDOW - 5, "p1", sha, sig);
    send_raw("/v1/metasync", "{}", h);
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen.status, 401);
    pthread_mutex_unlock(&seen_lock);
    snprintf(date, sizeof(date), "%lld", (long long)now);
    auth_intra_sign(canon, now, "p1", sha, sig);
    send_raw("/v1/cluster/join", "{}", h);
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen.status, 401);
    pthread_mutex_unlock(&seen_lock);
    auth_set_cluster_secret("another-secret", 14);
    auth_intra_sign(canon, now, "p1", sha, sig);
    auth_set_cluster_secret("the-cluster-secret", 18);
    send_raw("/v1/metasync", "{}", h);
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen.status, 401);
    assert_int_equal(seen.kind, TRUST_ANON);
    pthread_mutex_unlock(&seen_lock);
    /* A caller id without a signature is nobody. */
    httpc_header_t only_id[] = {{AUTH_HDR_CALLER, "p1"}, {NULL, NULL}};
    send_raw("/v1/metasync", "{}", only_id);
    pthread_mutex_lock(&seen_lock);
    assert_int_equal(seen.kind, TRUST_ANON);
    pthread_mutex_unlock(&seen_lock);
    free(canon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_to_nodes_are_signed),
        cmocka_unit_test(test_nothing_signed_for_strangers),
        cmocka_unit_test(test_bad_signatures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
