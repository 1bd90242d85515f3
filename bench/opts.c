/*
 * opts.c - the one option parser and usage printer of locus-bench (see opts.h).
 */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Parses s as a number of type t: an integer into *l (within int for BOPT_INT), an unsigned or a
 * size into *u, and into *v as a double for the range check (seconds only there). False if it is
 * not one. */
static bool parse_num(bench_opt_type_t t, const char *s, long *l, uint64_t *u, double *v)
{
    char *end = NULL;
    errno = 0;
    switch (t) {
    case BOPT_INT:
    case BOPT_LONG:
        *l = strtol(s, &end, 10);
        if (t == BOPT_INT && (*l < INT_MIN || *l > INT_MAX))
            return false;
        *v = (double)*l;
        break;
    case BOPT_U64:
        *u = strtoull(s, &end, 0);
        *v = (double)*u;
        break;
    case BOPT_SIZE: {
        int64_t n = size_parse(s);
        if (n < 0)
            return false;
        *u = (uint64_t)n;
        *v = (double)n;
        return true;
    }
    case BOPT_SECS:
        *v = strtod(s, &end);
        break;
    default:
        return false;
    }
    return errno == 0 && end != s && *end == '\0';
}

static int set_opt(const bench_opt_t *o, const char *arg)
{
    double v = 0;
    long l = 0;
    uint64_t u = 0;
    switch (o->type) {
    case BOPT_BOOL:
        *(bool *)o->dst = true;
        break;
    case BOPT_STR:
        *(const char **)o->dst = arg;
        break;
    case BOPT_FN:
        if (o->fn(o, arg) != 0)
            return -1;
        break;
    default:
        if (!parse_num(o->type, arg, &l, &u, &v) ||
            ((o->min != 0 || o->max != 0) && (v < o->min || v > o->max))) {
            fprintf(stderr, "locus-bench: bad options (see --help): --%s '%s'", o->name, arg);
            if (o->min != 0 || o->max != 0)
                fprintf(stderr, " (%.15g-%.15g)", o->min, o->max);
            fputc('\n', stderr);
            return -1;
        }
        /* Integers are stored as parsed, not through the double (exact past 2^53). */
        if (o->type == BOPT_INT)
            *(int *)o->dst = (int)l;
        else if (o->type == BOPT_LONG)
            *(long *)o->dst = l;
        else if (o->type == BOPT_SECS)
            *(double *)o->dst = v;
        else
            *(uint64_t *)o->dst = u;
    }
    if (o->set != NULL)
        *o->set = true;
    return 0;
}

int bench_opts_parse(const char *usage, const bench_opt_t *opts, size_t nopts, int argc,
                     char **argv)
{
    struct option *lo = xcalloc(nopts + 2, sizeof(*lo));
    for (size_t i = 0; i < nopts; i++)
        lo[i] = (struct option){opts[i].name,
                                opts[i].type == BOPT_BOOL ? no_argument : required_argument, NULL,
                                256 + (int)i};
    lo[nopts] = (struct option){"help", no_argument, NULL, 'h'};
    int rc = BENCH_OPTS_GO, k;
    optind = 1;
    while (rc == BENCH_OPTS_GO && (k = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (k >= 256) {
            rc = set_opt(&opts[k - 256], optarg) == 0 ? BENCH_OPTS_GO : 2;
        } else if (k == 'h') {
            bench_opts_usage(usage, opts, nopts, stdout);
            rc = 0;
        } else {
            bench_opts_usage(usage, opts, nopts, stderr);
            rc = 2;
        }
    }
    free(lo);
    if (rc == BENCH_OPTS_GO && optind < argc) {
        fprintf(stderr, "locus-bench: unexpected argument '%s'\n", argv[optind]);
        rc = 2;
    }
    return rc;
}

void bench_opts_usage(const char *usage, const bench_opt_t *opts, size_t nopts, FILE *f)
{
    int w = 0;
    for (size_t i = 0; i < nopts; i++) {
        const bench_opt_t *o = &opts[i];
        int n = (int)strlen(o->name) + (o->arg != NULL ? (int)strlen(o->arg) + 1 : 0);
        w = n > w ? n : w;
    }
    fputs(usage, f);
    fputc('\n', f);
    for (size_t i = 0; i < nopts; i++) {
        const bench_opt_t *o = &opts[i];
        char head[128];
        snprintf(head, sizeof(head), "--%s%s%s", o->name, o->arg != NULL ? " " : "",
                 o->arg != NULL ? o->arg : "");
        fprintf(f, "  %-*s  ", w + 2, head);
        for (const char *p = o->help; *p != '\0'; p++) {
            fputc(*p, f);
            if (*p == '\n')
                fprintf(f, "  %-*s  ", w + 2, "");
        }
        fputc('\n', f);
    }
}
