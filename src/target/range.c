/*
 * range.c - the Range header of an object GET (docs/design.md §6): one "bytes=" range against
 * the object's size. See range_parse() in target/internal.h.
 */
#include "target/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int range_parse(const char *h, int64_t size, int64_t *off, int64_t *len)
{
    if (h == NULL)
        return 1;
    if (strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return -1;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        long long n = strtoll(p + 1, &end, 10);
        if (*end || n <= 0)
            return -1;
        if (n > size)
            n = size;
        *off = size - n;
        *len = n;
        return size == 0 ? -1 : 0;
    }
    long long a = strtoll(p, &end, 10);
    if (end == p || *end != '-' || a < 0)
        return -1;
    p = end + 1;
    long long b = size - 1;
    if (*p) {
        b = strtoll(p, &end, 10);
        if (*end || b < a)
            return -1;
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 0;
}
