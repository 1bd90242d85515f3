/*
 * template.c - AIStore range templates for multi-object operations. See template.h.
 */
#include "common/template.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *lit; /* literal before this group */
    long a, b, step;
    int width; /* zero-pad width, 0 = none */
} tgroup_t;

static long expand_rec(tgroup_t *g, size_t ng, size_t i, buf_t *acc, const char *tail,
                       int (*cb)(const char *, void *), void *arg, bool *stop)
{
    if (i == ng) {
        size_t keep = acc->len;
        buf_puts(acc, tail);
        *stop = cb(acc->base, arg) != 0;
        acc->len = keep;
        acc->base[keep] = '\0';
        return 1;
    }
    long count = 0;
    size_t keep = acc->len;
    for (long v = g[i].a; v <= g[i].b && !*stop; v += g[i].step) {
        buf_puts(acc, g[i].lit);
        buf_printf(acc, "%0*ld", g[i].width, v);
        count += expand_rec(g, ng, i + 1, acc, tail, cb, arg, stop);
        acc->len = keep;
        acc->base[keep] = '\0';
    }
    return count;
}

long template_expand(const char *tmpl, int (*cb)(const char *name, void *arg), void *arg)
{
    tgroup_t g[8];
    size_t ng = 0;
    const char *p = tmpl;
    long rc = -1;
    for (;;) {
        const char *open = strchr(p, '{');
        if (open == NULL)
            break;
        const char *close = strchr(open, '}');
        if (close == NULL || ng == 8)
            goto out;
        long a, b, step = 1;
        int wa = 0;
        const char *q = open + 1;
        char *end;
        const char *ds = q;
        a = strtol(q, &end, 10);
        if (end == q || strncmp(end, "..", 2) != 0)
            goto out;
        wa = (int)(end - ds);
        q = end + 2;
        b = strtol(q, &end, 10);
        if (end == q)
            goto out;
        if (strncmp(end, "..", 2) == 0) {
            q = end + 2;
            step = strtol(q, &end, 10);
            if (end == q || step <= 0)
                goto out;
        }
        if (end != close || b < a)
            goto out;
        g[ng].lit = xstrndup(p, (size_t)(open - p));
        g[ng].a = a;
        g[ng].b = b;
        g[ng].step = step;
        g[ng].width = (ds[0] == '0' && wa > 1) ? wa : 0;
        ng++;
        p = close + 1;
    }
    if (strchr(p, '}'))
        goto out;
    buf_t acc;
    buf_init(&acc);
    buf_reserve(&acc, 256);
    acc.base[0] = '\0';
    bool stop = false;
    rc = expand_rec(g, ng, 0, &acc, p, cb, arg, &stop);
    buf_dispose(&acc);
out:
    for (size_t i = 0; i < ng; i++)
        free(g[i].lit);
    return rc;
}

static int count_only(const char *name, void *arg)
{
    return 0;
}

long template_count(const char *tmpl)
{
    return template_expand(tmpl, count_only, NULL);
}
