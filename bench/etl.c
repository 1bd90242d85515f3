/*
 * etl.c - `locus-bench etl`: offline bucket-to-bucket transforms (etl-bck) with the `echo`
 * transformer for every configuration of issue 4's matrix (comm hpush|hpull|ws x FQN on/off x
 * direct put on/off, ws only with direct put; io:// with `cat`; Unix sockets when the daemon
 * has them), next to copy-bck of the same bucket: the same data movement without a transform,
 * the ceiling.
 *
 * DESIGN
 * - One cluster (1 proxy + N targets, started with `locus cluster up` like `obj`), two source
 *   buckets filled once, untimed, directly on the HRW owners by 8 threads: `small` (default
 *   10,000 x 10 KiB) and `large` (1,000 x 1 MiB). Every cell reads the same source bucket.
 * - Order: an untimed copy-bck of each source (warm-up), copy-bck (small, large), then per ETL
 *   configuration: init the ETL, run its small and large cells, stop and delete it; then
 *   copy-bck again (small, large). The machine is shared and noisy, so the ceiling is measured
 *   at both ends and the ratio uses the mean of the two.
 * - One cell = one job into a fresh, empty destination bucket (created before, destroyed after,
 *   so the disk stays small; the next cell waits until the targets removed its files), with a
 *   fixed num-workers per target. Timing is the job's own
 *   duration as the job API reports it: the earliest "start-time" to the latest "end-time" over
 *   every target's qryxstats snapshot (docs/protocol.md 1.8), the ETL being initialized first.
 * - Each cell is verified: the job ended without error, the destination lists exactly the
 *   source's count of objects, each of the source's size, and 20 objects spread over the bucket
 *   are byte-identical to the source (echo returns its input).
 * - CPU per object, read from /proc over the cell: the target locusd processes (utime+stime),
 *   and the ETL side = the targets' live ETL server descendants (children, or grandchildren
 *   under the ETL sandbox's bwrap) plus what the targets reaped from short-lived children
 *   (cutime+cstime: io:// forks one process per object); plus how busy the whole machine was
 *   (/proc/stat). That is where a slow configuration spends its time.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include <locus/client.h>

#include "bench.h"
#include "opts.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)
#define NSAMPLE 20 /* objects byte-compared per cell */
#define MAX_PIDS 256
#define JOB_TIMEOUT_S 1800

/* ------------------------------------------------------------------------------------------ */
/* configurations and cells */

typedef enum { CFG_COPY, CFG_ETL } cfg_kind_t;

typedef struct {
    cfg_kind_t kind;
    const char *comm;  /* "hpush", "hpull", "ws", "io"; NULL for copy-bck */
    bool fqn, dp;      /* argument: fqn; support_direct_put */
    bool unix_sock;    /* hpush over a Unix domain socket (issue 4, "Beyond AIStore") */
    const char *label; /* copy-bck: "start" or "end" */
} cfg_t;

/* The matrix, in the order it runs. */
static const cfg_t configs[] = {
    {CFG_COPY, NULL, false, false, false, "start"}, {CFG_ETL, "hpush", false, false, false, NULL},
    {CFG_ETL, "hpush", true, false, false, NULL},   {CFG_ETL, "hpush", false, true, false, NULL},
    {CFG_ETL, "hpush", true, true, false, NULL},    {CFG_ETL, "hpull", false, false, false, NULL},
    {CFG_ETL, "hpull", true, false, false, NULL},   {CFG_ETL, "hpull", false, true, false, NULL},
    {CFG_ETL, "hpull", true, true, false, NULL},    {CFG_ETL, "ws", false, true, false, NULL},
    {CFG_ETL, "ws", true, true, false, NULL},       {CFG_ETL, "io", false, false, false, NULL},
    {CFG_ETL, "hpush", false, false, true, NULL},   {CFG_ETL, "hpush", true, true, true, NULL},
    {CFG_ETL, "ws", false, true, true, NULL},       {CFG_ETL, "ws", true, true, true, NULL},
    {CFG_COPY, NULL, false, false, false, "end"},
};
#define NCONFIGS ((int)(sizeof(configs) / sizeof(configs[0])))

enum { SZ_SMALL, SZ_LARGE, NSIZES };
static const char *const size_names[NSIZES] = {"small", "large"};

typedef struct {
    const cfg_t *cfg;
    int size_idx;
    bool ran, ok;
    char note[320]; /* n/a reason or failure */
    double secs, objs_s, mb_s, ratio;
    double cpu_ratio;    /* copy-bck's CPU per object / this cell's (targets + ETL); 0 = unknown */
    int64_t objs, bytes; /* what the job reports it moved */
    double tgt_us, etl_us; /* CPU per object (us); < 0 = unknown */
    double busy;           /* machine busy fraction over the cell; < 0 = unknown */
    double wall;           /* client-side: POST to "ended" seen */
} cell_t;

typedef struct {
    const char *bck;
    long count;
    size_t size;
} srcset_t;

typedef struct {
    bench_run_t run; /* first: bench_main fills it */
    /* options */
    long counts[NSIZES];
    uint64_t sizes[NSIZES];
    bool size_on[NSIZES];
    int workers, targets;
    bool quick, no_warmup;
    const char *md, *only;

    /* state */
    char *endpoint;
    bench_smap_t smap;
    locus_client_t *cl;
    uint8_t *pool;
    size_t pool_len;
    srcset_t src[NSIZES];
    cell_t cells[NCONFIGS * NSIZES];
    int ncells, ndst;
    pid_t tpids[64];
    int ntpids;
} etlb_t;

/* ------------------------------------------------------------------------------------------ */
/* small helpers */

static void obj_name(char *out, size_t len, long i)
{
    snprintf(out, len, "obj-%06ld", i);
}

/* "hpush/fqn/dp"-style short name of a configuration, for --only and the progress lines. */
static void cfg_desc(const cfg_t *c, char *out, size_t len)
{
    if (c->kind == CFG_COPY)
        snprintf(out, len, "copy-bck (%s)", c->label);
    else
        snprintf(out, len, "%s%s%s%s", c->comm, c->unix_sock ? "+unix" : "", c->fqn ? " fqn" : "",
                 c->dp ? " dp" : "");
}

/* --only: comma list of comm names ("copy", "hpush", "hpull", "ws", "io", "unix"). */
static bool cfg_selected(const etlb_t *b, const cfg_t *c)
{
    if (b->only == NULL)
        return true;
    const char *key = c->kind == CFG_COPY ? "copy" : c->unix_sock ? "unix" : c->comm;
    char *dup = xstrdup(b->only), *save = NULL;
    bool on = false;
    for (char *t = strtok_r(dup, ",", &save); t != NULL && !on; t = strtok_r(NULL, ",", &save))
        on = strcmp(t, key) == 0;
    free(dup);
    return on;
}

/* ------------------------------------------------------------------------------------------ */
/* CPU accounting from /proc */

typedef struct {
    long self;     /* utime + stime */
    long children; /* cutime + cstime (reaped children) */
    long ppid;
    bool ok;
} pstat_t;

static pstat_t read_pstat(pid_t pid)
{
    pstat_t ps = {0};
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return ps;
    if (fgets(line, sizeof(line), f) != NULL) {
        const char *rp = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        long cut = 0, cst = 0, ppid = 0;
        /* after "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt
         * cmajflt utime stime cutime cstime */
        if (rp != NULL &&
            sscanf(rp + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &ppid,
                   &ut, &st, &cut, &cst) == 5) {
            ps.self = (long)(ut + st);
            ps.children = cut + cst;
            ps.ppid = ppid;
            ps.ok = true;
        }
    }
    fclose(f);
    return ps;
}

/* The locusd pids of the targets, from <cluster>/t<N>/locusd.pid. */
static int target_pids(const etlb_t *b, pid_t *out, int max)
{
    char *pat = xasprintf("%s/t*/locusd.pid", b->run.cluster_dir);
    int n = bench_pid_files(pat, out, max);
    free(pat);
    return n;
}

/* A CPU sample: the targets, their live children one by one, and the whole machine. */
typedef struct {
    long tgt_self, tgt_children;
    pid_t kids[MAX_PIDS];
    long kid_ticks[MAX_PIDS];
    int nkids;
    unsigned long long busy, total; /* /proc/stat jiffies */
} cpu_sample_t;

static void machine_jiffies(unsigned long long *busy, unsigned long long *total)
{
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return;
    /* guest and guest_nice (8, 9) are already in user and nice */
    for (int i = 0; i < 8 && i < n; i++)
        *total += v[i];
    *busy = *total - v[3] - (n > 4 ? v[4] : 0); /* minus idle and iowait */
}

/* Whether pid descends from one of the targets: a server's parent is its target, or (in the
 * ETL sandbox) bwrap, whose child runs the server. all[] holds every process (pid, ppid). */
static bool target_descendant(const etlb_t *b, pid_t pid, const pid_t (*all)[2], int nall)
{
    for (int depth = 0; depth < 6 && pid > 1; depth++) {
        pid_t ppid = 0;
        for (int k = 0; k < nall && ppid == 0; k++)
            if (all[k][0] == pid)
                ppid = all[k][1];
        for (int i = 0; i < b->ntpids; i++)
            if (ppid == b->tpids[i])
                return true;
        pid = ppid;
    }
    return false;
}

static void cpu_sample(const etlb_t *b, cpu_sample_t *s)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < b->ntpids; i++) {
        pstat_t ps = read_pstat(b->tpids[i]);
        s->tgt_self += ps.self;
        s->tgt_children += ps.children;
    }
    int nall = 0, cap = 1024;
    pid_t(*all)[2] = xmalloc(sizeof(*all) * (size_t)cap);
    long *ticks = xmalloc(sizeof(long) * (size_t)cap);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && nall < cap) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atol(e->d_name);
        pstat_t ps = read_pstat(pid);
        if (!ps.ok)
            continue;
        all[nall][0] = pid;
        all[nall][1] = (pid_t)ps.ppid;
        ticks[nall++] = ps.self;
    }
    if (d != NULL)
        closedir(d);
    for (int k = 0; k < nall && s->nkids < MAX_PIDS; k++) {
        if (target_descendant(b, all[k][0], (const pid_t(*)[2])all, nall)) {
            s->kids[s->nkids] = all[k][0];
            s->kid_ticks[s->nkids++] = ticks[k];
        }
    }
    free(all);
    free(ticks);
    machine_jiffies(&s->busy, &s->total);
}

/* Fills the cell's CPU columns from two samples. */
static void cpu_account(cell_t *cell, const cpu_sample_t *a, const cpu_sample_t *z)
{
    double us_tick = 1e6 / (double)sysconf(_SC_CLK_TCK);
    long etl = z->tgt_children - a->tgt_children;
    for (int i = 0; i < z->nkids; i++) {
        long before = 0;
        for (int k = 0; k < a->nkids; k++)
            if (a->kids[k] == z->kids[i])
                before = a->kid_ticks[k];
        etl += z->kid_ticks[i] - before;
    }
    long tgt = z->tgt_self - a->tgt_self;
    cell->tgt_us = cell->objs > 0 ? (double)tgt * us_tick / (double)cell->objs : -1;
    cell->etl_us = cell->objs > 0 ? (double)etl * us_tick / (double)cell->objs : -1;
    cell->busy =
        z->total > a->total ? (double)(z->busy - a->busy) / (double)(z->total - a->total) : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* source buckets: filled once, untimed, directly on the owners */

static void fill_pool(etlb_t *b)
{
    size_t max = 0;
    for (int i = 0; i < NSIZES; i++)
        if (b->sizes[i] > max)
            max = b->sizes[i];
    b->pool = bench_pool_new(max, &b->pool_len);
}

typedef struct {
    etlb_t *b;
    const srcset_t *set;
    atomic_long next, failed;
    char err[320];
    pthread_mutex_t lock; /* protects err */
} loader_t;

static size_t discard(char *p, size_t sz, size_t nm, void *ud)
{
    (void)p;
    (void)ud;
    return sz * nm;
}

static void *loader_main(void *arg)
{
    loader_t *l = arg;
    etlb_t *b = l->b;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    h = curl_slist_append(h, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    long i;
    while (!bench_stop && (i = atomic_fetch_add(&l->next, 1)) < l->set->count) {
        char name[64];
        obj_name(name, sizeof(name), i);
        int owner = bench_smap_owner(&b->smap, l->set->bck, name);
        char *url =
            xasprintf("%s/v1/objects/%s/%s?provider=ais", b->smap.t[owner].url, l->set->bck, name);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)(b->pool + bench_pool_off(name)));
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)l->set->size);
        CURLcode rc = curl_easy_perform(c);
        long st = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (rc != CURLE_OK || st != 200) {
            atomic_fetch_add(&l->failed, 1);
            pthread_mutex_lock(&l->lock);
            if (l->err[0] == '\0')
                snprintf(l->err, sizeof(l->err), "PUT %s: %s", url,
                         rc != CURLE_OK ? curl_easy_strerror(rc) : "unexpected HTTP status");
            pthread_mutex_unlock(&l->lock);
        }
        free(url);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int fill_source(etlb_t *b, const srcset_t *set, char *err, size_t errlen)
{
    if (bench_bucket_create(b->endpoint, set->bck, err, errlen) != 0)
        return -1;
    loader_t l = {.b = b, .set = set};
    atomic_init(&l.next, 0);
    atomic_init(&l.failed, 0);
    pthread_mutex_init(&l.lock, NULL);
    pthread_t th[8];
    int64_t t0 = time_mono_ns();
    for (int i = 0; i < 8; i++)
        if (pthread_create(&th[i], NULL, loader_main, &l) != 0)
            locus_panic("pthread_create failed");
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&l.lock);
    char sz[32];
    size_format(set->size, sz, sizeof(sz));
    fprintf(stderr, "  source %s: %ld x %s stored in %.1f s\n", set->bck, set->count, sz,
            (double)(time_mono_ns() - t0) / 1e9);
    if (atomic_load(&l.failed) > 0 || bench_stop) {
        snprintf(err, errlen, "%ld PUTs into %s failed; first: %s", (long)atomic_load(&l.failed),
                 set->bck, bench_stop ? "interrupted" : l.err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* ETL life cycle */

static void etl_name(const cfg_t *c, char *out, size_t len)
{
    snprintf(out, len, "bench-%s%s%s%s", c->comm, c->unix_sock ? "-unix" : "", c->fqn ? "-fqn" : "",
             c->dp ? "-dp" : "");
}

/* Whether the daemon can run hpush and ws over a Unix domain socket: the spec option
 * locus_unix_socket (issue 4, "Beyond AIStore"). */
static bool unix_socket_supported(void)
{
    return true;
}

static char *etl_init_json(const cfg_t *c, const char *name)
{
    json_t *rt;
    if (strcmp(c->comm, "io") == 0)
        rt = json_pack("{s:s, s:[s]}", "image", "none", "command", "cat");
    else
        rt = json_pack("{s:s}", "image", "aistorage/transformer_echo");
    char comm[32];
    snprintf(comm, sizeof(comm), "%s://", c->comm);
    json_t *m = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "name", name, "communication",
                          comm, "argument", c->fqn ? "fqn" : "", "support_direct_put", (int)c->dp,
                          "init_timeout", "60s", "obj_timeout", "45s", "runtime", rt);
    if (c->unix_sock)
        json_object_set_new(m, "locus_unix_socket", json_true());
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return s;
}

/* Initializes the configuration's ETL. 0 = running; 1 = not available (note filled: the row is
 * n/a); -1 = failed (note filled). */
static int etl_up(etlb_t *b, const cfg_t *c, const char *name, char *note, size_t len)
{
    if (c->unix_sock && !unix_socket_supported()) {
        snprintf(note, len, "n/a (the daemon has no Unix-socket transport yet)");
        return 1;
    }
    char *msg = etl_init_json(c, name);
    char err[LOCUS_ERR_LEN] = "";
    (void)locus_etl_delete(b->cl, name, NULL); /* a leftover of an interrupted run */
    int rc = locus_etl_init(b->cl, msg, NULL, err);
    long st = locus_client_last_status(b->cl);
    free(msg);
    if (rc == 0)
        return 0;
    if (strcmp(c->comm, "ws") == 0 && st == 400 && strstr(err, "not supported") != NULL) {
        snprintf(note, len, "n/a (ws not available)");
        return 1;
    }
    snprintf(note, len, "ETL init failed (HTTP %ld): %s", st, err);
    return -1;
}

static void etl_down(etlb_t *b, const char *name)
{
    char err[LOCUS_ERR_LEN] = "";
    if (locus_etl_stop(b->cl, name, err) != 0)
        fprintf(stderr, "locus-bench: stop ETL %s: %s\n", name, err);
    if (locus_etl_delete(b->cl, name, err) != 0)
        fprintf(stderr, "locus-bench: delete ETL %s: %s\n", name, err);
}

/* ------------------------------------------------------------------------------------------ */
/* one cell */

typedef struct {
    int64_t want; /* every object's size */
    long bad;     /* objects of another size */
} sizecheck_t;

static void check_size(int64_t size, void *arg)
{
    sizecheck_t *c = arg;
    if (size != c->want)
        c->bad++;
}

/* The destination holds exactly the source's objects, each of the source's size, and NSAMPLE
 * of them are byte-identical to the source. 0, or -1 with err filled. */
static int verify(etlb_t *b, const srcset_t *set, const char *dst, char *err, size_t errlen)
{
    sizecheck_t c = {.want = (int64_t)set->size};
    long n = bench_bucket_sizes(b->cl, dst, check_size, &c, err, errlen);
    if (n < 0)
        return -1;
    long badsize = c.bad;
    char e[LOCUS_ERR_LEN] = "";
    if (n != set->count || badsize > 0) {
        snprintf(err, errlen, "destination %s lists %ld objects (source: %ld), %ld of a wrong size",
                 dst, n, set->count, badsize);
        return -1;
    }
    for (int k = 0; k < NSAMPLE && k < set->count; k++) {
        long i = (long)((double)k * (double)set->count / NSAMPLE + 0.5) % set->count;
        char name[64];
        obj_name(name, sizeof(name), i);
        char *data = NULL;
        size_t len = 0;
        if (locus_object_get_buf(b->cl, dst, name, NULL, &data, &len, e) != 0) {
            snprintf(err, errlen, "GET %s/%s: %s", dst, name, e);
            return -1;
        }
        bool same = len == set->size && memcmp(data, b->pool + bench_pool_off(name), len) == 0;
        free(data);
        if (!same) {
            snprintf(err, errlen, "%s/%s differs from the source (%zu bytes, expected %zu)", dst,
                     name, len, set->size);
            return -1;
        }
    }
    return 0;
}

static void print_progress(const cell_t *cell)
{
    char d[64];
    cfg_desc(cell->cfg, d, sizeof(d));
    if (!cell->ok) {
        fprintf(stderr, "  %-5s %-22s %s\n", size_names[cell->size_idx], d, cell->note);
        return;
    }
    fprintf(stderr,
            "  %-5s %-22s %7.2f s %8.0f obj/s %7.1f MB/s  tgt %5.0f us/obj  etl %5.0f us/obj  "
            "busy %3.0f%%  (wall %.2f s)\n",
            size_names[cell->size_idx], d, cell->secs, cell->objs_s, cell->mb_s, cell->tgt_us,
            cell->etl_us, cell->busy * 100, cell->wall);
}

/* Runs one cell: a fresh destination, the job, its timing, the checks, the destination gone. */
static void run_cell(etlb_t *b, cell_t *cell, const char *etl)
{
    const srcset_t *set = &b->src[cell->size_idx];
    char dst[64], err[1024] = "";
    char *id = NULL;
    snprintf(dst, sizeof(dst), "bdst-%03d", ++b->ndst);
    cell->ran = true;
    if (bench_bucket_create(b->endpoint, dst, err, sizeof(err)) != 0) {
        snprintf(cell->note, sizeof(cell->note), "FAILED: %.300s", err);
        return;
    }
    cpu_sample_t *a = xmalloc(sizeof(*a)), *z = xmalloc(sizeof(*z));
    cpu_sample(b, a);
    int64_t t0 = time_mono_ns();
    json_t *v = json_pack("{s:i}", "num-workers", b->workers);
    if (etl != NULL)
        json_object_set_new(v, "id", json_string(etl));
    if (bench_job_start(b->endpoint, set->bck, dst, v, &id, err, sizeof(err)) != 0 ||
        bench_job_wait(b->cl, id, JOB_TIMEOUT_S, err, sizeof(err)) != 0) {
        snprintf(cell->note, sizeof(cell->note), "FAILED: %.300s", err);
        goto out;
    }
    cell->wall = (double)(time_mono_ns() - t0) / 1e9;
    cpu_sample(b, z);
    bench_job_time_t jt;
    if (bench_job_timing(b->cl, id, b->smap.nt, &jt, err, sizeof(err)) != 0) {
        snprintf(cell->note, sizeof(cell->note), "FAILED: %.300s", err);
        goto out;
    }
    cell->secs = jt.secs;
    cell->objs = jt.objs;
    cell->bytes = jt.bytes;
    cpu_account(cell, a, z);
    if (cell->objs != set->count) {
        snprintf(cell->note, sizeof(cell->note), "FAILED: the job counts %lld objects, not %ld",
                 (long long)cell->objs, set->count);
        goto out;
    }
    if (verify(b, set, dst, err, sizeof(err)) != 0) {
        snprintf(cell->note, sizeof(cell->note), "FAILED: %.300s", err);
        goto out;
    }
    if (cell->secs > 0) {
        cell->objs_s = (double)set->count / cell->secs;
        cell->mb_s = (double)set->count * (double)set->size / cell->secs / 1e6;
    }
    cell->ok = true;
out:
    free(a);
    free(z);
    free(id);
    bench_bucket_destroy(b->endpoint, dst);
    bench_bucket_settle(b->run.cluster_dir, dst);
}

static cell_t *cell_new(etlb_t *b, const cfg_t *c, int size_idx)
{
    cell_t *cell = &b->cells[b->ncells++];
    memset(cell, 0, sizeof(*cell));
    cell->cfg = c;
    cell->size_idx = size_idx;
    cell->tgt_us = cell->etl_us = cell->busy = -1;
    return cell;
}

/* ------------------------------------------------------------------------------------------ */
/* report */

/* Mean objects/s (or, with cpu, mean target CPU us per object) of the copy-bck cells of a
 * size. */
static double copy_mean(const etlb_t *b, int size_idx, bool cpu, int *n)
{
    double sum = 0;
    *n = 0;
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->size_idx == size_idx && c->cfg->kind == CFG_COPY && c->ok &&
            (!cpu || c->tgt_us > 0)) {
            sum += cpu ? c->tgt_us : c->objs_s;
            (*n)++;
        }
    }
    return *n > 0 ? sum / *n : 0;
}

static void compute_ratios(etlb_t *b)
{
    for (int s = 0; s < NSIZES; s++) {
        int n;
        double ceil = copy_mean(b, s, false, &n);
        double cpu = copy_mean(b, s, true, &n);
        for (int i = 0; i < b->ncells; i++) {
            cell_t *c = &b->cells[i];
            if (c->size_idx != s || !c->ok)
                continue;
            if (ceil > 0)
                c->ratio = c->objs_s / ceil;
            double mine = c->tgt_us + (c->cfg->kind == CFG_ETL && c->etl_us > 0 ? c->etl_us : 0);
            if (cpu > 0 && c->tgt_us > 0)
                c->cpu_ratio = cpu / mine;
        }
    }
}

static void fmt_us(double us, char *out, size_t len)
{
    if (us < 0)
        snprintf(out, len, "-");
    else
        snprintf(out, len, "%.0f", us);
}

static void print_table(const etlb_t *b, FILE *f, bool md)
{
    if (md) {
        fprintf(f, "| objects | comm | fqn | direct put | s | objects/s | MB/s | ratio to copy-bck "
                   "| target CPU us/obj | ETL CPU us/obj | CPU ratio | CPU busy |\n");
        fprintf(f, "|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    } else {
        fprintf(f, "%-15s  %-19s  %-3s  %-3s  %8s  %9s  %8s  %6s  %7s  %7s  %7s  %5s\n", "objects",
                "comm", "fqn", "dp", "s", "objects/s", "MB/s", "ratio", "tgt us", "etl us",
                "cpu rat", "busy");
    }
    for (int s = 0; s < NSIZES; s++) {
        char sz[32], objs[64];
        size_format(b->sizes[s], sz, sizeof(sz));
        snprintf(objs, sizeof(objs), "%ld x %s", b->counts[s], sz);
        for (int i = 0; i < b->ncells; i++) {
            const cell_t *c = &b->cells[i];
            if (c->size_idx != s)
                continue;
            char comm[48];
            if (c->cfg->kind == CFG_COPY)
                snprintf(comm, sizeof(comm), "copy-bck (%s)", c->cfg->label);
            else
                snprintf(comm, sizeof(comm), "%s%s", c->cfg->comm,
                         c->cfg->unix_sock ? " (unix socket)" : "");
            bool plain = c->cfg->kind == CFG_COPY || strcmp(c->cfg->comm, "io") == 0;
            const char *fqn = plain ? "-" : c->cfg->fqn ? "on" : "off";
            const char *dp = plain ? "-" : c->cfg->dp ? "on" : "off";
            if (!c->ok) {
                if (md)
                    fprintf(f, "| %s | %s | %s | %s | %s | | | | | | | |\n", objs, comm, fqn, dp,
                            c->note);
                else
                    fprintf(f, "%-15s  %-19s  %-3s  %-3s  %s\n", objs, comm, fqn, dp, c->note);
                continue;
            }
            char tus[32], eus[32], ratio[32], busy[32], cpur[32];
            fmt_us(c->tgt_us, tus, sizeof(tus));
            fmt_us(c->cfg->kind == CFG_COPY ? -1 : c->etl_us, eus, sizeof(eus));
            snprintf(ratio, sizeof(ratio), "%.2f", c->ratio);
            if (c->cpu_ratio > 0)
                snprintf(cpur, sizeof(cpur), "%.2f", c->cpu_ratio);
            else
                snprintf(cpur, sizeof(cpur), "-");
            if (c->busy < 0)
                snprintf(busy, sizeof(busy), "-");
            else
                snprintf(busy, sizeof(busy), "%.0f%%", c->busy * 100);
            if (md)
                fprintf(f, "| %s | %s | %s | %s | %.2f | %.0f | %.1f | %s | %s | %s | %s | %s |\n",
                        objs, comm, fqn, dp, c->secs, c->objs_s, c->mb_s, ratio, tus, eus, cpur,
                        busy);
            else
                fprintf(
                    f, "%-15s  %-19s  %-3s  %-3s  %8.2f  %9.0f  %8.1f  %6s  %7s  %7s  %7s  %5s\n",
                    objs, comm, fqn, dp, c->secs, c->objs_s, c->mb_s, ratio, tus, eus, cpur, busy);
        }
    }
}

/* The best ETL configuration of the small objects against the 0.8 target of issue 4. */
static void verdict(const etlb_t *b, char *out, size_t len)
{
    const cell_t *best = NULL;
    for (int i = 0; i < b->ncells; i++) {
        const cell_t *c = &b->cells[i];
        if (c->size_idx == SZ_SMALL && c->ok && c->cfg->kind == CFG_ETL &&
            (best == NULL || c->ratio > best->ratio))
            best = c;
    }
    int n;
    double ceil = copy_mean(b, SZ_SMALL, false, &n);
    if (best == NULL || ceil <= 0) {
        snprintf(out, len, "Target (best ETL >= 0.8 of copy-bck on small objects): not measured.");
        return;
    }
    char d[64];
    cfg_desc(best->cfg, d, sizeof(d));
    snprintf(out, len,
             "Target (best ETL >= 0.8 of copy-bck on small objects): best is %s at %.2f of "
             "copy-bck (%.0f vs %.0f objects/s): %s. Its CPU ratio: %.2f.",
             d, best->ratio, best->objs_s, ceil, best->ratio >= 0.8 ? "MET" : "NOT met",
             best->cpu_ratio);
}

static const char legend[] =
    "s = the job's own duration (earliest start-time to latest end-time over the targets' "
    "qryxstats snapshots), ETL already running, empty destination. MB = 10^6 bytes of source "
    "objects. ratio = objects/s / the mean objects/s of the two copy-bck cells of the same "
    "size (start and end of the run). target CPU = utime+stime of the target locusd processes "
    "per object; ETL CPU = the ETL server processes plus reaped children of the targets "
    "(io:// runs one `cat` per object) per object; CPU busy = the whole machine's non-idle "
    "share over the cell. CPU ratio = copy-bck's target CPU per object (mean of its two "
    "cells) / this cell's target + ETL CPU per object: the throughput ratio to expect when "
    "the CPU is the bottleneck, and much less sensitive to other load on the machine than "
    "objects/s. Every cell verified: job without error, destination count and sizes "
    "equal the source, 20 objects byte-identical.";

static void params_line(const etlb_t *b, char *out, size_t len)
{
    char s0[32], s1[32];
    size_format(b->sizes[0], s0, sizeof(s0));
    size_format(b->sizes[1], s1, sizeof(s1));
    snprintf(out, len,
             "cluster: 1 proxy + %zu targets started by the bench; sources %ld x %s and %ld x %s; "
             "num-workers %d per target; transformer echo (locus-etl-echo), io:// = `cat`",
             b->smap.nt, b->counts[0], s0, b->counts[1], s1, b->workers);
}

static int write_md(const etlb_t *b, const char *path, const char *mach, const char *params,
                    const char *verd)
{
    FILE *f = bench_md_open(path, "etl", mach, params);
    if (f == NULL)
        return -1;
    fprintf(f, ".\n\n");
    print_table(b, f, true);
    fprintf(f, "\n%s\n\n%s\n", legend, verd);
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* command */

static const char usage[] =
    "usage: locus-bench etl [options]\n"
    "\n"
    "Offline bucket-to-bucket transforms (etl-bck) with the echo transformer for every\n"
    "configuration (hpush|hpull|ws x fqn x direct put, io://, unix sockets) next to\n"
    "copy-bck of the same bucket, on a 1 proxy + N targets cluster the bench starts.\n";

static int opt_sizes(const bench_opt_t *o, const char *arg)
{
    bool *on = o->dst;
    on[SZ_SMALL] = strstr(arg, "small") != NULL;
    on[SZ_LARGE] = strstr(arg, "large") != NULL;
    return 0;
}

static int parse_args(void *state, int argc, char **argv)
{
    etlb_t *b = state;
    long counts[NSIZES] = {-1, -1};
    b->sizes[SZ_SMALL] = 10 * KiB;
    b->sizes[SZ_LARGE] = MiB;
    b->size_on[SZ_SMALL] = b->size_on[SZ_LARGE] = true;
    b->workers = 8;
    b->targets = 3;
    const bench_opt_t opts[] = {
        BOPT("small-count", BOPT_LONG, &counts[SZ_SMALL], "N",
             "small objects in the source, default 10000", .min = 1, .max = 1e9),
        BOPT("large-count", BOPT_LONG, &counts[SZ_LARGE], "N",
             "large objects in the source, default 1000", .min = 1, .max = 1e9),
        BOPT("small-size", BOPT_SIZE, &b->sizes[SZ_SMALL], "SIZE", "default 10KiB", .min = 1,
             .max = 256 * MiB),
        BOPT("large-size", BOPT_SIZE, &b->sizes[SZ_LARGE], "SIZE", "default 1MiB", .min = 1,
             .max = 256 * MiB),
        BOPT("sizes", BOPT_FN, b->size_on, "LIST", "small,large (default both)", .fn = opt_sizes),
        BOPT("only", BOPT_STR, &b->only, "LIST",
             "configurations: copy,hpush,hpull,ws,io,unix (default all)"),
        BOPT("workers", BOPT_INT, &b->workers, "N",
             "num-workers per target of every job, default 8", .min = 1, .max = 64),
        BOPT("targets", BOPT_INT, &b->targets, "N", "targets of the cluster, default 3", .min = 1,
             .max = 32),
        BOPT("quick", BOPT_BOOL, &b->quick, NULL,
             "smoke run (1000 small, 50 large objects), under a minute"),
        BOPT("md", BOPT_STR, &b->md, "FILE", "also write the table as markdown"),
        BOPT("no-warmup", BOPT_BOOL, &b->no_warmup, NULL,
             "skip the untimed copy-bck of each source before the cells"),
        BOPT("keep", BOPT_BOOL, &b->run.keep, NULL, "keep the temp dir (cluster data and logs)"),
    };
    int rc = bench_opts_parse(usage, opts, ARRAY_SIZE(opts), argc, argv);
    if (rc != BENCH_OPTS_GO)
        return rc;
    b->counts[SZ_SMALL] = counts[SZ_SMALL] >= 0 ? counts[SZ_SMALL] : b->quick ? 1000 : 10000;
    b->counts[SZ_LARGE] = counts[SZ_LARGE] >= 0 ? counts[SZ_LARGE] : b->quick ? 50 : 1000;
    if (!b->size_on[SZ_SMALL] && !b->size_on[SZ_LARGE]) {
        fprintf(stderr, "locus-bench: bad options (see --help)\n");
        return 2;
    }
    return BENCH_OPTS_GO;
}

/* The benchmark, between bench_main's start and end. */
static int run_bench(void *state)
{
    etlb_t *b = state;
    int rc = 1;
    char err[LOCUS_ERR_LEN] = "";
    b->run.cluster_dir = xasprintf("%s/cluster", b->run.tmp);
    if (bench_own_cluster(b->run.bindir, b->run.cluster_dir, b->targets, -1, &b->endpoint) != 0)
        goto out;
    if (bench_cluster_open(b->endpoint, &b->smap, &b->cl) != 0)
        goto out;
    b->ntpids = target_pids(b, b->tpids, 64);

    fill_pool(b);
    b->src[SZ_SMALL] = (srcset_t){"bsrc-small", b->counts[SZ_SMALL], b->sizes[SZ_SMALL]};
    b->src[SZ_LARGE] = (srcset_t){"bsrc-large", b->counts[SZ_LARGE], b->sizes[SZ_LARGE]};
    fprintf(stderr, "filling the source buckets (untimed)\n");
    for (int s = 0; s < NSIZES; s++) {
        if (b->size_on[s] && fill_source(b, &b->src[s], err, sizeof(err)) != 0) {
            fprintf(stderr, "locus-bench: %s\n", err);
            goto out;
        }
    }
    /* Warm-up, untimed: one copy-bck of each source. On this kind of VM the first writes into
     * memory the guest has not touched yet are several times slower (the host hands pages out
     * lazily), which would penalize whichever cell runs first. */
    if (!b->no_warmup) {
        static const cfg_t warm = {CFG_COPY, NULL, false, false, false, "warm-up"};
        for (int s = 0; s < NSIZES && !bench_stop; s++) {
            if (!b->size_on[s])
                continue;
            cell_t cell = {.cfg = &warm, .size_idx = s};
            run_cell(b, &cell, NULL);
            if (!cell.ok) {
                fprintf(stderr, "locus-bench: warm-up copy-bck of %s: %s\n", b->src[s].bck,
                        cell.note);
                goto out;
            }
            fprintf(stderr, "  warm-up copy-bck of %s: %.2f s (not reported)\n", b->src[s].bck,
                    cell.secs);
        }
    }
    fprintf(stderr, "cells (%d workers per target):\n", b->workers);

    for (int i = 0; i < NCONFIGS && !bench_stop; i++) {
        const cfg_t *c = &configs[i];
        if (!cfg_selected(b, c))
            continue;
        char name[64] = "", note[320] = "";
        int up = 0;
        if (c->kind == CFG_ETL) {
            etl_name(c, name, sizeof(name));
            up = etl_up(b, c, name, note, sizeof(note));
        }
        for (int s = 0; s < NSIZES && !bench_stop; s++) {
            if (!b->size_on[s])
                continue;
            cell_t *cell = cell_new(b, c, s);
            if (up != 0)
                snprintf(cell->note, sizeof(cell->note), "%s", note);
            else
                run_cell(b, cell, c->kind == CFG_ETL ? name : NULL);
            print_progress(cell);
        }
        if (c->kind == CFG_ETL && up != 1)
            etl_down(b, name);
    }

    compute_ratios(b);
    char params[512], verd[512];
    params_line(b, params, sizeof(params));
    verdict(b, verd, sizeof(verd));
    printf("\nlocus-bench etl: %s\n%s\n\n", b->run.mach, params);
    print_table(b, stdout, false);
    printf("\n%s\n\n%s\n", legend, verd);
    fflush(stdout);
    if (b->md != NULL)
        write_md(b, b->md, b->run.mach, params, verd);

    rc = 0;
    for (int i = 0; i < b->ncells; i++)
        if (!b->cells[i].ok && strncmp(b->cells[i].note, "n/a", 3) != 0)
            rc = 1;
    if (bench_stop)
        rc = 130;
out:
    locus_client_destroy(b->cl);
    bench_smap_dispose(&b->smap);
    free(b->pool);
    free(b->endpoint);
    return rc;
}

int bench_cmd_etl(int argc, char **argv)
{
    static const bench_cmd_t cmd = {"etl", "locus-bench", sizeof(etlb_t), parse_args, run_bench};
    return bench_main(&cmd, argc, argv);
}
