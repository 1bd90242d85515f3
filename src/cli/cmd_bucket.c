/*
 * cmd_bucket.c - `locus bucket create|ls|rm|cp`.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus bucket create BUCKET...\n"
               "       locus bucket ls\n"
               "       locus bucket rm BUCKET...\n"
               "       locus bucket cp SRC DST [--prefix P] [--prepend S] [--dry-run]\n"
               "                               [--force] [--wait [--timeout D]]\n"
               "       locus bucket props show BUCKET\n"
               "       locus bucket props set BUCKET SECTION.KEY=VALUE... | --reset\n"
               "\n"
               "create  creates ais buckets\n"
               "ls      lists the buckets\n"
               "rm      destroys buckets with all their objects\n"
               "cp      copies the objects of SRC (those whose name starts with P) into DST\n"
               "        (created if missing), naming them S+name; prints the job id, and with\n"
               "        --wait waits for the job to finish (--timeout, default no limit).\n"
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
    if (argc > 1)
        return cli_usage_error("bucket", "bucket ls: unexpected argument \"%s\"", argv[1]);
    return cli_list_buckets("bucket ls");
}

static int bucket_cp(int argc, char **argv)
{
    locus_copy_opts_t co = {0};
    bool wait = false;
    int64_t timeout = 0;
    const cli_opt_t opts[] = {
        CLI_WAIT_OPTS(&wait, &timeout),  CLI_STR("prefix", &co.prefix),
        CLI_STR("prepend", &co.prepend), CLI_FLAG("dry-run", &co.dry_run),
        CLI_FLAG("force", &co.force),
    };
    static const cli_cmd_t cmd = {"bucket", usage, 2, 2, "bucket cp: need SRC and DST buckets"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *src = NULL, *dst = NULL;
    ret = bucket_arg(argv[pos], &src);
    if (ret == 0)
        ret = bucket_arg(argv[pos + 1], &dst);
    if (ret != 0) {
        free(src);
        return ret;
    }
    locus_client_t *c = cli_client();
    if (c == NULL) {
        free(src);
        free(dst);
        return CLI_EXIT_FAIL;
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
    if (wait) {
        if (locus_job_wait(c, job, timeout, NULL, err) != 0)
            ret = cli_fail(what, "%s", err);
        else
            fprintf(stderr, "job %s (copy-bck) finished\n", job);
    }
out:
    free(job);
    free(src);
    free(dst);
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
    static const cli_sub_t subs[] = {{"create", bucket_create},
                                     {"rm", bucket_rm},
                                     {"ls", bucket_ls},
                                     {"cp", bucket_cp},
                                     {"props", bucket_props}};
    return cli_dispatch("bucket", usage, subs, ARRAY_SIZE(subs), CLI_HELP_ANYWHERE, argc, argv);
}
