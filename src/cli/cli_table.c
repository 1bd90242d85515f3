/*
 * cli_table.c - the one table printer of the CLI (ls, cluster show, job show, etl show, etl
 * health): column widths from the data, a header row, left or right alignment (see cli.h).
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void cli_table_init(cli_table_t *t, const cli_col_t *cols, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->cols = cols;
    t->ncols = ncols;
}

void cli_table_add(cli_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
    }
    for (size_t k = 0; k < t->ncols; k++)
        t->cells[t->nrows * t->ncols + k] = xstrdup(cells[k] != NULL ? cells[k] : "");
    t->nrows++;
}

static void fix_widths(cli_table_t *t)
{
    t->widths = xcalloc(t->ncols, sizeof(*t->widths));
    for (size_t k = 0; k < t->ncols; k++) {
        const cli_col_t *c = &t->cols[k];
        int w = cli_str_width(c->header);
        w = c->min_width > w ? c->min_width : w;
        for (size_t i = 0; i < t->nrows; i++) {
            int cw = cli_str_width(t->cells[i * t->ncols + k]);
            if (c->max_width > 0 && cw > c->max_width)
                cw = c->max_width;
            w = cw > w ? cw : w;
        }
        t->widths[k] = w;
    }
}

static void print_row(const cli_table_t *t, const char *const *cells, FILE *f)
{
    /* Empty cells at the end of a row print nothing: no trailing blanks. */
    size_t n = t->ncols;
    while (n > 1 && (cells[n - 1] == NULL || cells[n - 1][0] == '\0') && !t->cols[n - 1].right)
        n--;
    for (size_t k = 0; k < n; k++) {
        bool last = k + 1 == n, right = t->cols[k].right;
        /* A left-aligned last cell is not padded. */
        cli_fprint_cell(f, cells[k], last && !right ? 0 : t->widths[k], right);
        fputs(last ? "\n" : "  ", f);
    }
}

static void print_header(cli_table_t *t, FILE *f)
{
    fix_widths(t);
    const char **hdr = xcalloc(t->ncols, sizeof(*hdr));
    for (size_t k = 0; k < t->ncols; k++)
        hdr[k] = t->cols[k].header;
    print_row(t, hdr, f);
    free(hdr);
}

void cli_table_flush(cli_table_t *t, FILE *f)
{
    if (t->nrows == 0)
        return;
    if (t->widths == NULL)
        print_header(t, f);
    for (size_t i = 0; i < t->nrows; i++) {
        print_row(t, (const char *const *)&t->cells[i * t->ncols], f);
        for (size_t k = 0; k < t->ncols; k++)
            free(t->cells[i * t->ncols + k]);
    }
    t->nrows = 0;
}

void cli_table_finish(cli_table_t *t, FILE *f)
{
    if (t->widths == NULL && t->nrows == 0)
        print_header(t, f);
    cli_table_flush(t, f);
    cli_table_dispose(t);
}

void cli_table_dispose(cli_table_t *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->widths);
    memset(t, 0, sizeof(*t));
}
