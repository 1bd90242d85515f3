/*
 * cmd_bucket.c - `locus bucket create|ls|rm|cp`.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: locus bucket create BUCKET...\n"
               "       locus bucket ls\n"
               "       locus bucket rm BUCKET...\n"
               "       locus bucket cp SRC DST [--prefix P] [--prepend S] [--dry-run]\n"
               "                               [--wait [--timeout D]]\n"
               "\n"
               "create  creates ais buckets\n"
               "ls      lists the buckets\n"
               "rm      destroys buckets with all their objects\n"
               "cp      copies the objects of SRC (those whose name starts with P) into DST\n"
               "        (created if missing), naming them S+name; prints the job id, and with\n"
               "        --wait waits for the job to finish (--timeout, default no limit).\n"
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
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "";
    char **names = NULL;
    size_t n = 0;
    int ret = CLI_EXIT_OK;
    if (locus_bucket_list(c, &names, &n, err) != 0)
        ret = cli_fail("bucket ls", "%s", err);
    else
        for (size_t i = 0; i < n; i++)
            printf("ais://%s\n", names[i]);
    locus_strv_free(names, n);
    locus_client_destroy(c);
    return ret;
}

static int bucket_cp(int argc, char **argv)
{
    locus_copy_opts_t co = {0};
    bool wait = false;
    int64_t timeout = 0;
    static const struct option opts[] = {
        {"prefix", required_argument, NULL, 'p'}, {"prepend", required_argument, NULL, 'P'},
        {"dry-run", no_argument, NULL, 'n'},      {"force", no_argument, NULL, 'f'},
        {"wait", no_argument, NULL, 'w'},         {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            co.prefix = optarg;
            break;
        case 'P':
            co.prepend = optarg;
            break;
        case 'n':
            co.dry_run = true;
            break;
        case 'f':
            co.force = true;
            break;
        case 'w':
            wait = true;
            break;
        case 'T':
            if ((timeout = cli_parse_duration(optarg)) <= 0)
                return cli_usage_error("bucket", "--timeout: need a duration such as 5m");
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("bucket", "bad option");
        }
    }
    if (argc - optind != 2)
        return cli_usage_error("bucket", "bucket cp: need SRC and DST buckets");
    char *src = NULL, *dst = NULL;
    int ret = bucket_arg(argv[optind], &src);
    if (ret == 0)
        ret = bucket_arg(argv[optind + 1], &dst);
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
        locus_job_status_t st;
        int rc = locus_job_wait(c, job, timeout, &st, err);
        if (rc != 0)
            ret = cli_fail(what, "%s", err);
        else
            fprintf(stderr, "job %s (copy-bck) finished\n", job);
        locus_job_status_dispose(&st);
    }
out:
    free(job);
    free(src);
    free(dst);
    locus_client_destroy(c);
    return ret;
}

int locus_cli_cmd_bucket(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "create") == 0)
        return create_or_rm(argc - 1, argv + 1, true);
    if (strcmp(sub, "rm") == 0)
        return create_or_rm(argc - 1, argv + 1, false);
    if (strcmp(sub, "ls") == 0)
        return bucket_ls(argc - 1, argv + 1);
    if (strcmp(sub, "cp") == 0)
        return bucket_cp(argc - 1, argv + 1);
    return cli_usage_error("bucket", "unknown subcommand \"bucket %s\"", sub);
}
