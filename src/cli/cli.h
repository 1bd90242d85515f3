/*
 * cli.h - shared by the `locus` CLI's command files (src/cli/cmd_<verb>.c): the command entry
 * points dispatched from main.c's table, and small helpers for errors, options and output.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Errors are one line on stderr:
 * `locus: <what>: <server message or errno text>`.
 */
#ifndef LOCUS_CLI_H
#define LOCUS_CLI_H

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
/* Parses a positive integer option value; -1 if invalid. */
long cli_parse_count(const char *s);
/* Terminal columns of a UTF-8 string (East Asian wide characters count 2). */
int cli_str_width(const char *s);
/* Prints s padded with spaces to width columns (right-aligned when right). */
void cli_print_cell(const char *s, int width, bool right);
/* Splits "ais://b/o" (or "b/o") into bucket and object (object may be NULL or ""); prints
 * the usage error itself. 0 or CLI_EXIT_USAGE. Caller frees *bck and *obj. */
int cli_parse_name(const char *cmd, const char *arg, char **bck, char **obj);

#endif
