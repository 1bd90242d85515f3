/*
 * main.c - `locus`, the command-line client of Locus: one table maps each command group to its
 * cmd_<verb>.c entry point. Everything talks to the cluster through liblocus
 * (include/locus/client.h).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;
} cli_group_t;

static const cli_group_t commands[] = {
    {"cluster", locus_cli_cmd_cluster,
     "cluster up|down|show|...    a local cluster: start, stop, add targets; membership"},
    {"bucket", locus_cli_cmd_bucket, "bucket create|ls|rm|cp      manage buckets"},
    {"put", locus_cli_cmd_put, "put FILE|DIR BUCKET[/NAME]  upload a file or a directory tree"},
    {"get", locus_cli_cmd_get, "get BUCKET/OBJ [OUT|-]      download an object"},
    {"ls", locus_cli_cmd_ls, "ls [BUCKET] [--prefix P]    list objects (or buckets)"},
    {"rm", locus_cli_cmd_rm, "rm BUCKET/OBJ...            delete objects"},
    {"object", locus_cli_cmd_object, "object head BUCKET/OBJ      show object properties"},
    {"job", locus_cli_cmd_job, "job show|wait ID            show a job / wait for it"},
    {"storage", locus_cli_cmd_storage, "storage mountpath ls|attach a target's mountpaths (disks)"},
    {"etl", locus_cli_cmd_etl, "etl init|show|bucket|...    run transformers (ETL) on the data"},
    {"show", locus_cli_cmd_show,
     "show performance            per-node requests, errors, bytes, disk"},
    {"auth", locus_cli_cmd_auth, "auth token --user U ...      mint an AuthN token (HS256)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: locus <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %s\n", commands[i].synopsis);
    fprintf(f,
            "\nBuckets and objects: ais://bucket[/object] or bucket[/object].\n"
            "Endpoint: $LOCUS_ENDPOINT, then $AIS_ENDPOINT, else %s.\n"
            "Token (clusters with auth): $LOCUS_TOKEN, then $AIS_AUTHN_TOKEN.\n"
            "Run 'locus <command> --help' for the options of a command.\n",
            LOCUS_DEFAULT_ENDPOINT);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            /* `locus help put` == `locus put --help` */
            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *av[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, av);
                }
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("locus 0.1\n");
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "locus: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
