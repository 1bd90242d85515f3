/*
 * cmd_get.c - `locus get BUCKET/OBJ [OUT|-]`: streams an object to a file (through a temp file
 * in the same directory, renamed into place when complete) or to stdout.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int64_t parse_i64(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return -1;
    return (int64_t)v;
}

int locus_cli_cmd_get(int argc, char **argv)
{
    int64_t off = -1, len = -1;
    static const struct option opts[] = {{"offset", required_argument, NULL, 'o'},
                                         {"length", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'o':
            if ((off = parse_i64(optarg)) < 0)
                return cli_usage_error("get", "--offset: need a byte offset");
            break;
        case 'l':
            if ((len = parse_i64(optarg)) <= 0)
                return cli_usage_error("get", "--length: need a positive byte count");
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("get", "bad option");
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2)
        return cli_usage_error("get", "need BUCKET/OBJ and optionally OUT");
    char *bck = NULL, *obj = NULL;
    int ret = cli_parse_name("get", argv[optind], &bck, &obj);
    if (ret != 0)
        return ret;
    char *out = NULL, *tmp = NULL;
    locus_client_t *c = NULL;
    int fd = -1;
    if (obj == NULL || obj[0] == '\0') {
        ret = cli_usage_error("get", "\"%s\": need an object name (BUCKET/OBJ)", argv[optind]);
        goto done;
    }
    locus_range_t range = {off < 0 ? 0 : off, len};
    bool ranged = off >= 0 || len >= 0;
    const char *base = strrchr(obj, '/');
    base = base != NULL && base[1] != '\0' ? base + 1 : obj;
    const char *dst = npos == 2 ? argv[optind + 1] : NULL;
    bool to_stdout = dst != NULL && strcmp(dst, "-") == 0;
    if (!to_stdout) {
        struct stat st;
        if (dst == NULL)
            out = xstrdup(base);
        else if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode))
            out = xasprintf("%s%s%s", dst, str_has_suffix(dst, "/") ? "" : "/", base);
        else
            out = xstrdup(dst);
        tmp = xasprintf("%s.locus-tmp-XXXXXX", out);
        fd = mkstemp(tmp);
        if (fd < 0) {
            ret = cli_fail("get", "%s: %s", out, strerror(errno));
            free(tmp);
            tmp = NULL;
            goto done;
        }
    }
    c = cli_client();
    if (c == NULL) {
        ret = CLI_EXIT_FAIL;
        goto done;
    }
    char err[LOCUS_ERR_LEN] = "";
    int64_t n = 0;
    int rc = locus_object_get_fd(c, bck, obj, ranged ? &range : NULL, to_stdout ? 1 : fd, &n, err);
    if (rc != 0) {
        char what[512];
        snprintf(what, sizeof(what), "get ais://%s/%s", bck, obj);
        ret = cli_fail(what, "%s", err);
        goto done;
    }
    if (!to_stdout) {
        mode_t um = umask(0);
        umask(um);
        if (fchmod(fd, 0666 & ~um) != 0 || close(fd) != 0) {
            fd = -1;
            ret = cli_fail("get", "%s: %s", tmp, strerror(errno));
            goto done;
        }
        fd = -1;
        if (rename(tmp, out) != 0) {
            ret = cli_fail("get", "rename to %s: %s", out, strerror(errno));
            goto done;
        }
        free(tmp);
        tmp = NULL;
        char sz[32];
        cli_human_size(n, sz, sizeof(sz));
        fprintf(stderr, "got ais://%s/%s => %s (%s)\n", bck, obj, out, sz);
    }
done:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    locus_client_destroy(c);
    free(out);
    free(bck);
    free(obj);
    return ret;
}
