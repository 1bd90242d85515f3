/*
 * cli.h - shared by the `locus` CLI's command files (src/cli/cmd_<verb>.c): the command entry
 * points dispatched from main.c's table, and small helpers for errors, options and output.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Errors are one line on stderr:
 * `locus: <what>: <server message or errno text>`.
 */
#ifndef LOCUS_CLI_H
#define LOCUS_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "locus/client.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

int locus_cli_cmd_cluster(int argc, char **argv);
int locus_cli_cmd_bucket(int argc, char **argv);
int locus_cli_cmd_put(int argc, char **argv);
int locus_cli_cmd_get(int argc, char **argv);
int locus_cli_cmd_ls(int argc, char **argv);
int locus_cli_cmd_rm(int argc, char **argv);
int locus_cli_cmd_object(int argc, char **argv);
int locus_cli_cmd_job(int argc, char **argv);
int locus_cli_cmd_etl(int argc, char **argv);
int locus_cli_cmd_auth(int argc, char **argv);
int locus_cli_cmd_storage(int argc, char **argv);
int locus_cli_cmd_batch(int argc, char **argv);
int locus_cli_cmd_archive(int argc, char **argv);
int locus_cli_cmd_show(int argc, char **argv);

/* --- `locus cluster` --- */

/* The usage text of `locus cluster` (cmd_cluster.c). */
void cli_cluster_usage(FILE *f);
/* The subcommands that talk to the endpoint (cmd_cluster_member.c); argv from the subcommand's
 * name on. */
int cli_cluster_show(int argc, char **argv);
/* The per-node table of `locus show performance` (cmd_show.c); CLI_EXIT_FAIL when a node did
 * not answer. */
int cli_print_stats(locus_client_t *c, const locus_node_t *ns, size_t n);
int cli_cluster_maintenance(int argc, char **argv);
int cli_cluster_decommission(int argc, char **argv);
int cli_cluster_shutdown_node(int argc, char **argv);
int cli_cluster_set_primary(int argc, char **argv);
int cli_cluster_rebalance(int argc, char **argv);

/* --- secrets and tokens (cmd_auth.c) --- */

/* Writes path (mode 0600, atomically). 0, or -1 with err. */
int cli_auth_write_private(const char *path, const char *data, size_t len, char *err,
                           size_t errlen);
/* Creates path holding a new random secret (64 hex digits, mode 0600) unless it exists. 0, or
 * -1 with err. */
int cli_auth_random_secret(const char *path, char *err, size_t errlen);
/* An admin token for user valid for ttl_s seconds, signed with the secret in secret_file
 * (caller frees), or NULL with err. */
char *cli_auth_admin_token(const char *secret_file, const char *user, int64_t ttl_s, char *err,
                           size_t errlen);

/* --- jobs (cli_jobs.c) --- */

/* o[k] when it is a string, else NULL. */
const char *cli_jget(json_t *o, const char *k);
/* o[k] as an integer: a JSON integer, or a decimal string (AIStore's counters), else 0. */
long long cli_jnum(json_t *o, const char *k);

/* The jobs of a what=qryxstats answer ({target: [snap]}), one row per job id in the order
 * first seen: {"id", "kind", "bucket" ("src" or "src -> dst"), "state" (running, aborted,
 * failed, finished), "objects", "bytes", "errors" (summed over the targets), "start" (the
 * earliest), "end" (the latest, "" while any target runs it), "targets"}. NULL when json is not
 * such an object. New reference. */
json_t *cli_job_rows(const char *json);

/* --- option tables (cli_opts.c) --- */

typedef enum {
    CLI_OPT_FLAG,     /* no argument: *(bool *)dst = true */
    CLI_OPT_STR,      /* *(const char **)dst = the argument */
    CLI_OPT_INT,      /* *(int64_t *)dst = a decimal integer in [min, max] */
    CLI_OPT_DURATION, /* *(int64_t *)dst = a positive duration in ns ("30s", "5m") */
    CLI_OPT_FN,       /* fn(opt, cmd, arg): 0, or the exit code of the usage error it printed */
} cli_opt_type_t;

typedef struct cli_opt cli_opt_t;
struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0, or a one-letter alias */
    cli_opt_type_t type;
    void *dst;
    const char *bad; /* the usage error for an invalid value */
    int64_t min, max;
    int (*fn)(const cli_opt_t *o, const char *cmd, const char *arg);
};

#define CLI_FLAG(n, p)                                                                             \
    {                                                                                              \
        .name = (n), .type = CLI_OPT_FLAG, .dst = (p)                                              \
    }
#define CLI_STR(n, p)                                                                              \
    {                                                                                              \
        .name = (n), .type = CLI_OPT_STR, .dst = (p)                                               \
    }
#define CLI_INT(n, p, lo, hi, msg)                                                                 \
    {                                                                                              \
        .name = (n), .type = CLI_OPT_INT, .dst = (p), .bad = (msg), .min = (lo), .max = (hi)       \
    }
#define CLI_DURATION(n, p, msg)                                                                    \
    {                                                                                              \
        .name = (n), .type = CLI_OPT_DURATION, .dst = (p), .bad = (msg)                            \
    }
#define CLI_FN(n, f, p, msg)                                                                       \
    {                                                                                              \
        .name = (n), .type = CLI_OPT_FN, .dst = (p), .bad = (msg), .fn = (f)                       \
    }

/* A command's name, usage text and operands, for cli_options(). */
typedef struct {
    const char *cmd; /* the name in usage errors ("etl": Try 'locus etl --help') */
    void (*usage)(FILE *);
    int min_args, max_args; /* how many operands; max_args -1 = any number */
    const char *bad_args;   /* the usage error for another number of operands: a format whose
                             * %s, if any, is the first operand past max_args */
} cli_cmd_t;

/* The options of the commands that start a job: --wait [--timeout D] (wait: bool *, timeout:
 * int64_t * in ns, 0 = no limit). */
#define CLI_WAIT_OPTS(wait, timeout)                                                               \
    CLI_FLAG("wait", (wait)),                                                                      \
        CLI_DURATION("timeout", (timeout), "--timeout: need a duration such as 30s")

/* cli_options() result when the command goes on with its operands. */
#define CLI_OPTS_GO (-1)
/* Parses argv's options (getopt_long: options and operands may mix, "--" ends the options) by
 * the table, plus -h/--help, and checks the number of operands. CLI_OPTS_GO with *first = the
 * index of the first operand, or the exit code: CLI_EXIT_OK once usage(stdout) ran for --help,
 * CLI_EXIT_USAGE after a usage error (`locus: <message>` and the hint to run
 * `locus <cmd> --help`). */
int cli_options(const cli_cmd_t *c, const cli_opt_t *opts, size_t nopts, int argc, char **argv,
                int *first);

/* --- tables (cli_table.c) --- */

typedef struct {
    const char *header;
    bool right;    /* right-aligned (numbers), header too */
    int min_width; /* the column is at least this wide */
    int max_width; /* 0, or the most one cell may widen the column (wider cells overflow) */
} cli_col_t;

/* A table whose column widths come from its rows: rows are kept until cli_table_flush prints
 * them. The first flush with rows fixes the widths and prints the header, so a table printed in
 * batches (pages) keeps the widths of its first batch. Columns are separated by two spaces; a
 * left-aligned last column is not padded. */
typedef struct {
    const cli_col_t *cols;
    size_t ncols;
    int *widths; /* NULL until the first flush with rows */
    char **cells;
    size_t nrows, cap;
} cli_table_t;

void cli_table_init(cli_table_t *t, const cli_col_t *cols, size_t ncols);
/* Adds a row of t->ncols cells (copied; NULL prints as ""). */
void cli_table_add(cli_table_t *t, const char *const *cells);
void cli_table_flush(cli_table_t *t, FILE *f);
/* Flushes what is left (the header alone when the table printed nothing yet) and frees it. */
void cli_table_finish(cli_table_t *t, FILE *f);
/* Frees the table without printing what is left. */
void cli_table_dispose(cli_table_t *t);

/* --- files (cli_util.c) --- */

/* Writes into fd; returns 0, or the exit code of the error it printed. */
typedef int (*cli_fetch_fn)(int fd, void *arg);
/* Runs fetch into path through a temp file in the same directory (path.locus-tmp-XXXXXX) that is
 * renamed onto path only when fetch succeeded, so path never holds a partial file; on failure the
 * temp file is removed. path "-" fetches to stdout; a path that is a device or a FIFO
 * (/dev/null) is written in place. what prefixes local file errors. */
int cli_download(const char *what, const char *path, cli_fetch_fn fetch, void *arg);

/* --- command groups (cli_opts.c) --- */

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv); /* gets argv from the subcommand's name on */
} cli_sub_t;

#define CLI_HELP_ANYWHERE 1 /* -h/--help anywhere before "--" prints the group's usage */
#define CLI_HELP_WORD 2     /* so does the subcommand "help" */
/* Runs the subcommand argv[1] of group cmd (`locus cmd sub ...`): usage(stderr) and
 * CLI_EXIT_USAGE without one, usage(stdout) for -h/--help (and per flags), a usage error for
 * an unknown one. */
int cli_dispatch(const char *cmd, void (*usage)(FILE *), const cli_sub_t *subs, size_t nsubs,
                 int flags, int argc, char **argv);

/* Prints `locus: <what>: <msg>` to stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints `locus: <msg>` and a hint to run `locus <cmd> --help`; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A client for the configured endpoint, or NULL after printing the error. Caller destroys. */
locus_client_t *cli_client(void);
/* True when argv contains -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);
/* "1.5 MiB" style size into out. */
void cli_human_size(int64_t n, char *out, size_t outlen);
/* Parses a duration ("30s", "2m", "500ms", "10" = seconds) into ns; -1 if invalid. */
int64_t cli_parse_duration(const char *s);
/* A copy of s with newlines and tabs turned into spaces (caller frees). */
char *cli_one_line(const char *s);
/* Prints `locus: <what>: <err>` with err folded onto one line; returns CLI_EXIT_FAIL. */
int cli_fail_line(const char *what, const char *err);
/* Prints the buckets one per line (ais://NAME), or as_json [{"name","provider"}]; what names
 * the command in errors. */
int cli_list_buckets(const char *what, bool as_json);
/* Terminal columns of a UTF-8 string (East Asian wide characters count 2). */
int cli_str_width(const char *s);
/* Prints s to f padded with spaces to width columns (right-aligned when right). */
void cli_fprint_cell(FILE *f, const char *s, int width, bool right);
/* Splits "ais://b/o" (or "b/o") into bucket and object (object may be NULL or ""); prints
 * the usage error itself. 0 or CLI_EXIT_USAGE. Caller frees *bck and *obj. */
int cli_parse_name(const char *cmd, const char *arg, char **bck, char **obj);

#endif
