/*
 * batch.c - `locus-bench batch`: GetBatch against plain GETs in the same run. N objects of SIZE
 * bytes are read back (a) by --clients threads doing one GET each per object through the proxy
 * (each GET is redirected to its target: two requests per object), and (b) by one GetBatch of
 * all N (GET /v1/ml/moss, a streamed TAR). Rounds alternate the two; the best of each is kept and
 * the ratio printed (docs/benchmarks.md, "GetBatch").
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "common/util.h"
#include "opts.h"

typedef struct {
    bench_run_t run; /* first: bench_main fills it */
    const char *endpoint_opt;
    char *endpoint;
    long nobj;
    uint64_t size;
    int clients, rounds, warmup, targets;
    char bck[64];
    char **names;
    _Atomic long next;
    long limit; /* the workers take names [next, limit): [0, n) PUTs, [n, 2n) GETs */
    _Atomic long failed;
    _Atomic int64_t bytes;
} bb_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_sink(void *arg, const void *data, size_t len)
{
    (void)data;
    *(int64_t *)arg += (int64_t)len;
    return 0;
}

/* PUT (fill) or GET every name, --clients threads taking the next name. */
static void *worker(void *arg)
{
    bb_t *b = arg;
    locus_client_t *c = NULL;
    char err[LOCUS_ERR_LEN];
    if (locus_client_create(b->endpoint, &c, err) != 0) {
        b->failed++;
        return NULL;
    }
    char *body = xmalloc(b->size);
    memset(body, 'x', b->size);
    long i;
    while ((i = b->next++) < b->limit) {
        int rc;
        if (i < b->nobj) {
            rc = locus_object_put_buf(c, b->bck, b->names[i], body, b->size, err);
        } else {
            int64_t got = 0;
            rc = locus_object_get_cb(c, b->bck, b->names[i - b->nobj], NULL, count_sink, &got, NULL,
                                     err);
            b->bytes += got;
        }
        if (rc != 0 && b->failed++ == 0)
            fprintf(stderr, "locus-bench batch: %s\n", err);
    }
    free(body);
    locus_client_destroy(c);
    return NULL;
}

static int run_workers(bb_t *b, long from)
{
    b->next = from;
    b->limit = from + b->nobj;
    pthread_t th[64];
    int n = 0;
    for (int k = 0; k < b->clients; k++)
        if (pthread_create(&th[n], NULL, worker, b) == 0)
            n++;
    for (int k = 0; k < n; k++)
        pthread_join(th[k], NULL);
    return b->failed ? -1 : 0;
}

static double plain_gets(bb_t *b)
{
    double t0 = now_s();
    b->bytes = 0;
    int rc = run_workers(b, b->nobj);
    double t = now_s() - t0;
    if (rc == 0 && b->bytes != (int64_t)b->size * b->nobj) {
        fprintf(stderr, "locus-bench batch: GETs read %lld bytes\n", (long long)b->bytes);
        return -1;
    }
    return rc == 0 ? t : -1;
}

static double one_batch(bb_t *b, locus_client_t *c)
{
    locus_batch_in_t *in = xcalloc((size_t)b->nobj, sizeof(*in));
    for (long i = 0; i < b->nobj; i++)
        in[i].objname = b->names[i];
    int64_t got = 0;
    char err[LOCUS_ERR_LEN] = "";
    locus_batch_opts_t o = {.format = ".tar"};
    double t0 = now_s();
    int rc = locus_batch_get(c, b->bck, in, (size_t)b->nobj, &o, count_sink, &got, NULL, err);
    double t = now_s() - t0;
    free(in);
    /* a TAR: a 512-byte header per member, the data padded to 512, 1024 bytes of end */
    int64_t want = b->nobj * (512 + (((int64_t)b->size + 511) / 512) * 512) + 1024;
    if (rc != 0 || got < want) {
        fprintf(stderr, "locus-bench batch: GetBatch: %s (%lld bytes, want %lld)\n",
                rc ? err : "short", (long long)got, (long long)want);
        return -1;
    }
    return t;
}

static int parse_args(void *state, int argc, char **argv)
{
    bb_t *b = state;
    b->nobj = 1000;
    b->size = 16 * 1024;
    b->clients = 8;
    b->rounds = 3;
    b->warmup = 1;
    b->targets = 3;
    const bench_opt_t opts[] = {
        BOPT("endpoint", BOPT_STR, &b->endpoint_opt, "URL",
             "an existing cluster (default: start one of --targets targets)"),
        BOPT("targets", BOPT_INT, &b->targets, "N", "targets of the cluster, default 3", .min = 1,
             .max = 32),
        BOPT("objects", BOPT_LONG, &b->nobj, "N", "objects, default 1000", .min = 1, .max = 1e6),
        BOPT("size", BOPT_SIZE, &b->size, "SIZE", "object size, default 16KiB", .min = 1,
             .max = 64 << 20),
        BOPT("clients", BOPT_INT, &b->clients, "N", "threads of plain GETs, default 8", .min = 1,
             .max = 64),
        BOPT("rounds", BOPT_INT, &b->rounds, "N", "alternating rounds (best kept), default 3",
             .min = 1, .max = 100),
        BOPT("warmup", BOPT_INT, &b->warmup, "N",
             "untimed rounds of both first (the processes' first batches run slower), default 1",
             .min = 0, .max = 10),
        BOPT("keep", BOPT_BOOL, &b->run.keep, NULL, "keep the temp dir (cluster data and logs)"),
    };
    return bench_opts_parse("usage: locus-bench batch [options]\n\nOne GetBatch of N objects "
                            "against N plain GETs by --clients threads, same cluster, same run.",
                            opts, ARRAY_SIZE(opts), argc, argv);
}

static int run_bench(void *state)
{
    bb_t *b = state;
    int rc = 1;
    char err[LOCUS_ERR_LEN] = "";
    locus_client_t *c = NULL;
    if (b->endpoint_opt) {
        b->endpoint = xstrdup(b->endpoint_opt);
    } else {
        b->run.cluster_dir = xasprintf("%s/cluster", b->run.tmp);
        if (bench_own_cluster(b->run.bindir, b->run.cluster_dir, b->targets, -1, &b->endpoint))
            goto out;
    }
    if (locus_client_create(b->endpoint, &c, err) != 0)
        goto out;
    snprintf(b->bck, sizeof(b->bck), "bbatch-%lld", (long long)(time(NULL) % 100000));
    if (bench_bucket_create(b->endpoint, b->bck, err, sizeof(err)) != 0)
        goto out;
    b->names = xcalloc((size_t)b->nobj, sizeof(char *));
    for (long i = 0; i < b->nobj; i++)
        b->names[i] = xasprintf("obj-%06ld", i);
    fprintf(stderr, "filling ais://%s: %ld x %llu bytes (untimed)\n", b->bck, b->nobj,
            (unsigned long long)b->size);
    if (run_workers(b, 0) != 0)
        goto out;
    double best_get = 1e9, best_batch = 1e9, ratio[100];
    int nr = 0;
    for (int r = 0; r < b->warmup && !bench_stop; r++) {
        double tg = plain_gets(b), tb = one_batch(b, c);
        if (tg < 0 || tb < 0)
            goto out;
        fprintf(stderr, "  warm-up %d (untimed): GETs %.3f s, GetBatch %.3f s\n", r + 1, tg, tb);
    }
    for (int r = 0; r < b->rounds && !bench_stop; r++) {
        double tg = plain_gets(b), tb = one_batch(b, c);
        if (tg < 0 || tb < 0)
            goto out;
        fprintf(stderr, "  round %d: %ld GETs by %d clients %.3f s, one GetBatch %.3f s\n", r + 1,
                b->nobj, b->clients, tg, tb);
        ratio[nr++] = tg / tb;
        best_get = tg < best_get ? tg : best_get;
        best_batch = tb < best_batch ? tb : best_batch;
    }
    for (int i = 1; i < nr; i++) /* the median of the per-round ratios (insertion sort) */
        for (int j = i; j > 0 && ratio[j] < ratio[j - 1]; j--) {
            double t = ratio[j];
            ratio[j] = ratio[j - 1];
            ratio[j - 1] = t;
        }
    double med = nr == 0 ? 0 : nr % 2 ? ratio[nr / 2] : (ratio[nr / 2 - 1] + ratio[nr / 2]) / 2;
    printf("| objects | size | plain GETs (%d clients), best | GetBatch (1 request), best | "
           "best/best | median of rounds |\n"
           "|---:|---:|---:|---:|---:|---:|\n"
           "| %ld | %llu B | %.3f s (%.0f obj/s) | %.3f s (%.0f obj/s) | %.2fx | %.2fx |\n",
           b->clients, b->nobj, (unsigned long long)b->size, best_get, b->nobj / best_get,
           best_batch, b->nobj / best_batch, best_get / best_batch, med);
    rc = 0;
out:
    if (rc && err[0])
        fprintf(stderr, "locus-bench batch: %s\n", err);
    if (b->names && b->endpoint)
        bench_bucket_destroy(b->endpoint, b->bck);
    for (long i = 0; b->names && i < b->nobj; i++)
        free(b->names[i]);
    free(b->names);
    locus_client_destroy(c);
    free(b->endpoint);
    return rc;
}

int bench_cmd_batch(int argc, char **argv)
{
    static const bench_cmd_t cmd = {"batch", "locus-bench", sizeof(bb_t), parse_args, run_bench};
    return bench_main(&cmd, argc, argv);
}
