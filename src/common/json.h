/*
 * json.h - small helpers over jansson shared by the daemon, the client library and the bench.
 */
#ifndef LOCUS_COMMON_JSON_H
#define LOCUS_COMMON_JSON_H

#include <jansson.h>
#include <stdint.h>

/* An int64 that may arrive as a JSON integer, a real or a decimal string (AIStore sends
 * versions and sizes either way; Go's int64 fields are sometimes strings). Reals outside the
 * int64 range are clamped, NaN and anything else is 0. */
int64_t json_int64(const json_t *v);
/* Orders two JSON objects by their string member k1, then k2 (a missing one is ""), as strcmp. */
int json_cmp_members(const json_t *x, const json_t *y, const char *k1, const char *k2);

#endif
