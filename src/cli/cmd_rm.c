/*
 * cmd_rm.c - `locus rm BUCKET/OBJ...`: deletes objects one by one; `locus rm BUCKET --prefix P`
 * or `--template T`: one delete-listrange job for them all, waited for.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus rm BUCKET/OBJ...\n"
               "       locus rm BUCKET --prefix P | --template T [--timeout D]\n"
               "\n"
               "Deletes objects. Each argument is ais://BUCKET/OBJ or BUCKET/OBJ; use -- before\n"
               "names that start with '-'. To delete a bucket: locus bucket rm BUCKET.\n"
               "--prefix P deletes every object whose name starts with P, --template T those\n"
               "the range names (e.g. 'shard-{000..099}.tar'): one job on the cluster (AIStore's\n"
               "delete-listrange), waited for; prints how many objects it deleted.\n");
}

/* rm BUCKET --prefix P | --template T: a delete-listrange job (a template without a range is a
 * prefix), waited for. */
static int rm_many(const char *arg, const char *tmpl, int64_t timeout)
{
    char *b = NULL, *ob = NULL;
    int rc = cli_parse_name("rm", arg, &b, &ob);
    if (rc == 0 && ob != NULL && ob[0] != '\0')
        rc = cli_usage_error("rm", "--prefix/--template: \"%s\" must name a bucket only", arg);
    free(ob);
    locus_client_t *c = rc == 0 ? cli_client() : NULL;
    if (c == NULL) {
        free(b);
        return rc ? rc : CLI_EXIT_FAIL;
    }
    char err[LOCUS_ERR_LEN] = "", *job = NULL, what[300];
    snprintf(what, sizeof(what), "rm ais://%s", b);
    locus_job_status_t st;
    locus_job_totals_t t;
    int ret = CLI_EXIT_OK;
    if (locus_objects_delete(c, b, NULL, 0, tmpl, &job, err) != 0 ||
        locus_job_wait(c, job, timeout, &st, err) != 0) {
        ret = cli_fail(what, "%s", err);
    } else {
        if (st.err && st.err[0])
            ret = cli_fail(what, "job %s: %s", job, st.err);
        locus_job_status_dispose(&st);
        if (ret == CLI_EXIT_OK && locus_job_totals(c, job, &t, err) != 0)
            ret = cli_fail(what, "%s", err);
        if (ret == CLI_EXIT_OK)
            printf("deleted %lld object%s from ais://%s (job %s)\n", (long long)t.loc_objs,
                   t.loc_objs == 1 ? "" : "s", b, job);
    }
    free(job);
    free(b);
    locus_client_destroy(c);
    return ret;
}

int locus_cli_cmd_rm(int argc, char **argv)
{
    const char *prefix = NULL, *tmpl = NULL;
    int64_t timeout = 0;
    const cli_opt_t opts[] = {
        CLI_STR("prefix", &prefix),
        CLI_STR("template", &tmpl),
        CLI_DURATION("timeout", &timeout, "--timeout: need a duration such as 30s"),
    };
    static const cli_cmd_t cmd = {"rm", usage, 1, -1, "need at least one BUCKET/OBJ"};
    int pos, rc = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    if (prefix != NULL || tmpl != NULL) {
        if (prefix != NULL && tmpl != NULL)
            return cli_usage_error("rm", "--prefix and --template exclude each other");
        if (argc - pos != 1)
            return cli_usage_error("rm", "--prefix/--template: need exactly one BUCKET");
        if (prefix != NULL && (prefix[0] == '\0' || strchr(prefix, '{') != NULL))
            return cli_usage_error("rm", "--prefix: need a non-empty prefix without '{'");
        return rm_many(argv[pos], prefix != NULL ? prefix : tmpl, timeout);
    }
    /* Validate every argument before deleting anything. */
    for (int i = pos; i < argc; i++) {
        char *b = NULL, *ob = NULL;
        int rc = cli_parse_name("rm", argv[i], &b, &ob);
        bool no_obj = rc == 0 && (ob == NULL || ob[0] == '\0');
        free(b);
        free(ob);
        if (rc != 0)
            return rc;
        if (no_obj)
            return cli_usage_error("rm",
                                   "\"%s\" names no object (to delete a bucket: locus "
                                   "bucket rm)",
                                   argv[i]);
    }
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    int ret = CLI_EXIT_OK;
    for (int i = pos; i < argc; i++) {
        char *b = NULL, *ob = NULL;
        locus_parse_name(argv[i], &b, &ob, NULL);
        char err[LOCUS_ERR_LEN] = "";
        if (locus_object_delete(c, b, ob, err) != 0) {
            char what[512];
            snprintf(what, sizeof(what), "rm ais://%s/%s", b, ob);
            ret = cli_fail(what, "%s", err);
        } else {
            printf("deleted ais://%s/%s\n", b, ob);
        }
        free(b);
        free(ob);
    }
    locus_client_destroy(c);
    return ret;
}
