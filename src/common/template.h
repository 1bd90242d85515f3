/*
 * template.h - AIStore range templates: "shard-{0001..1000}.tar", "a-{0..99..2}-b{1..3}".
 * Each {a..b[..step]} group expands to the decimal numbers a, a+step, ... <= b, zero-padded to
 * the width of a when a has a leading zero; several groups (at most 8) expand as a cartesian
 * product. A bound that does not fit in a long, a step <= 0 or b < a is malformed.
 */
#ifndef LOCUS_COMMON_TEMPLATE_H
#define LOCUS_COMMON_TEMPLATE_H

/* The most names a multi-object request may name by template (a 400 beyond it): each name
 * costs a lookup on every target, so a larger range is a mistake or an attack. */
#define TEMPLATE_MAX_NAMES 10000000L

/* A template's names one at a time, in memory independent of their number. */
typedef struct template_iter template_iter_t;
/* NULL if malformed. */
template_iter_t *template_iter_new(const char *tmpl);
/* The next name (valid until the next call), or NULL after the last. */
const char *template_iter_next(template_iter_t *it);
void template_iter_free(template_iter_t *it);

/* Calls cb for each name; stops when cb returns non-zero. -1 if malformed, else the count. */
long template_expand(const char *tmpl, int (*cb)(const char *name, void *arg), void *arg);
/* Number of names computed without enumerating them: 0 with *n set, -1 if malformed, -2 when
 * the number exceeds LONG_MAX (*n = LONG_MAX). */
int template_size(const char *tmpl, long *n);
/* Number of names (LONG_MAX when there are more), or -1 if malformed. Does not enumerate. */
long template_count(const char *tmpl);

#endif
