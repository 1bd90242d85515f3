/*
 * fuzz_template.c - range templates of multi-object requests (src/common/template.c):
 * "shard-{0001..1000}.tar", several groups, steps, and anything else.
 *
 * A template can name 10^18 objects, so the harness never enumerates blindly: it counts first
 * (template_size, arithmetic) and expands all names only up to FUZZ_TMPL_CAP, else it stops the
 * expansion early through the callback. Properties: template_size, template_count and
 * template_expand agree on malformed vs valid; a fully expanded template yields exactly
 * template_size names; an expansion stopped after k names reports k; every name is at least as
 * long as the template's literal text.
 */
#include "fuzz.h"

#include <limits.h>

#include "common/template.h"

#define FUZZ_TMPL_CAP 4096

typedef struct {
    long names;
    long stop_after; /* return non-zero after this many names (0 = never) */
    size_t min_len;  /* literal characters of the template */
} expand_t;

static int on_name(const char *name, void *arg)
{
    expand_t *e = arg;
    e->names++;
    FUZZ_CHECK(name != NULL && strlen(name) >= e->min_len, "name \"%s\" shorter than %zu", name,
               e->min_len);
    FUZZ_CHECK(e->stop_after == 0 || e->names <= e->stop_after, "callback ignored after %ld",
               e->stop_after);
    return e->stop_after != 0 && e->names >= e->stop_after;
}

/* Characters outside {...} groups (a lower bound for every name's length). */
static size_t literal_len(const char *t)
{
    size_t n = 0;
    int depth = 0;
    for (; *t; t++) {
        if (*t == '{')
            depth++;
        else if (*t == '}' && depth > 0)
            depth--;
        else if (depth == 0)
            n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t = fuzz_cstr(data, size);
    long n = 0;
    int rc = template_size(t, &n);
    long count = template_count(t);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2, "template_size returned %d", rc);
    FUZZ_CHECK(rc == -1 ? count == -1 : count == n, "template_count %ld vs size %ld (rc %d)", count,
               n, rc);
    FUZZ_CHECK(rc != -2 || n == LONG_MAX, "overflow with n = %ld", n);
    FUZZ_CHECK(rc != 0 || n >= 1, "a valid template of %ld names", n);
    expand_t e = {.names = 0, .min_len = rc == 0 ? literal_len(t) : 0};
    if (rc == 0 && n <= FUZZ_TMPL_CAP) {
        long got = template_expand(t, on_name, &e);
        FUZZ_CHECK(got == n && e.names == n, "expanded %ld (%ld calls), size says %ld", got,
                   e.names, n);
    } else {
        /* Malformed, or too many names to list: stop after a few (1..8, from the input). */
        e.stop_after = 1 + (long)(size ? data[size - 1] % 8 : 0);
        long got = template_expand(t, on_name, &e);
        if (rc == -1)
            FUZZ_CHECK(got == -1 && e.names == 0, "malformed template expanded to %ld", got);
        else
            FUZZ_CHECK(got == e.stop_after && e.names == e.stop_after,
                       "stopped after %ld, reported %ld", e.names, got);
    }
    free(t);
    return 0;
}
