/*
 * cmd_object.c - `locus object head BUCKET/OBJ`: the object's properties from HEAD.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus object head BUCKET/OBJ\n"
               "\n"
               "Prints the object's size and its Ais-* properties (checksum, version, atime,\n"
               "location, custom metadata, ...).\n");
}

/* The properties, one per line: the known ones first, then the other Ais-* headers. */
static void print_props(const char *bck, const char *obj, const locus_obj_props_t *p)
{
    char sz[32];
    cli_human_size(p->size, sz, sizeof(sz));
    printf("%-16s ais://%s/%s\n", "object", bck, obj);
    printf("%-16s %lld (%s)\n", "size", (long long)p->size, sz);
    if (p->checksum_type != NULL || p->checksum_value != NULL)
        printf("%-16s %s %s\n", "checksum", p->checksum_type ? p->checksum_type : "-",
               p->checksum_value ? p->checksum_value : "-");
    if (p->version != NULL)
        printf("%-16s %s\n", "version", p->version);
    if (p->atime_ns > 0) {
        time_t t = (time_t)(p->atime_ns / 1000000000);
        struct tm tm;
        char ts[64];
        localtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S %z", &tm);
        printf("%-16s %s\n", "atime", ts);
    }
    if (p->location != NULL)
        printf("%-16s %s\n", "location", p->location);
    if (p->custom_md != NULL && p->custom_md[0] != '\0')
        printf("%-16s %s\n", "custom", p->custom_md);
    /* The remaining Ais-* headers as received, lower-cased without the prefix. */
    static const char *shown[] = {"Ais-Checksum-Type", "Ais-Checksum-Value", "Ais-Version",
                                  "Ais-Atime",         "Ais-Location",       "Ais-Custom-Md",
                                  "Ais-Size"};
    for (size_t i = 0; i < p->nhdrs; i++) {
        bool skip = false;
        for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++)
            skip |= strcasecmp(p->hdrs[i].name, shown[k]) == 0;
        if (skip)
            continue;
        char key[64];
        snprintf(key, sizeof(key), "%s", p->hdrs[i].name + 4);
        for (char *k = key; *k; k++)
            *k = *k >= 'A' && *k <= 'Z' ? (char)(*k + 32) : *k == '-' ? '_' : *k;
        printf("%-16s %s\n", key, p->hdrs[i].value);
    }
}

static int object_head(int argc, char **argv)
{
    if (argc != 2)
        return cli_usage_error("object", "object head: need one BUCKET/OBJ");
    char *bck = NULL, *obj = NULL;
    int ret = cli_parse_name("object", argv[1], &bck, &obj);
    if (ret != 0)
        return ret;
    locus_client_t *c = NULL;
    locus_obj_props_t p = {0};
    char err[LOCUS_ERR_LEN] = "";
    if (obj == NULL || obj[0] == '\0')
        ret = cli_usage_error("object", "\"%s\": need an object name", argv[1]);
    else if ((c = cli_client()) == NULL)
        ret = CLI_EXIT_FAIL;
    else if (locus_object_head(c, bck, obj, &p, err) != 0) {
        char what[512];
        snprintf(what, sizeof(what), "object head ais://%s/%s", bck, obj);
        ret = cli_fail(what, "%s", err);
    } else {
        print_props(bck, obj, &p);
    }
    locus_obj_props_dispose(&p);
    locus_client_destroy(c);
    free(bck);
    free(obj);
    return ret;
}

int locus_cli_cmd_object(int argc, char **argv)
{
    static const cli_sub_t subs[] = {{"head", object_head}, {"show", object_head}};
    return cli_dispatch("object", usage, subs, ARRAY_SIZE(subs), CLI_HELP_ANYWHERE, argc, argv);
}
