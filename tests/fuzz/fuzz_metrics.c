/*
 * fuzz_metrics.c - the Prometheus text parser of the CLI (common/metrics.c metrics_parse_line and
 * metrics_label): `locus show performance` reads every node's GET /metrics with it.
 *
 * The input is a /metrics body. Properties: every line that parses has a name made of metric-name
 * characters, labels and name inside the line, and a label lookup either fails or gives a
 * C string; a sample the exposition helpers write parses back to its name and value.
 */
#include "fuzz.h"

#include "common/metrics.h"

static void check_line(const char *p, size_t len)
{
    metrics_line_t l;
    if (metrics_parse_line(p, len, &l) != 0)
        return;
    FUZZ_CHECK(l.name == p && l.name_len > 0 && l.name_len <= len, "name outside the line");
    for (size_t i = 0; i < l.name_len; i++)
        FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:",
                          l.name[i]) != NULL &&
                       l.name[i] != '\0',
                   "bad name character");
    FUZZ_CHECK(l.labels >= p && l.labels + l.labels_len <= p + len, "labels outside the line");
    static const char *const keys[] = {"node_id", "le", "op", "mountpath", ""};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        char *v = metrics_label(&l, keys[k]);
        if (v)
            FUZZ_CHECK(strlen(v) <= l.labels_len, "label value longer than the labels");
        free(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(p + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (p + off)) : size - off;
        check_line(p + off, len);
        off += len + 1;
    }
    /* the writer's output parses back (a label value from the input) */
    char *val = fuzz_cstr(data, size < 64 ? size : 64);
    char *e = metrics_escape(val);
    char *lab = xasprintf("k=\"%s\"", e);
    buf_t b;
    buf_init(&b);
    metrics_sample(&b, "fuzz_metric_total", lab, 42);
    metrics_line_t l;
    FUZZ_CHECK(metrics_parse_line(b.base, b.len - 1, &l) == 0, "own sample does not parse: %s",
               b.base);
    FUZZ_CHECK(l.value == 42 && l.name_len == 17, "own sample parsed wrong: %s", b.base);
    char *back = metrics_label(&l, "k");
    FUZZ_CHECK(back && strcmp(back, val) == 0, "label value does not round-trip: %s", b.base);
    free(back);
    buf_dispose(&b);
    free(lab);
    free(e);
    free(val);
    return 0;
}
