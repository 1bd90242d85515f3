/*
 * json.c - small helpers over jansson. See json.h.
 */
#include "common/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t json_int64(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (!json_is_real(v))
        return 0;
    double d = json_real_value(v);
    /* The cast is undefined outside the range: 2^63 itself does not fit. */
    if (isnan(d))
        return 0;
    if (d >= 9223372036854775808.0)
        return INT64_MAX;
    if (d < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

static const char *member_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int json_cmp_members(const json_t *x, const json_t *y, const char *k1, const char *k2)
{
    int c = strcmp(member_str(x, k1), member_str(y, k1));
    return c ? c : strcmp(member_str(x, k2), member_str(y, k2));
}
