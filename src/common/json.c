/*
 * json.c - small helpers over jansson. See json.h.
 */
#include "common/json.h"

#include <math.h>
#include <stdlib.h>

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
