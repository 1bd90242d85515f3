/*
 * cmd_storage.c - `locus storage mountpath ls [NODE]` and `locus storage mountpath
 * attach|detach|enable|disable NODE PATH`: a target's mountpaths through the proxy's
 * /v1/reverse route (docs/protocol.md, "Mountpaths"; docs/operations.md, "Disks").
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus storage mountpath ls [NODE] [--json]\n"
               "       locus storage mountpath attach NODE PATH [--wait [--timeout D]]\n"
               "       locus storage mountpath detach NODE PATH [--dont-resilver]\n"
               "       locus storage mountpath enable NODE PATH [--wait [--timeout D]]\n"
               "       locus storage mountpath disable NODE PATH [--wait [--timeout D]]\n"
               "       locus storage scrub BUCKET [--prefix P] [--wait [--timeout D]]\n"
               "       locus storage ec-encode BUCKET [--data-slices D --parity-slices P]\n"
               "                               [--wait [--timeout D]]\n"
               "\n"
               "ls       the mountpaths of target NODE (default: every target): enabled,\n"
               "         detaching (waiting for the resilver) and disabled\n"
               "attach   adds directory PATH (created if missing) to NODE's mountpaths; a\n"
               "         resilver job moves the objects that belong on it\n"
               "detach   moves PATH's objects to the other mountpaths, then removes it (waits\n"
               "         up to 45 s; after that the resilver goes on and PATH leaves when it\n"
               "         is done); --dont-resilver removes it at once and leaves its objects\n"
               "         behind, out of reach\n"
               "enable   puts a disabled (or detaching) mountpath back in use\n"
               "disable  stops using PATH and moves its objects off; it stays attached\n"
               "--wait   waits for the resilver job to end\n"
               "scrub    every target reads the objects of BUCKET it holds (names starting with\n"
               "         P) and checks them against their checksums, repairing from a mirror\n"
               "         copy where there is one; prints the job id, and with --wait how many\n"
               "         were checked and each damaged one (exit 1 if any is left corrupt)\n"
               "ec-encode  erasure-codes BUCKET with D data and P parity slices across targets\n"
               "         (the ec bucket property), coding the objects already there; without\n"
               "         slices, on an erasure-coded bucket: restores full redundancy (run it\n"
               "         after a target was removed for good); with --wait, the objects checked\n"
               "         and rebuilt, and each that could not be (exit 1 if any)\n");
}

static void add_rows(cli_table_t *t, const char *node, json_t *list)
{
    static const char *const keys[] = {"available", "waiting_dd", "disabled"};
    static const char *const states[] = {"enabled", "detaching", "disabled"};
    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(list, keys[k]), i, v)
        {
            if (json_is_string(v))
                cli_table_add(t, (const char *[]){node, states[k], json_string_value(v)});
        }
    }
}

/* The ids of the targets in the cluster map into *ids (caller frees with locus_strv_free). */
static int target_ids(locus_client_t *c, char ***ids, size_t *n, char *err)
{
    char *smap = NULL;
    locus_node_t *ns = NULL;
    size_t cnt = 0;
    *ids = NULL;
    *n = 0;
    int rc = locus_cluster_smap(c, &smap, err);
    if (rc == 0)
        rc = locus_smap_parse(smap, &ns, &cnt, NULL, err);
    free(smap);
    if (rc != 0)
        return rc;
    *ids = xcalloc(cnt + 1, sizeof(char *));
    for (size_t i = 0; i < cnt; i++)
        if (strcmp(ns[i].role, "target") == 0)
            (*ids)[(*n)++] = xstrdup(ns[i].id);
    locus_nodes_free(ns, cnt);
    return 0;
}

static int mp_ls(int argc, char **argv)
{
    bool as_json = false;
    const cli_opt_t opts[] = {CLI_FLAG("json", &as_json)};
    const cli_cmd_t cmd = {"storage", usage, 0, 1, "storage mountpath ls: unexpected \"%s\""};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN];
    char **ids = NULL;
    size_t n = 0;
    ret = CLI_EXIT_OK;
    if (pos < argc) {
        ids = xcalloc(2, sizeof(char *));
        ids[n++] = xstrdup(argv[pos]);
    } else if (target_ids(c, &ids, &n, err) != 0) {
        ret = cli_fail_line("storage mountpath ls", err);
    }
    static const cli_col_t cols[] = {
        {"NODE", false, 8, 16}, {"STATE", false, 9, 9}, {"MOUNTPATH", false, 0, 0}};
    cli_table_t t;
    cli_table_init(&t, cols, ARRAY_SIZE(cols));
    json_t *all = json_object();
    for (size_t i = 0; i < n && ret == CLI_EXIT_OK; i++) {
        char *text = NULL;
        json_t *j = NULL;
        if (locus_mountpath_list(c, ids[i], &text, err) != 0)
            ret = cli_fail_line(ids[i], err);
        else if ((j = json_loads(text, 0, NULL)) == NULL)
            ret = cli_fail(ids[i], "the mountpath list is not JSON");
        if (j) {
            add_rows(&t, ids[i], j);
            json_object_set_new(all, ids[i], j);
        }
        free(text);
    }
    if (ret == CLI_EXIT_OK && as_json) {
        char *s = json_dumps(all, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        cli_table_dispose(&t);
    } else if (ret == CLI_EXIT_OK) {
        cli_table_finish(&t, stdout);
    } else {
        cli_table_dispose(&t);
    }
    json_decref(all);
    locus_strv_free(ids, n);
    locus_client_destroy(c);
    return ret;
}

/* attach, detach, enable, disable: argv[0] names the verb. */
static int mp_change(int argc, char **argv)
{
    const char *verb = argv[0];
    bool wait = false, dont = false;
    int64_t timeout = 0;
    cli_opt_t opts[] = {CLI_WAIT_OPTS(&wait, &timeout), CLI_FLAG("dont-resilver", &dont)};
    size_t nopts = strcmp(verb, "detach") == 0 ? ARRAY_SIZE(opts) : ARRAY_SIZE(opts) - 1;
    char bad[96];
    snprintf(bad, sizeof(bad), "storage mountpath %s: need NODE and PATH", verb);
    const cli_cmd_t cmd = {"storage", usage, 2, 2, bad};
    int pos, ret = cli_options(&cmd, opts, nopts, argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    const char *node = argv[pos], *path = argv[pos + 1];
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char what[160], action[32], err[LOCUS_ERR_LEN];
    snprintf(what, sizeof(what), "storage mountpath %s %s", verb, node);
    snprintf(action, sizeof(action), "%s-mp", verb);
    char *id = NULL;
    bool pending = false;
    ret = CLI_EXIT_OK;
    if (locus_mountpath_action(c, node, action, path, dont, &id, &pending, err) != 0) {
        ret = cli_fail_line(what, err);
    } else if (id == NULL || id[0] == '\0') {
        printf("%s: %s %s (no resilver needed)\n", node, path,
               strcmp(verb, "detach") == 0 ? "detached" : "unchanged or done");
    } else if (pending) {
        printf("%s: detaching %s: resilver %s still running; %s leaves the mountpaths when it "
               "ends (locus job wait %s)\n",
               node, path, id, path, id);
    } else {
        printf("%s: %s %s%s: resilver job %s\n", node, verb, path,
               strcmp(verb, "detach") == 0 ? " (done)" : "", id);
        if (wait && locus_job_wait(c, id, timeout, NULL, err) != 0)
            ret = cli_fail_line(what, err);
        else if (wait)
            printf("resilver %s finished\n", id);
    }
    free(id);
    locus_client_destroy(c);
    return ret;
}

/* The objects a job reported (its snapshots' obj_errors), one line each: "<bad> ..." or, ecode
 * 0, "repaired ..." (e.g. from a mirror copy). *repaired counts the latter; returns the others. */
static int64_t print_obj_errors(const char *snaps, const char *bad, int64_t *repaired)
{
    json_t *j = json_loads(snaps ? snaps : "{}", 0, NULL);
    const char *tid;
    json_t *arr;
    int64_t n = 0;
    *repaired = 0;
    json_object_foreach(j, tid, arr)
    {
        size_t i, k;
        json_t *snap, *e;
        json_array_foreach(arr, i, snap)
            json_array_foreach(json_object_get(snap, "obj_errors"), k, e)
        {
            bool fixed = json_integer_value(json_object_get(e, "ecode")) == 0;
            printf("%s %s (%s): %s\n", fixed ? "repaired" : bad,
                   json_string_value(json_object_get(e, "obj_name")), tid,
                   json_string_value(json_object_get(e, "msg")));
            *repaired += fixed;
            n += !fixed;
        }
    }
    json_decref(j);
    return n;
}

/* A job just started (rc, its id): prints the id; with wait, waits for it and fetches its totals
 * and per-object errors. CLI exit code (a failure's line printed as what). */
static int job_follow(locus_client_t *c, const char *what, int rc, char *const *idp, bool wait,
                      int64_t timeout, locus_job_totals_t *t, char **snaps, char *err)
{
    if (rc != 0)
        return cli_fail_line(what, err);
    const char *id = *idp; /* set by the start, which the caller's argument list ran */
    printf("%s\n", id);
    fflush(stdout);
    if (wait && (locus_job_wait(c, id, timeout, NULL, err) != 0 ||
                 locus_job_totals(c, id, t, err) != 0 || locus_job_errors(c, id, snaps, err) != 0))
        return cli_fail_line(what, err);
    return CLI_EXIT_OK;
}

static int storage_scrub(int argc, char **argv)
{
    bool wait = false;
    int64_t timeout = 0;
    const char *prefix = NULL;
    cli_opt_t opts[] = {CLI_WAIT_OPTS(&wait, &timeout), CLI_STR("prefix", &prefix)};
    const cli_cmd_t cmd = {"storage", usage, 1, 1, "storage scrub: need a BUCKET"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *bck = NULL, *obj = NULL;
    if ((ret = cli_parse_name("storage", argv[pos], &bck, &obj)) != 0)
        return ret;
    locus_client_t *c = cli_client();
    char err[LOCUS_ERR_LEN] = "", *id = NULL, *snaps = NULL;
    locus_job_totals_t t;
    ret = c ? job_follow(c, "storage scrub", locus_bucket_scrub(c, bck, prefix, &id, err), &id,
                         wait, timeout, &t, &snaps, err)
            : CLI_EXIT_FAIL;
    if (ret == CLI_EXIT_OK && wait) {
        int64_t fixed, bad = print_obj_errors(snaps, "corrupt", &fixed);
        fprintf(stderr,
                "scrub %s: ais://%s: %lld objects (%lld bytes) checked, %lld corrupt, %lld "
                "repaired from a copy\n",
                id, bck, (long long)t.loc_objs, (long long)t.loc_bytes, (long long)bad,
                (long long)fixed);
        ret = bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    free(snaps);
    free(id);
    free(bck);
    free(obj);
    if (c)
        locus_client_destroy(c);
    return ret;
}

static int storage_ec_encode(int argc, char **argv)
{
    bool wait = false;
    int64_t timeout = 0, d = 0, p = 0;
    cli_opt_t opts[] = {CLI_WAIT_OPTS(&wait, &timeout),
                        CLI_INT("data-slices", &d, 1, 32, "--data-slices: 1..32"),
                        CLI_INT("parity-slices", &p, 1, 32, "--parity-slices: 1..32")};
    const cli_cmd_t cmd = {"storage", usage, 1, 1, "storage ec-encode: need a BUCKET"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    if ((d > 0) != (p > 0))
        return cli_usage_error("storage", "--data-slices and --parity-slices go together");
    char *bck = NULL, *obj = NULL;
    if ((ret = cli_parse_name("storage", argv[pos], &bck, &obj)) != 0)
        return ret;
    locus_client_t *c = cli_client();
    char err[LOCUS_ERR_LEN] = "", *id = NULL, *snaps = NULL;
    locus_job_totals_t t;
    ret = c ? job_follow(c, "storage ec-encode",
                         locus_bucket_ec_encode(c, bck, (int)d, (int)p, &id, err), &id, wait,
                         timeout, &t, &snaps, err)
            : CLI_EXIT_FAIL;
    if (ret == CLI_EXIT_OK && wait) {
        int64_t fixed, bad = print_obj_errors(snaps, "failed", &fixed);
        fprintf(stderr,
                "ec-encode %s: ais://%s: %lld objects checked, %lld rebuilt, %lld pieces sent, "
                "%lld failed\n",
                id, bck, (long long)t.loc_objs, (long long)t.in_objs, (long long)t.out_objs,
                (long long)bad);
        ret = bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    free(snaps);
    free(id);
    free(bck);
    free(obj);
    if (c)
        locus_client_destroy(c);
    return ret;
}

static int storage_mountpath(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"ls", mp_ls},
                                     {"attach", mp_change},
                                     {"detach", mp_change},
                                     {"enable", mp_change},
                                     {"disable", mp_change}};
    return cli_dispatch("storage", usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}

int locus_cli_cmd_storage(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"mountpath", storage_mountpath},
                                     {"scrub", storage_scrub},
                                     {"ec-encode", storage_ec_encode}};
    return cli_dispatch("storage", usage, subs, ARRAY_SIZE(subs), 0, argc, argv);
}
