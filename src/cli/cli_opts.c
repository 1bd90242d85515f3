/*
 * cli_opts.c - one getopt_long loop for every CLI command, driven by the command's option table,
 * and one subcommand dispatch for the command groups (see cli.h).
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* getopt_long's value for the long option at table index i (above every short letter). */
#define LONG_VAL(i) (256 + (int)(i))

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Stores one option's argument; CLI_OPTS_GO or the exit code of the usage error. */
static int set_opt(const cli_opt_t *o, const char *cmd, const char *arg)
{
    switch (o->type) {
    case CLI_OPT_FLAG:
        *(bool *)o->dst = true;
        break;
    case CLI_OPT_STR:
        *(const char **)o->dst = arg;
        break;
    case CLI_OPT_INT:
        if (parse_int(arg, o->min, o->max, (int64_t *)o->dst) != 0)
            return cli_usage_error(cmd, "%s", o->bad);
        break;
    case CLI_OPT_DURATION: {
        int64_t ns = cli_parse_duration(arg);
        if (ns <= 0)
            return cli_usage_error(cmd, "%s", o->bad);
        *(int64_t *)o->dst = ns;
        break;
    }
    case CLI_OPT_FN: {
        int rc = o->fn(o, cmd, arg);
        if (rc != 0)
            return rc;
        break;
    }
    }
    return CLI_OPTS_GO;
}

int cli_options(const cli_cmd_t *cc, const cli_opt_t *opts, size_t nopts, int argc, char **argv,
                int *first)
{
    struct option *lo = xcalloc(nopts + 2, sizeof(*lo));
    char *shorts = xcalloc(2 * nopts + 2, 1), *sp = shorts;
    *sp++ = 'h';
    for (size_t i = 0; i < nopts; i++) {
        int has_arg = opts[i].type == CLI_OPT_FLAG ? no_argument : required_argument;
        lo[i] = (struct option){opts[i].name, has_arg, NULL, LONG_VAL(i)};
        if (opts[i].short_name != 0) {
            *sp++ = opts[i].short_name;
            if (has_arg == required_argument)
                *sp++ = ':';
        }
    }
    lo[nopts] = (struct option){"help", no_argument, NULL, 'h'};
    int rc = CLI_OPTS_GO, c;
    optind = 0;
    while (rc == CLI_OPTS_GO && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const cli_opt_t *o = NULL;
        for (size_t i = 0; i < nopts && o == NULL; i++)
            if (c == LONG_VAL(i) || (c < 256 && c == opts[i].short_name))
                o = &opts[i];
        if (o != NULL) {
            rc = set_opt(o, cc->cmd, optarg);
        } else if (c == 'h') {
            cc->usage(stdout);
            rc = CLI_EXIT_OK;
        } else {
            rc = cli_usage_error(cc->cmd, "bad option");
        }
    }
    free(lo);
    free(shorts);
    *first = optind;
    int n = argc - optind;
    if (rc == CLI_OPTS_GO && (n < cc->min_args || (cc->max_args >= 0 && n > cc->max_args))) {
        const char *extra =
            cc->max_args >= 0 && n > cc->max_args ? argv[optind + cc->max_args] : "";
        rc = cli_usage_error(cc->cmd, cc->bad_args, extra);
    }
    return rc;
}

int cli_dispatch(const char *cmd, void (*usage)(FILE *), const cli_sub_t *subs, size_t nsubs,
                 int flags, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
        ((flags & CLI_HELP_WORD) && strcmp(sub, "help") == 0) ||
        ((flags & CLI_HELP_ANYWHERE) && cli_wants_help(argc, argv))) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < nsubs; i++)
        if (strcmp(sub, subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    return cli_usage_error(cmd, "unknown subcommand \"%s %s\"", cmd, sub);
}
