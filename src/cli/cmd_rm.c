/*
 * cmd_rm.c - `locus rm BUCKET/OBJ...`: deletes objects one by one.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: locus rm BUCKET/OBJ...\n"
               "\n"
               "Deletes objects. Each argument is ais://BUCKET/OBJ or BUCKET/OBJ; use -- before\n"
               "names that start with '-'. To delete a bucket: locus bucket rm BUCKET.\n");
}

int locus_cli_cmd_rm(int argc, char **argv)
{
    static const cli_cmd_t cmd = {"rm", usage, 1, -1, "need at least one BUCKET/OBJ"};
    int pos, rc = cli_options(&cmd, NULL, 0, argc, argv, &pos);
    if (rc != CLI_OPTS_GO)
        return rc;
    /* Validate every argument before deleting anything. */
    for (int i = pos; i < argc; i++) {
        char *b = NULL, *ob = NULL;
        int rc = cli_parse_name("rm", argv[i], &b, &ob);
        bool no_obj = rc == 0 && (ob == NULL || ob[0] == '\0');
        free(b);
        free(ob);
        if (rc != 0)
            return rc;
        if (no_obj)
            return cli_usage_error("rm",
                                   "\"%s\" names no object (to delete a bucket: locus "
                                   "bucket rm)",
                                   argv[i]);
    }
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    int ret = CLI_EXIT_OK;
    for (int i = pos; i < argc; i++) {
        char *b = NULL, *ob = NULL;
        locus_parse_name(argv[i], &b, &ob, NULL);
        char err[LOCUS_ERR_LEN] = "";
        if (locus_object_delete(c, b, ob, err) != 0) {
            char what[512];
            snprintf(what, sizeof(what), "rm ais://%s/%s", b, ob);
            ret = cli_fail(what, "%s", err);
        } else {
            printf("deleted ais://%s/%s\n", b, ob);
        }
        free(b);
        free(ob);
    }
    locus_client_destroy(c);
    return ret;
}
