/*
 * opts.h - the option tables of locus-bench's subcommands: each subcommand declares its options
 * (name, type, field, help) and one parser reads argv by the table and prints the usage text
 * from it. Apart from bench.h so that unit tests can use it alone.
 */
#ifndef LOCUS_BENCH_OPTS_H
#define LOCUS_BENCH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    BOPT_BOOL, /* no argument: *(bool *)dst = true */
    BOPT_STR,  /* *(const char **)dst = the argument */
    BOPT_INT,  /* *(int *)dst = a decimal integer */
    BOPT_LONG, /* *(long *)dst = a decimal integer */
    BOPT_U64,  /* *(uint64_t *)dst = an unsigned integer (0x... and 0... too) */
    BOPT_SIZE, /* *(uint64_t *)dst = a size such as 4KiB, 64MiB (size_parse) */
    BOPT_SECS, /* *(double *)dst = seconds, fractions allowed */
    BOPT_FN,   /* fn(o, arg): 0, or -1 after printing why */
} bench_opt_type_t;

typedef struct bench_opt bench_opt_t;
struct bench_opt {
    const char *name; /* long name without "--" */
    bench_opt_type_t type;
    void *dst;
    const char *arg;  /* the argument's name in the usage ("N", "SIZE"); NULL for BOPT_BOOL */
    const char *help; /* '\n' starts a continuation line */
    double min, max;  /* the range of a number; both 0 = any */
    bool *set;        /* NULL, or set true when the option is given */
    int (*fn)(const bench_opt_t *o, const char *arg);
};

/* One table row; the optional fields follow as designated initializers (.min = 1, .max = 64,
 * .set = &given, .fn = parse_list). */
#define BOPT(n, t, p, a, h, ...)                                                                   \
    {                                                                                              \
        .name = (n), .type = (t), .dst = (p), .arg = (a), .help = (h), __VA_ARGS__                 \
    }

/* bench_opts_parse() result when the subcommand goes on. */
#define BENCH_OPTS_GO (-1)
/* Reads argv's options by the table (argv[0] is the subcommand): BENCH_OPTS_GO, or the exit
 * code: 0 once the usage went to stdout for -h/--help, 2 after printing the error
 * ("locus-bench: bad options (see --help): --N 'V' (MIN-MAX)", an unknown option or an
 * operand). */
int bench_opts_parse(const char *usage, const bench_opt_t *opts, size_t nopts, int argc,
                     char **argv);
/* The usage text (usage line and description) and one line per option (with its continuation
 * lines). */
void bench_opts_usage(const char *usage, const bench_opt_t *opts, size_t nopts, FILE *f);

#endif
