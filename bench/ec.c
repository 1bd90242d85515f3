/*
 * ec.c - `locus-bench ec`: the erasure-coding codec alone, in memory. For each D+P it codes the
 * parity of an object of --size bytes with Intel ISA-L (ec_encode_data: SIMD, picked for this
 * CPU at run time) and with ISA-L's own plain-C Reed-Solomon (ec_encode_data_base: the same
 * Cauchy matrix and GF(2^8) tables, a table lookup per byte, what a straightforward C
 * implementation does), alternating runs, and prints MB/s of object data, CPU ms per MB and the
 * ratio. Both outputs are compared byte for byte. This is the measurement behind the choice of
 * ISA-L (docs/benchmarks.md, "Erasure coding").
 */
#include <isa-l/erasure_code.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "opts.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Codes the parity of the d slices of len bytes into par with the given coder; CPU seconds. */
static double code(int simd, int len, int d, int p, unsigned char *tbls, unsigned char **data,
                   unsigned char **par)
{
    double t0 = cpu_now();
    if (simd)
        ec_encode_data(len, d, p, tbls, data, par);
    else
        ec_encode_data_base(len, d, p, tbls, data, par);
    return cpu_now() - t0;
}

static int one(int64_t size, int d, int p, int rounds)
{
    int len = (int)((size + d - 1) / d);
    unsigned char *a = malloc((size_t)(d + p) * d), *tbls = malloc(32u * d * p);
    unsigned char *buf = malloc((size_t)len * (d + 2 * p)), *data[d], *par[2][p];
    if (!a || !tbls || !buf) {
        fprintf(stderr, "locus-bench ec: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)len * d; i++)
        buf[i] = (unsigned char)(rand() >> 7);
    for (int i = 0; i < d; i++)
        data[i] = buf + (size_t)len * i;
    for (int k = 0; k < p; k++) {
        par[0][k] = buf + (size_t)len * (d + k);
        par[1][k] = buf + (size_t)len * (d + p + k);
    }
    gf_gen_cauchy1_matrix(a, d + p, d);
    ec_init_tables(d, p, &a[d * d], tbls);
    double best[2] = {1e9, 1e9};
    for (int r = 0; r < rounds; r++)
        for (int simd = 1; simd >= 0; simd--) {
            double t = code(simd, len, d, p, tbls, data, par[simd]);
            best[simd] = t < best[simd] ? t : best[simd];
        }
    int same = 1;
    for (int k = 0; k < p; k++)
        same &= memcmp(par[0][k], par[1][k], (size_t)len) == 0;
    double mb = size / 1e6;
    printf("%-6s %10.0f %10.3f %10.0f %10.3f %8.1fx  %s\n", "", mb / best[1], best[1] * 1e3 / mb,
           mb / best[0], best[0] * 1e3 / mb, best[0] / best[1], same ? "same parity" : "DIFFER");
    free(a);
    free(tbls);
    free(buf);
    return same ? 0 : 1;
}

int bench_cmd_ec(int argc, char **argv)
{
    const char *list = "2+1,4+2,8+3";
    uint64_t size = 64ull << 20;
    int rounds = 3;
    const bench_opt_t opts[] = {
        BOPT("size", BOPT_SIZE, &size, "SIZE", "object size, default 64MiB", .min = 1,
             .max = 4294967296.0),
        BOPT("slices", BOPT_STR, &list, "LIST", "D+P list, default 2+1,4+2,8+3"),
        BOPT("rounds", BOPT_INT, &rounds, "N", "runs of each coder (the best kept), default 3",
             .min = 1, .max = 100),
    };
    int rc = bench_opts_parse("usage: locus-bench ec [options]\n\nThe erasure-coding codec in "
                              "memory: ISA-L (SIMD) against plain C, same matrix.",
                              opts, sizeof(opts) / sizeof(*opts), argc, argv);
    if (rc != BENCH_OPTS_GO)
        return rc;
    printf("%-6s %10s %10s %10s %10s %9s\n", "D+P", "isal MB/s", "ms/MB", "plain MB/s", "ms/MB",
           "isal/plain");
    char *copy = strdup(list), *save = NULL;
    int bad = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int d = 0, p = 0, n = 0;
        if (sscanf(t, "%d+%d%n", &d, &p, &n) != 2 || t[n] || d < 1 || d > 32 || p < 1 || p > 32) {
            fprintf(stderr, "locus-bench: bad options (see --help): --slices '%s'\n", t);
            free(copy);
            return 2;
        }
        printf("%-6s", t);
        bad |= one((int64_t)size, d, p, rounds);
    }
    free(copy);
    return bad;
}
