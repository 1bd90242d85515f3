/*
 * cmd_ls.c - `locus ls [BUCKET] [--prefix P] [--props LIST]`: lists all pages of a bucket's
 * objects as a table (or the buckets, without a bucket argument).
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: locus ls [BUCKET[/PREFIX]] [--prefix P] [--props LIST] [--name-only]\n"
               "                [--page-size N] [--bytes]\n"
               "\n"
               "Lists the objects of BUCKET (all pages), or the buckets when no BUCKET is given.\n"
               "  --prefix P       only names starting with P (same as BUCKET/P)\n"
               "  --props LIST     columns: comma list of name,size,checksum,atime,version,\n"
               "                   location,custom,copies (default name,size)\n"
               "  --name-only      names only, one per line\n"
               "  --page-size N    entries per request (default: server maximum)\n"
               "  --bytes          sizes in bytes instead of KiB/MiB/...\n");
}

enum {
    COL_NAME,
    COL_SIZE,
    COL_CHECKSUM,
    COL_ATIME,
    COL_VERSION,
    COL_LOCATION,
    COL_CUSTOM,
    COL_COPIES
};
static const char *col_names[] = {"name",    "size",     "checksum", "atime",
                                  "version", "location", "custom",   "copies"};

static int list_buckets(void)
{
    locus_client_t *c = cli_client();
    if (c == NULL)
        return CLI_EXIT_FAIL;
    char err[LOCUS_ERR_LEN] = "";
    char **names = NULL;
    size_t n = 0;
    int ret = CLI_EXIT_OK;
    if (locus_bucket_list(c, &names, &n, err) != 0)
        ret = cli_fail("ls", "%s", err);
    else
        for (size_t i = 0; i < n; i++)
            printf("ais://%s\n", names[i]);
    locus_strv_free(names, n);
    locus_client_destroy(c);
    return ret;
}

static void cell(const locus_lso_entry_t *e, int col, bool bytes, char *out, size_t outlen)
{
    const char *s = NULL;
    switch (col) {
    case COL_NAME:
        s = e->name;
        break;
    case COL_SIZE:
        if (e->size < 0)
            s = "-";
        else if (bytes)
            snprintf(out, outlen, "%lld", (long long)e->size);
        else
            cli_human_size(e->size, out, outlen);
        if (s == NULL)
            return;
        break;
    case COL_CHECKSUM:
        s = e->checksum;
        break;
    case COL_ATIME:
        s = e->atime;
        break;
    case COL_VERSION:
        s = e->version;
        break;
    case COL_LOCATION:
        s = e->location;
        break;
    case COL_CUSTOM:
        s = e->custom;
        break;
    case COL_COPIES:
        snprintf(out, outlen, "%lld", (long long)e->copies);
        return;
    }
    snprintf(out, outlen, "%s", s != NULL && s[0] != '\0' ? s : "-");
}

int locus_cli_cmd_ls(int argc, char **argv)
{
    const char *prefix = NULL, *props = NULL;
    bool name_only = false, bytes = false;
    long page_size = 0;
    static const struct option opts[] = {{"prefix", required_argument, NULL, 'p'},
                                         {"props", required_argument, NULL, 'P'},
                                         {"name-only", no_argument, NULL, 'n'},
                                         {"page-size", required_argument, NULL, 's'},
                                         {"bytes", no_argument, NULL, 'b'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            prefix = optarg;
            break;
        case 'P':
            props = optarg;
            break;
        case 'n':
            name_only = true;
            break;
        case 's':
            if ((page_size = cli_parse_count(optarg)) < 0)
                return cli_usage_error("ls", "--page-size: need a positive number");
            break;
        case 'b':
            bytes = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("ls", "bad option");
        }
    }
    if (optind == argc)
        return list_buckets();
    if (argc - optind > 1)
        return cli_usage_error("ls", "unexpected argument \"%s\"", argv[optind + 1]);

    /* Columns. */
    int cols[16], ncols = 0;
    cols[ncols++] = COL_NAME;
    char *req_props = NULL;
    if (props == NULL || props[0] == '\0') {
        if (!name_only)
            cols[ncols++] = COL_SIZE;
        else
            req_props = xstrdup("name");
    } else {
        char *copy = xstrdup(props), *save = NULL;
        buf_t sent;
        buf_init(&sent);
        buf_puts(&sent, "name");
        for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            int k = -1;
            for (int i = 0; i < (int)(sizeof(col_names) / sizeof(col_names[0])); i++)
                if (strcmp(t, col_names[i]) == 0)
                    k = i;
            if (k < 0) {
                free(copy);
                buf_dispose(&sent);
                return cli_usage_error("ls", "--props: unknown property \"%s\"", t);
            }
            if (k == COL_NAME)
                continue;
            if (ncols < 16)
                cols[ncols++] = k;
            buf_printf(&sent, ",%s", t);
        }
        free(copy);
        req_props = buf_steal(&sent);
    }

    char *bck = NULL, *obj = NULL;
    int ret = cli_parse_name("ls", argv[optind], &bck, &obj);
    if (ret != 0) {
        free(req_props);
        return ret;
    }
    char *pfx = NULL;
    if (obj != NULL && obj[0] != '\0')
        pfx = prefix != NULL ? xasprintf("%s%s", obj, prefix) : xstrdup(obj);
    else if (prefix != NULL)
        pfx = xstrdup(prefix);

    locus_client_t *c = cli_client();
    if (c == NULL) {
        free(bck);
        free(obj);
        free(pfx);
        free(req_props);
        return CLI_EXIT_FAIL;
    }
    locus_lso_opts_t lo = {.prefix = pfx, .props = req_props, .page_size = (uint32_t)page_size};
    char *token = NULL, *uuid = NULL;
    int64_t count = 0, total = 0;
    int widths[16] = {0};
    bool header = false;
    for (;;) {
        char err[LOCUS_ERR_LEN] = "";
        locus_lso_page_t page;
        lo.continuation_token = token;
        lo.uuid = uuid;
        if (locus_object_list_page(c, bck, &lo, &page, err) != 0) {
            char what[256];
            snprintf(what, sizeof(what), "ls ais://%s", bck);
            ret = cli_fail(what, "%s", err);
            locus_lso_page_dispose(&page);
            break;
        }
        /* Column widths from the first non-empty page (names capped at 80). */
        if (!header && page.n > 0 && !name_only) {
            char tmp[256];
            for (int k = 0; k < ncols; k++) {
                widths[k] = (int)strlen(col_names[cols[k]]);
                for (size_t i = 0; i < page.n; i++) {
                    cell(&page.entries[i], cols[k], bytes, tmp, sizeof(tmp));
                    int w = cli_str_width(tmp);
                    if (w > widths[k])
                        widths[k] = w < 80 ? w : 80;
                }
            }
            for (int k = 0; k < ncols; k++) {
                char up[32];
                size_t l = strlen(col_names[cols[k]]);
                for (size_t i = 0; i <= l; i++)
                    up[i] = (char)(col_names[cols[k]][i] >= 'a' && col_names[cols[k]][i] <= 'z'
                                       ? col_names[cols[k]][i] - 32
                                       : col_names[cols[k]][i]);
                if (k + 1 < ncols)
                    printf(cols[k] == COL_SIZE ? "%*s  " : "%-*s  ", widths[k], up);
                else
                    printf("%s\n", up);
            }
            header = true;
        }
        for (size_t i = 0; i < page.n; i++) {
            const locus_lso_entry_t *e = &page.entries[i];
            count++;
            if (e->size > 0)
                total += e->size;
            if (name_only) {
                printf("%s\n", e->name);
                continue;
            }
            for (int k = 0; k < ncols; k++) {
                char tmp[1024];
                cell(e, cols[k], bytes, tmp, sizeof(tmp));
                if (k + 1 < ncols) {
                    cli_print_cell(tmp, widths[k], cols[k] == COL_SIZE);
                    fputs("  ", stdout);
                } else {
                    printf("%s\n", tmp);
                }
            }
        }
        free(token);
        free(uuid);
        token = xstrdup(page.continuation_token ? page.continuation_token : "");
        uuid = xstrdup(page.uuid ? page.uuid : "");
        locus_lso_page_dispose(&page);
        if (token[0] == '\0')
            break;
    }
    if (ret == CLI_EXIT_OK && !name_only) {
        char sz[32];
        cli_human_size(total, sz, sizeof(sz));
        if (count == 0)
            printf("no objects%s%s%s\n", pfx ? " with prefix \"" : "", pfx ? pfx : "",
                   pfx ? "\"" : "");
        else
            printf("\n%lld object%s, %s\n", (long long)count, count == 1 ? "" : "s", sz);
    }
    free(token);
    free(uuid);
    locus_client_destroy(c);
    free(bck);
    free(obj);
    free(pfx);
    free(req_props);
    return ret;
}
