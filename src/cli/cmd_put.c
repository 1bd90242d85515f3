/*
 * cmd_put.c - `locus put FILE|DIR|- BUCKET[/NAME]`.
 *
 * DESIGN: a directory is walked first (regular files, symlinks to regular files; sorted by
 * path), then uploaded by a pool of --jobs threads, each with its own locus_client_t (one curl
 * handle and kept-alive connection per thread; clients are not thread-safe). Workers take the
 * next file index from an atomic counter. The main thread draws a progress bar on stderr every
 * 100 ms when stderr is a terminal; failures are printed as they happen (under out_lock, which
 * serializes everything written to stderr while workers run) and counted; a summary line ends
 * the run.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus put FILE BUCKET[/NAME]\n"
            "       locus put DIR BUCKET[/PREFIX] [--jobs N]\n"
            "       locus put - BUCKET/NAME\n"
            "\n"
            "Uploads a file as object NAME (default: the file's base name; a NAME ending in '/'\n"
            "gets the base name appended), a directory tree recursively with N concurrent\n"
            "uploads (default 8) as objects PREFIX/<relative path>, or standard input ('-').\n"
            "Shows a progress bar when stderr is a terminal, else prints a summary line.\n"
            "  -j, --jobs N        concurrent uploads for a directory (default 8)\n"
            "  -q, --quiet         no progress bar and no summary\n"
            "  --part-size SIZE    a FILE bigger than SIZE (e.g. 64MiB) goes up as a multipart\n"
            "                      upload in parts of SIZE (AIStore's mpt-upload)\n");
}

typedef struct {
    char *path; /* local path */
    char *name; /* object name */
    int64_t size;
} put_file_t;

static struct {
    put_file_t *v;
    size_t n, cap;
    size_t root_len;
    const char *prefix;
} walk;

static void add_file(const char *path, const char *name, int64_t size)
{
    if (walk.n == walk.cap) {
        walk.cap = walk.cap ? walk.cap * 2 : 64;
        walk.v = xrealloc(walk.v, walk.cap * sizeof(*walk.v));
    }
    walk.v[walk.n].path = xstrdup(path);
    walk.v[walk.n].name = xstrdup(name);
    walk.v[walk.n].size = size;
    walk.n++;
}

static int on_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    struct stat st = *sb;
    if (type == FTW_SL) {
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            return 0; /* dangling or not a file: skipped */
    } else if (type != FTW_F || !S_ISREG(st.st_mode)) {
        if (type == FTW_DNR)
            fprintf(stderr, "locus: put: %s: cannot read directory (skipped)\n", path);
        return 0;
    }
    const char *rel = path + walk.root_len;
    while (*rel == '/')
        rel++;
    char *name = xasprintf("%s%s", walk.prefix, rel);
    add_file(path, name, (int64_t)st.st_size);
    free(name);
    return 0;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const put_file_t *)a)->name, ((const put_file_t *)b)->name);
}

typedef struct {
    const char *bck;
    atomic_size_t next;
    atomic_size_t done_files;
    atomic_size_t failed;
    atomic_llong done_bytes;
    atomic_int running;       /* workers not yet finished */
    pthread_mutex_t out_lock; /* serializes stderr output (errors, progress bar) */
    bool tty;
    bool bar_drawn;
} pool_t;

static void clear_bar(pool_t *p)
{
    if (p->tty && p->bar_drawn) {
        fputs("\r\033[K", stderr);
        p->bar_drawn = false;
    }
}

static void *worker(void *arg)
{
    pool_t *p = arg;
    char err[LOCUS_ERR_LEN] = "";
    locus_client_t *c = NULL;
    if (locus_client_create(NULL, &c, err) != 0) {
        pthread_mutex_lock(&p->out_lock);
        clear_bar(p);
        fprintf(stderr, "locus: put: %s\n", err);
        pthread_mutex_unlock(&p->out_lock);
        atomic_fetch_sub(&p->running, 1);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= walk.n)
            break;
        put_file_t *f = &walk.v[i];
        err[0] = '\0';
        int rc = locus_object_put_file(c, p->bck, f->name, f->path, err);
        if (rc != 0) {
            atomic_fetch_add(&p->failed, 1);
            pthread_mutex_lock(&p->out_lock);
            clear_bar(p);
            fprintf(stderr, "locus: put %s: %s\n", f->path, err);
            pthread_mutex_unlock(&p->out_lock);
        } else {
            atomic_fetch_add(&p->done_bytes, f->size);
        }
        atomic_fetch_add(&p->done_files, 1);
    }
    locus_client_destroy(c);
    atomic_fetch_sub(&p->running, 1);
    return NULL;
}

static void draw_bar(pool_t *p, int64_t total_bytes, int64_t t0)
{
    size_t done = atomic_load(&p->done_files);
    int64_t bytes = atomic_load(&p->done_bytes);
    double frac = walk.n ? (double)done / (double)walk.n : 1.0;
    if (total_bytes > 0)
        frac = (double)bytes / (double)total_bytes;
    int width = 30, fill = (int)(frac * width + 0.5);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    char b1[32], b2[32], rate[32];
    cli_human_size(bytes, b1, sizeof(b1));
    cli_human_size(total_bytes, b2, sizeof(b2));
    double secs = (double)(time_mono_ns() - t0) / 1e9;
    cli_human_size(secs > 0 ? (int64_t)((double)bytes / secs) : 0, rate, sizeof(rate));
    fprintf(stderr, "\r\033[K[%s] %3.0f%%  %zu/%zu files  %s/%s  %s/s", bar, frac * 100, done,
            walk.n, b1, b2, rate);
    p->bar_drawn = true;
}

static int put_dir(const char *dir, const char *bck, const char *prefix, long jobs, bool quiet)
{
    char *pfx = prefix == NULL || prefix[0] == '\0' ? xstrdup("")
                : str_has_suffix(prefix, "/")       ? xstrdup(prefix)
                                                    : xasprintf("%s/", prefix);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *root = xstrndup(dir, dl);
    walk.root_len = strlen(root);
    walk.prefix = pfx;
    int ret = CLI_EXIT_OK;
    if (nftw(root, on_entry, 32, FTW_PHYS) != 0) {
        ret = cli_fail("put", "%s: %s", dir, strerror(errno));
        goto out;
    }
    if (walk.n == 0) {
        fprintf(stderr, "locus: put: %s: no files\n", dir);
        goto out;
    }
    /* One clear error instead of one per file when the bucket is missing or unreachable. */
    locus_client_t *c = cli_client();
    if (c == NULL) {
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    char err[LOCUS_ERR_LEN] = "";
    int hrc = locus_bucket_head(c, bck, NULL, err);
    locus_client_destroy(c);
    if (hrc != 0) {
        ret = cli_fail("put", "%s", err);
        goto out;
    }
    qsort(walk.v, walk.n, sizeof(*walk.v), cmp_file);
    int64_t total = 0;
    for (size_t i = 0; i < walk.n; i++)
        total += walk.v[i].size;

    pool_t p = {.bck = bck, .tty = !quiet && isatty(2)};
    atomic_init(&p.next, 0);
    atomic_init(&p.done_files, 0);
    atomic_init(&p.failed, 0);
    atomic_init(&p.done_bytes, 0);
    atomic_init(&p.running, 0);
    pthread_mutex_init(&p.out_lock, NULL);
    if (jobs > (long)walk.n)
        jobs = (long)walk.n;
    pthread_t *th = xcalloc((size_t)jobs, sizeof(pthread_t));
    int64_t t0 = time_mono_ns();
    long started = 0;
    for (long i = 0; i < jobs; i++) {
        atomic_fetch_add(&p.running, 1);
        if (pthread_create(&th[i], NULL, worker, &p) != 0) {
            atomic_fetch_sub(&p.running, 1);
            break;
        }
        started++;
    }
    if (started == 0) {
        free(th);
        ret = cli_fail("put", "cannot start threads");
        goto out;
    }
    while (atomic_load(&p.running) > 0) {
        if (p.tty) {
            pthread_mutex_lock(&p.out_lock);
            draw_bar(&p, total, t0);
            pthread_mutex_unlock(&p.out_lock);
        }
        sleep_ms(100);
    }
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    if (p.tty) {
        draw_bar(&p, total, t0);
        fputc('\n', stderr);
    }
    size_t failed = atomic_load(&p.failed);
    size_t done = atomic_load(&p.done_files);
    if (done < walk.n)
        failed += walk.n - done;
    double secs = (double)(time_mono_ns() - t0) / 1e9;
    int64_t bytes = atomic_load(&p.done_bytes);
    char sz[32], rate[32];
    cli_human_size(bytes, sz, sizeof(sz));
    cli_human_size(secs > 0 ? (int64_t)((double)bytes / secs) : 0, rate, sizeof(rate));
    if (!quiet)
        printf("put %zu object%s (%s) into ais://%s in %.2fs (%s/s)\n", walk.n - failed,
               walk.n - failed == 1 ? "" : "s", sz, bck, secs, rate);
    if (failed > 0)
        ret = cli_fail("put", "%zu of %zu files failed", failed, walk.n);
    pthread_mutex_destroy(&p.out_lock);
out:
    for (size_t i = 0; i < walk.n; i++) {
        free(walk.v[i].path);
        free(walk.v[i].name);
    }
    free(walk.v);
    free(root);
    free(pfx);
    return ret;
}

/* Standard input, spooled to an unlinked temp file first: a PUT needs its length up front and
 * must be able to re-send the body after the proxy's redirect. */
static int put_stdin(const char *bck, const char *name, bool quiet)
{
    const char *tmpdir = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/locus-put-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        int e = errno;
        free(tmpl);
        return cli_fail("put", "temp file: %s", strerror(e));
    }
    unlink(tmpl);
    free(tmpl);
    char buf[65536];
    int64_t total = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return cli_fail("put", "reading stdin: %s", strerror(errno));
        }
        if (n == 0)
            break;
        int rc = write_all(fd, buf, (size_t)n);
        if (rc != 0) {
            close(fd);
            return cli_fail("put", "temp file: %s", strerror(-rc));
        }
        total += n;
    }
    locus_client_t *c = cli_client();
    if (c == NULL) {
        close(fd);
        return CLI_EXIT_FAIL;
    }
    char err[LOCUS_ERR_LEN] = "";
    int ret = CLI_EXIT_OK;
    if (locus_object_put_fd(c, bck, name, fd, 0, total, err) != 0) {
        char what[512];
        snprintf(what, sizeof(what), "put ais://%s/%s", bck, name);
        ret = cli_fail(what, "%s", err);
    } else if (!quiet) {
        char sz[32];
        cli_human_size(total, sz, sizeof(sz));
        printf("put - => ais://%s/%s (%s)\n", bck, name, sz);
    }
    locus_client_destroy(c);
    close(fd);
    return ret;
}

/* A file as a multipart upload in parts of psize bytes. 0 or a LOCUS_E* code with err. */
static int put_multipart(locus_client_t *c, const char *bck, const char *name, const char *path,
                         int64_t psize, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, LOCUS_ERR_LEN, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LOCUS_EINVAL;
    }
    int rc = locus_object_put_multipart(c, bck, name, fd, st.st_size, psize, err);
    close(fd);
    return rc;
}

int locus_cli_cmd_put(int argc, char **argv)
{
    int64_t jobs = 8;
    bool quiet = false;
    const char *part_size = NULL;
    cli_opt_t opts[] = {
        CLI_INT("jobs", &jobs, 1, 256, "--jobs: need a number from 1 to 256"),
        CLI_FLAG("quiet", &quiet),
        CLI_STR("part-size", &part_size),
    };
    opts[0].short_name = 'j';
    opts[1].short_name = 'q';
    static const cli_cmd_t cmd = {"put", usage, 2, 2,
                                  "need a source (FILE, DIR or -) and a destination BUCKET"};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    const char *src = argv[pos];
    int64_t psize = part_size ? size_parse(part_size) : 0;
    if (psize < 0 || (part_size && psize == 0))
        return cli_usage_error("put", "--part-size: need a size such as 64MiB");
    char *bck = NULL, *obj = NULL;
    ret = cli_parse_name("put", argv[pos + 1], &bck, &obj);
    if (ret != 0)
        return ret;
    if (strcmp(src, "-") == 0) {
        if (obj == NULL || obj[0] == '\0' || str_has_suffix(obj, "/"))
            ret = cli_usage_error("put", "put -: need an object name (BUCKET/NAME)");
        else
            ret = put_stdin(bck, obj, quiet);
        goto out;
    }
    struct stat st;
    if (stat(src, &st) != 0) {
        ret = cli_fail("put", "%s: %s", src, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        ret = put_dir(src, bck, obj, (long)jobs, quiet);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = cli_fail("put", "%s: not a regular file or directory", src);
        goto out;
    }
    const char *base = strrchr(src, '/');
    base = base != NULL ? base + 1 : src;
    char *name = obj == NULL || obj[0] == '\0' ? xstrdup(base)
                 : str_has_suffix(obj, "/")    ? xasprintf("%s%s", obj, base)
                                               : xstrdup(obj);
    locus_client_t *c = cli_client();
    if (c == NULL) {
        free(name);
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    char err[LOCUS_ERR_LEN] = "";
    if ((psize > 0 && st.st_size > psize ? put_multipart(c, bck, name, src, psize, err)
                                         : locus_object_put_file(c, bck, name, src, err)) != 0) {
        char what[512];
        snprintf(what, sizeof(what), "put %s", src);
        ret = cli_fail(what, "%s", err);
    } else if (!quiet) {
        char sz[32];
        cli_human_size((int64_t)st.st_size, sz, sizeof(sz));
        printf("put %s => ais://%s/%s (%s)\n", src, bck, name, sz);
    }
    locus_client_destroy(c);
    free(name);
out:
    free(bck);
    free(obj);
    return ret;
}
