/*
 * cmd_cluster_member.c - the `locus cluster` commands that talk to the endpoint: show (the
 * cluster map with each node's flags, and the last global rebalance) and the membership actions
 * maintenance start|stop, decommission, shutdown-node and rebalance, which print the job id of
 * the rebalance they start and with --wait follow it (GET /v1/cluster?what=rmd) to its end.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

/* "maintenance,decommission,down" of the flags that have a name; "" when none. */
static void flags_text(uint64_t f, char *out, size_t len)
{
    static const struct {
        uint64_t bit;
        const char *name;
    } names[] = {{LOCUS_NODE_MAINT, "maintenance"},
                 {LOCUS_NODE_DECOMM, "decommission"},
                 {LOCUS_NODE_DOWN, "down"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if ((f & names[i].bit) && n < len) {
            int w = snprintf(out + n, len - n, "%s%s", n ? "," : "", names[i].name);
            n += w > 0 ? (size_t)w : 0;
        }
}

/* "rebalance g7: running, 120 objects (3.2 MiB) moved, 0 errors", once ended "done in 3.4s"
 * instead of "running", and the error of a failed one at the end. */
static void rmd_line(const locus_rmd_t *r, char *out, size_t len)
{
    char sz[32], state[96];
    cli_human_size(r->bytes, sz, sizeof(sz));
    if (locus_rmd_finished(r) && r->start_ns > 0 && r->end_ns >= r->start_ns)
        snprintf(state, sizeof(state), "%s in %.1fs", r->state,
                 (double)(r->end_ns - r->start_ns) / 1e9);
    else
        snprintf(state, sizeof(state), "%s", r->state);
    char *e = cli_one_line(r->err != NULL ? r->err : "");
    snprintf(out, len, "rebalance %s: %s, %lld objects (%s) moved, %lld error%s%s%s",
             r->id != NULL && r->id[0] ? r->id : "-", state, (long long)r->objs, sz,
             (long long)r->errors, r->errors == 1 ? "" : "s", e[0] ? ": " : "", e);
    free(e);
}

/* The raw map with the rebalance state added as "rmd" (text splice: the map's uint64 digests
 * would not survive a parse and re-dump). */
static void print_json(const char *smap, const char *rmd)
{
    size_t len = strlen(smap), rl = rmd != NULL ? strlen(rmd) : 0;
    while (len > 0 && isspace((unsigned char)smap[len - 1]))
        len--;
    while (rl > 0 && isspace((unsigned char)rmd[rl - 1]))
        rl--;
    if (rl == 0 || len < 2 || smap[len - 1] != '}') {
        printf("%s\n", smap);
        return;
    }
    size_t k = len - 1;
    while (k > 0 && isspace((unsigned char)smap[k - 1]))
        k--;
    bool empty = k > 0 && smap[k - 1] == '{';
    printf("%.*s%s\"rmd\":%.*s}\n", (int)(len - 1), smap, empty ? "" : ",", (int)rl, rmd);
}

static void print_table(const locus_node_t *ns, size_t n, int64_t version)
{
    static const cli_col_t cols[] = {{"ID", false, 0, 0},
                                     {"ROLE", false, 6, 6},
                                     {"URL", false, 0, 0},
                                     {"PRIMARY", false, 0, 0},
                                     {"FLAGS", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    for (size_t i = 0; i < n; i++) {
        char fl[64];
        flags_text(ns[i].flags, fl, sizeof(fl));
        cli_table_add(
            &t, (const char *[]){ns[i].id, ns[i].role, ns[i].url, ns[i].is_primary ? "*" : "", fl});
    }
    cli_table_finish(&t, stdout);
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        np += strcmp(ns[i].role, "proxy") == 0;
    printf("\n%zu prox%s, %zu target%s, cluster map version %lld\n", np, np == 1 ? "y" : "ies",
           n - np, n - np == 1 ? "" : "s", (long long)version);
}

/* A line for each target whose resilver (the move of objects between its mountpaths) runs or
 * ended with an error: its mountpath list carries the last one (docs/protocol.md §1.12). */
static void print_resilvers(locus_client_t *c, const locus_node_t *ns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ns[i].role, "target") != 0 || (ns[i].flags & LOCUS_NODE_DOWN))
            continue;
        char *text = NULL, err[LOCUS_ERR_LEN];
        if (locus_mountpath_list(c, ns[i].id, &text, err) != 0)
            continue;
        json_t *j = json_loads(text, 0, NULL);
        json_t *rs = json_object_get(j, "resilver");
        const char *e = json_string_value(json_object_get(rs, "err"));
        bool running = json_is_true(json_object_get(rs, "running"));
        if (rs && (running || (e && e[0])))
            printf("resilver %s on %s: %s, %lld objects moved%s%s\n",
                   json_string_value(json_object_get(rs, "id")), ns[i].id,
                   running ? "running" : "ended",
                   (long long)json_integer_value(json_object_get(rs, "moved")),
                   e && e[0] ? ": " : "", e ? e : "");
        json_decref(j);
        free(text);
    }
}

int cli_cluster_show(int argc, char **argv)
{
    bool as_json = false, stats = false;
    const cli_opt_t opts[] = {CLI_FLAG("json", &as_json), CLI_FLAG("stats", &stats)};
    static const cli_cmd_t cmd = {"cluster", cli_cluster_usage, 0, -1, NULL};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "";
    char *smap = NULL, *rmd_json = NULL;
    locus_rmd_t rmd;
    ret = CLI_EXIT_OK;
    if (locus_cluster_smap(c, &smap, err) != 0) {
        ret = cli_fail("cluster show", "%s", err);
        locus_client_destroy(c);
        return ret;
    }
    /* Optional: a cluster without global rebalance answers 400 or 404. */
    bool have_rmd = locus_cluster_rmd(c, &rmd, &rmd_json, NULL) == 0;
    locus_node_t *ns = NULL;
    size_t n = 0;
    int64_t version = 0;
    if (as_json) {
        print_json(smap, have_rmd ? rmd_json : NULL);
    } else if (locus_smap_parse(smap, &ns, &n, &version, err) != 0) {
        ret = cli_fail("cluster show", "%s", err);
    } else {
        print_table(ns, n, version);
        if (have_rmd && strcmp(rmd.state, "none") != 0) {
            char line[LOCUS_ERR_LEN + 256];
            rmd_line(&rmd, line, sizeof(line));
            printf("%s\n", line);
        }
        print_resilvers(c, ns, n);
        if (stats) {
            printf("\n");
            ret = cli_print_stats(c, ns, n);
        }
        locus_nodes_free(ns, n);
    }
    locus_rmd_dispose(&rmd);
    free(rmd_json);
    free(smap);
    locus_client_destroy(c);
    return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* membership */

/* One membership command and its wait. */
typedef struct {
    locus_client_t *c;
    char what[160]; /* "cluster <sub> <node>" for errors */
    char err[LOCUS_ERR_LEN];
    bool wait;
    int64_t timeout, deadline; /* timeout 0 = no limit */
    int64_t t0, last_print;    /* of the progress lines */
    bool tty, drawn;
    char last[LOCUS_ERR_LEN + 256];
} member_t;

/* NODE as given: "t1", or the "t[t1]" form (also "target[t1]@8081"): the id in brackets. Caller
 * frees. */
static char *node_arg(const char *s)
{
    const char *lb = strchr(s, '['), *rb = lb != NULL ? strchr(lb, ']') : NULL;
    if (rb != NULL && rb > lb + 1)
        return xstrndup(lb + 1, (size_t)(rb - lb - 1));
    return xstrdup(s);
}

/* The options and operands of `cluster <sub>`, and the client. CLI_OPTS_GO with *pos at the
 * first operand, or the exit code. */
static int member_args(member_t *m, const char *sub, int nargs, const char *bad,
                       const cli_opt_t *opts, size_t nopts, int argc, char **argv, int *pos)
{
    memset(m, 0, sizeof(*m));
    const cli_cmd_t cmd = {"cluster", cli_cluster_usage, nargs, nargs, bad};
    int rc = cli_options(&cmd, opts, nopts, argc, argv, pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    if ((m->c = cli_client()) == NULL)
        return CLI_EXIT_FAIL;
    snprintf(m->what, sizeof(m->what), "cluster %s", sub);
    m->tty = isatty(2);
    m->t0 = time_mono_ns();
    return CLI_OPTS_GO;
}

/* One progress line on stderr: redrawn in place on a terminal, else printed when it changed
 * (at most once a second). */
static void progress(member_t *m, const char *line)
{
    int64_t now = time_mono_ns();
    double secs = (double)(now - m->t0) / 1e9;
    if (m->tty) {
        fprintf(stderr, "\r\033[K%s  %.1fs", line, secs);
        fflush(stderr);
        m->drawn = true;
    } else if (strcmp(line, m->last) != 0 &&
               (m->last_print == 0 || now - m->last_print >= 1000000000LL)) {
        fprintf(stderr, "%s  %.1fs\n", line, secs);
        m->last_print = now;
        snprintf(m->last, sizeof(m->last), "%s", line);
    }
}

/* Ends the progress display before a result or an error line. */
static void progress_end(member_t *m)
{
    if (m->drawn)
        fputs("\r\033[K", stderr);
    m->drawn = false;
}

static bool late(const member_t *m)
{
    return m->deadline > 0 && time_mono_ns() > m->deadline;
}

/* The end of a rebalance: its line, and an error unless it is done. */
static int rebalance_ended(member_t *m, const locus_rmd_t *r, const char *line)
{
    progress_end(m);
    fprintf(stderr, "%s\n", line);
    if (strcmp(r->state, "done") == 0)
        return CLI_EXIT_OK;
    return cli_fail(m->what, "rebalance %s %s", r->id,
                    strcmp(r->state, "aborted") == 0 ? "was aborted" : "failed");
}

/* Waits until the rebalance job ("g<N>"), or a later one that took its place, ended. 0, or the
 * exit code of the error it printed. */
static int wait_rebalance(member_t *m, const char *job)
{
    int64_t want = job[0] == 'g' ? strtoll(job + 1, NULL, 10) : 0;
    char line[sizeof(m->last)];
    for (int sleep = 100;; sleep = sleep < 500 ? 2 * sleep : 500) {
        locus_rmd_t r;
        if (locus_cluster_rmd(m->c, &r, NULL, m->err) != 0) {
            long st = locus_client_last_status(m->c);
            locus_rmd_dispose(&r);
            progress_end(m);
            if (st == 400 || st == 404)
                return cli_fail(m->what,
                                "the cluster does not report its rebalance state "
                                "(GET /v1/cluster?what=rmd: %s)",
                                m->err);
            return cli_fail_line(m->what, m->err);
        }
        bool ours = want > 0 ? r.version >= want : strcmp(r.id, job) == 0;
        if (ours)
            rmd_line(&r, line, sizeof(line));
        else
            snprintf(line, sizeof(line), "rebalance %s: waiting for it to start", job);
        if (ours && locus_rmd_finished(&r)) {
            int ret = rebalance_ended(m, &r, line);
            locus_rmd_dispose(&r);
            return ret;
        }
        locus_rmd_dispose(&r);
        progress(m, line);
        if (late(m)) {
            progress_end(m);
            return cli_fail(m->what, "rebalance %s still running after the timeout", job);
        }
        sleep_ms(sleep);
    }
}

/* Waits until node is no longer in the cluster map (a decommission's end). */
static int wait_gone(member_t *m, const char *node)
{
    char line[sizeof(m->last)];
    snprintf(line, sizeof(line), "waiting for %s to leave the cluster map", node);
    for (;;) {
        char *smap = NULL;
        locus_node_t *ns = NULL;
        size_t n = 0;
        if (locus_cluster_smap(m->c, &smap, m->err) != 0 ||
            locus_smap_parse(smap, &ns, &n, NULL, m->err) != 0) {
            free(smap);
            progress_end(m);
            return cli_fail_line(m->what, m->err);
        }
        bool in = false;
        for (size_t i = 0; i < n && !in; i++)
            in = strcmp(ns[i].id, node) == 0;
        locus_nodes_free(ns, n);
        free(smap);
        if (!in) {
            progress_end(m);
            fprintf(stderr, "%s left the cluster map\n", node);
            return CLI_EXIT_OK;
        }
        progress(m, line);
        if (late(m)) {
            progress_end(m);
            return cli_fail(m->what, "%s still in the cluster map after the timeout", node);
        }
        sleep_ms(200);
    }
}

/* Sends the action (node NULL: start a rebalance), prints the job id on stdout and with --wait
 * waits for the rebalance (and with gone, for node to leave the map). Destroys m->c. */
static int member_run(member_t *m, const char *action, const char *node, const locus_node_opts_t *o,
                      bool gone)
{
    char *job = NULL;
    int ret = CLI_EXIT_OK;
    int rc = node != NULL ? locus_node_action(m->c, action, node, o, &job, m->err)
                          : locus_rebalance_start(m->c, &job, m->err);
    if (rc != 0) {
        ret = cli_fail_line(m->what, m->err);
        goto out;
    }
    if (job[0] != '\0') {
        printf("%s\n", job);
        fflush(stdout);
    } else {
        fprintf(stderr, "%s: no rebalance started\n", m->what);
    }
    m->deadline = m->timeout > 0 ? time_mono_ns() + m->timeout : 0;
    m->t0 = time_mono_ns();
    if (m->wait && job[0] != '\0')
        ret = wait_rebalance(m, job);
    if (ret == CLI_EXIT_OK && m->wait && gone)
        ret = wait_gone(m, node);
out:
    free(job);
    locus_client_destroy(m->c);
    m->c = NULL;
    return ret;
}

int cli_cluster_maintenance(int argc, char **argv)
{
    member_t m;
    locus_node_opts_t o = {0};
    const cli_opt_t opts[] = {CLI_FLAG("skip-rebalance", &o.skip_rebalance),
                              CLI_WAIT_OPTS(&m.wait, &m.timeout)};
    int pos, ret = member_args(&m, "maintenance", 2,
                               "cluster maintenance: need start or stop, and a NODE", opts,
                               ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    const char *verb = argv[pos];
    if (strcmp(verb, "start") != 0 && strcmp(verb, "stop") != 0) {
        locus_client_destroy(m.c);
        return cli_usage_error("cluster", "cluster maintenance: \"%s\": need start or stop", verb);
    }
    char *node = node_arg(argv[pos + 1]);
    snprintf(m.what, sizeof(m.what), "cluster maintenance %s %s", verb, node);
    ret = member_run(&m, strcmp(verb, "start") == 0 ? "start-maintenance" : "stop-maintenance",
                     node, &o, false);
    free(node);
    return ret;
}

int cli_cluster_decommission(int argc, char **argv)
{
    member_t m;
    locus_node_opts_t o = {0};
    const cli_opt_t opts[] = {CLI_FLAG("rm-user-data", &o.rm_user_data),
                              CLI_FLAG("skip-rebalance", &o.skip_rebalance),
                              CLI_WAIT_OPTS(&m.wait, &m.timeout)};
    int pos, ret = member_args(&m, "decommission", 1, "cluster decommission: need one NODE", opts,
                               ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *node = node_arg(argv[pos]);
    snprintf(m.what, sizeof(m.what), "cluster decommission %s", node);
    ret = member_run(&m, "decommission-node", node, &o, true);
    free(node);
    return ret;
}

int cli_cluster_shutdown_node(int argc, char **argv)
{
    member_t m;
    int pos, ret = member_args(&m, "shutdown-node", 1, "cluster shutdown-node: need one NODE", NULL,
                               0, argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *node = node_arg(argv[pos]);
    snprintf(m.what, sizeof(m.what), "cluster shutdown-node %s", node);
    ret = member_run(&m, "shutdown-node", node, NULL, false);
    free(node);
    return ret;
}

int cli_cluster_rebalance(int argc, char **argv)
{
    member_t m;
    const cli_opt_t opts[] = {CLI_WAIT_OPTS(&m.wait, &m.timeout)};
    int pos, ret = member_args(&m, "rebalance", 0, "cluster rebalance: unexpected argument \"%s\"",
                               opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    return member_run(&m, "rebalance", NULL, NULL, false);
}

int cli_cluster_set_primary(int argc, char **argv)
{
    member_t m;
    int pos, ret = member_args(&m, "set-primary", 1, "cluster set-primary: need one proxy ID", NULL,
                               0, argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *id = node_arg(argv[pos]);
    if (locus_cluster_set_primary(m.c, id, m.err) != 0) {
        ret = cli_fail("cluster set-primary", "%s: %s", id, m.err);
    } else {
        fprintf(stderr, "%s is the primary proxy\n", id);
        ret = CLI_EXIT_OK;
    }
    free(id);
    locus_client_destroy(m.c);
    return ret;
}
