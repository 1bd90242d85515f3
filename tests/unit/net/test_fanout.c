/*
 * test_fanout.c - the fan-out primitive (src/net/fanout.c) against three of our own HTTP
 * servers on loopback ports: every answer lands in its request, the concurrency bound holds,
 * a slow server times out alone, a closed port is a transport error (retried), keep-alive
 * connections are reused across fan-outs and threads, many threads fan out at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "net/fanout.h"
#include "net/net.h"

#define NSRV 3

static http_server_t *srv[NSRV];
static int ports[NSRV];
static atomic_int busy_now, busy_max;

static void on_headers(http_req_t *req)
{
}

/* Behaviour by path: /echo/<x> answers "<Host>|<x>|<body>", /status/<n> answers n, /slow
 * answers after 1.5 s, /busy counts requests in progress, /conn answers the client address
 * (its port names the connection). */
static void on_request(http_req_t *req)
{
    const char *p = req->path;
    if (strncmp(p, "/echo/", 6) == 0) {
        char *s = xasprintf("%s|%s|%.*s", http_header(req, "Host"), p + 6, (int)req->body.len,
                            req->body.base ? req->body.base : "");
        http_reply_text(req, 200, s);
        free(s);
    } else if (strncmp(p, "/status/", 8) == 0) {
        http_reply_text(req, (unsigned)atoi(p + 8), "as asked");
    } else if (strcmp(p, "/slow") == 0) {
        sleep_ms(1500);
        http_reply_text(req, 200, "late");
    } else if (strcmp(p, "/busy") == 0) {
        int now = atomic_fetch_add(&busy_now, 1) + 1;
        int max = atomic_load(&busy_max);
        while (now > max && !atomic_compare_exchange_weak(&busy_max, &max, now))
            ;
        sleep_ms(100);
        atomic_fetch_sub(&busy_now, 1);
        http_reply_text(req, 200, "done");
    } else if (strcmp(p, "/conn") == 0) {
        http_reply_text(req, 200, req->remote);
    } else {
        http_reply_text(req, 404, "no such path");
    }
}

static int setup(void **state)
{
    char err[256] = "";
    for (int i = 0; i < NSRV; i++) {
        srv[i] =
            http_server_start("127.0.0.1", 0, "mock", on_headers, on_request, err, sizeof(err));
        if (srv[i] == NULL) {
            fprintf(stderr, "setup: %s\n", err);
            return -1;
        }
        ports[i] = http_server_port(srv[i]);
    }
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < NSRV; i++)
        http_server_stop(srv[i]);
    return 0;
}

static fanout_req_t *reqs_new(size_t n)
{
    return xcalloc(n, sizeof(fanout_req_t));
}

static void set_get(fanout_req_t *q, int port, const char *path)
{
    q->method = "GET";
    q->url = xasprintf("http://127.0.0.1:%d%s", port, path);
}

static void test_answers(void **state)
{
    size_t n = 7;
    fanout_req_t *rq = reqs_new(n);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/echo/r%zu", i);
        set_get(&rq[i], ports[i % NSRV], path);
        rq[i].arg = (void *)i;
    }
    rq[1].method = "POST";
    rq[1].body = "{\"a\":1}";
    rq[1].body_len = 7;
    rq[1].content_type = "application/json";
    free(rq[5].url);
    rq[5].url = xasprintf("http://127.0.0.1:%d/status/409", ports[2]);
    fanout_opts_t o = {.concurrency = 4, .timeout_ms = 5000};
    fanout_run(rq, n, &o);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rq[i].rc, 0);
        assert_int_equal(rq[i].attempts, 1);
        assert_ptr_equal(rq[i].arg, (void *)i);
        assert_null(rq[i].resp.err);
        if (i == 5) {
            assert_int_equal(rq[i].resp.status, 409);
            assert_string_equal(rq[i].resp.body.base, "as asked");
            continue;
        }
        assert_int_equal(rq[i].resp.status, 200);
        char want[128];
        snprintf(want, sizeof(want), "127.0.0.1:%d|r%zu|%s", ports[i % NSRV], i,
                 i == 1 ? "{\"a\":1}" : "");
        assert_string_equal(rq[i].resp.body.base, want);
    }
    fanout_free(rq, n);
    fanout_run(NULL, 0, &o); /* nothing to do */
}

static void test_concurrency_bound(void **state)
{
    size_t n = 9;
    fanout_req_t *rq = reqs_new(n);
    for (size_t i = 0; i < n; i++)
        set_get(&rq[i], ports[i % NSRV], "/busy");
    atomic_store(&busy_max, 0);
    fanout_opts_t o = {.concurrency = 2, .timeout_ms = 5000};
    int64_t t0 = time_mono_ns();
    fanout_run(rq, n, &o);
    int64_t ms = (time_mono_ns() - t0) / 1000000;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rq[i].resp.status, 200);
    assert_int_equal(atomic_load(&busy_max), 2);
    assert_true(ms >= 450); /* 9 requests of 100 ms, 2 at a time */
    fanout_free(rq, n);

    /* Unbounded: all at once. */
    rq = reqs_new(n);
    for (size_t i = 0; i < n; i++)
        set_get(&rq[i], ports[i % NSRV], "/busy");
    atomic_store(&busy_max, 0);
    o.concurrency = 0;
    fanout_run(rq, n, &o);
    assert_int_equal(atomic_load(&busy_max), (int)n);
    fanout_free(rq, n);
}

static void test_timeout_alone(void **state)
{
    fanout_req_t *rq = reqs_new(3);
    set_get(&rq[0], ports[0], "/echo/a");
    set_get(&rq[1], ports[1], "/slow");
    set_get(&rq[2], ports[2], "/echo/c");
    fanout_opts_t o = {.timeout_ms = 400};
    int64_t t0 = time_mono_ns();
    fanout_run(rq, 3, &o);
    assert_true(time_mono_ns() - t0 < 1400LL * 1000000); /* did not wait for the server */
    assert_int_equal(rq[0].rc, 0);
    assert_int_equal(rq[0].resp.status, 200);
    assert_int_equal(rq[2].rc, 0);
    assert_int_equal(rq[2].resp.status, 200);
    assert_int_equal(rq[1].rc, -1);
    assert_int_equal(rq[1].resp.status, 0);
    assert_non_null(rq[1].resp.err);
    assert_non_null(strstr(rq[1].resp.err, "/slow"));
    fanout_free(rq, 3);
}

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void test_unreachable(void **state)
{
    fanout_req_t *rq = reqs_new(2);
    set_get(&rq[0], closed_port(), "/echo/x");
    set_get(&rq[1], ports[0], "/echo/y");
    fanout_opts_t o = {.timeout_ms = 2000, .attempts = 3, .retry_delay_ms = 50};
    int64_t t0 = time_mono_ns();
    fanout_run(rq, 2, &o);
    assert_true(time_mono_ns() - t0 >= 100LL * 1000000); /* two pauses before the retries */
    assert_int_equal(rq[0].rc, -1);
    assert_int_equal(rq[0].attempts, 3);
    assert_non_null(rq[0].resp.err);
    assert_int_equal(rq[0].resp.body.len, 0);
    assert_int_equal(rq[1].rc, 0);
    assert_int_equal(rq[1].attempts, 1); /* an answer is never retried */
    assert_int_equal(rq[1].resp.status, 200);
    fanout_free(rq, 2);
}

/* One /conn request per server; *out gets the client addresses the servers saw. */
static void conn_round(char out[NSRV][64])
{
    fanout_req_t *rq = reqs_new(NSRV);
    for (int i = 0; i < NSRV; i++)
        set_get(&rq[i], ports[i], "/conn");
    fanout_opts_t o = {.timeout_ms = 5000};
    fanout_run(rq, NSRV, &o);
    for (int i = 0; i < NSRV; i++) {
        assert_int_equal(rq[i].resp.status, 200);
        snprintf(out[i], 64, "%s", rq[i].resp.body.base);
    }
    fanout_free(rq, NSRV);
}

static void *conn_round_thread(void *arg)
{
    conn_round(arg);
    return NULL;
}

static void test_connections_reused(void **state)
{
    char first[NSRV][64], second[NSRV][64], third[NSRV][64];
    conn_round(first);
    conn_round(second);
    pthread_t th; /* another thread uses the same connections */
    assert_int_equal(pthread_create(&th, NULL, conn_round_thread, third), 0);
    pthread_join(th, NULL);
    for (int i = 0; i < NSRV; i++) {
        assert_true(strlen(first[i]) > 10); /* "127.0.0.1:<port>" */
        assert_string_equal(first[i], second[i]);
        assert_string_equal(first[i], third[i]);
    }
}

static void *many_fanouts(void *arg)
{
    for (int round = 0; round < 5; round++) {
        fanout_req_t *rq = reqs_new(6);
        for (int i = 0; i < 6; i++)
            set_get(&rq[i], ports[i % NSRV], "/echo/m");
        fanout_opts_t o = {.concurrency = 3, .timeout_ms = 5000};
        fanout_run(rq, 6, &o);
        for (int i = 0; i < 6; i++)
            if (rq[i].rc != 0 || rq[i].resp.status != 200)
                *(int *)arg += 1;
        fanout_free(rq, 6);
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t th[6];
    int fails[6] = {0};
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, many_fanouts, &fails[i]), 0);
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(fails[i], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: with one idle connection per server the reuse is certain */
        cmocka_unit_test(test_connections_reused), cmocka_unit_test(test_answers),
        cmocka_unit_test(test_concurrency_bound),  cmocka_unit_test(test_timeout_alone),
        cmocka_unit_test(test_unreachable),        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
