/*
 * cmd_get.c - `locus get BUCKET/OBJ [OUT|-]`: streams an object to a file (through a temp file
 * in the same directory, renamed into place when complete) or to stdout.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus get BUCKET/OBJ [OUT|-] [--offset N] [--length N]\n"
               "\n"
               "Downloads an object into OUT (default: the object's base name in the current\n"
               "directory; into OUT/<base name> when OUT is a directory), or to stdout with '-'.\n"
               "The file appears only once complete (written to a temp file, then renamed).\n"
               "  --offset N, --length N   read only a byte range (HTTP Range)\n");
}

typedef struct {
    locus_client_t *c;
    const char *bck, *obj;
    const locus_range_t *range;
    int64_t n;
} get_t;

static int fetch(int fd, void *arg)
{
    get_t *g = arg;
    char err[LOCUS_ERR_LEN] = "";
    if (locus_object_get_fd(g->c, g->bck, g->obj, g->range, fd, &g->n, err) == 0)
        return 0;
    char what[512];
    snprintf(what, sizeof(what), "get ais://%s/%s", g->bck, g->obj);
    return cli_fail(what, "%s", err);
}

/* Where the object goes: dst ("-" = stdout), dst/<base> when dst is a directory, else <base>. */
static char *out_path(const char *dst, const char *obj)
{
    const char *base = strrchr(obj, '/');
    base = base != NULL && base[1] != '\0' ? base + 1 : obj;
    struct stat st;
    if (dst == NULL)
        return xstrdup(base);
    if (strcmp(dst, "-") != 0 && stat(dst, &st) == 0 && S_ISDIR(st.st_mode))
        return xasprintf("%s%s%s", dst, str_has_suffix(dst, "/") ? "" : "/", base);
    return xstrdup(dst);
}

int locus_cli_cmd_get(int argc, char **argv)
{
    int64_t off = -1, len = -1;
    const cli_opt_t opts[] = {
        CLI_INT("offset", &off, 0, INT64_MAX, "--offset: need a byte offset"),
        CLI_INT("length", &len, 1, INT64_MAX, "--length: need a positive byte count"),
    };
    static const cli_cmd_t cmd = {"get", usage, 1, 2, "need BUCKET/OBJ and optionally OUT"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    int npos = argc - pos;
    char *bck = NULL, *obj = NULL;
    if ((ret = cli_parse_name("get", argv[pos], &bck, &obj)) != 0)
        return ret;
    get_t g = {.bck = bck, .obj = obj};
    char *out = NULL;
    if (obj == NULL || obj[0] == '\0') {
        ret = cli_usage_error("get", "\"%s\": need an object name (BUCKET/OBJ)", argv[pos]);
        goto done;
    }
    locus_range_t range = {off < 0 ? 0 : off, len};
    g.range = off >= 0 || len >= 0 ? &range : NULL;
    const char *dst = npos == 2 ? argv[pos + 1] : NULL;
    bool to_stdout = dst != NULL && strcmp(dst, "-") == 0;
    out = out_path(dst, obj);
    if ((g.c = cli_client()) == NULL) {
        ret = CLI_EXIT_FAIL;
        goto done;
    }
    /* Only an OUT of "-" means stdout: an object named "-" goes to the file ./- */
    ret = cli_download("get", to_stdout || strcmp(out, "-") != 0 ? out : "./-", fetch, &g);
    if (ret == 0 && !to_stdout) {
        char sz[32];
        cli_human_size(g.n, sz, sizeof(sz));
        fprintf(stderr, "got ais://%s/%s => %s (%s)\n", bck, obj, out, sz);
    }
done:
    locus_client_destroy(g.c);
    free(out);
    free(bck);
    free(obj);
    return ret;
}
