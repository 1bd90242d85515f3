/*
 * cmd_ls.c - `locus ls [BUCKET] [--prefix P] [--props LIST]`: lists all pages of a bucket's
 * objects as a table (or the buckets, without a bucket argument).
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus ls [BUCKET[/PREFIX]] [--prefix P] [--props LIST] [--name-only]\n"
            "                [--page-size N] [--bytes] [--archive] [--json]\n"
            "\n"
            "Lists the objects of BUCKET (all pages), or the buckets when no BUCKET is given.\n"
            "  --prefix P       only names starting with P (same as BUCKET/P)\n"
            "  --props LIST     columns: comma list of name,size,checksum,atime,version,\n"
            "                   location,custom,copies (default name,size)\n"
            "  --name-only      names only, one per line\n"
            "  --archive        list the files inside archives (.tar, .tgz, .zip, .tar.lz4)\n"
            "                   too, as <archive>/<file>\n"
            "  --page-size N    entries per request (default: server maximum)\n"
            "  --bytes          sizes in bytes instead of KiB/MiB/...\n"
            "  --json           one JSON document: {\"bucket\", \"entries\": [{\"name\", ...}],\n"
            "                   \"count\", \"size\"} (the buckets: [{\"name\", \"provider\"}])\n");
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
#define MAX_COLS 16
static const char *col_names[] = {"name",    "size",     "checksum", "atime",
                                  "version", "location", "custom",   "copies"};

static void cell(const locus_lso_entry_t *e, int col, bool bytes, char *out, size_t outlen)
{
    if (col == COL_COPIES) {
        snprintf(out, outlen, "%lld", (long long)e->copies);
    } else if (col == COL_SIZE && e->size >= 0) {
        if (bytes)
            snprintf(out, outlen, "%lld", (long long)e->size);
        else
            cli_human_size(e->size, out, outlen);
    } else {
        const char *text[] = {
            [COL_NAME] = e->name,    [COL_SIZE] = "-",           [COL_CHECKSUM] = e->checksum,
            [COL_ATIME] = e->atime,  [COL_VERSION] = e->version, [COL_LOCATION] = e->location,
            [COL_CUSTOM] = e->custom};
        const char *s = text[col];
        snprintf(out, outlen, "%s", s != NULL && s[0] != '\0' ? s : "-");
    }
}

/* The columns of --props (name first) and the props to request; 0 or the usage error. */
static int parse_props(const char *props, bool name_only, int *cols, int *ncols, char **req)
{
    *ncols = 0;
    cols[(*ncols)++] = COL_NAME;
    *req = NULL;
    if (props == NULL || props[0] == '\0') {
        if (!name_only)
            cols[(*ncols)++] = COL_SIZE;
        else
            *req = xstrdup("name");
        return 0;
    }
    char *copy = xstrdup(props), *save = NULL;
    buf_t sent;
    buf_init(&sent);
    buf_puts(&sent, "name");
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        int k = -1;
        for (int i = 0; i < (int)ARRAY_SIZE(col_names); i++)
            if (strcmp(t, col_names[i]) == 0)
                k = i;
        if (k < 0) {
            int rc = cli_usage_error("ls", "--props: unknown property \"%s\"", t);
            free(copy);
            buf_dispose(&sent);
            return rc;
        }
        if (k == COL_NAME)
            continue;
        if (*ncols < MAX_COLS)
            cols[(*ncols)++] = k;
        buf_printf(&sent, ",%s", t);
    }
    free(copy);
    bool size = false;
    for (int i = 0; i < *ncols; i++)
        size = size || cols[i] == COL_SIZE;
    if (!size && !name_only) /* the total under the table needs the sizes */
        buf_puts(&sent, ",size");
    *req = buf_steal(&sent);
    return 0;
}

/* One `ls` of a bucket: what to show and the running totals. */
typedef struct {
    int cols[MAX_COLS], ncols;
    bool name_only, bytes;
    bool archive; /* --archive: archives' members too (LsArchDir) */
    cli_table_t table;
    cli_col_t hdr[MAX_COLS];
    char up[MAX_COLS][16];
    int64_t count, total;
    json_t *json; /* --json: the entries so far */
} ls_t;

/* --json: the entry with the columns asked for (size as a number). */
static json_t *entry_json(const ls_t *l, const locus_lso_entry_t *e)
{
    json_t *o = json_pack("{s:s}", "name", e->name);
    for (int k = 1; k < l->ncols; k++) {
        int col = l->cols[k];
        if (col == COL_SIZE) {
            json_object_set_new(o, "size", json_integer(e->size));
        } else if (col == COL_COPIES) {
            json_object_set_new(o, "copies", json_integer(e->copies));
        } else {
            char tmp[1024];
            cell(e, col, true, tmp, sizeof(tmp));
            json_object_set_new(o, col_names[col], json_string(strcmp(tmp, "-") ? tmp : ""));
        }
    }
    return o;
}

static void ls_init(ls_t *l)
{
    for (int k = 0; k < l->ncols; k++) {
        const char *n = col_names[l->cols[k]];
        size_t i = 0;
        for (; n[i] != '\0' && i + 1 < sizeof(l->up[k]); i++)
            l->up[k][i] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
        l->up[k][i] = '\0';
        /* Widths from the first non-empty page, names capped at 80 columns; sizes are
         * right-aligned unless last (then unpadded, as ls always printed them). */
        bool right = l->cols[k] == COL_SIZE && k + 1 < l->ncols;
        l->hdr[k] = (cli_col_t){l->up[k], right, 0, 80};
    }
    cli_table_init(&l->table, l->hdr, (size_t)l->ncols);
}

static void ls_page(ls_t *l, const locus_lso_page_t *page)
{
    for (size_t i = 0; i < page->n; i++) {
        const locus_lso_entry_t *e = &page->entries[i];
        l->count++;
        if (e->size > 0)
            l->total += e->size;
        if (l->json) {
            json_array_append_new(l->json, entry_json(l, e));
            continue;
        }
        if (l->name_only) {
            printf("%s\n", e->name);
            continue;
        }
        char tmp[MAX_COLS][1024];
        const char *row[MAX_COLS];
        for (int k = 0; k < l->ncols; k++) {
            cell(e, l->cols[k], l->bytes, tmp[k], sizeof(tmp[k]));
            row[k] = tmp[k];
        }
        cli_table_add(&l->table, row);
    }
    cli_table_flush(&l->table, stdout);
}

/* Lists every page of bck under pfx. */
static int ls_bucket(locus_client_t *c, const char *bck, const char *pfx, const char *req_props,
                     uint32_t page_size, ls_t *l)
{
    locus_lso_opts_t lo = {
        .prefix = pfx, .props = req_props, .page_size = page_size, .flags = l->archive ? 8 : 0};
    char *token = NULL, *uuid = NULL;
    int ret = CLI_EXIT_OK;
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
        ls_page(l, &page);
        free(token);
        free(uuid);
        token = xstrdup(page.continuation_token ? page.continuation_token : "");
        uuid = xstrdup(page.uuid ? page.uuid : "");
        locus_lso_page_dispose(&page);
        if (token[0] == '\0')
            break;
    }
    free(token);
    free(uuid);
    if (ret == CLI_EXIT_OK && l->json) {
        json_t *doc = json_pack("{s:s, s:O, s:I, s:I}", "bucket", bck, "entries", l->json, "count",
                                (json_int_t)l->count, "size", (json_int_t)l->total);
        char *t = json_dumps(doc, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
        json_decref(doc);
    } else if (ret == CLI_EXIT_OK && !l->name_only) {
        char sz[32];
        cli_human_size(l->total, sz, sizeof(sz));
        if (l->count == 0)
            printf("no objects%s%s%s\n", pfx ? " with prefix \"" : "", pfx ? pfx : "",
                   pfx ? "\"" : "");
        else
            printf("\n%lld object%s, %s\n", (long long)l->count, l->count == 1 ? "" : "s", sz);
    }
    return ret;
}

int locus_cli_cmd_ls(int argc, char **argv)
{
    const char *prefix = NULL, *props = NULL;
    int64_t page_size = 0;
    bool as_json = false;
    ls_t l = {0};
    const cli_opt_t opts[] = {
        CLI_STR("prefix", &prefix),
        CLI_STR("props", &props),
        CLI_FLAG("name-only", &l.name_only),
        CLI_FLAG("archive", &l.archive),
        /* The request carries 32 bits: 4294967296 would wrap to 0, the server's default. */
        CLI_INT("page-size", &page_size, 1, UINT32_MAX, "--page-size: need a positive number"),
        CLI_FLAG("bytes", &l.bytes),
        CLI_FLAG("json", &as_json),
    };
    static const cli_cmd_t cmd = {"ls", usage, 0, 1, "unexpected argument \"%s\""};
    int pos, ret = cli_options(&cmd, opts, ARRAY_SIZE(opts), argc, argv, &pos);
    if (ret != CLI_OPTS_GO)
        return ret;
    if (pos == argc)
        return cli_list_buckets("ls", as_json);
    char *req_props = NULL, *bck = NULL, *obj = NULL, *pfx = NULL;
    if ((ret = parse_props(props, l.name_only, l.cols, &l.ncols, &req_props)) != 0 ||
        (ret = cli_parse_name("ls", argv[pos], &bck, &obj)) != 0)
        goto out;
    if (obj != NULL && obj[0] != '\0')
        pfx = prefix != NULL ? xasprintf("%s%s", obj, prefix) : xstrdup(obj);
    else if (prefix != NULL)
        pfx = xstrdup(prefix);
    locus_client_t *c = cli_client();
    if (c == NULL) {
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    ls_init(&l);
    l.json = as_json ? json_array() : NULL;
    ret = ls_bucket(c, bck, pfx, req_props, (uint32_t)page_size, &l);
    json_decref(l.json);
    cli_table_dispose(&l.table);
    locus_client_destroy(c);
out:
    free(bck);
    free(obj);
    free(pfx);
    free(req_props);
    return ret;
}
