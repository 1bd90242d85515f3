/*
 * template.c - AIStore range templates for multi-object operations. See template.h.
 *
 * Ranges may reach the limits of a long: every step is checked before it is taken and sizes
 * are computed in unsigned arithmetic with overflow checks, so no input is undefined behaviour.
 */
#include "common/template.h"
#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TMPL_MAX_GROUPS 8

typedef struct {
    char *lit; /* literal before this group */
    long a, b, step;
    int width; /* zero-pad width, 0 = none */
} tgroup_t;

typedef struct {
    tgroup_t g[TMPL_MAX_GROUPS];
    size_t ng;
    const char *tail; /* literal after the last group (borrowed from the template) */
} tmpl_t;

static void tmpl_dispose(tmpl_t *t)
{
    for (size_t i = 0; i < t->ng; i++)
        free(t->g[i].lit);
    t->ng = 0;
}

/* One decimal number at *q; false when there is none or it does not fit in a long. */
static bool parse_num(const char **q, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(*q, &end, 10);
    if (end == *q || errno == ERANGE)
        return false;
    *q = end;
    return true;
}

/* The group {a..b[..step]} between open and close into g. 0 or -1 when malformed. */
static int parse_group(const char *open, const char *close, tgroup_t *g)
{
    const char *q = open + 1;
    long a, b, step = 1;
    if (!parse_num(&q, &a) || strncmp(q, "..", 2) != 0)
        return -1;
    int wa = (int)(q - (open + 1));
    q += 2;
    if (!parse_num(&q, &b))
        return -1;
    if (strncmp(q, "..", 2) == 0) {
        q += 2;
        if (!parse_num(&q, &step) || step <= 0)
            return -1;
    }
    if (q != close || b < a)
        return -1;
    g->a = a;
    g->b = b;
    g->step = step;
    g->width = (open[1] == '0' && wa > 1) ? wa : 0;
    return 0;
}

static int tmpl_parse(const char *tmpl, tmpl_t *t)
{
    const char *p = tmpl;
    t->ng = 0;
    for (;;) {
        const char *open = strchr(p, '{');
        if (open == NULL)
            break;
        const char *close = strchr(open, '}');
        if (close == NULL || t->ng == TMPL_MAX_GROUPS || parse_group(open, close, &t->g[t->ng]))
            goto bad;
        t->g[t->ng++].lit = xstrndup(p, (size_t)(open - p));
        p = close + 1;
    }
    if (strchr(p, '}'))
        goto bad;
    t->tail = p;
    return 0;
bad:
    tmpl_dispose(t);
    return -1;
}

/* Values in a group: (b - a) / step + 1, in unsigned arithmetic since b - a may exceed
 * LONG_MAX. False when the count itself does not fit in an unsigned long. */
static bool group_size(const tgroup_t *g, unsigned long *n)
{
    unsigned long span = ((unsigned long)g->b - (unsigned long)g->a) / (unsigned long)g->step;
    if (span == ULONG_MAX)
        return false;
    *n = span + 1;
    return true;
}

/* Whether v + step would pass b (v <= b), without computing v + step. */
static bool group_last(const tgroup_t *g, long v)
{
    return (unsigned long)g->b - (unsigned long)v < (unsigned long)g->step;
}

struct template_iter {
    tmpl_t t;
    long cur[TMPL_MAX_GROUPS];
    bool started, done;
    buf_t name;
};

template_iter_t *template_iter_new(const char *tmpl)
{
    template_iter_t *it = xcalloc(1, sizeof(*it));
    if (tmpl_parse(tmpl, &it->t) < 0) {
        free(it);
        return NULL;
    }
    for (size_t i = 0; i < it->t.ng; i++)
        it->cur[i] = it->t.g[i].a;
    buf_init(&it->name);
    return it;
}

/* Odometer step: the last group turns fastest; false after the last name. */
static bool iter_advance(template_iter_t *it)
{
    for (size_t i = it->t.ng; i-- > 0;) {
        const tgroup_t *g = &it->t.g[i];
        if (!group_last(g, it->cur[i])) {
            it->cur[i] += g->step; /* no overflow: cur + step <= b */
            return true;
        }
        it->cur[i] = g->a;
    }
    return false;
}

const char *template_iter_next(template_iter_t *it)
{
    if (it->done)
        return NULL;
    if (it->started && !iter_advance(it)) {
        it->done = true;
        return NULL;
    }
    it->started = true;
    it->name.len = 0;
    buf_reserve(&it->name, 64);
    it->name.base[0] = '\0';
    for (size_t i = 0; i < it->t.ng; i++) {
        buf_puts(&it->name, it->t.g[i].lit);
        buf_printf(&it->name, "%0*ld", it->t.g[i].width, it->cur[i]);
    }
    buf_puts(&it->name, it->t.tail);
    return it->name.base;
}

void template_iter_free(template_iter_t *it)
{
    if (it == NULL)
        return;
    tmpl_dispose(&it->t);
    buf_dispose(&it->name);
    free(it);
}

long template_expand(const char *tmpl, int (*cb)(const char *name, void *arg), void *arg)
{
    template_iter_t *it = template_iter_new(tmpl);
    if (it == NULL)
        return -1;
    long count = 0;
    const char *name;
    while ((name = template_iter_next(it)) != NULL) {
        count++;
        if (cb(name, arg) != 0)
            break;
    }
    template_iter_free(it);
    return count;
}

int template_size(const char *tmpl, long *n)
{
    tmpl_t t;
    if (tmpl_parse(tmpl, &t) < 0)
        return -1;
    unsigned long total = 1;
    bool over = false;
    for (size_t i = 0; i < t.ng && !over; i++) {
        unsigned long gn;
        over = !group_size(&t.g[i], &gn) || __builtin_mul_overflow(total, gn, &total);
    }
    tmpl_dispose(&t);
    if (over || total > LONG_MAX) {
        *n = LONG_MAX;
        return -2;
    }
    *n = (long)total;
    return 0;
}

long template_count(const char *tmpl)
{
    long n;
    return template_size(tmpl, &n) == -1 ? -1 : n;
}
