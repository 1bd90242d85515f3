/*
 * template.h - AIStore range templates: "shard-{0001..1000}.tar", "a-{0..99..2}-b{1..3}".
 * Each {a..b[..step]} group expands to the decimal numbers a, a+step, ... <= b, zero-padded to
 * the width of a when a has a leading zero; several groups expand as a cartesian product.
 */
#ifndef LOCUS_COMMON_TEMPLATE_H
#define LOCUS_COMMON_TEMPLATE_H

/* Calls cb for each name; stops when cb returns non-zero. -1 if malformed, else the count. */
long template_expand(const char *tmpl, int (*cb)(const char *name, void *arg), void *arg);
/* Number of names, or -1 if malformed (validation without side effects). */
long template_count(const char *tmpl);

#endif
