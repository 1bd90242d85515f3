/*
 * metrics.c - Prometheus text exposition (format 0.0.4), histograms and the collector registry
 * (metrics.h).
 */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_bucket_s[METRICS_NB] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.5,    2.5,   10};

#define MAX_COLLECTORS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static metrics_collector_fn collectors[MAX_COLLECTORS];
static size_t ncollectors;
static char *node_label; /* node_id="..." */

void metrics_hist_observe(metrics_hist_t *h, int64_t ns)
{
    size_t i = 0;
    double s = (double)ns / 1e9;
    while (i < METRICS_NB && s > metrics_bucket_s[i])
        i++;
    atomic_fetch_add(&h->in[i], 1);
    atomic_fetch_add(&h->sum_ns, ns > 0 ? (uint64_t)ns : 0);
}

char *metrics_escape(const char *v)
{
    buf_t b;
    buf_init(&b);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            buf_printf(&b, "\\%c", *p);
        else if (*p == '\n')
            buf_puts(&b, "\\n");
        else
            buf_append(&b, p, 1);
    }
    return buf_steal(&b);
}

void metrics_set_node(const char *id)
{
    char *e = metrics_escape(id);
    char *l = xasprintf("node_id=\"%s\"", e);
    free(e);
    pthread_mutex_lock(&lock);
    free(node_label);
    node_label = l;
    pthread_mutex_unlock(&lock);
}

void metrics_family(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{node_id="..",labels} */
static void sample_head(buf_t *b, const char *name, const char *suffix, const char *labels,
                        const char *extra)
{
    buf_printf(b, "%s%s{%s", name, suffix, node_label ? node_label : "node_id=\"\"");
    if (labels && labels[0])
        buf_printf(b, ",%s", labels);
    if (extra)
        buf_printf(b, ",%s", extra);
    buf_puts(b, "} ");
}

static void put_value(buf_t *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        buf_printf(b, "%.0f\n", v);
    else
        buf_printf(b, "%.9g\n", v);
}

void metrics_sample(buf_t *b, const char *name, const char *labels, double v)
{
    sample_head(b, name, "", labels, NULL);
    put_value(b, v);
}

void metrics_hist_samples(buf_t *b, const char *name, const char *labels, const metrics_hist_t *h)
{
    uint64_t cum = 0;
    char le[48];
    for (size_t i = 0; i <= METRICS_NB; i++) {
        cum += atomic_load(&h->in[i]);
        if (i < METRICS_NB)
            snprintf(le, sizeof(le), "le=\"%g\"", metrics_bucket_s[i]);
        else
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        sample_head(b, name, "_bucket", labels, le);
        put_value(b, (double)cum);
    }
    sample_head(b, name, "_sum", labels, NULL);
    put_value(b, (double)atomic_load(&h->sum_ns) / 1e9);
    sample_head(b, name, "_count", labels, NULL);
    put_value(b, (double)cum);
}

void metrics_register(metrics_collector_fn fn)
{
    pthread_mutex_lock(&lock);
    if (ncollectors < MAX_COLLECTORS)
        collectors[ncollectors++] = fn;
    pthread_mutex_unlock(&lock);
}

void metrics_render(buf_t *b)
{
    pthread_mutex_lock(&lock);
    size_t n = ncollectors;
    metrics_collector_fn fns[MAX_COLLECTORS];
    memcpy(fns, collectors, n * sizeof(fns[0]));
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        fns[i](b);
}

/* ---------------------------------------------------------------- parsing (the CLI) */

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

int metrics_parse_line(const char *line, size_t len, metrics_line_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    if (len == 0 || line[0] == '#' || !name_char(line[0], true))
        return -1;
    while (i < len && name_char(line[i], i == 0))
        i++;
    out->name = line;
    out->name_len = i;
    out->labels = line + i;
    if (i < len && line[i] == '{') { /* up to the closing brace outside quotes */
        bool quoted = false;
        size_t j = i + 1;
        for (; j < len; j++) {
            if (quoted && line[j] == '\\')
                j++;
            else if (line[j] == '"')
                quoted = !quoted;
            else if (!quoted && line[j] == '}')
                break;
        }
        if (j >= len)
            return -1;
        out->labels = line + i + 1;
        out->labels_len = j - i - 1;
        i = j + 1;
    }
    if (i >= len || line[i] != ' ')
        return -1;
    char num[64];
    size_t n = len - i - 1;
    const char *v = line + i + 1;
    const char *sp = memchr(v, ' ', n); /* an optional timestamp follows */
    if (sp)
        n = (size_t)(sp - v);
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, v, n);
    num[n] = '\0';
    char *end;
    out->value = strtod(num, &end);
    return *end == '\0' ? 0 : -1;
}

char *metrics_label(const metrics_line_t *l, const char *key)
{
    size_t kl = strlen(key), i = 0;
    const char *s = l->labels;
    while (i < l->labels_len) {
        size_t k0 = i;
        while (i < l->labels_len && s[i] != '=')
            i++;
        if (i + 1 >= l->labels_len || s[i + 1] != '"')
            return NULL;
        bool match = i - k0 == kl && memcmp(s + k0, key, kl) == 0;
        buf_t v;
        buf_init(&v);
        for (i += 2; i < l->labels_len && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < l->labels_len) {
                i++;
                buf_append(&v, s[i] == 'n' ? "\n" : &s[i], 1);
            } else {
                buf_append(&v, &s[i], 1);
            }
        }
        if (i >= l->labels_len) {
            buf_dispose(&v);
            return NULL;
        }
        if (match)
            return buf_steal(&v);
        buf_dispose(&v);
        i++; /* the closing quote */
        if (i < l->labels_len && s[i] == ',')
            i++;
    }
    return NULL;
}
