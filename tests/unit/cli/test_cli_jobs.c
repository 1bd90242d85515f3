/*
 * test_cli_jobs.c - unit tests for cli_job_rows (src/cli/cmd_job.c): the rows of `locus job ls`
 * from a what=qryxstats answer, merged per job over the targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

#define RUNNING "0001-01-01T00:00:00Z"

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long iget(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void test_rows_merge(void **state)
{
    (void)state;
    const char *in =
        "{\"ta\":[{\"id\":\"j1\",\"kind\":\"copy-bck\",\"src-bck\":{\"name\":\"a\"},"
        "\"dst-bck\":{\"name\":\"b\"},\"start-time\":\"2026-01-01T00:00:02.000000000Z\","
        "\"end-time\":\"2026-01-01T00:00:09.000000000Z\",\"err\":\"\",\"aborted\":false,"
        "\"stats\":{\"loc-objs\":\"3\",\"loc-bytes\":\"30\",\"out-objs\":\"1\","
        "\"out-bytes\":\"10\",\"errors\":\"0\"}},"
        "{\"id\":\"j2\",\"kind\":\"scrub-bck\",\"src-bck\":{\"name\":\"c\"},"
        "\"dst-bck\":{\"name\":\"c\"},\"start-time\":\"2026-01-01T00:00:05.000000000Z\","
        "\"end-time\":\"2026-01-01T00:00:06.000000000Z\",\"err\":\"x: corrupt\","
        "\"stats\":{\"errors\":\"2\"}}],"
        "\"tb\":[{\"id\":\"j1\",\"kind\":\"copy-bck\",\"src-bck\":{\"name\":\"a\"},"
        "\"dst-bck\":{\"name\":\"b\"},\"start-time\":\"2026-01-01T00:00:01.000000000Z\","
        "\"end-time\":\"" RUNNING "\",\"stats\":{\"loc-objs\":\"2\",\"loc-bytes\":\"20\"}},"
        "{\"id\":\"j3\",\"kind\":\"copy-bck\",\"src-bck\":{\"name\":\"a\"},"
        "\"dst-bck\":{\"name\":\"d\"},\"start-time\":\"2026-01-01T00:00:07.000000000Z\","
        "\"end-time\":\"2026-01-01T00:00:08.000000000Z\",\"aborted\":true,\"stats\":{}}]}";
    json_t *rows = cli_job_rows(in);
    assert_non_null(rows);
    assert_int_equal(json_array_size(rows), 3);
    json_t *r = json_array_get(rows, 0);
    assert_string_equal(sget(r, "id"), "j1");
    assert_string_equal(sget(r, "kind"), "copy-bck");
    assert_string_equal(sget(r, "bucket"), "a -> b");
    assert_string_equal(sget(r, "state"), "running"); /* tb still runs it */
    assert_int_equal(iget(r, "objects"), 6);
    assert_int_equal(iget(r, "bytes"), 60);
    assert_int_equal(iget(r, "targets"), 2);
    assert_string_equal(sget(r, "start"), "2026-01-01T00:00:01.000000000Z");
    assert_string_equal(sget(r, "end"), "");
    r = json_array_get(rows, 1);
    assert_string_equal(sget(r, "id"), "j2");
    assert_string_equal(sget(r, "bucket"), "c");
    assert_string_equal(sget(r, "state"), "failed");
    assert_int_equal(iget(r, "errors"), 2);
    assert_string_equal(sget(r, "end"), "2026-01-01T00:00:06.000000000Z");
    r = json_array_get(rows, 2);
    assert_string_equal(sget(r, "state"), "aborted");
    json_decref(rows);

    rows = cli_job_rows("{}");
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    assert_null(cli_job_rows("[1, 2]"));
    assert_null(cli_job_rows("not json"));
    rows = cli_job_rows("{\"ta\": 5, \"tb\": [7, {\"kind\": \"no id\"}]}");
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
