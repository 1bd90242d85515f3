/*
 * metrics.h - Prometheus metrics (docs/operations.md, "Metrics"): the text exposition format,
 * latency histograms, and the registry of collectors that GET /metrics runs. Components keep
 * their own counters (atomics) and register a collector that writes them when scraped, so
 * nothing here knows what is counted.
 */
#ifndef LOCUS_COMMON_METRICS_H
#define LOCUS_COMMON_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Latency buckets (seconds; +Inf is implicit). */
#define METRICS_NB 11
extern const double metrics_bucket_s[METRICS_NB];

typedef struct {
    _Atomic uint64_t in[METRICS_NB + 1]; /* per bucket (the last: above every bound) */
    _Atomic uint64_t sum_ns;
} metrics_hist_t;

void metrics_hist_observe(metrics_hist_t *h, int64_t ns);

/* The node_id label every sample carries (AIStore's constant label). */
void metrics_set_node(const char *id);

/* Exposition: a family's HELP and TYPE lines (type: counter, gauge, histogram), then its
 * samples. labels: NULL, or `k="v",...` with values escaped by metrics_escape. */
void metrics_family(buf_t *b, const char *name, const char *type, const char *help);
void metrics_sample(buf_t *b, const char *name, const char *labels, double v);
void metrics_hist_samples(buf_t *b, const char *name, const char *labels, const metrics_hist_t *h);
/* A label value escaped for the exposition format (\\, \" and \n). Caller frees. */
char *metrics_escape(const char *v);

/* Collectors write their families when /metrics is scraped (in the order registered). */
typedef void (*metrics_collector_fn)(buf_t *b);
void metrics_register(metrics_collector_fn fn);
void metrics_render(buf_t *b);

/* One sample line of the exposition format: name, labels (the text between the braces, ""
 * when none) and value. 0, or -1 for a comment, blank or malformed line. The pointers are
 * into line (not NUL-terminated: the lengths say). */
typedef struct {
    const char *name, *labels;
    size_t name_len, labels_len;
    double value;
} metrics_line_t;
int metrics_parse_line(const char *line, size_t len, metrics_line_t *out);
/* The value of label key in a parsed line's labels (unescaped, caller frees), or NULL. */
char *metrics_label(const metrics_line_t *l, const char *key);

#endif
