/*
 * cmd_bucket.c - `locus bucket create|ls|rm|cp`.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

static locus_client_t *cli_progress_client; /* the client of a --wait (cp_progress) */

static void usage(FILE *f)
{
    fprintf(f, "usage: locus bucket create BUCKET...\n"
               "       locus bucket ls [--json]\n"
               "       locus bucket rm BUCKET...\n"
               "       locus bucket cp SRC DST [--prefix P | --list A,B,... | --template T]\n"
               "                               [--prepend S] [--dry-run] [--force]\n"
               "                               [--num-workers N] [--wait [--timeout D]]\n"
               "       locus bucket summary [BUCKET] [--prefix P] [--json] [--timeout D]\n"
               "       locus bucket props show BUCKET\n"
               "       locus bucket props set BUCKET SECTION.KEY=VALUE... | --reset\n"
               "\n"
               "create  creates ais buckets\n"
               "ls      lists the buckets\n"
               "rm      destroys buckets with all their objects\n"
               "cp      copies the objects of SRC (those whose name starts with P) into DST\n"
               "        (created if missing), naming them S+name; prints the job id, and with\n"
               "        --wait shows its progress until it finishes (--timeout, default no\n"
               "        limit) and the result. --list or --template copies only those objects\n"
               "        (AIStore's copy-listrange), e.g. --template 'shard-{000..099}.tar'.\n"
               "summary counts the objects of BUCKET (every bucket without one) and the space\n"
               "        they take (AIStore's summary-bck); --json: AIStore's JSON\n"
               "props   shows the bucket's properties (JSON), or changes those named, e.g.\n"
               "        checksum.validate_warm_get=true mirror.copies=2; --reset: the defaults\n"
               "Buckets: ais://NAME or NAME.\n");
}

/* Parses a bucket-only argument ("ais://b", "b", "b/"). */
static int bucket_arg(const char *arg, char **bck)
{
    char *obj = NULL;
    int rc = cli_parse_name("bucket", arg, bck, &obj);
    if (rc != 0)
        return rc;
    if (obj != NULL && obj[0] != '\0') {
        free(obj);
        free(*bck);
        *bck = NULL;
        return cli_usage_error("bucket", "\"%s\" names an object, not a bucket", arg);
    }
    free(obj);
    return 0;
}

static int create_or_rm(int argc, char **argv, bool create)
{
    if (argc < 2)
        return cli_usage_error("bucket", "bucket %s: need at least one bucket",
                               create ? "create" : "rm");
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    int ret = CLI_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        char *b = NULL;
        int rc = bucket_arg(argv[i], &b);
        if (rc != 0) {
            ret = rc;
            break;
        }
        char err[LOCUS_ERR_LEN] = "";
        rc = create ? locus_bucket_create(c, b, err) : locus_bucket_destroy(c, b, err);
        if (rc != 0) {
            char what[128];
            snprintf(what, sizeof(what), "bucket %s ais://%s", create ? "create" : "rm", b);
            ret = cli_fail(what, "%s", err);
        } else {
            printf("%s ais://%s\n", create ? "created" : "removed", b);
        }
        free(b);
    }
    locus_client_destroy(c);
    return ret;
}

static int bucket_ls(int argc, char **argv)
{
    bool as_json = false;
    const cli_opt_t opts[] = {CLI_FLAG("json", &as_json)};
    static const cli_cmd_t cmd = {"bucket", usage, 0, 0, "bucket ls: unexpected argument \"%s\""};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    return cli_list_buckets("bucket ls", as_json);
}

/* The job's counters on one line (stderr) while --wait polls. */
static void cp_progress(const locus_job_status_t *st, void *arg)
{
    (void)st;
    locus_job_totals_t t;
    const char *job = arg;
    char sz[32];
    static int64_t last;
    bool tty = isatty(2);
    if (!tty && time_mono_ns() - last < 2000000000LL) /* a log: a line every 2 s at most */
        return;
    last = time_mono_ns();
    if (cli_progress_client == NULL || locus_job_totals(cli_progress_client, job, &t, NULL) != 0)
        return;
    cli_human_size(t.loc_bytes + t.out_bytes, sz, sizeof(sz));
    fprintf(stderr, "%scopying: %lld objects, %s (%zu/%zu targets done)%s", tty ? "\r" : "",
            (long long)(t.loc_objs + t.out_objs), sz, t.nfinished, t.ntargets, tty ? "   " : "\n");
}

/* --wait: the progress, then "copied N objects (SIZE) in T s" or why it failed. */
static int cp_wait(locus_client_t *c, const char *job, int64_t timeout, const char *what)
{
    char err[LOCUS_ERR_LEN] = "";
    int64_t t0 = time_mono_ns();
    locus_job_status_t st;
    cli_progress_client = c;
    int rc = locus_job_wait_progress(c, job, timeout, cp_progress, (void *)job, &st, err);
    cli_progress_client = NULL;
    if (isatty(2))
        fprintf(stderr, "\n");
    if (rc != 0)
        return cli_fail(what, "%s", err);
    int ret = CLI_EXIT_OK;
    if (st.err && st.err[0])
        ret = cli_fail(what, "job %s: %s", job, st.err);
    locus_job_status_dispose(&st);
    locus_job_totals_t t;
    if (ret == CLI_EXIT_OK && locus_job_totals(c, job, &t, err) != 0)
        ret = cli_fail(what, "%s", err);
    if (ret == CLI_EXIT_OK) {
        char sz[32];
        cli_human_size(t.loc_bytes + t.out_bytes, sz, sizeof(sz));
        double secs = (double)(time_mono_ns() - t0) / 1e9;
        printf("copied %lld object%s (%s) in %.1fs\n", (long long)(t.loc_objs + t.out_objs),
               t.loc_objs + t.out_objs == 1 ? "" : "s", sz, secs);
    }
    return ret;
}

/* --list a,b,c: the names (caller frees with locus_strv_free). */
static char **split_list(const char *list, size_t *n)
{
    char **v = NULL;
    *n = 0;
    char *copy = xstrdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        v = xrealloc(v, (*n + 1) * sizeof(char *));
        v[(*n)++] = xstrdup(t);
    }
    free(copy);
    return v;
}

static int bucket_cp(int argc, char **argv)
{
    locus_copy_opts_t co = {0};
    bool wait = false;
    int64_t timeout = 0, nw = 0;
    const char *list = NULL;
    const cli_opt_t opts[] = {
        CLI_WAIT_OPTS(&wait, &timeout),
        CLI_STR("prefix", &co.prefix),
        CLI_STR("prepend", &co.prepend),
        CLI_FLAG("dry-run", &co.dry_run),
        CLI_FLAG("force", &co.force),
        CLI_STR("list", &list),
        CLI_STR("template", &co.template_str),
        CLI_INT("num-workers", &nw, 0, 64, "--num-workers: need a number 0..64"),
    };
    static const cli_cmd_t cmd = {"bucket", usage, 2, 2, "bucket cp: need SRC and DST buckets"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    if ((list != NULL) + (co.template_str != NULL) + (co.prefix != NULL) > 1)
        return cli_usage_error("bucket", "bucket cp: --prefix, --list and --template exclude "
                                         "each other");
    co.num_workers = (int)nw;
    char **names = NULL;
    if (list != NULL) {
        names = split_list(list, &co.n_names);
        co.names = (const char *const *)names;
        if (co.n_names == 0)
            return cli_usage_error("bucket", "bucket cp: --list needs names");
    }
    char *src = NULL, *dst = NULL;
    ret = bucket_arg(argv[pos], &src);
    if (ret == 0)
        ret = bucket_arg(argv[pos + 1], &dst);
    locus_client_t *c = ret == 0 ? cli_client() : NULL;
    if (c == NULL) {
        locus_strv_free(names, co.n_names);
        free(src);
        free(dst);
        return ret ? ret : CLI_EXIT_FAIL;
    }
    char err[LOCUS_ERR_LEN] = "";
    char *job = NULL;
    char what[300];
    snprintf(what, sizeof(what), "bucket cp ais://%s ais://%s", src, dst);
    if (locus_bucket_copy(c, src, dst, &co, &job, err) != 0) {
        ret = cli_fail(what, "%s", err);
        goto out;
    }
    printf("%s\n", job);
    fflush(stdout);
    if (wait)
        ret = cp_wait(c, job, timeout, what);
out:
    locus_strv_free(names, co.n_names);
    free(job);
    free(src);
    free(dst);
    locus_client_destroy(c);
    return ret;
}

/* One row of `bucket summary` from a BsummResult. */
static void summary_row(cli_table_t *t, json_t *r)
{
    json_t *cnt = json_object_get(r, "ObjCount"), *tot = json_object_get(r, "TotalSize");
    json_t *sz = json_object_get(r, "ObjSize");
    char name[300], objs[32], size[32], disk[32], mn[32], avg[32], mx[32], pct[16];
    snprintf(name, sizeof(name), "ais://%s", cli_jget(r, "name") ? cli_jget(r, "name") : "");
    snprintf(objs, sizeof(objs), "%lld", cli_jnum(cnt, "obj_count_present"));
    cli_human_size(cli_jnum(tot, "size_all_present_objs"), size, sizeof(size));
    cli_human_size(cli_jnum(tot, "size_on_disk"), disk, sizeof(disk));
    cli_human_size(cli_jnum(sz, "obj_min_size"), mn, sizeof(mn));
    cli_human_size(cli_jnum(sz, "obj_avg_size"), avg, sizeof(avg));
    cli_human_size(cli_jnum(sz, "obj_max_size"), mx, sizeof(mx));
    snprintf(pct, sizeof(pct), "%lld%%", cli_jnum(r, "used_pct"));
    cli_table_add(t, (const char *[]){name, objs, size, disk, mn, avg, mx, pct});
}

static int bucket_summary(int argc, char **argv)
{
    const char *prefix = NULL;
    bool as_json = false;
    int64_t timeout = 0;
    const cli_opt_t opts[] = {
        CLI_STR("prefix", &prefix),
        CLI_FLAG("json", &as_json),
        CLI_DURATION("timeout", &timeout, "--timeout: need a duration such as 30s"),
    };
    static const cli_cmd_t cmd = {"bucket", usage, 0, 1, "bucket summary: at most one BUCKET"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *b = NULL;
    if (pos < argc && (ret = bucket_arg(argv[pos], &b)) != 0)
        return ret;
    locus_client_t *c = cli_client();
    char err[LOCUS_ERR_LEN] = "", *text = NULL;
    ret = c ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (c && locus_bucket_summary(c, b, prefix, timeout, &text, err) != 0)
        ret = cli_fail("bucket summary", "%s", err);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (ret == CLI_EXIT_OK && as_json) {
        char *pretty = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", pretty ? pretty : text);
        free(pretty);
    } else if (ret == CLI_EXIT_OK) {
        static const cli_col_t cols[] = {
            {"BUCKET", false, 0, 0}, {"OBJECTS", true, 0, 0}, {"SIZE", true, 0, 0},
            {"ON DISK", true, 0, 0}, {"MIN", true, 0, 0},     {"AVG", true, 0, 0},
            {"MAX", true, 0, 0},     {"USAGE", true, 0, 0},
        };
        cli_table_t t;
        cli_table_init(&t, cols, ARRAY_SIZE(cols));
        size_t i;
        json_t *r;
        json_array_foreach(j, i, r) summary_row(&t, r);
        cli_table_finish(&t, stdout);
    }
    json_decref(j);
    free(text);
    free(b);
    if (c)
        locus_client_destroy(c);
    return ret;
}

static int bucket_create(int argc, char **argv)
{
    return create_or_rm(argc, argv, true);
}

static int bucket_rm(int argc, char **argv)
{
    return create_or_rm(argc, argv, false);
}

/* SECTION.KEY=VALUE pairs as a BpropsToSet object (VALUE as JSON when it parses, else a
 * string); NULL after a usage error. */
static json_t *props_from_args(int argc, char **argv)
{
    json_t *set = json_object();
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '='), *dot = strchr(argv[i], '.');
        if (eq == NULL || dot == NULL || dot > eq || dot == argv[i] || dot + 1 == eq) {
            cli_usage_error("bucket", "bucket props set: \"%s\" is not SECTION.KEY=VALUE", argv[i]);
            json_decref(set);
            return NULL;
        }
        char *sec = xstrndup(argv[i], (size_t)(dot - argv[i]));
        char *key = xstrndup(dot + 1, (size_t)(eq - dot - 1));
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        json_t *obj = json_object_get(set, sec);
        if (!json_is_object(obj))
            json_object_set_new(set, sec, obj = json_object());
        json_object_set_new(obj, key, v ? v : json_string(eq + 1));
        free(sec);
        free(key);
    }
    return set;
}

static int bucket_props(int argc, char **argv)
{
    bool show = argc >= 2 && strcmp(argv[1], "show") == 0;
    bool reset = argc == 4 && strcmp(argv[3], "--reset") == 0;
    if (argc < 3 || (!show && strcmp(argv[1], "set") != 0) || (show && argc != 3) ||
        (!show && argc < 4))
        return cli_usage_error("bucket", "bucket props: show BUCKET, or set BUCKET "
                                         "SECTION.KEY=VALUE... | --reset");
    char *b = NULL;
    int rc = bucket_arg(argv[2], &b);
    if (rc != 0)
        return rc;
    json_t *set = NULL;
    if (!show && !reset && (set = props_from_args(argc - 3, argv + 3)) == NULL) {
        free(b);
        return CLI_EXIT_USAGE;
    }
    locus_client_t *c = cli_client();
    int ret = c ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "", *text = NULL;
    if (c && show && locus_bucket_head(c, b, &text, err) != 0) {
        ret = cli_fail("bucket props show", "%s", err);
    } else if (c && show) {
        json_t *j = json_loads(text ? text : "{}", 0, NULL);
        char *pretty = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", pretty ? pretty : text);
        free(pretty);
        json_decref(j);
    } else if (c) {
        char *js = set ? json_dumps(set, JSON_COMPACT) : NULL;
        if (locus_bucket_set_props(c, b, js, err) != 0)
            ret = cli_fail("bucket props set", "%s", err);
        else
            printf("ais://%s: properties %s\n", b, reset ? "reset" : "updated");
        free(js);
    }
    free(text);
    json_decref(set);
    if (c)
        locus_client_destroy(c);
    free(b);
    return ret;
}

int locus_cli_cmd_bucket(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"create", bucket_create},   {"rm", bucket_rm},
                                     {"ls", bucket_ls},           {"cp", bucket_cp},
                                     {"summary", bucket_summary}, {"props", bucket_props}};
    return cli_dispatch("bucket", usage, subs, ARRAY_SIZE(subs), CLI_HELP_ANYWHERE, argc, argv);
}
