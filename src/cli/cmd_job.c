/*
 * cmd_job.c - `locus job show ID` and `locus job wait ID [--timeout D]` (docs/protocol.md §1.8).
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus job show ID [--json]\n"
               "       locus job wait ID [--timeout D]\n"
               "\n"
               "show  the job's status and its per-target progress\n"
               "wait  waits until the job ends (default: no time limit); exits 0 when it\n"
               "      succeeded, 1 when it failed, was aborted or the timeout passed\n");
}

static void fmt_ns(int64_t ns, char *out, size_t outlen)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *jget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        return json_string_value(v);
    return NULL;
}

static long long jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
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
            const char *e = jget(s, "err");
            if (e == NULL || e[0] == '\0')
                e = jget(s, "abort-err");
            const char *state = json_is_true(json_object_get(s, "aborted"))   ? "aborted"
                                : json_is_true(json_object_get(s, "is_idle")) ? "idle"
                                                                              : "running";
            const char *end = jget(s, "end-time");
            if (end != NULL && strncmp(end, "0001-", 5) != 0 &&
                !json_is_true(json_object_get(s, "aborted")))
                state = "finished";
            char lb[32], lo[24], oo[24], io[24];
            cli_human_size(jnum(st, "loc-bytes"), lb, sizeof(lb));
            snprintf(lo, sizeof(lo), "%lld", jnum(st, "loc-objs"));
            snprintf(oo, sizeof(oo), "%lld", jnum(st, "out-objs"));
            snprintf(io, sizeof(io), "%lld", jnum(st, "in-objs"));
            cli_table_add(&t, (const char *[]){tid, state, lo, lb, oo, io, e});
        }
    }
    cli_table_finish(&t, stdout);
    json_decref(j);
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
    if (locus_job_status(jc.c, jc.id, &st, jc.err) != 0) {
        ret = cli_fail(jc.what, "%s", jc.err);
        goto out;
    }
    locus_job_snaps(jc.c, jc.id, &snaps, NULL); /* optional detail: ignore failures */
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
    if (snaps != NULL)
        print_snaps(snaps);
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

int locus_cli_cmd_job(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"show", job_show}, {"wait", job_wait}};
    return cli_dispatch("job", usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}
