/*
 * cmd_show.c - `locus show performance` and `locus cluster show --stats` (docs/cli.md): every
 * node's GET /metrics, summed up into one line per node: requests by operation, errors, bytes,
 * mean latencies, disk use, uptime (the metrics themselves: docs/operations.md, "Metrics").
 */
#include "cli/cli.h"
#include "common/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one node's metrics add up to. */
typedef struct {
    double n[5], errs, get_b, put_b, get_ns, put_ns, cap, used, uptime;
    bool ok;
} node_stats_t;

/* Adds one sample of ais_<role>_<rest> to st: the counters it sums, by AIStore's names. */
static void add_sample(node_stats_t *st, const char *rest, size_t len, double v)
{
    const struct {
        const char *name;
        double *sum;
    } to[] = {
        {"get_count", &st->n[0]},      {"put_count", &st->n[1]},      {"head_count", &st->n[2]},
        {"del_count", &st->n[3]},      {"lst_count", &st->n[4]},      {"err_get_count", &st->errs},
        {"err_put_count", &st->errs},  {"err_head_count", &st->errs}, {"err_del_count", &st->errs},
        {"err_lst_count", &st->errs},  {"get_bytes", &st->get_b},     {"put_bytes", &st->put_b},
        {"get_ns_total", &st->get_ns}, {"put_ns_total", &st->put_ns},
    };
    for (size_t i = 0; i < ARRAY_SIZE(to); i++)
        if (strlen(to[i].name) == len && memcmp(to[i].name, rest, len) == 0)
            *to[i].sum += v;
    if (len == 6 && memcmp(rest, "uptime", 6) == 0)
        st->uptime = v;
}

static void parse(const char *text, node_stats_t *st)
{
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        metrics_line_t l;
        if (metrics_parse_line(p, len, &l) == 0) {
            const char *role_end = NULL;
            if (l.name_len > 4 && strncmp(l.name, "ais_", 4) == 0)
                role_end = memchr(l.name + 4, '_', l.name_len - 4);
            if (role_end)
                add_sample(st, role_end + 1, l.name_len - (size_t)(role_end + 1 - l.name), l.value);
            else if (l.name_len == 30 && strncmp(l.name, "locus_mountpath_capacity_bytes", 30) == 0)
                st->cap += l.value;
            else if (l.name_len == 26 && strncmp(l.name, "locus_mountpath_used_bytes", 26) == 0)
                st->used += l.value;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    st->ok = true;
}

static void fmt_num(double v, char *out, size_t len)
{
    snprintf(out, len, "%.0f", v);
}

static void fmt_mean_ms(double ns, double n, char *out, size_t len)
{
    if (n > 0)
        snprintf(out, len, "%.2f", ns / n / 1e6);
    else
        snprintf(out, len, "-");
}

static void add_row(cli_table_t *t, const locus_node_t *nd, const node_stats_t *st)
{
    char c[14][48];
    snprintf(c[0], sizeof(c[0]), "%s", nd->id);
    snprintf(c[1], sizeof(c[1]), "%s", nd->role);
    if (!st->ok) {
        cli_table_add(t, (const char *[]){c[0], c[1], "unreachable", "", "", "", "", "", "", "", "",
                                          "", "", ""});
        return;
    }
    for (int i = 0; i < 5; i++)
        fmt_num(st->n[i], c[2 + i], sizeof(c[0]));
    fmt_num(st->errs, c[7], sizeof(c[0]));
    snprintf(c[8], sizeof(c[0]), "%.1f", st->get_b / 1e6);
    snprintf(c[9], sizeof(c[0]), "%.1f", st->put_b / 1e6);
    fmt_mean_ms(st->get_ns, st->n[0], c[10], sizeof(c[0]));
    fmt_mean_ms(st->put_ns, st->n[1], c[11], sizeof(c[0]));
    if (st->cap > 0)
        snprintf(c[12], sizeof(c[0]), "%.0f%%", 100 * st->used / st->cap);
    else
        snprintf(c[12], sizeof(c[0]), "-");
    snprintf(c[13], sizeof(c[0]), "%.0fs", st->uptime);
    const char *row[14];
    for (int i = 0; i < 14; i++)
        row[i] = c[i];
    cli_table_add(t, row);
}

int cli_print_stats(locus_client_t *c, const locus_node_t *ns, size_t n)
{
    static const cli_col_t cols[] = {
        {"NODE", false, 0, 0},  {"ROLE", false, 0, 0},  {"GET", true, 0, 0},
        {"PUT", true, 0, 0},    {"HEAD", true, 0, 0},   {"DEL", true, 0, 0},
        {"LIST", true, 0, 0},   {"ERRORS", true, 0, 0}, {"GET MB", true, 0, 0},
        {"PUT MB", true, 0, 0}, {"GET ms", true, 0, 0}, {"PUT ms", true, 0, 0},
        {"DISK", true, 0, 0},   {"UPTIME", true, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    int unreachable = 0;
    for (size_t i = 0; i < n; i++) {
        node_stats_t st;
        memset(&st, 0, sizeof(st));
        char *text = NULL, err[LOCUS_ERR_LEN];
        if (locus_node_metrics(c, ns[i].url, &text, err) == 0)
            parse(text, &st);
        else
            unreachable++;
        free(text);
        add_row(&t, &ns[i], &st);
    }
    cli_table_finish(&t, stdout);
    printf("\nsince each node started (GET/PUT on proxies: redirects); every metric: GET "
           "<node>/metrics\n");
    return unreachable ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static void show_usage(FILE *f)
{
    fprintf(f, "usage: locus show performance\n\n"
               "Requests, errors, bytes, mean latencies, disk use and uptime of every node,\n"
               "from their Prometheus metrics (GET <node>/metrics; docs/operations.md).\n"
               "The same as `locus cluster show --stats`.\n");
}

static int show_performance(int argc, char **argv)
{
    static const cli_cmd_t cmd = {"show performance", show_usage, 0, 0, NULL};
    int pos, ret = cli_options(&cmd, NULL, 0, argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "", *smap = NULL;
    locus_node_t *ns = NULL;
    size_t n = 0;
    if (locus_cluster_smap(c, &smap, err) != 0 || locus_smap_parse(smap, &ns, &n, NULL, err) != 0)
        ret = cli_fail("show performance", "%s", err);
    else
        ret = cli_print_stats(c, ns, n);
    locus_nodes_free(ns, n);
    free(smap);
    locus_client_destroy(c);
    return ret;
}

int locus_cli_cmd_show(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"performance", show_performance}, {"perf", show_performance}};
    return cli_dispatch("show", show_usage, subs, ARRAY_SIZE(subs), CLI_HELP_ANYWHERE, argc, argv);
}
