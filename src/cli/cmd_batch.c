/*
 * cmd_batch.c - `locus batch get`: many objects (or files inside archived objects) in one
 * GetBatch request, saved as one archive (TAR, TGZ, ZIP or TAR.LZ4) whose members keep the
 * request's order; and `locus archive`: the archive job, objects of a bucket written into one
 * archive object. docs/cli.md.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void batch_usage(FILE *f)
{
    fprintf(f,
            "usage: locus batch get BUCKET [OBJ[:ARCHPATH]...] [-f LIST] -o OUT [--format F]\n"
            "                       [--cont-on-err] [--only-obj-name]\n"
            "\n"
            "Fetches the objects in one request (AIStore's GetBatch) and saves them, in order, as\n"
            "one archive OUT ('-': stdout). OBJ:ARCHPATH names a file inside an archived object.\n"
            "  -f LIST          more entries, one per line (OBJ, or OBJ<TAB>ARCHPATH)\n"
            "  --format F       tar, tgz, zip or tar.lz4 (default: by OUT's extension, else tar)\n"
            "  --cont-on-err    a missing object becomes an empty __404__/<name> member\n"
            "  --only-obj-name  members are named <OBJ> instead of <BUCKET>/<OBJ>\n");
}

typedef struct {
    locus_client_t *c;
    const char *bck;
    locus_batch_in_t *in;
    size_t n, cap;
    char **owned; /* the strings in[] points into */
    size_t nowned;
    locus_batch_opts_t o;
    int64_t bytes;
} batch_t;

/* Adds "OBJ" or "OBJ<sep>ARCHPATH" (sep ':' on the command line, a tab in a list file). */
static void batch_add(batch_t *b, const char *spec, char sep)
{
    char *s = xstrdup(spec);
    b->owned = xrealloc(b->owned, (b->nowned + 1) * sizeof(char *));
    b->owned[b->nowned++] = s;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->in = xrealloc(b->in, b->cap * sizeof(*b->in));
    }
    char *p = strchr(s, sep);
    if (p)
        *p++ = '\0';
    b->in[b->n++] = (locus_batch_in_t){.objname = s, .archpath = p && *p ? p : NULL};
}

static int batch_list_file(batch_t *b, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return cli_fail("batch get", "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 0 && line[0] != '#')
            batch_add(b, line, '\t');
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return 0;
}

static int sink_fd(void *arg, const void *p, size_t n)
{
    return write_all(*(int *)arg, p, n);
}

static int batch_fetch(int fd, void *arg)
{
    batch_t *b = arg;
    char err[LOCUS_ERR_LEN] = "";
    if (locus_batch_get(b->c, b->bck, b->in, b->n, &b->o, sink_fd, &fd, &b->bytes, err) == 0)
        return 0;
    return cli_fail("batch get", "%s", err);
}

/* The archive format: --format, else OUT's extension, else TAR. NULL when unknown. */
static const char *batch_format(const char *fmt, const char *out)
{
    static const char *names[][2] = {{"tar", ".tar"}, {"tgz", ".tgz"},         {"tar.gz", ".tgz"},
                                     {"zip", ".zip"}, {"tar.lz4", ".tar.lz4"}, {NULL, NULL}};
    for (size_t i = 0; fmt && names[i][0]; i++)
        if (strcmp(fmt, names[i][0]) == 0 || strcmp(fmt, names[i][1]) == 0)
            return names[i][1];
    if (fmt)
        return NULL;
    for (size_t i = 0; names[i][0]; i++) {
        char *ext = xasprintf(".%s", names[i][0]);
        bool m = str_has_suffix(out, ext);
        free(ext);
        if (m)
            return names[i][1];
    }
    return ".tar";
}

static int batch_get(int argc, char **argv)
{
    const char *list = NULL, *out = NULL, *fmt = NULL;
    batch_t b = {0};
    const cli_opt_t opts[] = {
        {.name = "file", .short_name = 'f', .type = CLI_OPT_STR, .dst = &list},
        {.name = "out", .short_name = 'o', .type = CLI_OPT_STR, .dst = &out},
        CLI_STR("format", &fmt),
        CLI_FLAG("cont-on-err", &b.o.cont_on_err),
        CLI_FLAG("only-obj-name", &b.o.only_obj_name),
    };
    static const cli_cmd_t cmd = {"batch", batch_usage, 1, -1, "need BUCKET and objects"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    b.bck = argv[pos];
    if (out == NULL)
        return cli_usage_error("batch", "need -o OUT (an archive file, or - for stdout)");
    if ((b.o.format = batch_format(fmt, out)) == NULL)
        return cli_usage_error("batch", "--format: expecting tar, tgz, zip or tar.lz4");
    for (int i = pos + 1; i < argc; i++)
        batch_add(&b, argv[i], ':');
    if (list && (ret = batch_list_file(&b, list)) != 0)
        goto out;
    if (b.n == 0) {
        ret = cli_usage_error("batch", "no objects: give OBJ operands or -f LIST");
        goto out;
    }
    if ((b.c = cli_client()) == NULL) {
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    ret = cli_download("batch get", out, batch_fetch, &b);
    if (ret == 0 && strcmp(out, "-") != 0) {
        char sz[32];
        cli_human_size(b.bytes, sz, sizeof(sz));
        fprintf(stderr, "got %zu entr%s of ais://%s => %s (%s)\n", b.n, b.n == 1 ? "y" : "ies",
                b.bck, out, sz);
    }
out:
    locus_client_destroy(b.c);
    for (size_t i = 0; i < b.nowned; i++)
        free(b.owned[i]);
    free(b.owned);
    free(b.in);
    return ret;
}

int locus_cli_cmd_batch(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"get", batch_get}};
    return cli_dispatch("batch", batch_usage, subs, ARRAY_SIZE(subs), CLI_HELP_WORD, argc, argv);
}

/* ---------------------------------------------------------------- locus archive */

static void archive_usage(FILE *f)
{
    fprintf(f,
            "usage: locus archive BUCKET/ARCHNAME [OBJ...] [--template T] [--from SRC]\n"
            "                     [--include-bucket] [--append] [--wait [--timeout D]]\n"
            "\n"
            "Starts the archive job: the objects OBJ... (or those the range template T names,\n"
            "e.g. \"img-{000..099}.jpg\") of SRC (default: BUCKET), in that order, written into\n"
            "the object ARCHNAME of BUCKET. Its extension gives the format: .tar, .tgz,\n"
            ".tar.gz, .zip or .tar.lz4. Prints the job id.\n"
            "  --include-bucket  members are named <SRC>/<OBJ>\n"
            "  --append          add to ARCHNAME when it exists\n");
}

int locus_cli_cmd_archive(int argc, char **argv)
{
    const char *tmpl = NULL, *from = NULL;
    bool isbn = false, append = false, wait = false;
    int64_t timeout = 0;
    const cli_opt_t opts[] = {
        CLI_STR("template", &tmpl),        CLI_STR("from", &from),
        CLI_FLAG("include-bucket", &isbn), CLI_FLAG("append", &append),
        CLI_WAIT_OPTS(&wait, &timeout),
    };
    static const cli_cmd_t cmd = {"archive", archive_usage, 1, -1, "need BUCKET/ARCHNAME"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *bck = NULL, *arch = NULL;
    if ((ret = cli_parse_name("archive", argv[pos], &bck, &arch)) != 0)
        return ret;
    int nobj = argc - pos - 1;
    if (arch == NULL || arch[0] == '\0' || (nobj == 0) == (tmpl == NULL)) {
        ret = cli_usage_error("archive", "need BUCKET/ARCHNAME and either OBJ... or --template");
        goto out;
    }
    locus_client_t *c = cli_client();
    if (c == NULL) {
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    char err[LOCUS_ERR_LEN] = "", *job = NULL;
    if (locus_objects_archive(c, from ? from : bck,
                              nobj ? (const char *const *)argv + pos + 1 : NULL, (size_t)nobj, tmpl,
                              bck, arch, isbn, append, &job, err) != 0) {
        ret = cli_fail("archive", "%s", err);
    } else {
        printf("%s\n", job);
        fflush(stdout);
        if (wait && locus_job_wait(c, job, timeout, NULL, err) != 0)
            ret = cli_fail("archive", "%s", err);
        else if (wait)
            fprintf(stderr, "job %s (archive) finished: ais://%s/%s\n", job, bck, arch);
    }
    free(job);
    locus_client_destroy(c);
out:
    free(bck);
    free(arch);
    return ret;
}
