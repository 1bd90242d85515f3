/*
 * test_inline.c - the inline transform path (src/etl/inline.c) behind our own HTTP server,
 * with objects from the test's etl_objects_t (temporary files) instead of a target: the io://
 * answer streamed to the client (small and 2 MiB), etl_args, missing and unreadable objects
 * (404, 500), a command failing before any byte (500 with its message), and hpull's redirect
 * with the object's FQN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>

#include "etl_fixture.h"

static http_server_t *srv;
static int port;
static etl_inst_t *serving; /* the instance the server's requests go to */

/* ---- the test's objects: b/hello, b/big (2 MiB), b/denied (EACCES), nothing else ---- */

#define BIG_SIZE (2 * 1024 * 1024)
static char *big;
static int fqn_calls;

static int objects_open(const char *bck, const char *obj, int *fd, int64_t *size)
{
    if (strcmp(bck, "b") != 0)
        return -ENOENT;
    if (strcmp(obj, "hello") == 0) {
        *fd = fx_object_fd("hello world", 11);
        *size = 11;
        return 0;
    }
    if (strcmp(obj, "big") == 0) {
        *fd = fx_object_fd(big, BIG_SIZE);
        *size = BIG_SIZE;
        return 0;
    }
    return strcmp(obj, "denied") == 0 ? -EACCES : -ENOENT;
}

static char *objects_fqn(const char *bck, const char *obj)
{
    fqn_calls++;
    return xasprintf("/mnt/m1/%s/%s", bck, obj);
}

static const etl_objects_t objects = {.open = objects_open, .fqn = objects_fqn};

/* ---- the server: GET /b/<obj>[?etl_args=...] is an inline transform by `serving` ---- */

static void on_headers(http_req_t *req)
{
}

static void on_request(http_req_t *req)
{
    __atomic_add_fetch(
        &serving->refcnt, 1,
        __ATOMIC_SEQ_CST); /* the reference etl_acquire would take; etl_inline_serve drops it */
    etl_inline_serve(req, serving, "b", req->path + 3, http_query(req, "etl_args"));
}

static int setup(void **state)
{
    if (fx_node_setup() < 0)
        return -1;
    etl_inline_set_objects(&objects);
    big = xmalloc(BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (char)('a' + i % 26);
    srv = fx_server_start(on_headers, on_request, &port);
    return srv ? 0 : -1;
}

static int teardown(void **state)
{
    http_server_stop(srv);
    httpc_thread_cleanup();
    free(big);
    return fx_node_teardown();
}

/* GET /b/<obj>[?query] from the server; r is filled (dispose it). Returns once the request
 * released its reference to the instance (the response may reach us just before). */
static void get(const char *obj_and_query, httpc_resp_t *r)
{
    char *url = xasprintf("http://127.0.0.1:%d/b/%s", port, obj_and_query);
    httpc_resp_init(r);
    assert_int_equal(httpc_do("GET", url, NULL, 0, NULL, 10000, r), 0);
    free(url);
    for (int i = 0; i < 200 && __atomic_load_n(&serving->refcnt, __ATOMIC_SEQ_CST) != 1; i++)
        sleep_ms(10);
    assert_int_equal(__atomic_load_n(&serving->refcnt, __ATOMIC_SEQ_CST), 1);
}

static void test_stream(void **state)
{
    etl_inst_t e;
    serving = fx_io_inst(&e, "[\"tr\", \"a-z\", \"A-Z\"]", 5000);
    e.refcnt = 1;
    httpc_resp_t r;
    get("hello", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 11);
    assert_memory_equal(r.body.base, "HELLO WORLD", 11);
    httpc_resp_dispose(&r);

    get("big", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i += 4099)
        assert_int_equal(r.body.base[i], 'A' + i % 26);
    httpc_resp_dispose(&r);
    assert_int_equal(e.obj_count, 2);
    assert_int_equal(e.in_bytes, 11 + BIG_SIZE);
    json_decref(e.entry);
}

static void test_args(void **state)
{
    etl_inst_t e;
    serving = fx_io_inst(&e, "[\"sh\", \"-c\", \"printf '%s' \\\"$ETL_ARGS\\\"\"]", 5000);
    e.refcnt = 1;
    httpc_resp_t r;
    get("hello?etl_args=speed%3D2", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 7);
    assert_memory_equal(r.body.base, "speed=2", 7);
    httpc_resp_dispose(&r);
    json_decref(e.entry);
}

/* GET /b/<obj> through an io:// instance running cmd_json fails with status and a message
 * containing needle; nothing is counted. */
static void expect_error(const char *cmd_json, const char *obj, long status, const char *needle)
{
    etl_inst_t e;
    serving = fx_io_inst(&e, cmd_json, 5000);
    e.refcnt = 1;
    httpc_resp_t r;
    get(obj, &r);
    assert_int_equal(r.status, status);
    if (strstr(r.body.base ? r.body.base : "", needle) == NULL)
        fail_msg("answer \"%s\" does not mention \"%s\"", r.body.base, needle);
    httpc_resp_dispose(&r);
    assert_int_equal(e.obj_count, 0);
    json_decref(e.entry);
}

static void test_object_errors(void **state)
{
    expect_error("[\"cat\"]", "missing", 404, "ais://b/missing does not exist");
    expect_error("[\"cat\"]", "denied", 500, "cannot open ais://b/denied");
}

static void test_transform_error(void **state)
{
    expect_error("[\"sh\", \"-c\", \"echo 'not a wav file' >&2; exit 2\"]", "hello", 500,
                 "exited with status 2: not a wav file");
}

static void test_hpull_redirect_fqn(void **state)
{
    etl_inst_t e;
    memset(&e, 0, sizeof(e));
    snprintf(e.name, sizeof(e.name), "pull-etl");
    snprintf(e.url, sizeof(e.url), "http://127.0.0.1:1");
    e.comm = &etl_comm_hpull;
    e.fqn_mode = true;
    e.refcnt = 1;
    serving = &e;
    fqn_calls = 0;
    httpc_resp_t r;
    get("hello", &r);
    assert_int_equal(r.status, 307);
    assert_non_null(r.location);
    assert_true(strncmp(r.location, "http://127.0.0.1:1/", 19) == 0);
    assert_non_null(strstr(r.location, "etl_fqn="));
    assert_non_null(strstr(r.location, "mnt"));
    assert_int_equal(fqn_calls, 1);
    httpc_resp_dispose(&r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_object_errors),
        cmocka_unit_test(test_transform_error),
        cmocka_unit_test(test_hpull_redirect_fqn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
