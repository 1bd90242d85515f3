/*
 * etlffmpeg.c - `locus-bench etl-ffmpeg`: the seed's experiment (docs/benchmarks.md) on one
 * cluster and one generated LibriSpeech-like dataset, side by side in one run:
 *
 *   1. client-side baseline: list the source bucket, then T threads GET -> convert in-process
 *      (transformers/ffmpeg/convert.c, the transformer's own code) -> PUT <name>.wav; and the
 *      reference's fork/exec variant (one `ffmpeg -i pipe:0 ... pipe:1` per object) when the
 *      binary exists, within a time budget and extrapolated linearly when it does not finish;
 *   2. in-cluster: comm hpush|hpull|ws x FQN on/off x direct put on/off (ws only with direct put)
 *      with the FFmpeg ETL, each an etl-bck job into a fresh destination with ext {"flac":"wav"},
 *      timed by the job's own earliest start to latest end over the targets' qryxstats;
 *   3. the bare compute limit: the same conversion of the same files read straight from the
 *      targets' mountpaths (<mp>/@ais/<bck>/%ob/...), all cores, output discarded.
 *
 * Every run is verified as the reference does: destination count == source count; for 20 WAVs
 * spread over the dataset channels == AC, rate == AR, duration within 0.05 s of the source
 * (FLAC STREAMINFO of the local file). Then a table (config, s, files/s, MB/s in/out, speedup
 * vs baseline, efficiency vs the bare limit), optional markdown, CSV and PNG (plotted by
 * scripts/plot_bench.py with matplotlib's Agg backend).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <locus/client.h>

#include "../transformers/ffmpeg/ffmpeg.h"
#include "bench.h"
#include "opts.h"

extern char **environ;

#define NSAMPLE 20
#define JOB_TIMEOUT_S 3600
#define FFMPEG_BIN "/usr/bin/ffmpeg"
/* bare-limit-start, client, client-ffmpeg-cli, the 10 ETL cells of the matrix, bare-limit-end,
 * bare-store-1/-2, bare-store-net: 17; cell_add() refuses more */
#define MAXCELLS 24

typedef struct {
    char *name; /* object name = path relative to the dataset dir */
    char *path; /* local file */
    size_t size;
    bool audio; /* .flac: converted; else passed through */
    double dur; /* source duration (s), audio only */
} fitem_t;

/* K_BARE_STORE: the bare limit that also writes its outputs (what any conversion must do);
 * K_BARE_NET: and each output first crosses a loopback TCP connection to a receiver that
 * checksums it (XXH64) as it writes it (what a store does whose outputs live on other nodes) */
typedef enum { K_CLIENT, K_FORK, K_ETL, K_BARE, K_BARE_STORE, K_BARE_NET } kind_t;

typedef struct {
    kind_t kind;
    const char *comm;
    bool fqn, dp;
    char label[48];
    bool ran, ok, extrapolated;
    char note[400];
    double secs;
    long files_done;            /* files actually processed (fork: maybe a subset) */
    double in_bytes, out_bytes; /* over the whole dataset (extrapolated for fork) */
    long etl_rss_kb;            /* ETL cells: the largest peak RSS (VmHWM) of its servers */
    long etl_idle_kb;           /* ... and the largest right after init, before the job */
    int etl_servers;
    /* CPU per processed file, ms (-1 = not measured): the bench process and the children it
     * waited for (client conversions, fork/exec ffmpeg, bare loops), and the cluster (every
     * locusd and ETL server): the inputs of the scale model (docs/benchmarks.md) */
    double self_ms, srv_ms;
} cell_t;

typedef struct {
    bench_run_t run; /* first: bench_main fills it */
    /* options */
    long nfiles;
    int threads, workers, targets, ac, ar;
    const char *configs, *md, *png, *endpoint_opt;
    bool quick;
    double fork_budget, settle;

    /* state */
    char *endpoint, *datadir;
    char src[64];
    bench_smap_t smap;
    locus_client_t *cl;
    fitem_t *f;
    long nf, naudio;
    double src_bytes;
    cell_t cells[MAXCELLS];
    int ncells, ndst;
} ffb_t;

/* ------------------------------------------------------------------------------------------ */
/* dataset */

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* `x.flac` -> `x.wav` (caller frees); other names unchanged. */
static char *dst_name(const char *name)
{
    if (has_suffix(name, ".flac"))
        return xasprintf("%.*s.wav", (int)(strlen(name) - 5), name);
    return xstrdup(name);
}

/* Duration of a FLAC file from its STREAMINFO block; < 0 if unreadable. */
static double flac_duration(const uint8_t *p, size_t n)
{
    if (n < 42 || memcmp(p, "fLaC", 4) != 0 || (p[4] & 0x7f) != 0)
        return -1;
    const uint8_t *s = p + 8; /* STREAMINFO body */
    uint32_t rate = ((uint32_t)s[10] << 12) | ((uint32_t)s[11] << 4) | (s[12] >> 4);
    uint64_t total = ((uint64_t)(s[13] & 0x0f) << 32) | ((uint64_t)s[14] << 24) |
                     ((uint64_t)s[15] << 16) | ((uint64_t)s[16] << 8) | s[17];
    return rate > 0 ? (double)total / rate : -1;
}

/* Channels, rate and duration of a 16-bit PCM WAV. The data size comes from the header, capped
 * by the bytes present (ffmpeg writing into a pipe leaves 0xFFFFFFFF there). 0 or -1. */
static int wav_info(const uint8_t *p, size_t n, int *ch, int *rate, double *dur)
{
    if (n < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return -1;
    size_t off = 12;
    int bits = 0;
    *ch = *rate = 0;
    while (off + 8 <= n) {
        uint32_t csz = (uint32_t)p[off + 4] | ((uint32_t)p[off + 5] << 8) |
                       ((uint32_t)p[off + 6] << 16) | ((uint32_t)p[off + 7] << 24);
        const uint8_t *c = p + off + 8;
        if (memcmp(p + off, "fmt ", 4) == 0 && off + 8 + 16 <= n) {
            *ch = c[2] | (c[3] << 8);
            *rate = (int)((uint32_t)c[4] | ((uint32_t)c[5] << 8) | ((uint32_t)c[6] << 16) |
                          ((uint32_t)c[7] << 24));
            bits = c[14] | (c[15] << 8);
        } else if (memcmp(p + off, "data", 4) == 0) {
            size_t avail = n - off - 8;
            size_t dsz = csz < avail ? csz : avail;
            if (*ch <= 0 || *rate <= 0 || bits != 16)
                return -1;
            *dur = (double)dsz / ((double)*ch * 2.0 * *rate);
            return 0;
        }
        off += 8 + (size_t)csz + (csz & 1);
    }
    return -1;
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const fitem_t *)a)->name, ((const fitem_t *)b)->name);
}

static void scan_dir(ffb_t *b, const char *dir, const char *rel, size_t *cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        char *r = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            scan_dir(b, p, r, cap);
            free(p);
            free(r);
        } else if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if ((size_t)b->nf == *cap) {
                *cap = *cap ? *cap * 2 : 256;
                b->f = xrealloc(b->f, *cap * sizeof(*b->f));
            }
            fitem_t *it = &b->f[b->nf++];
            memset(it, 0, sizeof(*it));
            it->name = r;
            it->path = p;
            it->size = (size_t)st.st_size;
            it->audio = has_suffix(r, ".flac");
        } else {
            free(p);
            free(r);
        }
    }
    closedir(d);
}

static int load_dataset(ffb_t *b, char *err, size_t errlen)
{
    size_t cap = 0;
    scan_dir(b, b->datadir, "", &cap);
    if (b->nf == 0) {
        snprintf(err, errlen, "no files in %s", b->datadir);
        return -1;
    }
    qsort(b->f, (size_t)b->nf, sizeof(*b->f), cmp_item);
    for (long i = 0; i < b->nf; i++) {
        fitem_t *it = &b->f[i];
        b->src_bytes += (double)it->size;
        if (!it->audio)
            continue;
        b->naudio++;
        char *data = NULL;
        size_t len = 0;
        if (read_file(it->path, &data, &len) != 0 ||
            (it->dur = flac_duration((uint8_t *)data, len)) < 0) {
            snprintf(err, errlen, "%s: not a readable FLAC", it->path);
            free(data);
            return -1;
        }
        free(data);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* a pool of threads over the file list */

typedef struct pool_s pool_t;
typedef int (*item_fn)(pool_t *p, locus_client_t *cl, long i, char *err, size_t errlen);

struct pool_s {
    ffb_t *b;
    item_fn fn;
    const char *dst;
    long *order; /* indices into b->f (NULL = 0..n-1) */
    long n;
    int64_t deadline; /* mono ns; 0 = none */
    atomic_long next, done, failed;
    atomic_llong out_bytes;
    char err[400];
    pthread_mutex_t lock;
};

static void *pool_main(void *arg)
{
    pool_t *p = arg;
    locus_client_t *cl = NULL;
    char e[LOCUS_ERR_LEN];
    if (p->b->endpoint != NULL && locus_client_create(p->b->endpoint, &cl, e) != 0) {
        atomic_fetch_add(&p->failed, 1);
        return NULL;
    }
    if (cl != NULL)
        locus_client_set_timeouts(cl, 5000, 120000);
    long k;
    while (!bench_stop && (p->deadline == 0 || time_mono_ns() < p->deadline) &&
           (k = atomic_fetch_add(&p->next, 1)) < p->n) {
        long i = p->order != NULL ? p->order[k] : k;
        char err[400] = "";
        if (p->fn(p, cl, i, err, sizeof(err)) != 0) {
            atomic_fetch_add(&p->failed, 1);
            pthread_mutex_lock(&p->lock);
            if (p->err[0] == '\0')
                snprintf(p->err, sizeof(p->err), "%s", err);
            pthread_mutex_unlock(&p->lock);
        } else {
            atomic_fetch_add(&p->done, 1);
        }
    }
    locus_client_destroy(cl);
    return NULL;
}

/* Runs fn over n items with `threads` threads. Returns the wall seconds. */
static double pool_run(pool_t *p, int threads)
{
    atomic_init(&p->next, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->failed, 0);
    atomic_init(&p->out_bytes, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_t *th = xcalloc((size_t)threads, sizeof(*th));
    int64_t t0 = time_mono_ns();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, pool_main, p) != 0)
            locus_panic("pthread_create failed");
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(time_mono_ns() - t0) / 1e9;
    pthread_mutex_destroy(&p->lock);
    free(th);
    return secs;
}

/* ------------------------------------------------------------------------------------------ */
/* conversions */

/* The reference's way: one ffmpeg process per object, bytes through pipes. */
static int fork_convert(const uint8_t *in, size_t inlen, int ac, int ar, buf_t *out, char *err,
                        size_t errlen)
{
    int pin[2], pout[2];
    if (pipe2(pin, O_CLOEXEC) != 0)
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if (pipe2(pout, O_CLOEXEC) != 0) {
        close(pin[0]);
        close(pin[1]);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    char acs[16], ars[16];
    snprintf(acs, sizeof(acs), "%d", ac);
    snprintf(ars, sizeof(ars), "%d", ar);
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error",     "-i", "pipe:0", "-ac",    acs,
                    "-ar",    ars,        "-c:a",      "pcm_s16le", "-f", "wav",    "pipe:1", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, FFMPEG_BIN, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pin[0]);
    close(pout[1]);
    if (rc != 0) {
        close(pin[1]);
        close(pout[0]);
        return snprintf(err, errlen, "spawn %s: %s", FFMPEG_BIN, strerror(rc)), -1;
    }
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    size_t woff = 0;
    int wfd = pin[1];
    if (inlen == 0) {
        close(wfd);
        wfd = -1;
    }
    char tmp[65536];
    bool rdone = false, ioerr = false;
    while (!rdone) {
        struct pollfd fds[2] = {{pout[0], POLLIN, 0}, {wfd, POLLOUT, 0}};
        if (poll(fds, wfd >= 0 ? 2 : 1, 60000) <= 0) {
            ioerr = true;
            break;
        }
        if (wfd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(wfd, in + woff, inlen - woff);
            if (w > 0)
                woff += (size_t)w;
            if ((w < 0 && errno != EAGAIN) || woff == inlen) {
                close(wfd);
                wfd = -1;
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(pout[0], tmp, sizeof(tmp));
            if (r > 0)
                buf_append(out, tmp, (size_t)r);
            else if (r == 0)
                rdone = true;
            else if (errno != EINTR && errno != EAGAIN) {
                ioerr = true;
                break;
            }
        }
    }
    if (wfd >= 0)
        close(wfd);
    close(pout[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (ioerr || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return snprintf(err, errlen, "ffmpeg failed (status %d)", status), -1;
    return 0;
}

/* Client-side item: GET, convert (in-process or fork/exec), PUT .wav; other files go as they
 * are (the reference passes them through). */
static int client_item(pool_t *p, locus_client_t *cl, long i, bool fork_mode, char *err,
                       size_t errlen)
{
    ffb_t *b = p->b;
    const fitem_t *it = &b->f[i];
    char e[LOCUS_ERR_LEN] = "";
    char *data = NULL;
    size_t len = 0;
    if (locus_object_get_buf(cl, b->src, it->name, NULL, &data, &len, e) != 0)
        return snprintf(err, errlen, "GET %s/%s: %s", b->src, it->name, e), -1;
    int rc = 0;
    char *name = dst_name(it->name);
    const void *outp = data;
    size_t outlen = len;
    uint8_t *conv = NULL;
    buf_t fb;
    buf_init(&fb);
    if (it->audio) {
        if (fork_mode) {
            rc = fork_convert((uint8_t *)data, len, b->ac, b->ar, &fb, err, errlen);
            outp = fb.base;
            outlen = fb.len;
        } else {
            rc = ffx_convert(data, len, b->ac, b->ar, &conv, &outlen, err, errlen);
            outp = conv;
        }
    }
    if (rc == 0) {
        if (locus_object_put_buf(cl, p->dst, name, outp, outlen, e) != 0) {
            snprintf(err, errlen, "PUT %s/%s: %s", p->dst, name, e);
            rc = -1;
        } else {
            atomic_fetch_add(&p->out_bytes, (long long)outlen);
        }
    }
    buf_dispose(&fb);
    free(conv);
    free(name);
    free(data);
    return rc;
}

static int client_inproc(pool_t *p, locus_client_t *cl, long i, char *err, size_t errlen)
{
    return client_item(p, cl, i, false, err, errlen);
}

static int client_fork(pool_t *p, locus_client_t *cl, long i, char *err, size_t errlen)
{
    return client_item(p, cl, i, true, err, errlen);
}

static int upload_item(pool_t *p, locus_client_t *cl, long i, char *err, size_t errlen)
{
    char e[LOCUS_ERR_LEN] = "";
    const fitem_t *it = &p->b->f[i];
    if (locus_object_put_file(cl, p->b->src, it->name, it->path, e) != 0)
        return snprintf(err, errlen, "PUT %s: %s", it->name, e), -1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* verification (the reference's): counts; 20 WAVs: channels, rate, duration +- 0.05 s */

static int check_wav(const ffb_t *b, const fitem_t *it, const uint8_t *p, size_t n, char *err,
                     size_t errlen)
{
    int ch = 0, rate = 0;
    double dur = 0;
    if (wav_info(p, n, &ch, &rate, &dur) != 0)
        return snprintf(err, errlen, "%s: not a 16-bit PCM WAV (%zu bytes)", it->name, n), -1;
    if (ch != b->ac || rate != b->ar || dur < it->dur - 0.05 || dur > it->dur + 0.05)
        return snprintf(err, errlen, "%s: %d ch, %d Hz, %.3f s (want %d ch, %d Hz, %.3f s)",
                        it->name, ch, rate, dur, b->ac, b->ar, it->dur),
               -1;
    return 0;
}

/* The NSAMPLE audio items to check, spread over the dataset (among the first `limit` of
 * order[] when order is given). */
static long sample_item(const ffb_t *b, const long *order, long limit, int k)
{
    long n = order != NULL ? limit : b->nf;
    long seen = 0, want = (long)((double)k * (double)b->naudio / NSAMPLE);
    if (order != NULL) { /* subset: the k-th audio item among the processed ones */
        long na = 0;
        for (long j = 0; j < n; j++)
            na += b->f[order[j]].audio;
        want = na > 0 ? (long)((double)k * (double)na / NSAMPLE) : 0;
    }
    for (long j = 0; j < n; j++) {
        long i = order != NULL ? order[j] : j;
        if (!b->f[i].audio)
            continue;
        if (seen++ == want)
            return i;
    }
    return -1;
}

static void add_bytes(int64_t size, void *arg)
{
    *(double *)arg += (double)size;
}

/* Lists dst: count and total bytes; then GETs and checks the sample WAVs. `expect` objects. */
static int verify_bucket(ffb_t *b, const char *dst, long expect, const long *order, long limit,
                         double *out_bytes, char *err, size_t errlen)
{
    double bytes = 0;
    long n = bench_bucket_sizes(b->cl, dst, add_bytes, &bytes, err, errlen);
    if (n < 0)
        return -1;
    char e[LOCUS_ERR_LEN] = "";
    if (n != expect)
        return snprintf(err, errlen, "destination %s lists %ld objects, expected %ld", dst, n,
                        expect),
               -1;
    *out_bytes = bytes;
    long last = -1;
    for (int k = 0; k < NSAMPLE; k++) {
        long i = sample_item(b, order, limit, k);
        if (i < 0 || i == last)
            continue;
        last = i;
        char *name = dst_name(b->f[i].name);
        char *data = NULL;
        size_t len = 0;
        int rc = locus_object_get_buf(b->cl, dst, name, NULL, &data, &len, e);
        if (rc != 0)
            snprintf(err, errlen, "GET %s/%s: %s", dst, name, e);
        else
            rc = check_wav(b, &b->f[i], (uint8_t *)data, len, err, errlen);
        free(data);
        free(name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* cells */

static cell_t *cell_add(ffb_t *b, kind_t kind, const char *comm, bool fqn, bool dp)
{
    if (b->ncells == MAXCELLS)
        locus_panic("etl-ffmpeg: more than %d rows", MAXCELLS);
    cell_t *c = &b->cells[b->ncells++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->comm = comm;
    c->fqn = fqn;
    c->dp = dp;
    switch (kind) {
    case K_CLIENT:
        snprintf(c->label, sizeof(c->label), "client");
        break;
    case K_FORK:
        snprintf(c->label, sizeof(c->label), "client-ffmpeg-cli");
        break;
    case K_BARE:
        snprintf(c->label, sizeof(c->label), "bare-limit-%s", comm);
        break;
    case K_BARE_STORE:
        snprintf(c->label, sizeof(c->label), "bare-store-%s", comm);
        break;
    case K_BARE_NET:
        snprintf(c->label, sizeof(c->label), "bare-store-net");
        break;
    case K_ETL:
        snprintf(c->label, sizeof(c->label), "%s%s%s", comm, fqn ? "-fqn" : "", dp ? "-dp" : "");
        break;
    }
    return c;
}

/* files/s over the whole dataset (an extrapolated cell's secs are for the whole dataset too) */
static void print_progress(const ffb_t *b, const cell_t *c)
{
    if (!c->ok)
        fprintf(stderr, "  %-18s %s\n", c->label, c->note);
    else
        fprintf(stderr, "  %-18s %8.2f s %8.1f files/s%s%s%s\n", c->label, c->secs,
                c->secs > 0 ? (double)b->nf / c->secs : 0, c->note[0] ? "  (" : "", c->note,
                c->note[0] ? ")" : "");
}

/* Waits --settle seconds before a timed row starts. On a VM whose host takes back free guest
 * memory, memory freed moments ago (the previous row's outputs, deleted) is several times cheaper
 * to fill than memory freed seconds ago: writing the same 2 GiB took 0.26 s right after a free
 * and 1.1-1.4 s three or more seconds after it (docs/benchmarks.md). Without the wait a row that
 * starts right after a free (the second bare-store pass) runs on cheap memory that a row starting
 * seconds later (an ETL cell, after its ETL's start) never gets. */
static void settle(const ffb_t *b)
{
    for (double left = b->settle; left > 0 && !bench_stop; left -= 0.1)
        sleep_ms(left < 0.1 ? (int)(left * 1000) : 100);
}

static void run_client(ffb_t *b, cell_t *c)
{
    char dst[64], err[512] = "", e[LOCUS_ERR_LEN] = "";
    snprintf(dst, sizeof(dst), "ffdst-%d-%03d", (int)getpid() % 100000, ++b->ndst);
    c->ran = true;
    if (bench_bucket_create(b->endpoint, dst, err, sizeof(err)) != 0) {
        snprintf(c->note, sizeof(c->note), "FAILED: %.370s", err);
        return;
    }
    bool fork_mode = c->kind == K_FORK;
    pool_t p = {.b = b, .fn = fork_mode ? client_fork : client_inproc, .dst = dst};
    settle(b);
    int64_t t0 = time_mono_ns();
    /* list the source first, as the reference client does */
    long listed = 0;
    char *token = NULL;
    long *order = xcalloc((size_t)b->nf, sizeof(long));
    for (;;) {
        locus_lso_opts_t o = {.props = "name,size", .continuation_token = token};
        locus_lso_page_t page;
        int rc = locus_object_list_page(b->cl, b->src, &o, &page, e);
        free(token);
        token = NULL;
        if (rc != 0) {
            locus_lso_page_dispose(&page);
            snprintf(c->note, sizeof(c->note), "FAILED: list %s: %.300s", b->src, e);
            goto out;
        }
        for (size_t i = 0; i < page.n; i++) {
            fitem_t key = {.name = page.entries[i].name};
            fitem_t *hit = bsearch(&key, b->f, (size_t)b->nf, sizeof(*b->f), cmp_item);
            if (hit != NULL && listed < b->nf)
                order[listed++] = hit - b->f;
        }
        if (page.continuation_token != NULL && page.continuation_token[0] != '\0')
            token = xstrdup(page.continuation_token);
        locus_lso_page_dispose(&page);
        if (token == NULL)
            break;
    }
    if (listed != b->nf) {
        snprintf(c->note, sizeof(c->note), "FAILED: the source lists %ld of %ld files", listed,
                 b->nf);
        goto out;
    }
    p.order = order;
    p.n = listed;
    if (fork_mode && b->fork_budget > 0)
        p.deadline = t0 + (int64_t)(b->fork_budget * 1e9);
    pool_run(&p, b->threads);
    c->secs = (double)(time_mono_ns() - t0) / 1e9;
    long done = atomic_load(&p.done);
    if (atomic_load(&p.failed) > 0 || bench_stop) {
        snprintf(c->note, sizeof(c->note), "FAILED: %ld errors; first: %.300s",
                 (long)atomic_load(&p.failed), bench_stop ? "interrupted" : p.err);
        goto out;
    }
    c->files_done = done;
    /* which files were done: with a deadline, the first `done` of order[] were claimed and
     * finished (claims stop at the deadline; every claimed item finishes) */
    double out_bytes = 0;
    if (verify_bucket(b, dst, done, order, done, &out_bytes, err, sizeof(err)) != 0) {
        snprintf(c->note, sizeof(c->note), "FAILED: %.370s", err);
        goto out;
    }
    double in_bytes = 0;
    for (long j = 0; j < done; j++)
        in_bytes += (double)b->f[order[j]].size;
    if (done < b->nf) {
        double scale = (double)b->nf / (double)done;
        c->secs *= scale;
        c->extrapolated = true;
        snprintf(c->note, sizeof(c->note),
                 "extrapolated: %ld of %ld files in the %.0f s budget, scaled linearly", done,
                 b->nf, b->fork_budget);
        in_bytes *= scale;
        out_bytes *= scale;
    }
    c->in_bytes = in_bytes;
    c->out_bytes = out_bytes;
    c->ok = true;
out:
    free(token);
    free(order);
    bench_bucket_destroy(b->endpoint, dst);
    bench_bucket_settle(b->run.cluster_dir, dst);
}

/* --- in-cluster --- */

static char *etl_init_json(const ffb_t *b, const cell_t *c, const char *name)
{
    char acs[16], ars[16], comm[32];
    snprintf(acs, sizeof(acs), "%d", b->ac);
    snprintf(ars, sizeof(ars), "%d", b->ar);
    snprintf(comm, sizeof(comm), "%s://", c->comm);
    json_t *rt = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "image",
                           "aistorage/transformer_ffmpeg:latest", "env", "name", "AR", "value", ars,
                           "name", "AC", "value", acs);
    json_t *m = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "name", name, "communication",
                          comm, "argument", c->fqn ? "fqn" : "", "support_direct_put", (int)c->dp,
                          "init_timeout", "60s", "obj_timeout", "45s", "runtime", rt);
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return s;
}

/* The largest VmHWM (KiB) of this ETL's server processes (found by the AIS_TARGET_URL the
 * targets put in their environment) and how many there are. */
/* The pids of the ETL servers of `etl` (every ETL when NULL): their environment holds the
 * target's object URL for them. At most max; their count. */
static int etl_server_pids(const char *etl, pid_t *out, int max)
{
    char marker[128];
    snprintf(marker, sizeof(marker), "/v1/etl/_object/%s%s", etl ? etl : "", etl ? "/" : "");
    size_t ml = strlen(marker);
    int n = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    struct dirent *de;
    char *env = xmalloc(1 << 16);
    while ((de = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, env, (1 << 16) - 1);
        close(fd);
        /* the ETL sandbox's bwrap processes carry the environment too: not servers */
        char comm[32] = "";
        snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t cl = read(fd, comm, sizeof(comm) - 1);
            comm[cl > 0 ? cl : 0] = '\0';
            close(fd);
        }
        if (len > 0 && memmem(env, (size_t)len, marker, ml) != NULL && strcmp(comm, "bwrap\n") != 0)
            out[n++] = (pid_t)atol(de->d_name);
    }
    free(env);
    closedir(d);
    return n;
}

static long etl_peak_rss_kb(const char *etl, int *nservers)
{
    pid_t pids[64];
    int n = etl_server_pids(etl, pids, 64);
    long peak = 0;
    *nservers = 0;
    for (int i = 0; i < n; i++) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pids[i]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof(line), f) != NULL) {
            long kb;
            if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
                if (kb > peak)
                    peak = kb;
                (*nservers)++;
            }
        }
        fclose(f);
    }
    return peak;
}

/* CPU of the bench process and of the children it waited for, in microseconds. */
static double self_cpu_us(void)
{
    struct rusage a, c;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &c);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + c.ru_utime.tv_sec + c.ru_stime.tv_sec) *
               1e6 +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + c.ru_utime.tv_usec +
                    c.ru_stime.tv_usec);
}

/* CPU ticks of the cluster: every locusd of a cluster the bench started, and with etl the
 * servers of that ETL (only while they run: a server that exits between two readings would
 * take its ticks with it). */
static long cluster_ticks(const ffb_t *b, const char *etl)
{
    pid_t pids[160];
    int n = 0;
    if (b->run.cluster_dir != NULL)
        n = bench_cluster_pids(b->run.cluster_dir, pids, 64);
    if (etl != NULL)
        n += etl_server_pids(etl, pids + n, 160 - n);
    return bench_cpu_ticks(pids, n);
}

static double ticks_ms(long ticks)
{
    return (double)ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* Runs a cell and its CPU per file: the bench's own, and the cluster's (its locusd) unless the
 * cell measured it itself (ETL cells: with their servers, which exist only while it runs). */
static void run_cell(ffb_t *b, cell_t *c, void (*fn)(ffb_t *, cell_t *))
{
    c->srv_ms = -1;
    double s0 = self_cpu_us();
    long t0 = cluster_ticks(b, NULL);
    fn(b, c);
    long t1 = cluster_ticks(b, NULL);
    double s1 = self_cpu_us();
    double files = (double)(c->files_done > 0 ? c->files_done : b->nf);
    c->self_ms = (s1 - s0) / 1000.0 / files;
    if (c->srv_ms < 0)
        c->srv_ms = ticks_ms(t1 - t0) / files;
    print_progress(b, c);
}

static void run_etl(ffb_t *b, cell_t *c)
{
    char name[64], dst[64], err[1024] = "", e[LOCUS_ERR_LEN] = "";
    snprintf(name, sizeof(name), "ffb-%s", c->label);
    snprintf(dst, sizeof(dst), "ffdst-%d-%03d", (int)getpid() % 100000, ++b->ndst);
    c->ran = true;
    char *msg = etl_init_json(b, c, name);
    (void)locus_etl_delete(b->cl, name, NULL);
    int rc = locus_etl_init(b->cl, msg, NULL, e);
    free(msg);
    if (rc != 0) {
        snprintf(c->note, sizeof(c->note), "FAILED: ETL init (HTTP %ld): %.300s",
                 locus_client_last_status(b->cl), e);
        return;
    }
    int idle_servers;
    c->etl_idle_kb = etl_peak_rss_kb(name, &idle_servers);
    char *id = NULL;
    if (bench_bucket_create(b->endpoint, dst, err, sizeof(err)) != 0) {
        snprintf(c->note, sizeof(c->note), "FAILED: %.370s", err);
        goto out;
    }
    json_t *v = json_pack("{s:s, s:i, s:{s:s}, s:s}", "id", name, "num-workers", b->workers, "ext",
                          "flac", "wav", "request_timeout", "5m");
    bench_job_time_t jt;
    settle(b);
    long t0 = cluster_ticks(b, name);
    if (bench_job_start(b->endpoint, b->src, dst, v, &id, err, sizeof(err)) != 0 ||
        bench_job_wait(b->cl, id, JOB_TIMEOUT_S, err, sizeof(err)) != 0 ||
        bench_job_timing(b->cl, id, 0, &jt, err, sizeof(err)) != 0) {
        snprintf(c->note, sizeof(c->note), "FAILED: %.370s", err);
        goto out_bck;
    }
    c->srv_ms = ticks_ms(cluster_ticks(b, name) - t0) / (double)b->nf; /* servers still up */
    c->secs = jt.secs;
    c->etl_rss_kb = etl_peak_rss_kb(name, &c->etl_servers);
    if (verify_bucket(b, dst, b->nf, NULL, 0, &c->out_bytes, err, sizeof(err)) != 0) {
        snprintf(c->note, sizeof(c->note), "FAILED: %.370s", err);
        goto out_bck;
    }
    c->files_done = b->nf;
    c->in_bytes = b->src_bytes;
    c->ok = true;
out_bck:
    bench_bucket_destroy(b->endpoint, dst);
    bench_bucket_settle(b->run.cluster_dir, dst);
out:
    free(id);
    if (locus_etl_stop(b->cl, name, e) != 0)
        fprintf(stderr, "locus-bench: stop ETL %s: %s\n", name, e);
    if (locus_etl_delete(b->cl, name, e) != 0)
        fprintf(stderr, "locus-bench: delete ETL %s: %s\n", name, e);
}

/* --- bare compute limit --- */

typedef struct {
    char **paths; /* files on the targets' disks, or the local dataset */
    long n;
    long *item; /* index into b->f, for the sample check */
    uint8_t **hdr;
    size_t *hlen;
    char *store_dir; /* bare-store: each output written to a file here; NULL = discarded */
    bool net;        /* bare-store-net: through a receiver (below) */
} bare_t;

static bare_t *g_bare;

/* --- bare-store-net: the network sink (sink.c) --- */

static bench_sink_t *g_sink;
static __thread int tl_tx = -1; /* this sender thread's connection */

/* Sends one output to the sink on this thread's connection and waits for its answer. */
static int bare_net(long i, const void *p, size_t n, char *err, size_t errlen)
{
    if (tl_tx < 0 && (tl_tx = bench_sink_connect(g_sink, err, errlen)) < 0)
        return -1;
    if (bench_sink_send(tl_tx, (uint64_t)i, p, n, NULL, 0) != 0)
        return snprintf(err, errlen, "output %ld: the receiver did not store it", i), -1;
    return 0;
}

/* Writes one output of the bare-store run. 0 or -1 with err set. */
static int bare_store(const bare_t *bb, long i, const void *p, size_t n, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%ld.out", bb->store_dir, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int e = fd < 0 ? -errno : write_all(fd, p, n);
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = -errno;
    if (e != 0)
        snprintf(err, errlen, "write %s: %s", path, strerror(-e));
    free(path);
    return e != 0 ? -1 : 0;
}

static int bare_item(pool_t *p, locus_client_t *cl, long i, char *err, size_t errlen)
{
    (void)cl;
    ffb_t *b = p->b;
    bare_t *bb = g_bare;
    const fitem_t *it = &b->f[bb->item[i]];
    char *data = NULL;
    size_t len = 0;
    int e = read_file(bb->paths[i], &data, &len);
    if (e != 0)
        return snprintf(err, errlen, "read %s: %s", bb->paths[i], strerror(-e)), -1;
    uint8_t *out = NULL;
    size_t outlen = len;
    int rc = it->audio ? ffx_convert(data, len, b->ac, b->ar, &out, &outlen, err, errlen) : 0;
    const void *res = it->audio ? (const void *)out : data;
    if (rc == 0 && bb->net)
        rc = bare_net(i, res, outlen, err, errlen);
    else if (rc == 0 && bb->store_dir != NULL)
        rc = bare_store(bb, i, res, outlen, err, errlen);
    if (rc == 0 && it->audio && bb->hdr[i] != NULL) { /* a sample: keep it for the check */
        free(bb->hdr[i]);
        bb->hdr[i] = out;
        bb->hlen[i] = outlen;
        out = NULL;
    }
    if (rc == 0)
        atomic_fetch_add(&p->out_bytes, (long long)outlen);
    free(out);
    free(data);
    return rc;
}

/* The object files of bucket src under every target's mountpaths: name -> path. */
static void find_disk_files(const ffb_t *b, bare_t *bb)
{
    char *pat = xasprintf("%s/t*/mp*/@ais/%s/%%ob", b->run.cluster_dir, b->src);
    glob_t g = {0};
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t k = 0; k < g.gl_pathc; k++) {
            for (long i = 0; i < b->nf; i++) {
                if (bb->paths[i] != NULL)
                    continue;
                char *p = xasprintf("%s/%s", g.gl_pathv[k], b->f[i].name);
                if (access(p, R_OK) == 0)
                    bb->paths[i] = p;
                else
                    free(p);
            }
        }
    }
    globfree(&g);
    free(pat);
}

static void run_bare(ffb_t *b, cell_t *c)
{
    c->ran = true;
    bare_t bb = {0};
    bb.n = b->nf;
    bb.paths = xcalloc((size_t)b->nf, sizeof(char *));
    bb.item = xcalloc((size_t)b->nf, sizeof(long));
    bb.hdr = xcalloc((size_t)b->nf, sizeof(uint8_t *));
    bb.hlen = xcalloc((size_t)b->nf, sizeof(size_t));
    for (long i = 0; i < b->nf; i++)
        bb.item[i] = i;
    bool from_disk = b->run.cluster_dir != NULL;
    if (from_disk)
        find_disk_files(b, &bb);
    long missing = 0;
    for (long i = 0; i < b->nf; i++)
        if (bb.paths[i] == NULL) {
            missing++;
            bb.paths[i] = xstrdup(b->f[i].path);
        }
    if (!from_disk)
        snprintf(c->note, sizeof(c->note),
                 "--endpoint: the generated files, not the targets' disks");
    else if (missing > 0)
        snprintf(c->note, sizeof(c->note), "%ld files not found on the mountpaths: read locally",
                 missing);
    for (int k = 0; k < NSAMPLE; k++) {
        long i = sample_item(b, NULL, 0, k);
        if (i >= 0 && bb.hdr[i] == NULL)
            bb.hdr[i] = xmalloc(1);
    }
    if (c->kind == K_BARE_STORE || c->kind == K_BARE_NET) {
        /* next to the mountpaths (same filesystem) when the bench runs the cluster */
        bb.store_dir = xasprintf("%s/bare-store", from_disk ? b->run.cluster_dir : b->run.tmp);
        mkdir_p(bb.store_dir, 0755);
    }
    char nerr[200];
    if (c->kind == K_BARE_NET &&
        (g_sink = bench_sink_start(bb.store_dir, -1, nerr, sizeof(nerr))) == NULL) {
        snprintf(c->note, sizeof(c->note), "FAILED: %s", nerr);
        goto out;
    }
    bb.net = c->kind == K_BARE_NET;
    g_bare = &bb;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pool_t p = {.b = b, .fn = bare_item, .n = b->nf};
    /* warm the page cache as the targets' own reads would find it (untimed) */
    for (long i = 0; i < b->nf; i++) {
        char *d = NULL;
        size_t l = 0;
        if (read_file(bb.paths[i], &d, &l) == 0)
            free(d);
    }
    settle(b);
    /* bare-store-net: 3 threads per CPU, as many conversions as the cluster's (3 targets x the
     * CPUs' workers), so that one waiting for its answer leaves the CPU to another */
    int nthr = ncpu > 0 ? (int)ncpu : 1;
    c->secs = pool_run(&p, bb.net ? 3 * nthr : nthr);
    if (bb.net) {
        bench_sink_stop(g_sink); /* closes the pool threads' connections too */
        g_sink = NULL;
    }
    if (atomic_load(&p.failed) > 0 || bench_stop) {
        snprintf(c->note, sizeof(c->note), "FAILED: %ld errors; first: %.300s",
                 (long)atomic_load(&p.failed), bench_stop ? "interrupted" : p.err);
        goto out;
    }
    char err[400];
    for (long i = 0; i < b->nf; i++) {
        if (bb.hdr[i] != NULL &&
            check_wav(b, &b->f[i], bb.hdr[i], bb.hlen[i], err, sizeof(err)) != 0) {
            snprintf(c->note, sizeof(c->note), "FAILED: %.370s", err);
            goto out;
        }
    }
    c->files_done = atomic_load(&p.done);
    if (c->files_done != b->nf) {
        snprintf(c->note, sizeof(c->note), "FAILED: %ld of %ld files converted", c->files_done,
                 b->nf);
        goto out;
    }
    c->in_bytes = b->src_bytes;
    c->out_bytes = (double)atomic_load(&p.out_bytes);
    c->ok = true;
out:
    g_bare = NULL;
    for (long i = 0; i < b->nf; i++) {
        free(bb.paths[i]);
        free(bb.hdr[i]);
    }
    free(bb.paths);
    free(bb.item);
    free(bb.hdr);
    free(bb.hlen);
    if (bb.store_dir != NULL)
        remove_tree(bb.store_dir);
    free(bb.store_dir);
}

/* ------------------------------------------------------------------------------------------ */
/* report */

static const cell_t *find_cell(const ffb_t *b, kind_t k)
{
    for (int i = 0; i < b->ncells; i++)
        if (b->cells[i].kind == k && b->cells[i].ok)
            return &b->cells[i];
    return NULL;
}

/* The bare limit's seconds: the mean of its runs at the start and the end (noisy machine). */
static double bare_secs(const ffb_t *b)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < b->ncells; i++)
        if (b->cells[i].kind == K_BARE && b->cells[i].ok) {
            sum += b->cells[i].secs;
            n++;
        }
    return n > 0 ? sum / n : 0;
}

static void print_table(const ffb_t *b, FILE *f, bool md)
{
    const cell_t *base = find_cell(b, K_CLIENT);
    double bare = bare_secs(b);
    if (md) {
        fprintf(f, "| config | comm | fqn | direct put | s | files/s | MB/s in | MB/s out | "
                   "speedup vs baseline | efficiency vs bare limit | bench CPU ms/file | "
                   "cluster CPU ms/file |\n");
        fprintf(f, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    } else {
        fprintf(f, "%-18s  %-6s  %-3s  %-3s  %9s  %8s  %8s  %8s  %8s  %6s  %7s  %7s\n", "config",
                "comm", "fqn", "dp", "s", "files/s", "MB/s in", "MB/s out", "speedup", "eff",
                "cpu-b", "cpu-c");
    }
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        const char *comm = c->kind == K_ETL ? c->comm : "-";
        const char *fqn = c->kind == K_ETL ? (c->fqn ? "on" : "off") : "-";
        const char *dp = c->kind == K_ETL ? (c->dp ? "on" : "off") : "-";
        if (!c->ok) {
            if (md)
                fprintf(f, "| %s | %s | %s | %s | %s | | | | | |\n", c->label, comm, fqn, dp,
                        c->note);
            else
                fprintf(f, "%-18s  %-6s  %-3s  %-3s  %s\n", c->label, comm, fqn, dp, c->note);
            continue;
        }
        double fps = (double)b->nf / c->secs;
        double in = c->in_bytes / c->secs / 1e6, out = c->out_bytes / c->secs / 1e6;
        char sp[32] = "-", ef[32] = "-";
        if (base != NULL)
            snprintf(sp, sizeof(sp), "%.2fx", base->secs / c->secs);
        if (bare > 0)
            snprintf(ef, sizeof(ef), "%.2f", bare / c->secs);
        const char *mark = c->extrapolated ? "*" : "";
        if (md)
            fprintf(f,
                    "| %s%s | %s | %s | %s | %.2f | %.1f | %.2f | %.1f | %s | %s | %.1f | %.1f |\n",
                    c->label, mark, comm, fqn, dp, c->secs, fps, in, out, sp, ef, c->self_ms,
                    c->srv_ms);
        else
            fprintf(f,
                    "%-18s  %-6s  %-3s  %-3s  %8.2f%1s  %8.1f  %8.2f  %8.1f  %8s  %6s  %7.1f  "
                    "%7.1f\n",
                    c->label, comm, fqn, dp, c->secs, mark, fps, in, out, sp, ef, c->self_ms,
                    c->srv_ms);
    }
}

static void notes(const ffb_t *b, FILE *f)
{
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->ok && c->note[0])
            fprintf(f, "%s%s: %s\n", c->label, c->extrapolated ? "*" : "", c->note);
    }
    /* memory: what a job adds to a server, in units of workers x the largest object */
    double largest = 0;
    for (long i = 0; i < b->nf; i++) {
        const fitem_t *it = &b->f[i];
        double out = it->audio ? it->dur * b->ar * b->ac * 2 + 44 : (double)it->size;
        if ((double)it->size + out > largest)
            largest = (double)it->size + out;
    }
    bool any = false;
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->kind != K_ETL || !c->ok || c->etl_servers == 0)
            continue;
        if (!any)
            fprintf(f,
                    "ETL server RSS (the largest of the %d servers; peak = VmHWM, includes mapped "
                    "FQN input; k = (peak - idle) / (%d workers x %.1f MiB, the largest FLAC + "
                    "WAV)):",
                    c->etl_servers, b->workers, largest / (1 << 20));
        double k = (double)(c->etl_rss_kb - c->etl_idle_kb) * 1024 / (b->workers * largest);
        fprintf(f, " %s peak %.0f MiB, idle %.0f MiB, k %.1f;", c->label, c->etl_rss_kb / 1024.0,
                c->etl_idle_kb / 1024.0, k);
        any = true;
    }
    if (any)
        fprintf(f, "\n");
}

static const char legend[] =
    "s = seconds for the whole dataset. client / client-ffmpeg-cli: wall time of list + GET -> "
    "convert -> PUT .wav with T threads (in-process conversion with the transformer's own code / "
    "one `ffmpeg -nostdin -loglevel error -i pipe:0 -ac AC -ar AR -c:a pcm_s16le -f wav pipe:1` "
    "per object). In-cluster rows: the etl-bck job's own duration (earliest start-time to latest "
    "end-time over the targets' qryxstats), ETL initialized first, empty destination, ext "
    "{\"flac\":\"wav\"}. bare-limit-start/-end: the same conversion of the same files read from "
    "the targets' mountpaths, one thread per CPU, output discarded (no HTTP, no storage). "
    "bare-store-1/-2: the same, and each output written to a file on the mountpaths' filesystem "
    "(the least any conversion that keeps its results does; not the issue's definition of the "
    "bare limit, shown for comparison), run twice in a row. bare-store-net: the same, but each "
    "output first crosses a kept loopback TCP connection to a receiver thread that XXH64-sums "
    "it as it writes it to the file, answered with one byte, with 3 threads per CPU (the least a "
    "store does whose outputs go to a node over a socket, as every direct put here does). MB = "
    "10^6 bytes; files/s counts every object (FLAC and transcripts); in = FLAC + transcripts read, "
    "out = bytes written. speedup = "
    "baseline s / s; "
    "efficiency = mean bare-limit s / s. Every row verified: object count == source count; 20 "
    "WAVs: channels == AC, rate == AR, duration within 0.05 s of the source. cpu-b / cpu-c: "
    "CPU ms per file of the bench process with the children it waited for (client conversions, "
    "ffmpeg, bare loops) / of the cluster (every locusd and ETL server; for ETL rows from job "
    "start to end).";

static void params_line(const ffb_t *b, char *out, size_t len)
{
    snprintf(out, len,
             "%s; dataset %ld files (%ld FLAC + %ld transcripts, %.1f MB, gen-librispeech seed "
             "1); AC=%d AR=%d; client threads %d; num-workers %d per target; each row started "
             "%g s after the previous one's deletes (--settle)",
             b->run.cluster_dir != NULL ? "cluster: 1 proxy + 3 targets started by the bench"
                                        : "cluster: --endpoint",
             b->nf, b->naudio, b->nf - b->naudio, b->src_bytes / 1e6, b->ac, b->ar, b->threads,
             b->workers, b->settle);
}

static void verdict(const ffb_t *b, char *out, size_t len)
{
    const cell_t *best = NULL, *base = find_cell(b, K_CLIENT), *fork = find_cell(b, K_FORK);
    double bare = bare_secs(b);
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->kind == K_ETL && c->ok && (best == NULL || c->secs < best->secs))
            best = c;
    }
    if (best == NULL) {
        snprintf(out, len, "No in-cluster configuration completed.");
        return;
    }
    size_t n = (size_t)snprintf(out, len, "Best in-cluster: %s, %.2f s (%.1f files/s)", best->label,
                                best->secs, (double)b->nf / best->secs);
    const cell_t *store = NULL;
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->kind == K_BARE_STORE && c->ok && (store == NULL || c->secs < store->secs))
            store = c;
    }
    /* The targets are stated against the faster bare-store pass: a system that keeps its
     * outputs cannot beat writing them (docs/benchmarks.md). */
    if (store != NULL && n < len)
        n += (size_t)snprintf(
            out + n, len - n, "; %.2f of the faster bare-store (target >= 0.9: %s)",
            store->secs / best->secs, store->secs / best->secs >= 0.9 ? "MET" : "NOT met");
    const cell_t *net = find_cell(b, K_BARE_NET);
    if (net != NULL && n < len)
        n += (size_t)snprintf(out + n, len - n, "; %.2f of bare-store-net", net->secs / best->secs);
    if (bare > 0 && n < len)
        n += (size_t)snprintf(out + n, len - n, "; %.2f of the bare limit", bare / best->secs);
    if (base != NULL && n < len)
        n += (size_t)snprintf(
            out + n, len - n, "; %.2fx the in-process client baseline (target >= 1.5x: %s)",
            base->secs / best->secs, base->secs / best->secs >= 1.5 ? "MET" : "NOT met");
    /* Client and cluster share these CPUs and both keep them busy: an ETL that spent no more
     * CPU per file than bare-store (no HTTP, no socket) would be the client's CPU per file over
     * bare-store's faster than the client, and no faster. */
    double store_cpu = -1;
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        double cpu = c->self_ms + (c->srv_ms > 0 ? c->srv_ms : 0);
        if (c->kind == K_BARE_STORE && c->ok && c->self_ms > 0 &&
            (store_cpu < 0 || cpu < store_cpu))
            store_cpu = cpu;
    }
    if (base != NULL && store_cpu > 0 && base->self_ms > 0 && base->srv_ms > 0 && n < len)
        n += (size_t)snprintf(out + n, len - n,
                              " (ceiling on these shared CPUs: the client's CPU per file over "
                              "bare-store's, %.2fx)",
                              (base->self_ms + base->srv_ms) / store_cpu);
    if (fork != NULL && n < len)
        snprintf(out + n, len - n, "; %.2fx the fork/exec-ffmpeg client%s", fork->secs / best->secs,
                 fork->extrapolated ? " (extrapolated)" : "");
    else if (n < len)
        snprintf(out + n, len - n, ".");
}

static int write_csv(const ffb_t *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "config,kind,seconds,files_s,mb_in_s,mb_out_s,extrapolated\n");
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (!c->ok)
            continue;
        static const char *const kinds[] = {"client", "client",     "cluster",
                                            "bare",   "bare-store", "bare-store"};
        fprintf(f, "%s,%s,%.4f,%.3f,%.3f,%.3f,%d\n", c->label, kinds[c->kind], c->secs,
                (double)b->nf / c->secs, c->in_bytes / c->secs / 1e6, c->out_bytes / c->secs / 1e6,
                c->extrapolated ? 1 : 0);
    }
    fclose(f);
    return 0;
}

static int write_png(ffb_t *b, const char *png, const char *title)
{
    char *csv = xasprintf("%s/results.csv", b->run.tmp);
    if (write_csv(b, csv) != 0) {
        fprintf(stderr, "locus-bench: cannot write %s\n", csv);
        free(csv);
        return -1;
    }
    char *script = xasprintf("%s/../../scripts/plot_bench.py", b->run.bindir);
    if (access(script, R_OK) != 0) {
        free(script);
        script = xstrdup("scripts/plot_bench.py");
    }
    char *argv[] = {"/usr/bin/python3", script, csv, (char *)png, (char *)title, NULL};
    int rc = bench_run(argv, NULL, -1, 120);
    if (rc != 0)
        fprintf(stderr, "locus-bench: %s failed (is python3-matplotlib installed?)\n", script);
    else
        fprintf(stderr, "chart written to %s\n", png);
    free(script);
    free(csv);
    return rc == 0 ? 0 : -1;
}

static int write_md(const ffb_t *b, const char *path, const char *mach, const char *params,
                    const char *verd)
{
    FILE *f = bench_md_open(path, "etl-ffmpeg", mach, params);
    if (f == NULL)
        return -1;
    fprintf(f, ".\n\n");
    print_table(b, f, true);
    fprintf(f, "\n");
    notes(b, f);
    fprintf(f, "\n%s\n\n%s\n", legend, verd);
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* command */

static const struct {
    const char *comm;
    bool fqn, dp;
} matrix[] = {
    {"hpush", false, false}, {"hpush", true, false}, {"hpush", false, true}, {"hpush", true, true},
    {"hpull", false, false}, {"hpull", true, false}, {"hpull", false, true}, {"hpull", true, true},
    {"ws", false, true},     {"ws", true, true},
};
#define NMATRIX ((int)(sizeof(matrix) / sizeof(matrix[0])))
_Static_assert(sizeof(matrix) / sizeof(matrix[0]) + 7 <= MAXCELLS, "MAXCELLS: every row of a run");

static bool selected(const ffb_t *b, const char *label)
{
    if (b->configs == NULL)
        return true;
    char *dup = xstrdup(b->configs), *save = NULL;
    bool on = false;
    for (char *t = strtok_r(dup, ",", &save); t != NULL && !on; t = strtok_r(NULL, ",", &save))
        on = strcmp(t, label) == 0 || strcmp(t, "all") == 0 ||
             (strncmp(label, t, strlen(t)) == 0 && strchr(t, '-') == NULL &&
              (label[strlen(t)] == '-' || label[strlen(t)] == '\0'));
    free(dup);
    return on;
}

static const char usage[] =
    "usage: locus-bench etl-ffmpeg [options]\n"
    "\n"
    "The seed's experiment: LibriSpeech-like FLAC -> WAV, client-side vs in-cluster ETL\n"
    "(every comm x fqn x direct-put configuration) vs the bare compute limit, on one\n"
    "cluster and one generated dataset, every run verified.\n";

static int parse_args(void *state, int argc, char **argv)
{
    ffb_t *b = state;
    b->nfiles = -1;
    b->threads = 8;
    b->workers = cpus_usable(); /* what a target uses when a job names none */
    b->targets = 3;
    b->ac = 2;
    b->ar = 44100;
    b->fork_budget = -1;
    b->settle = -1;
    const bench_opt_t opts[] = {
        BOPT("files", BOPT_LONG, &b->nfiles, "N",
             "FLAC files to generate, default 1000 (--quick: 40)", .min = 1, .max = 10000000),
        BOPT("threads", BOPT_INT, &b->threads, "T", "client-side threads, default 8", .min = 1,
             .max = 256),
        BOPT("workers", BOPT_INT, &b->workers, "W",
             "num-workers per target of every job, default: the CPUs, as\n"
             "a target's own default",
             .min = 1, .max = 64),
        BOPT("ac", BOPT_INT, &b->ac, "N", "output channels, default 2", .min = FFX_AC_MIN,
             .max = FFX_AC_MAX),
        BOPT("ar", BOPT_INT, &b->ar, "HZ", "output rate, default 44100", .min = FFX_AR_MIN,
             .max = FFX_AR_MAX),
        BOPT("configs", BOPT_STR, &b->configs, "LIST",
             "in-cluster cells: hpush,hpull,ws (all cells of that comm) or\n"
             "labels such as hpush-fqn, hpull-dp, ws-fqn-dp; default all.\n"
             "The client baseline and the bare limit always run; the\n"
             "fork/exec variant runs unless --fork-budget 0"),
        BOPT("fork-budget", BOPT_SECS, &b->fork_budget, "S",
             "seconds the fork/exec-ffmpeg client may run before it stops and\n"
             "extrapolates linearly, default 90 (--quick: 10; 0 = skip)",
             .min = 0, .max = 1e9),
        BOPT("settle", BOPT_SECS, &b->settle, "S",
             "seconds to wait before each timed row, so that no row starts\n"
             "on memory the previous row freed moments before (cheaper on a\n"
             "VM whose host takes back free memory), default 5 (--quick: 0)",
             .min = 0, .max = 600),
        BOPT("endpoint", BOPT_STR, &b->endpoint_opt, "URL",
             "use a running cluster instead of starting one (bare limit then\n"
             "reads the generated files)"),
        BOPT("md", BOPT_STR, &b->md, "FILE", "also write the table as markdown"),
        BOPT("png", BOPT_STR, &b->png, "FILE",
             "bar chart (needs /usr/bin/python3 with matplotlib)"),
        BOPT("quick", BOPT_BOOL, &b->quick, NULL, "small smoke run"),
        BOPT("keep", BOPT_BOOL, &b->run.keep, NULL, "keep the temp dir"),
    };
    int rc = bench_opts_parse(usage, opts, ARRAY_SIZE(opts), argc, argv);
    if (rc != BENCH_OPTS_GO)
        return rc;
    if (b->nfiles < 0)
        b->nfiles = b->quick ? 40 : 1000;
    if (b->fork_budget < 0)
        b->fork_budget = b->quick ? 10 : 90;
    if (b->settle < 0)
        b->settle = b->quick ? 0 : 5;
    return BENCH_OPTS_GO;
}

/* The benchmark, between bench_main's start and end. */
static int run_bench(void *state)
{
    ffb_t *b = state;
    int rc = 1;
    char err[LOCUS_ERR_LEN] = "";
    ffx_init();
    snprintf(b->src, sizeof(b->src), "ffsrc-%d", (int)getpid() % 100000);

    /* the dataset */
    b->datadir = xasprintf("%s/data", b->run.tmp);
    {
        char *self = xasprintf("%s/locus-bench", b->run.bindir);
        char files[32];
        snprintf(files, sizeof(files), "%ld", b->nfiles);
        char *log = xasprintf("%s/gen.log", b->run.tmp);
        char *gargv[] = {self,  "gen-librispeech", "--out", b->datadir, "--files",
                         files, "--seed",          "1",     NULL};
        fprintf(stderr, "generating %ld LibriSpeech-like FLAC files\n", b->nfiles);
        int grc = bench_run(gargv, log, -1, 3600);
        if (grc != 0) {
            fprintf(stderr, "locus-bench: gen-librispeech failed (%d)\n", grc);
            bench_dump_tail(log, 2000);
        }
        free(log);
        free(self);
        if (grc != 0)
            goto out;
    }
    if (load_dataset(b, err, sizeof(err)) != 0) {
        fprintf(stderr, "locus-bench: %s\n", err);
        goto out;
    }
    fprintf(stderr, "  dataset: %ld files (%ld FLAC), %.1f MB, mean %.1f kB per FLAC\n", b->nf,
            b->naudio, b->src_bytes / 1e6, b->src_bytes / (double)b->nf / 1e3);

    /* the cluster */
    if (b->endpoint_opt != NULL) {
        b->endpoint = xstrdup(b->endpoint_opt);
    } else {
        b->run.cluster_dir = xasprintf("%s/cluster", b->run.tmp);
        if (bench_own_cluster(b->run.bindir, b->run.cluster_dir, b->targets, -1, &b->endpoint) != 0)
            goto out;
    }
    if (bench_cluster_open(b->endpoint, &b->smap, &b->cl) != 0)
        goto out;
    if (bench_bucket_create(b->endpoint, b->src, err, sizeof(err)) != 0) {
        fprintf(stderr, "locus-bench: %s\n", err);
        goto out;
    }
    {
        pool_t p = {.b = b, .fn = upload_item, .n = b->nf};
        double s = pool_run(&p, 8);
        fprintf(stderr, "  uploaded into %s in %.1f s (8 threads, untimed)\n", b->src, s);
        if (atomic_load(&p.failed) > 0 || bench_stop) {
            fprintf(stderr, "locus-bench: upload failed: %s\n", p.err);
            goto out_src;
        }
    }

    fprintf(stderr, "runs (AC=%d AR=%d, %d client threads, %d workers per target):\n", b->ac, b->ar,
            b->threads, b->workers);
    /* the bare limit runs first and last: the machine is shared and noisy, efficiency uses the
     * mean of the two */
    cell_t *c = cell_add(b, K_BARE, "start", false, false);
    run_cell(b, c, run_bare);
    if (!bench_stop) {
        c = cell_add(b, K_CLIENT, NULL, false, false);
        run_cell(b, c, run_client);
    }
    if (!bench_stop && b->fork_budget > 0 && access(FFMPEG_BIN, X_OK) == 0) {
        c = cell_add(b, K_FORK, NULL, false, false);
        run_cell(b, c, run_client);
    }
    for (int i = 0; i < NMATRIX && !bench_stop; i++) {
        char label[48];
        snprintf(label, sizeof(label), "%s%s%s", matrix[i].comm, matrix[i].fqn ? "-fqn" : "",
                 matrix[i].dp ? "-dp" : "");
        if (!selected(b, label))
            continue;
        c = cell_add(b, K_ETL, matrix[i].comm, matrix[i].fqn, matrix[i].dp);
        run_cell(b, c, run_etl);
    }

    if (!bench_stop) {
        c = cell_add(b, K_BARE, "end", false, false);
        run_cell(b, c, run_bare);
    }
    /* twice: on this VM the first pass may pay for memory the host has to back again, the
     * second reuses what the first freed; the faster one is the stricter comparison */
    for (int i = 0; i < 2 && !bench_stop; i++) {
        c = cell_add(b, K_BARE_STORE, i == 0 ? "1" : "2", false, false);
        run_cell(b, c, run_bare);
    }
    if (!bench_stop) {
        c = cell_add(b, K_BARE_NET, NULL, false, false);
        run_cell(b, c, run_bare);
    }

    char params[512], verd[512];
    params_line(b, params, sizeof(params));
    verdict(b, verd, sizeof(verd));
    printf("\nlocus-bench etl-ffmpeg: %s\n%s\n\n", b->run.mach, params);
    print_table(b, stdout, false);
    printf("\n");
    notes(b, stdout);
    printf("\n%s\n\n%s\n", legend, verd);
    fflush(stdout);
    if (b->md != NULL)
        write_md(b, b->md, b->run.mach, params, verd);
    if (b->png != NULL) {
        char title[256];
        snprintf(title, sizeof(title), "FLAC->WAV (AC=%d AR=%d), %ld files, %ld CPUs", b->ac, b->ar,
                 b->nf, sysconf(_SC_NPROCESSORS_ONLN));
        write_png(b, b->png, title);
    }
    rc = 0;
    for (int i = 0; i < b->ncells; i++)
        if (!b->cells[i].ok)
            rc = 1;
    if (bench_stop)
        rc = 130;
out_src:
    bench_bucket_destroy(b->endpoint, b->src);
out:
    locus_client_destroy(b->cl);
    bench_smap_dispose(&b->smap);
    for (long i = 0; i < b->nf; i++) {
        free(b->f[i].name);
        free(b->f[i].path);
    }
    free(b->f);
    free(b->datadir);
    free(b->endpoint);
    return rc;
}

int bench_cmd_etl_ffmpeg(int argc, char **argv)
{
    static const bench_cmd_t cmd = {"etl-ffmpeg", "locus-bench-ff", sizeof(ffb_t), parse_args,
                                    run_bench};
    return bench_main(&cmd, argc, argv);
}
