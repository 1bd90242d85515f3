/*
 * main.c - locus-bench: load tools for Locus. One subcommand per file (`obj` = object I/O,
 * `etl` = offline transforms against copy-bck, `etl-ffmpeg` = FLAC->WAV, `gen-librispeech` = its
 * data).
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

volatile sig_atomic_t bench_stop;

static void usage(FILE *f)
{
    fprintf(f, "usage: locus-bench <command> [options]\n"
               "\n"
               "commands:\n"
               "  obj              PUT/GET throughput through the proxy, directly to targets, and\n"
               "                   the same GETs from nginx serving the same files\n"
               "  etl              offline bucket-to-bucket ETL (echo) over every comm/FQN/\n"
               "                   direct-put configuration and io://, next to copy-bck\n"
               "  etl-ffmpeg       FLAC->WAV: client-side vs in-cluster ETL vs the bare\n"
               "                   compute limit\n"
               "  gen-librispeech  a LibriSpeech-like FLAC corpus (etl-ffmpeg's data)\n"
               "  ec               the erasure-coding codec: ISA-L against plain C\n"
               "  batch            one GetBatch of N objects against N plain GETs\n"
               "\n"
               "Run 'locus-bench <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "obj") == 0)
        return bench_cmd_obj(argc - 1, argv + 1);
    if (strcmp(argv[1], "etl") == 0)
        return bench_cmd_etl(argc - 1, argv + 1);
    if (strcmp(argv[1], "gen-librispeech") == 0)
        return bench_cmd_gen_librispeech(argc - 1, argv + 1);
    if (strcmp(argv[1], "etl-ffmpeg") == 0)
        return bench_cmd_etl_ffmpeg(argc - 1, argv + 1);
    if (strcmp(argv[1], "ec") == 0)
        return bench_cmd_ec(argc - 1, argv + 1);
    if (strcmp(argv[1], "batch") == 0)
        return bench_cmd_batch(argc - 1, argv + 1);
    fprintf(stderr, "locus-bench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
