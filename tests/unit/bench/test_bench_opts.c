/*
 * test_bench_opts.c - unit tests for locus-bench's option tables (bench/opts.c): every type,
 * ranges and bad values, --help, "was it given" flags and the usage text made from the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"
#include "opts.h"

typedef struct {
    bool quick, rounds_set;
    const char *md;
    int workers, rounds, any;
    long files;
    uint64_t seed, size;
    double secs;
    const char *list;
} cfg_t;

static int opt_list(const bench_opt_t *o, const char *arg)
{
    if (strchr(arg, ' ') != NULL) {
        fprintf(stderr, "locus-bench: no spaces in --%s\n", o->name);
        return -1;
    }
    *(const char **)o->dst = arg;
    return 0;
}

static const char usage[] = "usage: locus-bench test [options]\n\nA test.\n";

static int parse(cfg_t *c, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    c->workers = 8;
    c->rounds = 3;
    const bench_opt_t opts[] = {
        BOPT("quick", BOPT_BOOL, &c->quick, NULL, "smoke run"),
        BOPT("md", BOPT_STR, &c->md, "FILE", "also write markdown"),
        BOPT("workers", BOPT_INT, &c->workers, "N", "workers, default 8", .min = 1, .max = 64),
        BOPT("rounds", BOPT_INT, &c->rounds, "N", "rounds,\nsplit", .min = 1, .max = 100,
             .set = &c->rounds_set),
        BOPT("files", BOPT_LONG, &c->files, "N", "files"),
        BOPT("any", BOPT_INT, &c->any, "N", "an int without a range"),
        BOPT("seed", BOPT_U64, &c->seed, "S", "seed"),
        BOPT("size", BOPT_SIZE, &c->size, "SIZE", "size", .min = 1, .max = 256 << 20),
        BOPT("secs", BOPT_SECS, &c->secs, "S", "seconds", .min = 0, .max = 1e6),
        BOPT("list", BOPT_FN, &c->list, "LIST", "a list", .fn = opt_list),
    };
    return bench_opts_parse(usage, opts, ARRAY_SIZE(opts), argc, argv);
}

static void test_values(void **state)
{
    (void)state;
    char *argv[] = {"test",    "--quick", "--md",   "out.md", "--workers", "64",
                    "--files", "-3",      "--seed", "0x10",   "--size",    "4KiB",
                    "--secs",  "1.5",     "--list", "a,b",    NULL};
    cfg_t c;
    assert_int_equal(parse(&c, (int)ARRAY_SIZE(argv) - 1, argv), BENCH_OPTS_GO);
    assert_true(c.quick);
    assert_string_equal(c.md, "out.md");
    assert_int_equal(c.workers, 64);
    assert_int_equal(c.files, -3);
    assert_int_equal(c.seed, 16);
    assert_int_equal(c.size, 4096);
    assert_true(c.secs == 1.5);
    assert_string_equal(c.list, "a,b");
    assert_int_equal(c.rounds, 3); /* default kept */
    assert_false(c.rounds_set);
}

static void test_set_flag(void **state)
{
    (void)state;
    char *argv[] = {"test", "--rounds", "3", NULL};
    cfg_t c;
    assert_int_equal(parse(&c, 3, argv), BENCH_OPTS_GO);
    assert_int_equal(c.rounds, 3);
    assert_true(c.rounds_set); /* given, even if equal to the default */
}

/* Integers without a range: a long keeps every digit (not rounded through a double), an int
 * refuses what does not fit instead of wrapping. */
static void test_unranged_integers(void **state)
{
    (void)state;
    char *argv[] = {"test", "--files", "9007199254740993", "--any", "-2147483648", NULL};
    cfg_t c;
    assert_int_equal(parse(&c, 5, argv), BENCH_OPTS_GO);
    assert_true(c.files == 9007199254740993L);
    assert_int_equal(c.any, INT_MIN);
    static const char *const bad[] = {"4294967296", "2147483648", "-2147483649",
                                      "99999999999999999999"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *a[] = {"test", "--any", (char *)bad[i], NULL};
        if (parse(&c, 3, a) != 2)
            fail_msg("--any '%s' accepted", bad[i]);
    }
}

static void test_bad_values(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"--workers", "0"}, {"--workers", "65"},  {"--workers", "8x"}, {"--workers", ""},
        {"--files", "1.5"}, {"--seed", "z"},      {"--size", "0"},     {"--size", "1GiB"},
        {"--size", "4Kb?"}, {"--secs", "-1"},     {"--secs", "abc"},   {"--list", "a b"},
        {"--unknown", "1"}, {"--quick", "extra"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *argv[] = {"test", (char *)bad[i][0], (char *)bad[i][1], NULL};
        cfg_t c;
        if (parse(&c, 3, argv) != 2)
            fail_msg("%s '%s' accepted", bad[i][0], bad[i][1]);
    }
    char *missing[] = {"test", "--md", NULL};
    cfg_t c;
    assert_int_equal(parse(&c, 2, missing), 2);
}

static void test_help(void **state)
{
    (void)state;
    char *argv[] = {"test", "--workers", "2", "--help", NULL};
    cfg_t c;
    assert_int_equal(parse(&c, 4, argv), 0);
}

static void test_usage_text(void **state)
{
    (void)state;
    const bench_opt_t opts[] = {
        BOPT("quick", BOPT_BOOL, NULL, NULL, "smoke run"),
        BOPT("max-bytes", BOPT_SIZE, NULL, "SIZE", "cap per cell,\ndefault 2GiB"),
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bench_opts_usage(usage, opts, ARRAY_SIZE(opts), f);
    fclose(f);
    assert_string_equal(text, "usage: locus-bench test [options]\n"
                              "\n"
                              "A test.\n"
                              "\n"
                              "  --quick           smoke run\n"
                              "  --max-bytes SIZE  cap per cell,\n"
                              "                    default 2GiB\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_set_flag),
        cmocka_unit_test(test_unranged_integers),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
