/*
 * cmd_object.c - `locus object head BUCKET/OBJ`: the object's properties from HEAD; `locus
 * object append` (AIStore's append + flush), `locus object props set` (custom metadata) and
 * `locus object promote` (a target host's files become objects).
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus object head BUCKET/OBJ\n"
               "       locus object append BUCKET/OBJ [FILE|-]\n"
               "       locus object props set BUCKET/OBJ KEY=VALUE... [--replace]\n"
               "       locus object promote BUCKET SRC [--obj NAME|PREFIX] [--recursive]\n"
               "                            [--overwrite] [--delete-src] [--target ID] "
               "[--not-shared]\n"
               "\n"
               "head     the object's size and its Ais-* properties (checksum, version, atime,\n"
               "         location, custom metadata, ...)\n"
               "append   appends FILE (or stdin) to the object (created when missing), then\n"
               "         flushes: the object changes once, with the old bytes first\n"
               "props    set: merges KEY=VALUE pairs into the object's custom metadata\n"
               "         (--replace: they replace it all)\n"
               "promote  SRC, an absolute path of a file or directory on the targets' hosts\n"
               "         (under their config's promote_allowed), becomes objects: a file is\n"
               "         named --obj (default: its base name), a directory's files --obj +\n"
               "         their relative paths; --target: only that target's host\n");
}

/* The properties, one per line: the known ones first, then the other Ais-* headers. */
static void print_props(const char *bck, const char *obj, const locus_obj_props_t *p)
{
    char sz[32];
    cli_human_size(p->size, sz, sizeof(sz));
    printf("%-16s ais://%s/%s\n", "object", bck, obj);
    printf("%-16s %lld (%s)\n", "size", (long long)p->size, sz);
    if (p->checksum_type != NULL || p->checksum_value != NULL)
        printf("%-16s %s %s\n", "checksum", p->checksum_type ? p->checksum_type : "-",
               p->checksum_value ? p->checksum_value : "-");
    if (p->version != NULL)
        printf("%-16s %s\n", "version", p->version);
    if (p->atime_ns > 0) {
        time_t t = (time_t)(p->atime_ns / 1000000000);
        struct tm tm;
        char ts[64];
        localtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S %z", &tm);
        printf("%-16s %s\n", "atime", ts);
    }
    if (p->location != NULL)
        printf("%-16s %s\n", "location", p->location);
    if (p->custom_md != NULL && p->custom_md[0] != '\0')
        printf("%-16s %s\n", "custom", p->custom_md);
    /* The remaining Ais-* headers as received, lower-cased without the prefix. */
    static const char *shown[] = {"Ais-Checksum-Type", "Ais-Checksum-Value", "Ais-Version",
                                  "Ais-Atime",         "Ais-Location",       "Ais-Custom-Md",
                                  "Ais-Size"};
    for (size_t i = 0; i < p->nhdrs; i++) {
        bool skip = false;
        for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++)
            skip |= strcasecmp(p->hdrs[i].name, shown[k]) == 0;
        if (skip)
            continue;
        char key[64];
        snprintf(key, sizeof(key), "%s", p->hdrs[i].name + 4);
        for (char *k = key; *k; k++)
            *k = *k >= 'A' && *k <= 'Z' ? (char)(*k + 32) : *k == '-' ? '_' : *k;
        printf("%-16s %s\n", key, p->hdrs[i].value);
    }
}

static int object_head(int argc, char **argv)
{
    if (argc != 2)
        return cli_usage_error("object", "object head: need one BUCKET/OBJ");
    char *bck = NULL, *obj = NULL;
    int ret = cli_parse_name("object", argv[1], &bck, &obj);
    if (ret != 0)
        return ret;
    locus_client_t *c = NULL;
    locus_obj_props_t p = {0};
    char err[LOCUS_ERR_LEN] = "";
    if (obj == NULL || obj[0] == '\0')
        ret = cli_usage_error("object", "\"%s\": need an object name", argv[1]);
    else if ((c = cli_client()) == NULL)
        ret = CLI_EXIT_FAIL;
    else if (locus_object_head(c, bck, obj, &p, err) != 0) {
        char what[512];
        snprintf(what, sizeof(what), "object head ais://%s/%s", bck, obj);
        ret = cli_fail(what, "%s", err);
    } else {
        print_props(bck, obj, &p);
    }
    locus_obj_props_dispose(&p);
    locus_client_destroy(c);
    free(bck);
    free(obj);
    return ret;
}

/* The object operand BUCKET/OBJ into *bck, *obj (caller frees); 0 or the usage error. */
static int object_arg(const char *sub, const char *arg, char **bck, char **obj)
{
    int ret = cli_parse_name("object", arg, bck, obj);
    if (ret == 0 && (*obj == NULL || (*obj)[0] == '\0'))
        ret = cli_usage_error("object", "object %s: \"%s\": need an object name", sub, arg);
    if (ret != 0) {
        free(*bck);
        free(*obj);
        *bck = *obj = NULL;
    }
    return ret;
}

/* Appends what fd reads, chunk by chunk, then flushes. 0 or the exit code. */
static int append_fd(locus_client_t *c, const char *bck, const char *obj, int fd, int64_t *total)
{
    enum { CHUNK = 4 << 20 };
    char *buf = xmalloc(CHUNK), *handle = NULL, err[LOCUS_ERR_LEN] = "", what[300];
    snprintf(what, sizeof(what), "object append ais://%s/%s", bck, obj);
    int ret = 0;
    for (bool first = true;;) {
        size_t got = 0;
        ssize_t n = 0;
        while (got < CHUNK &&
               ((n = read(fd, buf + got, CHUNK - got)) > 0 || (n < 0 && errno == EINTR)))
            got += n > 0 ? (size_t)n : 0;
        if (n < 0) {
            ret = cli_fail(what, "read: %s", strerror(errno));
            break;
        }
        if (got == 0 && !first)
            break;
        char *next = NULL;
        if (locus_object_append(c, bck, obj, buf, got, handle, &next, err) != 0) {
            ret = cli_fail(what, "%s", err);
            break;
        }
        free(handle);
        handle = next;
        *total += (int64_t)got;
        first = false;
        if (got < CHUNK)
            break;
    }
    if (ret == 0 && locus_object_flush(c, bck, obj, handle, err) != 0)
        ret = cli_fail(what, "flush: %s", err);
    free(handle);
    free(buf);
    return ret;
}

static int object_append(int argc, char **argv)
{
    static const cli_cmd_t cmd = {"object", usage, 1, 2,
                                  "object append: need BUCKET/OBJ and at most one FILE"};
    int pos, ret = cli_options(&cmd, NULL, 0, argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *bck = NULL, *obj = NULL;
    if ((ret = object_arg("append", argv[pos], &bck, &obj)) != 0)
        return ret;
    const char *path = pos + 1 < argc ? argv[pos + 1] : "-";
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    locus_client_t *c = NULL;
    int64_t total = 0;
    if (fd < 0)
        ret = cli_fail("object append", "%s: %s", path, strerror(errno));
    else if ((c = cli_client()) == NULL)
        ret = CLI_EXIT_FAIL;
    else if ((ret = append_fd(c, bck, obj, fd, &total)) == 0)
        fprintf(stderr, "appended %lld bytes to ais://%s/%s\n", (long long)total, bck, obj);
    if (fd > 0)
        close(fd);
    locus_client_destroy(c);
    free(bck);
    free(obj);
    return ret;
}

static int object_props(int argc, char **argv)
{
    bool replace = false;
    const cli_opt_t opts[] = {CLI_FLAG("replace", &replace)};
    static const cli_cmd_t cmd = {"object", usage, 3, -1,
                                  "object props set: need BUCKET/OBJ and KEY=VALUE..."};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    if (strcmp(argv[pos], "set") != 0)
        return cli_usage_error("object", "object props: unknown action \"%s\" (set)", argv[pos]);
    char *bck = NULL, *obj = NULL;
    if ((ret = object_arg("props set", argv[pos + 1], &bck, &obj)) != 0)
        return ret;
    size_t n = (size_t)(argc - pos - 2);
    char **keys = xcalloc(n, sizeof(char *));
    const char **vals = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n && ret == 0; i++) {
        char *kv = argv[pos + 2 + (int)i], *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv)
            ret = cli_usage_error("object", "object props set: \"%s\" is not KEY=VALUE", kv);
        else {
            keys[i] = xasprintf("%.*s", (int)(eq - kv), kv);
            vals[i] = eq + 1;
        }
    }
    locus_client_t *c = NULL;
    char err[LOCUS_ERR_LEN] = "", what[300];
    snprintf(what, sizeof(what), "object props set ais://%s/%s", bck, obj);
    if (ret == 0 && (c = cli_client()) == NULL)
        ret = CLI_EXIT_FAIL;
    else if (ret == 0 && locus_object_set_custom(c, bck, obj, (const char *const *)keys, vals, n,
                                                 replace, err) != 0)
        ret = cli_fail(what, "%s", err);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(vals);
    locus_client_destroy(c);
    free(bck);
    free(obj);
    return ret;
}

static int object_promote(int argc, char **argv)
{
    locus_promote_opts_t po = {0};
    const cli_opt_t opts[] = {
        CLI_STR("obj", &po.obj),
        CLI_FLAG("recursive", &po.recursive),
        CLI_FLAG("overwrite", &po.overwrite),
        CLI_FLAG("delete-src", &po.delete_src),
        CLI_STR("target", &po.target),
        CLI_FLAG("not-shared", &po.not_shared),
    };
    static const cli_cmd_t cmd = {"object", usage, 2, 2, "object promote: need BUCKET and SRC"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    char *bck = NULL, *obj = NULL;
    if ((ret = cli_parse_name("object", argv[pos], &bck, &obj)) != 0)
        return ret;
    po.src = argv[pos + 1];
    locus_client_t *c = NULL;
    char err[LOCUS_ERR_LEN] = "", what[300];
    snprintf(what, sizeof(what), "object promote %s", po.src);
    if (obj != NULL && obj[0] != '\0')
        ret = cli_usage_error("object",
                              "object promote: \"%s\": need a bucket (the names come "
                              "from --obj)",
                              argv[pos]);
    else if ((c = cli_client()) == NULL)
        ret = CLI_EXIT_FAIL;
    else if (locus_object_promote(c, bck, &po, err) != 0)
        ret = cli_fail(what, "%s", err);
    locus_client_destroy(c);
    free(bck);
    free(obj);
    return ret;
}

int locus_cli_cmd_object(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"head", object_head},
                                     {"show", object_head},
                                     {"append", object_append},
                                     {"props", object_props},
                                     {"promote", object_promote}};
    return cli_dispatch("object", usage, subs, ARRAY_SIZE(subs), CLI_HELP_ANYWHERE, argc, argv);
}
