/*
 * test_metrics.c - common/metrics.c: the exposition format, histograms, collectors, and the
 * parser the CLI reads it back with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/metrics.h"
#include "common/util.h"

static void test_sample_and_escape(void **state)
{
    (void)state;
    metrics_set_node("t\"1");
    buf_t b;
    buf_init(&b);
    metrics_family(&b, "x_total", "counter", "help text");
    char *e = metrics_escape("a\\b\"c\nd");
    assert_string_equal(e, "a\\\\b\\\"c\\nd");
    char *lab = xasprintf("mp=\"%s\"", e);
    metrics_sample(&b, "x_total", lab, 3);
    metrics_sample(&b, "y", NULL, 0.25);
    assert_string_equal(b.base, "# HELP x_total help text\n# TYPE x_total counter\n"
                                "x_total{node_id=\"t\\\"1\",mp=\"a\\\\b\\\"c\\nd\"} 3\n"
                                "y{node_id=\"t\\\"1\"} 0.25\n");
    /* and back */
    const char *line = strstr(b.base, "x_total{");
    metrics_line_t l;
    assert_int_equal(metrics_parse_line(line, strcspn(line, "\n"), &l), 0);
    assert_int_equal(l.name_len, 7);
    assert_true(l.value == 3);
    char *v = metrics_label(&l, "mp");
    assert_string_equal(v, "a\\b\"c\nd");
    free(v);
    v = metrics_label(&l, "node_id");
    assert_string_equal(v, "t\"1");
    free(v);
    assert_null(metrics_label(&l, "nope"));
    free(lab);
    free(e);
    buf_dispose(&b);
}

static void test_histogram(void **state)
{
    (void)state;
    metrics_set_node("n");
    metrics_hist_t h;
    memset(&h, 0, sizeof(h));
    metrics_hist_observe(&h, 100000);        /* 0.1 ms: the first bucket */
    metrics_hist_observe(&h, 7000000);       /* 7 ms: le 0.01 */
    metrics_hist_observe(&h, 60000000000LL); /* 60 s: only +Inf */
    buf_t b;
    buf_init(&b);
    metrics_hist_samples(&b, "lat", "op=\"get\"", &h);
    assert_non_null(strstr(b.base, "lat_bucket{node_id=\"n\",op=\"get\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(b.base, "lat_bucket{node_id=\"n\",op=\"get\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(b.base, "lat_bucket{node_id=\"n\",op=\"get\",le=\"0.01\"} 2\n"));
    assert_non_null(strstr(b.base, "lat_bucket{node_id=\"n\",op=\"get\",le=\"10\"} 2\n"));
    assert_non_null(strstr(b.base, "lat_bucket{node_id=\"n\",op=\"get\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(b.base, "lat_count{node_id=\"n\",op=\"get\"} 3\n"));
    assert_non_null(strstr(b.base, "lat_sum{node_id=\"n\",op=\"get\"} 60.0071\n"));
    buf_dispose(&b);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",     "# HELP x y",  "x",    "x{a=\"b\" 1", "x{} ",
                         "x 1x", "{a=\"b\"} 1", "9x 1", "x\t1"};
    metrics_line_t l;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(metrics_parse_line(bad[i], strlen(bad[i]), &l), -1);
    const char *ts = "up 1 1700000000000";
    assert_int_equal(metrics_parse_line(ts, strlen(ts), &l), 0);
    assert_true(l.value == 1 && l.labels_len == 0);
    const char *brace = "x{a=\"}\"} 2";
    assert_int_equal(metrics_parse_line(brace, strlen(brace), &l), 0);
    char *v = metrics_label(&l, "a");
    assert_string_equal(v, "}");
    free(v);
}

static int calls;
static void collector(buf_t *b)
{
    calls++;
    buf_puts(b, "c\n");
}

static void test_collectors(void **state)
{
    (void)state;
    metrics_register(collector);
    metrics_register(collector);
    buf_t b;
    buf_init(&b);
    metrics_render(&b);
    assert_string_equal(b.base, "c\nc\n");
    assert_int_equal(calls, 2);
    buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_and_escape),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_collectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
