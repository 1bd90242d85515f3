/*
 * cli_util.c - helpers shared by the CLI commands (see cli.h).
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

int cli_fail(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "locus: %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "locus: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'locus %s --help'.\n", cmd);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

locus_client_t *cli_client(void)
{
    char err[LOCUS_ERR_LEN] = "";
    locus_client_t *c = NULL;
    if (locus_client_create(NULL, &c, err) != 0) {
        cli_fail("endpoint", "%s", err);
        return NULL;
    }
    return c;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

void cli_human_size(int64_t n, char *out, size_t outlen)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) {
        snprintf(out, outlen, "%lld B", (long long)n);
        return;
    }
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(out, outlen, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

int64_t cli_parse_duration(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return -1;
    int64_t ns = duration_parse_ns(s);
    /* Waits end at now + the duration: keep that sum inside int64 (this allows 146 years). */
    return ns > INT64_MAX / 2 ? -1 : ns;
}

int cli_parse_name(const char *cmd, const char *arg, char **bck, char **obj)
{
    char err[LOCUS_ERR_LEN] = "";
    if (locus_parse_name(arg, bck, obj, err) != 0)
        return cli_usage_error(cmd, "%s", err);
    return 0;
}

/* Display width of one code point: 2 for the East Asian wide ranges, else 1. */
static int cp_width(uint32_t cp)
{
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

int cli_str_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            cp = *p, n = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F, n = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F, n = 3;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07, n = 4;
        } else {
            w++, p++; /* invalid byte: one column */
            continue;
        }
        int i = 1;
        for (; i < n && (p[i] & 0xC0) == 0x80; i++)
            cp = (cp << 6) | (p[i] & 0x3F);
        w += i == n ? cp_width(cp) : 1;
        p += i;
    }
    return w;
}

void cli_fprint_cell(FILE *f, const char *s, int width, bool right)
{
    int pad = width - cli_str_width(s);
    if (right)
        for (int i = 0; i < pad; i++)
            fputc(' ', f);
    fputs(s, f);
    if (!right)
        for (int i = 0; i < pad; i++)
            fputc(' ', f);
}

char *cli_one_line(const char *s)
{
    char *o = xstrdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return o;
}

int cli_fail_line(const char *what, const char *err)
{
    char *m = cli_one_line(err);
    int rc = cli_fail(what, "%s", m);
    free(m);
    return rc;
}

int cli_list_buckets(const char *what, bool as_json)
{
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "";
    char **names = NULL;
    size_t n = 0;
    int ret = CLI_EXIT_OK;
    if (locus_bucket_list(c, &names, &n, err) != 0)
        ret = cli_fail(what, "%s", err);
    else if (as_json) {
        json_t *a = json_array(); /* AIStore's bucket list: [{"name","provider"}] */
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:s, s:s}", "name", names[i], "provider", "ais"));
        char *t = json_dumps(a, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
        json_decref(a);
    } else
        for (size_t i = 0; i < n; i++)
            printf("ais://%s\n", names[i]);
    locus_strv_free(names, n);
    locus_client_destroy(c);
    return ret;
}

int cli_download(const char *what, const char *path, cli_fetch_fn fetch, void *arg)
{
    if (strcmp(path, "-") == 0)
        return fetch(1, arg);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (/dev/null, /dev/stdout, a FIFO): written in place, never replaced
         * by a renamed file, which would turn /dev/null into a regular file for the whole host */
        if (S_ISDIR(st.st_mode))
            return cli_fail(what, "%s is a directory", path);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return cli_fail(what, "%s: %s", path, strerror(errno));
        int ret = fetch(fd, arg);
        if (close(fd) != 0 && ret == 0)
            ret = cli_fail(what, "%s: %s", path, strerror(errno));
        return ret;
    }
    char *tmp = xasprintf("%s.locus-tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return cli_fail(what, "%s: %s", path, strerror(errno));
    }
    int ret = fetch(fd, arg);
    if (ret == 0) {
        /* mkstemp makes the file 0600; a finished download gets the usual 0666 & ~umask. */
        mode_t um = umask(0);
        umask(um);
        int e = fchmod(fd, 0666 & ~um) != 0 ? errno : 0;
        if (close(fd) != 0 && e == 0)
            e = errno;
        fd = -1;
        if (e != 0)
            ret = cli_fail(what, "%s: %s", tmp, strerror(e));
        else if (rename(tmp, path) != 0)
            ret = cli_fail(what, "rename to %s: %s", path, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    if (ret != 0)
        unlink(tmp);
    free(tmp);
    return ret;
}
