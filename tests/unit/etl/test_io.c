/*
 * test_io.c - the io:// communicator (src/etl/io.c) running real commands per object: the
 * object as stdin and stdout as the result (cat, gzip -c), etl_args as ETL_ARGS, empty output,
 * a failing command's exit status and stderr tail, obj_timeout (504), a cancelling sink (499)
 * and a command that does not exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "etl_fixture.h"

static int setup(void **state)
{
    return fx_node_setup();
}

static int teardown(void **state)
{
    return fx_node_teardown();
}

/* Transforms content (n bytes) as object b/o; returns the status. */
static int run(etl_inst_t *e, const void *content, size_t n, const char *args, collect_t *c,
               char *err, size_t errlen)
{
    etl_req_t rq = {.bck = "b", .obj = "o", .args = args};
    return fx_run(e, rq, content, n, c, err, errlen);
}

static void test_cat_big(void **state)
{
    etl_inst_t e;
    fx_io_inst(&e, "[\"cat\"]", 5000);
    size_t n = 3 * 1024 * 1024 + 7; /* many pipe reads */
    char *content = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        content[i] = (char)(i * 31 + 7);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(&e, content, n, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.clen, -1); /* length unknown until the command ends */
    assert_int_equal(c.data.len, n);
    assert_memory_equal(c.data.base, content, n);
    buf_dispose(&c.data);
    free(content);
    json_decref(e.entry);
}

static void test_gzip(void **state)
{
    etl_inst_t e;
    fx_io_inst(&e, "[\"gzip\", \"-c\", \"-n\"]", 5000);
    const char *text = "hello hello hello hello hello hello\n";
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(&e, text, strlen(text), NULL, &c, err, sizeof(err)), 200);
    assert_true(c.data.len > 10);
    assert_int_equal((unsigned char)c.data.base[0], 0x1f); /* gzip magic */
    assert_int_equal((unsigned char)c.data.base[1], 0x8b);
    buf_dispose(&c.data);
    json_decref(e.entry);
}

static void test_args_and_empty(void **state)
{
    etl_inst_t e;
    fx_io_inst(&e, "[\"sh\", \"-c\", \"printf '%s' \\\"$ETL_ARGS\\\"\"]", 5000);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(&e, "x", 1, "fmt=wav", &c, err, sizeof(err)), 200);
    assert_int_equal(c.data.len, 7);
    assert_memory_equal(c.data.base, "fmt=wav", 7);
    buf_dispose(&c.data);
    /* no output at all: the status still comes, with length 0 */
    assert_int_equal(run(&e, "x", 1, NULL, &c, err, sizeof(err)), 200);
    assert_int_equal(c.status_calls, 1);
    assert_int_equal(c.clen, 0);
    assert_int_equal(c.data.len, 0);
    buf_dispose(&c.data);
    json_decref(e.entry);
}

static void test_failure(void **state)
{
    etl_inst_t e;
    fx_io_inst(&e, "[\"sh\", \"-c\", \"echo partial; echo 'bad input' >&2; exit 3\"]", 5000);
    collect_t c = {0};
    char err[512];
    assert_int_equal(run(&e, "x", 1, NULL, &c, err, sizeof(err)), 500);
    assert_non_null(strstr(err, "exited with status 3: bad input"));
    buf_dispose(&c.data);
    json_decref(e.entry);

    fx_io_inst(&e, "[\"/nonexistent/locus-no-such-tool\"]", 5000);
    assert_int_equal(run(&e, "x", 1, NULL, &c, err, sizeof(err)), 500);
    assert_non_null(strstr(err, "cannot execute"));
    buf_dispose(&c.data);
    json_decref(e.entry);

    fx_io_inst(&e, "[]", 5000);
    assert_int_equal(run(&e, "x", 1, NULL, &c, err, sizeof(err)), 500);
    assert_non_null(strstr(err, "has no command"));
    buf_dispose(&c.data);
    json_decref(e.entry);
}

static void test_timeout_and_cancel(void **state)
{
    etl_inst_t e;
    fx_io_inst(&e, "[\"sleep\", \"5\"]", 300);
    collect_t c = {0};
    char err[512];
    int64_t t0 = time_mono_ns();
    assert_int_equal(run(&e, "x", 1, NULL, &c, err, sizeof(err)), 504);
    assert_true(time_mono_ns() - t0 < 3000LL * 1000000LL); /* killed, not waited for */
    assert_non_null(strstr(err, "obj_timeout"));
    buf_dispose(&c.data);
    json_decref(e.entry);

    fx_io_inst(&e, "[\"sh\", \"-c\", \"while :; do echo yyyyyyyy; done\"]", 5000);
    c.cancel_after = 4096;
    assert_int_equal(run(&e, "x", 1, NULL, &c, err, sizeof(err)), 499);
    assert_non_null(strstr(err, "cancelled"));
    buf_dispose(&c.data);
    json_decref(e.entry);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cat_big),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_args_and_empty),
        cmocka_unit_test(test_failure),
        cmocka_unit_test(test_timeout_and_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
