/*
 * test_hpush.c - the hpush communicator's handling of ETL server answers (src/etl/hpush.c),
 * against a scripted transformer served by our own HTTP server on a loopback port:
 * 200 (bytes streamed to the sink), 204 (delivered), >= 400 ("ETL error: <body>"),
 * obj_timeout (504), nothing listening (503), etl_args passed through; the body handed to a
 * work-file sink in batches, and to a streaming sink piece by piece.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etl_fixture.h"

static http_server_t *srv;
static int port;

static void mock_headers(http_req_t *req)
{
}

/* The scripted transformer: behaviour chosen by the object name in the path. */
static void mock_request(http_req_t *req)
{
    const char *p = req->path;
    const char *args = http_query(req, "etl_args");
    if (strstr(p, "/b/upper")) {
        for (size_t i = 0; i < req->body.len; i++)
            if (req->body.base[i] >= 'a' && req->body.base[i] <= 'z')
                req->body.base[i] -= 32;
        buf_t out;
        buf_init(&out);
        buf_append(&out, req->body.base ? req->body.base : "", req->body.len);
        if (args)
            buf_printf(&out, "|%s", args);
        http_reply(req, 200, NULL, out.base ? out.base : "", out.len);
        buf_dispose(&out);
    } else if (strstr(p, "/b/delivered")) {
        http_reply(req, 204, NULL, "", 0);
    } else if (strstr(p, "/b/fail")) {
        http_reply_text(req, 500, "cannot transform this");
    } else if (strstr(p, "/b/slow")) {
        sleep_ms(1500);
        http_reply_text(req, 200, "late");
    } else {
        http_reply_text(req, 404, "no such object");
    }
}

static int setup(void **state)
{
    srv = fx_server_start(mock_headers, mock_request, &port);
    return srv ? 0 : -1;
}

static int teardown(void **state)
{
    http_server_stop(srv);
    httpc_thread_cleanup();
    return 0;
}

/* Runs one transform of `content` as object b/<obj>. Returns the status. */
static int run(int srv_port, const char *obj, const char *content, const char *args, collect_t *c,
               char *err, size_t errlen)
{
    etl_inst_t e;
    memset(&e, 0, sizeof(e));
    snprintf(e.name, sizeof(e.name), "mock-etl");
    snprintf(e.url, sizeof(e.url), "http://127.0.0.1:%d", srv_port);
    e.obj_timeout_ns = 500LL * 1000000LL;
    e.comm = &etl_comm_hpush;
    etl_req_t rq = {.bck = "b", .obj = obj, .args = args};
    return fx_run(&e, rq, content, strlen(content), c, err, errlen);
}

static void test_ok_with_args(void **state)
{
    collect_t c = {0};
    char err[512] = "";
    assert_int_equal(run(port, "upper/x y", "hello", "k=v", &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.data.len, strlen("HELLO|k=v"));
    assert_memory_equal(c.data.base, "HELLO|k=v", c.data.len);
    buf_dispose(&c.data);
}

static void test_empty_object(void **state)
{
    collect_t c = {0};
    char err[512] = "";
    assert_int_equal(run(port, "upper/empty", "", NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1); /* status reported even without bytes */
    assert_int_equal(c.data.len, 0);
    buf_dispose(&c.data);
}

/* A 1 MiB answer: with etl_out_t.batch the sink gets it in batches of that size (the last one
 * shorter), without it in libcurl's pieces; the bytes are the same either way. */
static void test_sink_batches(void **state)
{
    size_t n = (1u << 20) + 77;
    char *in = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    in[n] = '\0';
    char err[512] = "";
    for (int batched = 0; batched < 2; batched++) {
        collect_t c = {.batch = batched ? ETL_SINK_BATCH : 0};
        assert_int_equal(run(port, "upper/big", in, NULL, &c, err, sizeof(err)), 200);
        assert_int_equal(c.data.len, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(c.data.base[i], 'A' + i % 26);
        if (batched) {
            assert_true(c.sink_calls <= 5);
            assert_true(c.short_pieces <= 1);
        } else {
            assert_true(c.sink_calls >= 16); /* pieces of at most 16 KiB, as they came */
        }
        buf_dispose(&c.data);
    }
    /* a batching sink that refuses the bytes cancels the transform */
    collect_t c = {.batch = ETL_SINK_BATCH, .cancel_after = 1};
    assert_int_equal(run(port, "upper/big", in, NULL, &c, err, sizeof(err)), 499);
    assert_int_equal(c.sink_calls, 1);
    buf_dispose(&c.data);
    free(in);
}

static void test_delivered(void **state)
{
    collect_t c = {0};
    char err[512] = "";
    assert_int_equal(run(port, "delivered", "abc", NULL, &c, err, sizeof(err)), 204);
    assert_int_equal(c.data.len, 0);
    buf_dispose(&c.data);
}

static void test_server_error(void **state)
{
    collect_t c = {0};
    char err[512] = "";
    assert_int_equal(run(port, "fail", "abc", NULL, &c, err, sizeof(err)), 500);
    assert_string_equal(err, "ETL error: cannot transform this");
    assert_int_equal(c.status_calls, 0);
    assert_int_equal(c.data.len, 0);
    buf_dispose(&c.data);
}

static void test_timeout(void **state)
{
    collect_t c = {0};
    char err[512] = "";
    int64_t t0 = time_mono_ns();
    assert_int_equal(run(port, "slow", "abc", NULL, &c, err, sizeof(err)), 504);
    assert_true(time_mono_ns() - t0 < 1400LL * 1000000LL); /* obj_timeout, not the server */
    assert_non_null(strstr(err, "obj_timeout"));
    buf_dispose(&c.data);
}

static void test_unreachable(void **state)
{
    collect_t c = {0};
    char err[512] = "";
    assert_int_equal(run(1, "upper/x", "abc", NULL, &c, err, sizeof(err)), 503);
    assert_non_null(strstr(err, "unreachable"));
    buf_dispose(&c.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_with_args), cmocka_unit_test(test_empty_object),
        cmocka_unit_test(test_sink_batches), cmocka_unit_test(test_delivered),
        cmocka_unit_test(test_server_error), cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
