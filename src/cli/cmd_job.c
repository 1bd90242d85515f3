/*
 * cmd_job.c - `locus job ls|show|stop|wait` (docs/protocol.md §1.8, docs/cli.md).
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus job ls [--all] [--kind K] [--bucket B] [--json]\n"
               "       locus job show ID [--json]\n"
               "       locus job stop ID | --kind K [--bucket B] | --all\n"
               "       locus job wait ID [--timeout D]\n"
               "       locus job start KIND [BUCKET] [--node TARGET] [--wait [--timeout D]]\n"
               "\n"
               "ls    the running jobs (--all: the finished ones the targets still keep too),\n"
               "      of kind K and/or bucket B (source or destination)\n"
               "show  the job's status, its per-target progress and errors\n"
               "stop  stops the job, or every running job of kind K (and bucket B), or --all\n"
               "      running jobs\n"
               "wait  waits until the job ends (default: no time limit); exits 0 when it\n"
               "      succeeded, 1 when it failed, was aborted or the timeout passed\n"
               "start starts a job (AIStore's StartXaction): rebalance, resilver (--node: one\n"
               "      target), make-n-copies (mirror), ec-encode (ec-bucket), scrub-bck on\n"
               "      BUCKET; prints its id, with --wait waits for it\n");
}

static void fmt_ns(int64_t ns, char *out, size_t outlen)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
}

static void print_snaps(const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return;
    }
    static const cli_col_t cols[] = {
        {"TARGET", false, 8, 8},     {"STATE", false, 8, 8},     {"LOC-OBJS", true, 10, 10},
        {"LOC-BYTES", true, 10, 10}, {"OUT-OBJS", true, 10, 10}, {"IN-OBJS", true, 10, 10},
        {"ERROR", false, 0, 0},
    };
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    fputc('\n', stdout);
    const char *tid;
    json_t *arr;
    json_object_foreach(j, tid, arr)
    {
        if (!json_is_array(arr))
            continue;
        size_t i;
        json_t *s;
        json_array_foreach(arr, i, s)
        {
            json_t *st = json_object_get(s, "stats");
            const char *e = cli_jget(s, "err");
            if (e == NULL || e[0] == '\0')
                e = cli_jget(s, "abort-err");
            const char *state = json_is_true(json_object_get(s, "aborted"))   ? "aborted"
                                : json_is_true(json_object_get(s, "is_idle")) ? "idle"
                                                                              : "running";
            const char *end = cli_jget(s, "end-time");
            if (end != NULL && strncmp(end, "0001-", 5) != 0 &&
                !json_is_true(json_object_get(s, "aborted")))
                state = "finished";
            char lb[32], lo[24], oo[24], io[24];
            cli_human_size(cli_jnum(st, "loc-bytes"), lb, sizeof(lb));
            snprintf(lo, sizeof(lo), "%lld", cli_jnum(st, "loc-objs"));
            snprintf(oo, sizeof(oo), "%lld", cli_jnum(st, "out-objs"));
            snprintf(io, sizeof(io), "%lld", cli_jnum(st, "in-objs"));
            cli_table_add(&t, (const char *[]){tid, state, lo, lb, oo, io, e});
        }
    }
    cli_table_finish(&t, stdout);
    json_decref(j);
}

/* The snapshots' per-object errors (obj_errors), one line each, after a blank line. */
static void print_obj_errors(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    static const cli_col_t cols[] = {{"TARGET", false, 8, 8},
                                     {"OBJECT", false, 8, 60},
                                     {"CODE", true, 4, 4},
                                     {"ERROR", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    size_t n = 0;
    const char *tid;
    json_t *arr;
    json_object_foreach(j, tid, arr)
    {
        size_t i, k;
        json_t *s, *e;
        json_array_foreach(arr, i, s)
        {
            json_array_foreach(json_object_get(s, "obj_errors"), k, e)
            {
                char code[24], *msg = cli_one_line(cli_jget(e, "msg") ? cli_jget(e, "msg") : "");
                snprintf(code, sizeof(code), "%lld", cli_jnum(e, "ecode"));
                cli_table_add(&t, (const char *[]){tid, cli_jget(e, "obj_name"), code, msg});
                free(msg);
                n++;
            }
        }
    }
    if (n > 0) {
        printf("\nobject errors (%zu):\n", n);
        cli_table_finish(&t, stdout);
    } else {
        cli_table_dispose(&t);
    }
    json_decref(j);
}

/* "2026-01-02 03:04:05" of an RFC 3339 time (UTC), "-" for none. */
static void short_time(const char *t, char *out, size_t outlen)
{
    if (t == NULL || t[0] == '\0' || strncmp(t, "0001-", 5) == 0)
        snprintf(out, outlen, "-");
    else
        snprintf(out, outlen, "%.10s %.8s", t, strlen(t) > 11 ? t + 11 : "");
}

static void print_rows(json_t *rows)
{
    static const cli_col_t cols[] = {
        {"ID", false, 10, 12},  {"KIND", false, 8, 16},   {"BUCKET(S)", false, 9, 40},
        {"STATE", false, 8, 8}, {"OBJECTS", true, 7, 12}, {"BYTES", true, 9, 12},
        {"ERRORS", true, 6, 8}, {"START", false, 19, 19}, {"END", false, 3, 19},
    };
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        char ob[24], by[32], er[24], st[32], en[32];
        snprintf(ob, sizeof(ob), "%lld", cli_jnum(r, "objects"));
        cli_human_size(cli_jnum(r, "bytes"), by, sizeof(by));
        snprintf(er, sizeof(er), "%lld", cli_jnum(r, "errors"));
        short_time(cli_jget(r, "start"), st, sizeof(st));
        short_time(cli_jget(r, "end"), en, sizeof(en));
        cli_table_add(&t, (const char *[]){cli_jget(r, "id"), cli_jget(r, "kind"),
                                           cli_jget(r, "bucket"), cli_jget(r, "state"), ob, by, er,
                                           st, en});
    }
    cli_table_finish(&t, stdout);
}

static int job_ls(int argc, char **argv)
{
    bool all = false, as_json = false;
    const char *kind = NULL, *bck = NULL;
    const cli_opt_t opts[] = {CLI_FLAG("all", &all), CLI_FLAG("json", &as_json),
                              CLI_STR("kind", &kind), CLI_STR("bucket", &bck)};
    const cli_cmd_t cmd = {"job", usage, 0, 0, "job ls: unexpected argument \"%s\""};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    if (bck && strncmp(bck, "ais://", 6) == 0)
        bck += 6;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN], *json = NULL;
    locus_job_query_t q = {.kind = kind, .bck = bck, .all = all};
    ret = CLI_EXIT_OK;
    json_t *rows = NULL;
    if (locus_job_list(c, &q, &json, err) != 0)
        ret = cli_fail_line("job ls", err);
    else if ((rows = cli_job_rows(json)) == NULL)
        ret = cli_fail("job ls", "unexpected reply: %s", json);
    else if (as_json) {
        char *s = json_dumps(rows, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
    } else {
        print_rows(rows);
    }
    json_decref(rows);
    free(json);
    locus_client_destroy(c);
    return ret;
}

static int job_stop(int argc, char **argv)
{
    bool all = false;
    const char *kind = NULL, *bck = NULL;
    const cli_opt_t opts[] = {CLI_FLAG("all", &all), CLI_STR("kind", &kind),
                              CLI_STR("bucket", &bck)};
    const cli_cmd_t cmd = {"job", usage, 0, 1, "job stop: one job ID at most (got \"%s\")"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    const char *id = pos < argc ? argv[pos] : NULL;
    bool many = all || (kind && kind[0]) || (bck && bck[0]);
    if ((id != NULL) == many)
        return cli_usage_error("job",
                               "job stop: need a job ID, or --kind K [--bucket B], or --all");
    if (bck && strncmp(bck, "ais://", 6) == 0)
        bck += 6;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN], what[128];
    snprintf(what, sizeof(what), "job stop%s%s", id ? " " : "", id ? id : "");
    int64_t n = 0;
    ret = CLI_EXIT_OK;
    int rc = id ? locus_job_stop(c, id, err) : locus_job_stop_many(c, kind, bck, &n, err);
    if (rc == LOCUS_ENOENT)
        ret = cli_fail(what, "no such job");
    else if (rc != 0)
        ret = cli_fail_line(what, err);
    else if (id)
        printf("job %s: stop requested\n", id);
    else
        printf("%lld job(s) asked to stop\n", (long long)n);
    locus_client_destroy(c);
    return ret;
}

/* What `job show|wait` works with. */
typedef struct {
    const char *id;
    locus_client_t *c;
    char what[128]; /* "job <verb> <id>" for errors */
    char err[LOCUS_ERR_LEN];
} job_cmd_t;

/* The options and the one job ID of `job <verb>`, and a client (j->c, caller destroys);
 * CLI_OPTS_GO, or the exit code after the usage or endpoint error. */
static int job_args(const char *verb, const cli_opt_t *opts, size_t nopts, int argc, char **argv,
                    job_cmd_t *j)
{
    memset(j, 0, sizeof(*j));
    char bad[64];
    snprintf(bad, sizeof(bad), "job %s: need one job ID", verb);
    const cli_cmd_t cmd = {"job", usage, 1, 1, bad};
    int pos, rc = cli_options(&cmd, opts, nopts, argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    j->id = argv[pos];
    if ((j->c = cli_client()) == NULL)
        return CLI_EXIT_FAIL;
    snprintf(j->what, sizeof(j->what), "job %s %s", verb, j->id);
    return CLI_OPTS_GO;
}

static int job_show(int argc, char **argv)
{
    bool as_json = false;
    const cli_opt_t opts[] = {CLI_FLAG("json", &as_json)};
    job_cmd_t jc;
    int ret = job_args("show", opts, ARRAY_SIZE(opts), argc, argv, &jc);
    if (ret != CLI_OPTS_GO)
        return ret;
    locus_job_status_t st;
    ret = CLI_EXIT_OK;
    char *snaps = NULL;
    int rc = locus_job_status(jc.c, jc.id, &st, jc.err);
    if (rc == LOCUS_ENOENT) {
        ret = cli_fail(jc.what, "no such job");
        goto out;
    } else if (rc != 0) {
        ret = cli_fail(jc.what, "%s", jc.err);
        goto out;
    }
    /* the snapshots with their per-object errors: optional detail, failures ignored */
    locus_job_errors(jc.c, jc.id, &snaps, NULL);
    if (as_json) {
        json_t *j =
            json_pack("{s:s?, s:s?, s:s?, s:I, s:b, s:o}", "kind", st.kind, "uuid", st.uuid, "err",
                      st.err, "end_time", (json_int_t)st.end_time, "aborted", st.aborted, "snaps",
                      snaps != NULL ? json_loads(snaps, 0, NULL) : json_null());
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(j);
        goto out;
    }
    const char *state = st.aborted                      ? "aborted"
                        : st.end_time == 0              ? "running"
                        : (st.err != NULL && st.err[0]) ? "failed"
                                                        : "finished";
    printf("%-10s %s\n", "job", jc.id);
    if (st.kind != NULL && st.kind[0])
        printf("%-10s %s\n", "kind", st.kind);
    printf("%-10s %s\n", "state", state);
    if (st.end_time != 0) {
        char ts[64];
        fmt_ns(st.end_time, ts, sizeof(ts));
        printf("%-10s %s\n", "ended", ts);
    }
    if (st.err != NULL && st.err[0])
        printf("%-10s %s\n", "error", st.err);
    if (snaps != NULL) {
        print_snaps(snaps);
        print_obj_errors(snaps);
    }
out:
    free(snaps);
    locus_job_status_dispose(&st);
    locus_client_destroy(jc.c);
    return ret;
}

static int job_wait(int argc, char **argv)
{
    int64_t timeout = 0;
    const cli_opt_t opts[] = {
        CLI_DURATION("timeout", &timeout, "--timeout: need a duration such as 30s"),
    };
    job_cmd_t jc;
    int ret = job_args("wait", opts, ARRAY_SIZE(opts), argc, argv, &jc);
    if (ret != CLI_OPTS_GO)
        return ret;
    locus_job_status_t st;
    int64_t t0 = time_mono_ns();
    ret = CLI_EXIT_OK;
    if (locus_job_wait(jc.c, jc.id, timeout, &st, jc.err) != 0)
        ret = cli_fail(jc.what, "%s", jc.err);
    else
        printf("job %s%s%s finished in %.2fs\n", jc.id, st.kind ? " " : "", st.kind ? st.kind : "",
               (double)(time_mono_ns() - t0) / 1e9);
    locus_job_status_dispose(&st);
    locus_client_destroy(jc.c);
    return ret;
}

static int job_start(int argc, char **argv)
{
    const char *node = NULL;
    bool wait = false;
    int64_t timeout = 0;
    const cli_opt_t opts[] = {CLI_STR("node", &node), CLI_WAIT_OPTS(&wait, &timeout)};
    const cli_cmd_t cmd = {"job", usage, 1, 2, "job start: need KIND [BUCKET]"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    const char *kind = argv[pos], *bck = pos + 1 < argc ? argv[pos + 1] : NULL;
    if (bck && strncmp(bck, "ais://", 6) == 0)
        bck += 6;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "", what[128], *id = NULL;
    snprintf(what, sizeof(what), "job start %s", kind);
    locus_job_status_t st;
    ret = CLI_EXIT_OK;
    if (locus_job_start(c, kind, bck, node, &id, err) != 0) {
        ret = cli_fail_line(what, err);
    } else {
        printf("%s\n", id);
        fflush(stdout);
        if (wait && locus_job_wait(c, id, timeout, &st, err) != 0)
            ret = cli_fail(what, "%s", err);
        else if (wait)
            locus_job_status_dispose(&st);
    }
    free(id);
    locus_client_destroy(c);
    return ret;
}

int locus_cli_cmd_job(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"ls", job_ls},
                                     {"show", job_show},
                                     {"stop", job_stop},
                                     {"wait", job_wait},
                                     {"start", job_start}};
    return cli_dispatch("job", usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}
